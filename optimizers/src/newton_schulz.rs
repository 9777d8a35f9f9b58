//! The Newton–Schulz orthogonalisation of `torch.optim.Muon`, bit for bit as torch 2.15 runs
//! it on CPU: bfloat16 values, exact products, float32 accumulation.
//!
//! Self-contained (it needs only `ndarray`) so that the Muon optimizer can call it from its
//! update; it keeps its work matrices in an [`NsScratch`] so that a warm call allocates
//! nothing.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

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
/// every NaN becomes torch's quiet NaN `0x7FC0_0000`. Branch-free apart from the NaN
/// select, so that the loops that call it vectorize.
///
/// ```
/// # use optimizers::__newton_schulz::round_bf16;
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
/// They grow to the largest shape seen and never shrink, so that once a scratch has seen
/// a shape (or was made by [`NsScratch::for_shape`]) a call on it or a smaller one does
/// not allocate. Keep one per thread (or per parameter).
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
    /// an empty output.
    ///
    /// ```
    /// # use optimizers::__newton_schulz::{NewtonSchulz, NsScratch};
    /// # use optimizers::ndarray::{Array2, array};
    /// let u = array![[3.0f64, 0.0], [0.0, 4.0], [0.0, 0.0]];
    /// let mut out = Array2::<f32>::zeros((3, 2));
    /// let mut scratch = NsScratch::new();
    /// NewtonSchulz::default().orthogonalize(u.view(), out.view_mut(), &mut scratch)?;
    /// // close to the orthogonal factor [[1, 0], [0, 1], [0, 0]]
    /// assert!((out[[0, 0]] - 1.0).abs() < 0.3 && (out[[1, 1]] - 1.0).abs() < 0.3);
    /// # Ok::<(), optimizers::__newton_schulz::NsError>(())
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
        scratch.reserve(m, n);
        let [a, b, c] = self.coefficients.map(|k| k as f32);

        let mut x = ArrayViewMut2::from_shape((m, n), &mut scratch.x[..m * n]).expect("m*n elements");
        Zip::from(&mut x).and(&u).for_each(|x, &u| *x = round_bf16(to_f32(u)));
        normalize(x.as_slice_mut().expect("contiguous"), self.eps);

        for _ in 0..self.steps {
            let x = ArrayView2::from_shape((m, n), &scratch.x[..m * n]).expect("m*n elements");
            let mut gram = ArrayViewMut2::from_shape((m, m), &mut scratch.gram[..m * m]).expect("m*m elements");
            general_mat_mul(1.0, &x, &x.t(), 0.0, &mut gram);
            round_all(gram.as_slice_mut().expect("contiguous"));

            let gram = gram.view();
            let mut update = ArrayViewMut2::from_shape((m, m), &mut scratch.update[..m * m]).expect("m*m elements");
            general_mat_mul(1.0, &gram, &gram, 0.0, &mut update);
            combine(
                b,
                gram.as_slice().expect("contiguous"),
                c,
                update.as_slice_mut().expect("contiguous"),
            );

            let mut next = ArrayViewMut2::from_shape((m, n), &mut scratch.next[..m * n]).expect("m*n elements");
            general_mat_mul(1.0, &update.view(), &x, 0.0, &mut next);
            combine(
                a,
                x.as_slice().expect("contiguous"),
                1.0,
                next.as_slice_mut().expect("contiguous"),
            );
            std::mem::swap(&mut scratch.x, &mut scratch.next);
        }

        let x = ArrayView2::from_shape((m, n), &scratch.x[..m * n]).expect("m*n elements");
        out.assign(&if tall { x.reversed_axes() } else { x });
        Ok(())
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

fn round_all(x: &mut [f32]) {
    for v in x {
        *v = round_bf16(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
