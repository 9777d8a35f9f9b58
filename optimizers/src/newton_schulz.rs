//! The Newton–Schulz orthogonalisation of `torch.optim.Muon`, bit for bit as torch 2.15 runs
//! it on CPU: bfloat16 values, exact products, float32 accumulation.
//!
//! Self-contained (it needs only `ndarray`) so that the Muon optimizer can call it from its
//! update. Its work matrices live in an [`NsScratch`] kept between calls, so a warm call
//! allocates nothing of its own; the products go through ndarray's `general_mat_mul`
//! (matrixmultiply's sgemm, one thread), which allocates its packing buffer once per
//! product and takes no caller memory (`tests/newton_schulz_alloc.rs` pins both).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Zip, s};

/// torch's default `ns_coefficients` `(a, b, c)`.
pub const DEFAULT_COEFFICIENTS: [f64; 3] = [3.4445, -4.775, 2.0315];

/// The first step count that [`NewtonSchulz::orthogonalize`] refuses, as torch does.
pub const MAX_STEPS_EXCLUSIVE: usize = 100;

/// What [`NewtonSchulz::orthogonalize`] refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NsError {
    /// torch raises `Number of steps must be less than 100 for computational efficiency`.
    #[error("number of steps must be less than 100 for computational efficiency, found {steps}")]
    TooManySteps {
        /// The `ns_steps` asked for.
        steps: usize,
    },
    /// The output buffer does not have the input's shape.
    #[error("the output has shape {found:?} but the input has shape {expected:?}: pass a buffer of the input's shape")]
    OutputShape {
        /// The input's shape `[rows, cols]`.
        expected: [usize; 2],
        /// The output's shape.
        found: [usize; 2],
    },
}

/// Rounds `x` to the nearest bfloat16 value, ties to even, as torch's
/// `c10::BFloat16(float)` does, and returns that value as an `f32`.
///
/// bfloat16 is the upper half of an `f32`: the rounding adds `0x7FFF` plus the lowest kept
/// bit and drops the low 16 bits. Subnormals round like any other value; a finite value
/// at or above `0x7F7F8000` (`3.3961e38`) rounds to infinity, as in torch; infinities stay;
/// a NaN stays a NaN: `0x7FC0_0000` as torch's scalar conversion gives it (its AVX2 loops
/// give `0xFFFF_0000`; only NaN-ness is meant to match). Branch-free apart from the NaN
/// select, so that the loops that call it vectorize.
///
/// ```
/// # use optimizers::newton_schulz::round_bf16;
/// assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0); // a tie: to the even neighbour
/// assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
/// ```
#[inline]
pub fn round_bf16(x: f32) -> f32 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) & 0xFFFF_0000;
    if x.is_nan() {
        f32::from_bits(0x7FC0_0000)
    } else {
        f32::from_bits(rounded)
    }
}

/// One Newton–Schulz orthogonalisation as `torch.optim._muon._zeropower_via_newtonschulz`
/// computes it: the options of a Muon group that it reads.
///
/// With `(a, b, c) = coefficients`, `bf16` rounding to the nearest bfloat16 (ties to
/// even), every matrix product with exact products and float32 accumulation:
///
/// ```text
/// x = bf16(u)                         f64 input: f64 → f32 → bf16, as torch converts
/// if rows > cols: x = xᵀ              work on the wide orientation
/// x = bf16(x / max(bf16(‖x‖_F), bf16(eps)))     NaN norm: NaN everywhere
/// repeat steps times:
///     G = bf16(x xᵀ)
///     B = bf16(b·G + c·(G G))         torch.addmm(G, G, G, beta=b, alpha=c): one rounding
///     x = bf16(a·x + B x)             torch.addmm(x, B, x, beta=a): one rounding
/// if rows > cols: x = xᵀ
/// ```
///
/// The combinations `b·G + c·P` and `a·x + Q` are evaluated in f32 with the coefficients
/// rounded to f32 (torch's `opmath` for bfloat16).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonSchulz {
    /// `ns_coefficients` `(a, b, c)`; torch's default [`DEFAULT_COEFFICIENTS`].
    pub coefficients: [f64; 3],
    /// `ns_steps`: must be below [`MAX_STEPS_EXCLUSIVE`]; torch's default 5.
    pub steps: usize,
    /// `eps`, the floor of the norm; torch's default 1e-7.
    pub eps: f64,
}

impl Default for NewtonSchulz {
    fn default() -> Self {
        NewtonSchulz {
            coefficients: DEFAULT_COEFFICIENTS,
            steps: 5,
            eps: 1e-7,
        }
    }
}

/// The work matrices of [`NewtonSchulz::orthogonalize`], kept between calls.
///
/// With `m` the smaller and `n` the larger side of the input, the scratch holds two
/// `m x n` and two `m x m` matrices. They grow when a call needs more and never shrink:
/// once a scratch has served a shape (or was made for it by [`NsScratch::for_shape`]),
/// calls of that shape, or of any with no larger `m·n` and `m²`, do not grow it. Keep one
/// per thread (or per parameter).
#[derive(Clone, Debug, Default)]
pub struct NsScratch {
    /// The iterate, `m x n` with `m <= n`.
    x: Vec<f32>,
    /// The next iterate.
    next: Vec<f32>,
    /// `G = x xᵀ`, `m x m`.
    gram: Vec<f32>,
    /// `G G`, then `B`, `m x m`.
    update: Vec<f32>,
}

impl NsScratch {
    /// An empty scratch: the first call allocates its matrices.
    pub fn new() -> Self {
        NsScratch::default()
    }

    /// A scratch ready for inputs of `rows x cols` (either orientation) without allocating.
    pub fn for_shape(rows: usize, cols: usize) -> Self {
        let mut s = NsScratch::default();
        s.reserve(rows.min(cols), rows.max(cols));
        s
    }

    fn reserve(&mut self, m: usize, n: usize) {
        for (buf, len) in [
            (&mut self.x, m * n),
            (&mut self.next, m * n),
            (&mut self.gram, m * m),
            (&mut self.update, m * m),
        ] {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
        }
    }
}

impl NewtonSchulz {
    /// Writes the orthogonalisation of `u` (f32 or f64, any layout) into `out`, which must
    /// have `u`'s shape: bfloat16 values as f32, exactly torch's.
    ///
    /// Fails, before touching `out`, when `steps` is 100 or more (torch's check) or when
    /// `out` has another shape. NaN or infinite inputs do not fail: they propagate as in
    /// torch (a NaN anywhere makes the norm, and so every output, NaN). An empty matrix gives
    /// an empty output. The input is 2-D by its type: Muon's step turns its gradient into an
    /// `ArrayView2` with `into_dimensionality` and reports torch's `Param gradient must be a
    /// 2D matrix` when that fails.
    ///
    /// Deterministic: one thread, and a fixed order of the f32 sums (matrixmultiply's, over
    /// `k` in blocks of 256). torch's own order differs between its backends: on inputs as
    /// small as the fixtures' (at most 8 in either dimension) its backends and this order
    /// give the same bits, on large ones they do not (see the fixtures' README).
    ///
    /// ```
    /// # use optimizers::newton_schulz::{NewtonSchulz, NsScratch};
    /// # use optimizers::ndarray::{Array2, array};
    /// let u = array![[3.0f64, 0.0], [0.0, 4.0], [0.0, 0.0]];
    /// let mut out = Array2::<f32>::zeros((3, 2));
    /// let mut scratch = NsScratch::new();
    /// NewtonSchulz::default().orthogonalize(u.view(), out.view_mut(), &mut scratch)?;
    /// // The orthogonal factor is [[1, 0], [0, 1], [0, 0]]; five quintic steps leave the
    /// // singular values between about 0.7 and 1.2, exactly as torch 2.15 gives them:
    /// assert_eq!(out, array![[0.6953125f32, 0.0], [0.0, 1.09375], [0.0, 0.0]]);
    /// # Ok::<(), optimizers::newton_schulz::NsError>(())
    /// ```
    pub fn orthogonalize<A>(
        &self,
        u: ArrayView2<'_, A>,
        mut out: ArrayViewMut2<'_, f32>,
        scratch: &mut NsScratch,
    ) -> Result<(), NsError>
    where
        A: Copy + Into<f64>,
    {
        if self.steps >= MAX_STEPS_EXCLUSIVE {
            return Err(NsError::TooManySteps { steps: self.steps });
        }
        let (rows, cols) = u.dim();
        if out.dim() != (rows, cols) {
            return Err(NsError::OutputShape {
                expected: [rows, cols],
                found: [out.nrows(), out.ncols()],
            });
        }
        let tall = rows > cols;
        let (m, n) = if tall { (cols, rows) } else { (rows, cols) };
        let u = if tall { u.reversed_axes() } else { u };
        let [a, b, c] = self.coefficients.map(|k| k as f32);
        let Work {
            mut x,
            mut next,
            gram,
            update,
        } = scratch.work(m, n);

        Zip::from(mat_mut(x, m, n))
            .and(&u)
            .for_each(|x, &u| *x = round_bf16(to_f32(u)));
        normalize(x, self.eps);
        for _ in 0..self.steps {
            // G = bf16(x xᵀ)
            symmetric_product(mat(x, m, n), mat(x, m, n).reversed_axes(), mat_mut(gram, m, m));
            gram.iter_mut().for_each(|g| *g = round_bf16(*g));
            // B = bf16(b·G + c·(G G))
            symmetric_product(mat(gram, m, m), mat(gram, m, m), mat_mut(update, m, m));
            combine(b, gram, c, update);
            // x = bf16(a·x + B x)
            general_mat_mul(1.0, &mat(update, m, m), &mat(x, m, n), 0.0, &mut mat_mut(next, m, n));
            combine(a, x, 1.0, next);
            std::mem::swap(&mut x, &mut next);
        }
        out.assign(&if tall {
            mat(x, m, n).reversed_axes()
        } else {
            mat(x, m, n)
        });
        Ok(())
    }
}

/// The work matrices of one call, cut to its shape.
struct Work<'a> {
    x: &'a mut [f32],
    next: &'a mut [f32],
    gram: &'a mut [f32],
    update: &'a mut [f32],
}

impl NsScratch {
    /// Grows the matrices if an `m x n` iterate needs it (the only allocation) and cuts
    /// them to size.
    fn work(&mut self, m: usize, n: usize) -> Work<'_> {
        self.reserve(m, n);
        Work {
            x: &mut self.x[..m * n],
            next: &mut self.next[..m * n],
            gram: &mut self.gram[..m * m],
            update: &mut self.update[..m * m],
        }
    }
}

/// `data` as a row-major `rows x cols` matrix. `data` holds exactly `rows * cols` values
/// (the slices of [`Work`]), so the shape always fits.
fn mat(data: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), data).expect("a work slice of rows * cols values")
}

/// [`mat`], writable.
fn mat_mut(data: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), data).expect("a work slice of rows * cols values")
}

/// Diagonal blocks at most this large are computed whole by [`symmetric_product`]; it
/// splits larger ones in two. Measured on `ns_bench` (1024 x 1024, 1024 x 4096).
const LEAF: usize = 64;

/// `c = a·b` (raw f32 sums) for a product known to be symmetric (`x xᵀ`, and `G G` with
/// `G` symmetric), computing only the blocks on and above the diagonal and mirroring.
///
/// Halves the work of two of the three products of a step. It is bit-identical to the full
/// product: matrixmultiply accumulates each element over `k` in the same order whatever
/// block of `c` the call computes (the blocking over `k` is fixed, the split over rows and
/// columns does not reach an element's sum), and the mirrored element `c[j][i] =
/// Σ a[j][k]·b[k][i]` has the same products in the same order as `c[i][j]` when `a = bᵀ`
/// or both are symmetric. `symmetric_product_is_the_full_product` checks this.
fn symmetric_product(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, mut c: ArrayViewMut2<'_, f32>) {
    fn upper(a: &ArrayView2<'_, f32>, b: &ArrayView2<'_, f32>, c: &mut ArrayViewMut2<'_, f32>, lo: usize, hi: usize) {
        if hi - lo <= LEAF {
            let block = s![lo..hi, lo..hi];
            general_mat_mul(
                1.0,
                &a.slice(s![lo..hi, ..]),
                &b.slice(s![.., lo..hi]),
                0.0,
                &mut c.slice_mut(block),
            );
            return;
        }
        // Split at a multiple of the 8 x 8 kernel, so that full tiles dominate.
        let mid = lo + ((hi - lo) / 2).next_multiple_of(8);
        let off_diagonal = s![lo..mid, mid..hi];
        general_mat_mul(
            1.0,
            &a.slice(s![lo..mid, ..]),
            &b.slice(s![.., mid..hi]),
            0.0,
            &mut c.slice_mut(off_diagonal),
        );
        upper(a, b, c, lo, mid);
        upper(a, b, c, mid, hi);
    }
    let m = c.nrows();
    upper(&a, &b, &mut c, 0, m);
    mirror_upper(c);
}

/// Copies the strict upper triangle of the square `c` onto the lower one, in tiles so that
/// both the reads and the strided writes stay in cache.
fn mirror_upper(mut c: ArrayViewMut2<'_, f32>) {
    const TILE: usize = 32;
    let m = c.nrows();
    for i0 in (0..m).step_by(TILE) {
        for j0 in (i0..m).step_by(TILE) {
            for i in i0..(i0 + TILE).min(m) {
                for j in j0.max(i + 1)..(j0 + TILE).min(m) {
                    c[[j, i]] = c[[i, j]];
                }
            }
        }
    }
}

/// `A`'s value as torch's `.to(torch.float32)` gives it (exact for f32; f64 rounds to
/// nearest): the first half of torch's f64 → bfloat16 conversion, which goes through f32.
#[inline]
fn to_f32<A: Into<f64>>(v: A) -> f32 {
    v.into() as f32
}

/// `x = bf16(x / max(bf16(‖x‖), bf16(eps)))`, NaN propagating through the max as torch's
/// `clamp` does.
fn normalize(x: &mut [f32], eps: f64) {
    let sum: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let norm = round_bf16(sum.sqrt() as f32);
    let floor = round_bf16(eps as f32);
    let denom = if norm.is_nan() || norm >= floor { norm } else { floor };
    for v in x {
        *v = round_bf16(*v / denom);
    }
}

/// `y = bf16(alpha·x + beta·y)` in f32, element by element.
fn combine(alpha: f32, x: &[f32], beta: f32, y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = round_bf16(alpha * x + beta * *y);
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    /// bfloat16 values in [-1, 1) from a fixed-seed LCG (Knuth's MMIX constants).
    fn random_bf16(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut state = seed;
        Array2::from_shape_simple_fn((rows, cols), || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            round_bf16((state >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        })
    }

    fn same_bits(a: &Array2<f32>, b: &Array2<f32>) -> bool {
        a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn run<A: Copy + Into<f64>>(ns: &NewtonSchulz, u: &Array2<A>) -> Result<Array2<f32>, NsError> {
        let mut out = Array2::from_elem(u.dim(), f32::NAN);
        ns.orthogonalize(u.view(), out.view_mut(), &mut NsScratch::new())?;
        Ok(out)
    }

    #[test]
    fn symmetric_product_is_the_full_product() {
        // Sizes around the leaf and the 8 x 8 kernel, and depths beyond matrixmultiply's
        // k-blocking (256), where the order of the f32 sums matters.
        for (m, k) in [(1, 3), (7, 1), (129, 5), (136, 257), (300, 700)] {
            let x = random_bf16(m, k, (m * 1000 + k) as u64);
            let mut full = Array2::zeros((m, m));
            general_mat_mul(1.0, &x, &x.t(), 0.0, &mut full);
            let mut sym = Array2::from_elem((m, m), f32::NAN);
            symmetric_product(x.view(), x.t(), sym.view_mut());
            assert!(same_bits(&sym, &full), "x xᵀ, {m} x {k}");

            let g = full.mapv(round_bf16);
            let mut full = Array2::zeros((m, m));
            general_mat_mul(1.0, &g, &g, 0.0, &mut full);
            let mut sym = Array2::from_elem((m, m), f32::NAN);
            symmetric_product(g.view(), g.view(), sym.view_mut());
            assert!(same_bits(&sym, &full), "G G, {m} x {m}");
        }
    }

    #[test]
    fn zero_steps_only_normalize() {
        // ‖(3, 4)‖ = 5 is a bfloat16 value; 0.6 and 0.8 round to 154/256 and 205/256 (the
        // ulp of [0.5, 1) is 2^-8; 153.6 and 204.8 round up). Both dtypes, both orientations.
        let ns = NewtonSchulz {
            steps: 0,
            ..NewtonSchulz::default()
        };
        let expected = array![[154.0f32 / 256.0, 205.0 / 256.0]];
        assert_eq!(run(&ns, &array![[3.0f32, 4.0]]).unwrap(), expected);
        assert_eq!(run(&ns, &array![[3.0f64, 4.0]]).unwrap(), expected);
        assert_eq!(run(&ns, &array![[3.0f32], [4.0]]).unwrap(), expected.t());
    }

    #[test]
    fn a_norm_below_eps_divides_by_eps() {
        // bf16(3e-8) = 129·2^-32, bf16(4e-8) = 172·2^-32, and bf16(f32(1e-7)) = 0x33D7 =
        // 215·2^-31 exceeds their norm (5.01e-8): the quotients are exactly 129/430 = 0.3
        // and 172/430 = 0.4, which round to 154/512 and 205/512 (ulp 2^-9 in [0.25, 0.5)).
        let ns = NewtonSchulz {
            steps: 0,
            ..NewtonSchulz::default()
        };
        assert_eq!(
            run(&ns, &array![[3e-8f32, 4e-8]]).unwrap(),
            array![[154.0f32 / 512.0, 205.0 / 512.0]]
        );
        // A zero matrix is divided by eps: zeros, not NaN.
        assert_eq!(
            run(&NewtonSchulz::default(), &Array2::<f32>::zeros((2, 3))).unwrap(),
            Array2::<f32>::zeros((2, 3))
        );
    }

    #[test]
    fn tall_input_is_the_transpose_of_wide_input() {
        let ns = NewtonSchulz::default();
        let u = random_bf16(37, 150, 7);
        let wide = run(&ns, &u).unwrap();
        let tall = run(&ns, &u.t().to_owned()).unwrap();
        assert!(same_bits(&tall, &wide.t().to_owned()));
        // Exact f32 values give the same bits from f64.
        assert!(same_bits(&run(&ns, &u.mapv(f64::from)).unwrap(), &wide));
    }

    #[test]
    fn nan_and_infinity_propagate_without_panicking() {
        // A NaN makes the norm NaN, so every element is NaN (torch: all 0x7FC0_0000).
        let ns = NewtonSchulz::default();
        assert!(
            run(&ns, &array![[f32::NAN, 1.0], [0.0, 1.0]])
                .unwrap()
                .iter()
                .all(|v| v.is_nan())
        );
        // An infinity makes the norm infinite: x / inf is 0, inf / inf NaN (torch, 0 steps:
        // [NaN, 0, 0, 0]); the first product spreads the NaN over every element.
        let zero_steps = NewtonSchulz { steps: 0, ..ns };
        let out = run(&zero_steps, &array![[f32::INFINITY, 1.0], [0.0, 1.0]]).unwrap();
        assert!(out[[0, 0]].is_nan());
        assert_eq!([out[[0, 1]], out[[1, 0]], out[[1, 1]]], [0.0; 3]);
        assert!(
            run(&ns, &array![[f64::INFINITY, 1.0], [0.0, 1.0]])
                .unwrap()
                .iter()
                .all(|v| v.is_nan())
        );
    }

    #[test]
    fn a_scratch_is_reused_without_carrying_anything_over() {
        // A NaN call leaves NaN in every work matrix; the products overwrite their outputs
        // (beta 0: matrixmultiply does not read them), so the next call is as from fresh.
        let ns = NewtonSchulz::default();
        let u = random_bf16(70, 90, 3);
        let mut scratch = NsScratch::new();
        let mut out = Array2::zeros((70, 90));
        ns.orthogonalize(
            Array2::from_elem((70, 90), f32::NAN).view(),
            out.view_mut(),
            &mut scratch,
        )
        .unwrap();
        ns.orthogonalize(u.view(), out.view_mut(), &mut scratch).unwrap();
        assert!(same_bits(&out, &run(&ns, &u).unwrap()));
        // ... and a smaller shape after a larger one.
        let small = u.slice(s![..5, ..9]).to_owned();
        let mut out = Array2::zeros((5, 9));
        ns.orthogonalize(small.view(), out.view_mut(), &mut scratch).unwrap();
        assert!(same_bits(&out, &run(&ns, &small).unwrap()));
    }

    #[test]
    fn empty_matrices_give_empty_outputs() {
        let ns = NewtonSchulz::default();
        assert_eq!(run(&ns, &Array2::<f32>::zeros((0, 3))).unwrap().dim(), (0, 3));
        assert_eq!(run(&ns, &Array2::<f64>::zeros((3, 0))).unwrap().dim(), (3, 0));
    }

    #[test]
    fn refuses_100_steps_and_a_wrong_output_shape() {
        let u = array![[1.0f32, 2.0]];
        assert!(
            run(
                &NewtonSchulz {
                    steps: 99,
                    ..NewtonSchulz::default()
                },
                &u
            )
            .is_ok()
        );
        let err = run(
            &NewtonSchulz {
                steps: 100,
                ..NewtonSchulz::default()
            },
            &u,
        )
        .unwrap_err();
        assert_eq!(err, NsError::TooManySteps { steps: 100 });
        assert_eq!(
            err.to_string(),
            "number of steps must be less than 100 for computational efficiency, found 100"
        );

        let mut out = Array2::from_elem((2, 1), 7.0f32);
        let err = NewtonSchulz::default().orthogonalize(u.view(), out.view_mut(), &mut NsScratch::new());
        assert_eq!(
            err,
            Err(NsError::OutputShape {
                expected: [1, 2],
                found: [2, 1]
            })
        );
        assert_eq!(
            out,
            Array2::from_elem((2, 1), 7.0),
            "a refused call leaves the output alone"
        );
    }

    fn bits(x: u32) -> u32 {
        round_bf16(f32::from_bits(x)).to_bits()
    }

    #[test]
    fn bf16_keeps_representable_values() {
        for x in [
            0x0000_0000,
            0x8000_0000,
            0x3F80_0000,
            0xBF80_0000,
            0x7F7F_0000,
            0x0001_0000,
            0x0080_0000,
        ] {
            assert_eq!(bits(x), x, "{x:#010x}");
        }
    }

    #[test]
    fn bf16_rounds_to_nearest_and_ties_to_even() {
        // 1 + 2^-8 lies halfway between 1 (0x3F80, even) and 1 + 2^-7 (0x3F81): down to even.
        assert_eq!(bits(0x3F80_8000), 0x3F80_0000);
        // 1 + 3·2^-8 lies halfway between 0x3F81 (odd) and 0x3F82 (even): up to even.
        assert_eq!(bits(0x3F81_8000), 0x3F82_0000);
        // One f32 ulp either side of a tie goes to the nearer neighbour.
        assert_eq!(bits(0x3F80_8001), 0x3F81_0000);
        assert_eq!(bits(0x3F80_7FFF), 0x3F80_0000);
        // Negative values round by magnitude, symmetrically.
        assert_eq!(bits(0xBF81_8000), 0xBF82_0000);
        assert_eq!(bits(0xBF80_8000), 0xBF80_0000);
        // A carry into the exponent: 2 - 2^-9 (0x3FFF_C000) rounds up to 2.
        assert_eq!(bits(0x3FFF_C000), 0x4000_0000);
    }

    #[test]
    fn bf16_rounds_subnormals_like_normals() {
        // 2^-134 (0x0000_8000) is halfway between 0 and the smallest bfloat16 subnormal
        // 2^-133 (0x0001): to even, 0.
        assert_eq!(bits(0x0000_8000), 0x0000_0000);
        assert_eq!(bits(0x0000_8001), 0x0001_0000);
        // 3·2^-134 is halfway between 0x0001 (odd) and 0x0002: up.
        assert_eq!(bits(0x0001_8000), 0x0002_0000);
        assert_eq!(bits(0x8001_8000), 0x8002_0000);
        // The largest f32 subnormal rounds up to the smallest normal 2^-126.
        assert_eq!(bits(0x007F_FFFF), 0x0080_0000);
        // The smallest f32 subnormal rounds to zero, keeping its sign.
        assert_eq!(bits(0x0000_0001), 0x0000_0000);
        assert_eq!(bits(0x8000_0001), 0x8000_0000);
    }

    #[test]
    fn bf16_overflows_to_infinity_and_keeps_infinities() {
        // bfloat16's largest finite value is 0x7F7F (3.3895e38); halfway to the next
        // (0x7F80, infinity) is 0x7F7F_8000, a tie that goes to the even infinity.
        assert_eq!(bits(0x7F7F_7FFF), 0x7F7F_0000);
        assert_eq!(bits(0x7F7F_8000), 0x7F80_0000);
        assert_eq!(bits(0x7F7F_FFFF), 0x7F80_0000); // f32::MAX
        assert_eq!(bits(0xFF7F_FFFF), 0xFF80_0000); // f32::MIN
        assert_eq!(bits(0x7F80_0000), 0x7F80_0000);
        assert_eq!(bits(0xFF80_0000), 0xFF80_0000);
    }

    #[test]
    fn bf16_keeps_nan_a_nan() {
        // Quiet and signalling NaNs of either sign, including payloads that the rounding
        // add would carry into the sign bit or turn into infinity if NaN were not special.
        for x in [
            0x7FC0_0000,
            0xFFC0_0000,
            0x7F80_0001,
            0xFF80_0001,
            0x7FFF_FFFF,
            0xFFFF_FFFF,
            0x7F80_8000,
        ] {
            assert_eq!(bits(x), 0x7FC0_0000, "{x:#010x}");
        }
    }

    #[test]
    fn f64_input_rounds_through_f32_as_torch_does() {
        // 1 + 2^-8 + 2^-30 is above the bfloat16 tie 1 + 2^-8, so a direct f64 → bf16
        // rounding gives 1 + 2^-7; torch goes through f32, where 2^-30 is lost (below half
        // an f32 ulp, 2^-24), and the tie then goes to the even 1.
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-30);
        assert_eq!(to_f32(x), 1.0 + 2f32.powi(-8));
        assert_eq!(round_bf16(to_f32(x)), 1.0);
        assert_eq!(to_f32(0.1f32), 0.1f32);
    }
}
