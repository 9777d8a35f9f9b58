//! Small vector kernels. Reductions accumulate in `f64` in a fixed order (see [`dot`]), so
//! that every result is deterministic and the same on every machine (a saved run resumes
//! bit for bit, whatever instruction set the CPU has).

use optim_core::Float;

/// What made an evaluation unusable: the first non-finite value, and where it was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NonFinite {
    /// `"loss"` or `"gradient"` (the names `Error::NonFiniteClosure` uses).
    pub what: &'static str,
    /// The loss, or the first non-finite gradient element.
    pub value: f64,
}

/// Independent accumulators of the reductions: enough to hide the latency of an addition
/// (or comparison) chain, and a multiple of every vector width.
const LANES: usize = 8;

/// Vectors shorter than this are summed in order; longer ones in [`LANES`] lanes (see [`dot`]).
pub(crate) const SEQUENTIAL_BELOW: usize = 64;

/// How a dot product accumulates: [`Sequential`] or [`Lanes`], chosen by length.
trait Accumulator: Copy {
    const ZERO: Self;
    /// Adds the products of one chunk.
    fn add<A: Float>(&mut self, x: &[A; LANES], y: &[A; LANES]);
    /// The total.
    fn sum(self) -> f64;
}

/// One running sum, in index order: what torch's reference runs on small problems are
/// closest to (a different order moves the last bits of the stored curvature pairs).
#[derive(Clone, Copy)]
struct Sequential(f64);

impl Accumulator for Sequential {
    const ZERO: Self = Sequential(0.0);

    #[inline(always)]
    fn add<A: Float>(&mut self, x: &[A; LANES], y: &[A; LANES]) {
        for k in 0..LANES {
            self.0 += x[k].as_f64() * y[k].as_f64();
        }
    }

    #[inline(always)]
    fn sum(self) -> f64 {
        self.0
    }
}

/// The partial sums of a dot product, one per lane; see [`dot`].
#[derive(Clone, Copy)]
struct Lanes([f64; LANES]);

impl Accumulator for Lanes {
    const ZERO: Lanes = Lanes([0.0; LANES]);

    /// Adds the products of one chunk, lane `k` taking element `k`.
    #[inline(always)]
    fn add<A: Float>(&mut self, x: &[A; LANES], y: &[A; LANES]) {
        for k in 0..LANES {
            self.0[k] += x[k].as_f64() * y[k].as_f64();
        }
    }

    /// The sum of the lanes, as a fixed tree: halves added lane-wise until one is left,
    /// the reduction every vector width does naturally (so that the compiler keeps the
    /// lanes in vector registers in their natural order).
    #[inline(always)]
    fn sum(self) -> f64 {
        let l = self.0;
        ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
    }
}

/// Runs `$kernel::<Sequential>` for vectors shorter than [`SEQUENTIAL_BELOW`], else
/// `$kernel::<Lanes>` (both monomorphised: no branch inside the loops).
macro_rules! by_length {
    ($n:expr, $kernel:ident($($arg:expr),*)) => {
        if $n < SEQUENTIAL_BELOW { $kernel::<Sequential, _>($($arg),*) } else { $kernel::<Lanes, _>($($arg),*) }
    };
}

/// The last, shorter chunk of a slice, padded with zeros to a whole one.
///
/// Both factors of a padding product are zeros, so it adds `+0` to its lane, which leaves
/// any lane unchanged: a lane starts at `+0`, and a sum that starts at `+0` is never `−0`.
/// Adding the tail as one padded chunk instead of element by element is what lets the
/// compiler keep the lanes in vector registers (it otherwise shuffles them at every chunk).
#[inline(always)]
fn padded<A: Float>(rest: &[A]) -> [A; LANES] {
    let mut chunk = [A::zero(); LANES];
    for (c, &r) in chunk.iter_mut().zip(rest) {
        *c = r;
    }
    chunk
}

/// `sum_i a[i] * b[i]`, each product and the sum in `f64`.
///
/// The order of the sum is fixed. Below [`SEQUENTIAL_BELOW`] elements it is the index
/// order. From there, lane `k` (of 8) adds the products of the indices `i ≡ k (mod 8)` in
/// increasing order, and the lanes are added as `((0+4)+(2+6))+((1+5)+(3+7))`: independent
/// lanes are what make a long dot product fast (a single running sum waits for each
/// addition to finish), and spelled out in the source they give the same bits on every
/// CPU. Short vectors keep the index order, which stays closest to torch's reference runs
/// on small problems. Every dot product of the algorithm (also those fused with updates
/// below) uses this rule.
#[inline(always)]
pub(crate) fn dot<A: Float>(a: &[A], b: &[A]) -> f64 {
    let n = a.len().min(b.len());
    by_length!(n, dot_with(&a[..n], &b[..n]))
}

#[inline(always)]
fn dot_with<S: Accumulator, A: Float>(a: &[A], b: &[A]) -> f64 {
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    let mut acc = S::ZERO;
    for (x, y) in ca.iter().zip(cb) {
        acc.add(x, y);
    }
    if !ra.is_empty() {
        acc.add(&padded(ra), &padded(rb));
    }
    acc.sum()
}

/// `max_i |a[i]|` as torch's `a.abs().max()`: NaN if any element is NaN; 0 for an empty slice.
#[inline(always)]
pub(crate) fn max_abs<A: Float>(a: &[A]) -> f64 {
    max_of(a, |x| x.abs())
}

/// `max_i |a[i] * t|` with the product rounded to `A`, as torch's `d.mul(t).abs().max()`.
#[inline(always)]
pub(crate) fn max_abs_scaled<A: Float>(a: &[A], t: f64) -> f64 {
    let ta = A::from_f64(t);
    max_of(a, |x| (x * ta).abs())
}

/// `max_i f(a[i])` for an `f` whose values are `>= 0` or NaN: NaN if any value is NaN, 0
/// for an empty slice.
///
/// A maximum does not depend on the order its elements are visited in, so `LANES`
/// independent running maxima give exactly the sequential result, without the chain of
/// dependent comparisons (and they vectorize). A NaN sticks in its lane: `v > m` is false
/// for a NaN on either side, and `v != v` lets one in.
#[inline(always)]
fn max_of<A: Float>(a: &[A], f: impl Fn(A) -> A) -> f64 {
    let (chunks, rest) = a.as_chunks::<LANES>();
    let mut m = [A::zero(); LANES];
    let update = |lane: &mut A, x: A| {
        let v = f(x);
        #[allow(clippy::eq_op)] // `v != v` is the NaN test, which vectorizes as a select
        if v > *lane || v != v {
            *lane = v;
        }
    };
    for c in chunks {
        for k in 0..LANES {
            update(&mut m[k], c[k]);
        }
    }
    // The tail element by element (padding with zeros would not do: `|0 · t|` is NaN for
    // an infinite `t`).
    for (lane, &x) in m.iter_mut().zip(rest) {
        update(lane, x);
    }
    let mut best = A::zero();
    for v in m {
        if v.is_nan() {
            return f64::NAN;
        }
        if v > best {
            best = v;
        }
    }
    best.as_f64()
}

/// `sum_i |a[i]|` in `f64`.
#[inline(always)]
pub(crate) fn sum_abs<A: Float>(a: &[A]) -> f64 {
    a.iter().map(|&x| x.as_f64().abs()).sum()
}

/// `Ok` when the loss and every gradient element are finite, else the first culprit (the
/// loss first, then the gradient in index order).
#[inline(always)]
pub(crate) fn check_finite<A: Float>(loss: f64, g: &[A]) -> Result<(), NonFinite> {
    if !loss.is_finite() {
        return Err(NonFinite {
            what: "loss",
            value: loss,
        });
    }
    // A pass without early exit first (it vectorizes): all finite is the common case, and
    // only a failure looks for the culprit.
    if g.iter().fold(true, |ok, x| ok & x.is_finite()) {
        return Ok(());
    }
    let value = g.iter().find(|x| !x.is_finite()).map_or(f64::NAN, |x| x.as_f64());
    Err(NonFinite {
        what: "gradient",
        value,
    })
}

/// Runs `update` on each element of `y` (with the matching element of `x`), then adds
/// `z[i] * y[i]` of the updated `y` to a dot product accumulated as [`dot`] does: an update
/// of the vector and the dot product that follows it, in one pass over memory.
#[inline(always)]
fn update_dot<A: Float>(y: &mut [A], x: &[A], z: &[A], update: impl Fn(A, A) -> A) -> f64 {
    let n = y.len().min(x.len()).min(z.len());
    by_length!(n, update_dot_with(&mut y[..n], &x[..n], &z[..n], &update))
}

#[inline(always)]
fn update_dot_with<S: Accumulator, A: Float>(y: &mut [A], x: &[A], z: &[A], update: &impl Fn(A, A) -> A) -> f64 {
    let (cy, ry) = y.as_chunks_mut::<LANES>();
    let (cx, rx) = x.as_chunks::<LANES>();
    let (cz, rz) = z.as_chunks::<LANES>();
    let mut acc = S::ZERO;
    for ((y, x), z) in cy.iter_mut().zip(cx).zip(cz) {
        for k in 0..LANES {
            y[k] = update(y[k], x[k]);
        }
        acc.add(z, y);
    }
    if !ry.is_empty() {
        // the update on the real elements only (on a padding element it could make a NaN,
        // `0 · ∞`), then their products with zeros for padding
        for (yi, &xi) in ry.iter_mut().zip(rx) {
            *yi = update(*yi, xi);
        }
        acc.add(&padded(rz), &padded(ry));
    }
    acc.sum()
}

/// `q[i] = -g[i]`, returning `s · q` (as [`dot`]): the start of the two-loop recursion and
/// its first dot product, in one pass.
#[inline(always)]
pub(crate) fn neg_dot<A: Float>(q: &mut [A], g: &[A], s: &[A]) -> f64 {
    update_dot(q, g, s, |_, gi| -gi)
}

/// `y[i] += A::from_f64(alpha) * x[i]`, returning `z · y` of the updated `y` (as [`dot`]):
/// an update of the two-loop recursion and the next dot product, in one pass. The same
/// numbers as `axpy` followed by [`dot`].
#[inline(always)]
pub(crate) fn axpy_dot<A: Float>(y: &mut [A], alpha: f64, x: &[A], z: &[A]) -> f64 {
    let a = A::from_f64(alpha);
    update_dot(y, x, z, |yi, xi| yi + a * xi)
}

/// `y[i] *= A::from_f64(h)`, returning `z · y` of the scaled `y` (as [`dot`]).
#[inline(always)]
pub(crate) fn scale_dot<A: Float>(y: &mut [A], h: f64, z: &[A]) -> f64 {
    let h = A::from_f64(h);
    // `z` doubles as the unused second input of the update
    update_dot(y, z, z, |yi, _| yi * h)
}

/// `y[i] = (y[i] + A::from_f64(alpha) * x[i]) * A::from_f64(h)`, returning `z · y` of the
/// new `y` (as [`dot`]): the last update of the two-loop recursion's first loop, its
/// scaling by `H_diag` and the first dot product of the second loop, in one pass. Each
/// operation rounds to `A` as it would in its own pass.
#[inline(always)]
pub(crate) fn axpy_scale_dot<A: Float>(y: &mut [A], alpha: f64, x: &[A], h: f64, z: &[A]) -> f64 {
    let (a, h) = (A::from_f64(alpha), A::from_f64(h));
    update_dot(y, x, z, |yi, xi| (yi + a * xi) * h)
}

/// The next curvature pair in one pass: `y = g - g_prev`, `s = d * A::from_f64(t)`, and
/// the dot products `(y · s, y · y)`, each accumulated as [`dot`] does.
#[inline(always)]
pub(crate) fn curvature_pair<A: Float>(y: &mut [A], s: &mut [A], g: &[A], g_prev: &[A], d: &[A], t: f64) -> (f64, f64) {
    let n = y.len().min(s.len()).min(g.len()).min(g_prev.len()).min(d.len());
    by_length!(
        n,
        curvature_pair_with(&mut y[..n], &mut s[..n], &g[..n], &g_prev[..n], &d[..n], t)
    )
}

#[inline(always)]
fn curvature_pair_with<S: Accumulator, A: Float>(
    y: &mut [A],
    s: &mut [A],
    g: &[A],
    g_prev: &[A],
    d: &[A],
    t: f64,
) -> (f64, f64) {
    let ta = A::from_f64(t);
    let (cy, ry) = y.as_chunks_mut::<LANES>();
    let (cs, rs) = s.as_chunks_mut::<LANES>();
    let (cg, rg) = g.as_chunks::<LANES>();
    let (cgp, rgp) = g_prev.as_chunks::<LANES>();
    let (cd, rd) = d.as_chunks::<LANES>();
    let (mut ys, mut yy) = (S::ZERO, S::ZERO);
    for ((((y, s), g), gp), d) in cy.iter_mut().zip(cs.iter_mut()).zip(cg).zip(cgp).zip(cd) {
        for k in 0..LANES {
            y[k] = g[k] - gp[k];
            s[k] = d[k] * ta;
        }
        ys.add(y, s);
        yy.add(y, y);
    }
    if !ry.is_empty() {
        // the real elements only, then their products with zeros for padding (see
        // `update_dot`)
        for ((((yi, si), &gi), &gpi), &di) in ry.iter_mut().zip(rs.iter_mut()).zip(rg).zip(rgp).zip(rd) {
            *yi = gi - gpi;
            *si = di * ta;
        }
        let py = padded(ry);
        ys.add(&py, &padded(rs));
        yy.add(&py, &py);
    }
    (ys.sum(), yy.sum())
}

/// The directional derivative `g · d` (as [`dot`]) of an evaluation whose loss and
/// gradient must be finite: [`check_finite`] and [`dot`] in one pass.
///
/// A finite `g · d` means a finite `g` (a non-finite element makes its product infinite or
/// NaN, and the sum with it), so the gradient is scanned for a culprit only when the dot
/// product is not finite; the outcome is exactly that of the two passes.
#[inline(always)]
pub(crate) fn checked_dot<A: Float>(loss: f64, g: &[A], d: &[A]) -> Result<f64, NonFinite> {
    let gtd = dot(g, d);
    if !loss.is_finite() || !gtd.is_finite() {
        check_finite(loss, g)?;
    }
    Ok(gtd)
}

/// `max_i |g[i]|` (as [`max_abs`]) of an evaluation whose loss and gradient must be finite:
/// [`check_finite`] and [`max_abs`] in one pass (a finite maximum means a finite `g`).
#[inline(always)]
pub(crate) fn checked_max_abs<A: Float>(loss: f64, g: &[A]) -> Result<f64, NonFinite> {
    let m = max_abs(g);
    if !loss.is_finite() || !m.is_finite() {
        check_finite(loss, g)?;
    }
    Ok(m)
}

/// `y[i] += A::from_f64(alpha) * x[i]` (torch's `y.add_(x, alpha=alpha)`): what the fused
/// kernels above do in their update, kept as their reference in the tests.
#[cfg(test)]
pub(crate) fn axpy<A: Float>(y: &mut [A], alpha: f64, x: &[A]) {
    let a = A::from_f64(alpha);
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Python's `max(a, b)`: `b` only if `b > a` (so NaN handling follows Python's builtin).
#[inline]
pub(crate) fn py_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Python's `min(a, b)`: `b` only if `b < a`.
#[inline]
pub(crate) fn py_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn reductions() {
        assert_eq!(dot(&[1.0f32, 2.0], &[3.0, 4.0]), 11.0);
        assert_eq!(max_abs(&[1.0f64, -3.0, 2.0]), 3.0);
        assert!(max_abs(&[1.0f64, f64::NAN, 2.0]).is_nan());
        assert_eq!(max_abs::<f64>(&[]), 0.0);
        assert_eq!(max_abs_scaled(&[1.0f64, -3.0], 0.5), 1.5);
        assert_eq!(sum_abs(&[1.0f32, -3.0]), 4.0);
        let mut y = [1.0f64, 1.0];
        axpy(&mut y, -2.0, &[1.0, 0.5]);
        assert_eq!(y, [-1.0, 0.0]);
    }

    /// Deterministic pseudo-random values in [-1, 1) (also for the other modules' tests).
    pub(crate) fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64) / ((1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn dot_has_its_documented_order() {
        for n in [0, 1, 5, 8, 13, 63, 64, 65, 1001] {
            let (a, b) = (noise(1, n), noise(2, n));
            let expected = if n < SEQUENTIAL_BELOW {
                (0..n).fold(0.0, |s, i| s + a[i] * b[i])
            } else {
                let mut lanes = [0.0f64; 8];
                for i in 0..n {
                    lanes[i % 8] += a[i] * b[i];
                }
                let l = lanes;
                ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
            };
            assert_eq!(dot(&a, &b).to_bits(), expected.to_bits(), "n = {n}");
        }
    }

    #[test]
    fn fused_kernels_compute_what_their_passes_would() {
        for n in [1, 7, 8, 9, 30, 63, 64, 65, 1003] {
            let (x, z, g, gp, d) = (noise(3, n), noise(4, n), noise(5, n), noise(6, n), noise(7, n));
            let y0 = noise(8, n);

            let (mut fused, mut passes) = (y0.clone(), y0.clone());
            let r = axpy_dot(&mut fused, -0.37, &x, &z);
            axpy(&mut passes, -0.37, &x);
            assert_eq!((bits(&fused), r.to_bits()), (bits(&passes), dot(&z, &passes).to_bits()));

            let (mut fused, mut passes) = (y0.clone(), y0.clone());
            let r = axpy_scale_dot(&mut fused, 0.61, &x, 1.7, &z);
            axpy(&mut passes, 0.61, &x);
            passes.iter_mut().for_each(|v| *v *= 1.7);
            assert_eq!((bits(&fused), r.to_bits()), (bits(&passes), dot(&z, &passes).to_bits()));

            let (mut fused, mut passes) = (y0.clone(), y0.clone());
            let r = scale_dot(&mut fused, 1.7, &z);
            passes.iter_mut().for_each(|v| *v *= 1.7);
            assert_eq!((bits(&fused), r.to_bits()), (bits(&passes), dot(&z, &passes).to_bits()));

            // a non-finite coefficient: the padding of the tail must not add a `0 · ∞`
            let (mut fused, mut passes) = (y0.clone(), y0.clone());
            let r = axpy_dot(&mut fused, f64::INFINITY, &x, &z);
            axpy(&mut passes, f64::INFINITY, &x);
            let expected = dot(&z, &passes);
            assert!(r == expected || (r.is_nan() && expected.is_nan()), "{r} vs {expected}");
            let (mut fused, mut passes) = (vec![1.0; n], vec![1.0; n]);
            let r = scale_dot(&mut fused, f64::INFINITY, &vec![1.0; n]);
            passes.iter_mut().for_each(|v| *v *= f64::INFINITY);
            assert_eq!((bits(&fused), r), (bits(&passes), f64::INFINITY));

            let mut q = vec![0.0; n];
            let r = neg_dot(&mut q, &g, &z);
            let negated: Vec<f64> = g.iter().map(|v| -v).collect();
            assert_eq!((bits(&q), r.to_bits()), (bits(&negated), dot(&z, &negated).to_bits()));

            let (mut y, mut s) = (vec![0.0; n], vec![0.0; n]);
            let (ys, yy) = curvature_pair(&mut y, &mut s, &g, &gp, &d, 0.3);
            let y_ref: Vec<f64> = g.iter().zip(&gp).map(|(a, b)| a - b).collect();
            let s_ref: Vec<f64> = d.iter().map(|v| v * 0.3).collect();
            assert_eq!((bits(&y), bits(&s)), (bits(&y_ref), bits(&s_ref)));
            assert_eq!(
                (ys.to_bits(), yy.to_bits()),
                (dot(&y_ref, &s_ref).to_bits(), dot(&y_ref, &y_ref).to_bits())
            );
        }
    }

    #[test]
    fn maxima_are_exact_in_any_order() {
        let v = noise(9, 1003);
        let seq = v.iter().fold(0.0f64, |m, x| if x.abs() > m { x.abs() } else { m });
        assert_eq!(max_abs(&v), seq);
        let seq = v
            .iter()
            .fold(0.0f64, |m, x| if (x * 0.3).abs() > m { (x * 0.3).abs() } else { m });
        assert_eq!(max_abs_scaled(&v, 0.3), seq);
        let mut with_nan = v.clone();
        with_nan[1001] = f64::NAN;
        assert!(max_abs(&with_nan).is_nan());
        with_nan[1001] = f64::INFINITY;
        assert_eq!(max_abs(&with_nan), f64::INFINITY);
    }

    #[test]
    fn finiteness_names_the_first_culprit() {
        assert_eq!(check_finite(1.0, &[1.0f32]), Ok(()));
        assert_eq!(
            check_finite(f64::INFINITY, &[f32::NAN]),
            Err(NonFinite {
                what: "loss",
                value: f64::INFINITY
            })
        );
        assert_eq!(
            check_finite(1.0, &[0.0f64, f64::NEG_INFINITY, f64::NAN]),
            Err(NonFinite {
                what: "gradient",
                value: f64::NEG_INFINITY
            })
        );
    }

    #[test]
    fn checked_dot_is_check_then_dot() {
        let d = [1.0f64, 0.0, -2.0];
        assert_eq!(checked_dot(1.0, &[1.0f64, 2.0, 3.0], &d), Ok(-5.0));
        // a non-finite element is caught even where the direction is zero
        assert_eq!(
            checked_dot(1.0, &[1.0f64, f64::INFINITY, 3.0], &d),
            Err(NonFinite {
                what: "gradient",
                value: f64::INFINITY
            })
        );
        assert!(matches!(
            checked_dot(f64::NAN, &[1.0f64, 2.0, 3.0], &d),
            Err(NonFinite { what: "loss", .. })
        ));
        // a finite gradient with an overflowing product is not an error
        assert_eq!(
            checked_dot(1.0, &[f64::MAX, 0.0, 0.0], &[2.0, 0.0, 0.0]),
            Ok(f64::INFINITY)
        );
        assert_eq!(checked_max_abs(1.0, &[1.0f64, -3.0]), Ok(3.0));
        assert!(matches!(
            checked_max_abs(1.0, &[1.0f64, f64::NAN]),
            Err(NonFinite { what: "gradient", .. })
        ));
        assert!(matches!(
            checked_max_abs(f64::INFINITY, &[1.0f64]),
            Err(NonFinite { what: "loss", .. })
        ));
    }

    #[test]
    fn python_min_max_semantics() {
        assert_eq!(py_max(1.0, 2.0), 2.0);
        assert_eq!(py_min(1.0, 2.0), 1.0);
        assert!(py_max(f64::NAN, 2.0).is_nan());
        assert_eq!(py_max(2.0, f64::NAN), 2.0);
        assert!(py_min(f64::NAN, 2.0).is_nan());
        assert_eq!(py_min(2.0, f64::NAN), 2.0);
    }
}
