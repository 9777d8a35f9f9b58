//! The passes of one Adafactor step over one tensor, compiled for the CPU's instruction
//! set through [`Isa::run`].
//!
//! torch materialises the variance estimate and the update (two temporaries of the
//! parameter's size, and a pass over memory per operation). Here a factored step reads
//! the gradient three times and allocates only row- and column-sized buffers: (1) the
//! parameter's and the rows' and columns' sums of squares, (2) the update's norm, (3) the
//! update, computed again and applied. Every element is computed with torch's operations in
//! torch's order; sums are `f64`, in a fixed number of partial sums, so that every
//! instruction set gives the same bits.
//! They run with the optimizer's instruction set, which `PerTensor::update` is given.

use optim_core::Float;
use optim_core::isa::{Isa, Kernel};

/// The partial sums of a reduction: enough independent additions to hide their latency.
const LANES: usize = 16;

/// Σ x², summed in `f64` in [`LANES`] partial sums combined in a fixed order.
#[inline(always)]
fn sum_of_squares<A: Float>(x: &[A]) -> f64 {
    let (chunks, tail) = x.as_chunks::<LANES>();
    let mut acc = [0.0f64; LANES];
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            let v = v.as_f64();
            *a += v * v;
        }
    }
    combine(acc) + tail.iter().map(|&v| v.as_f64() * v.as_f64()).sum::<f64>()
}

/// The partial sums, pairwise, in a fixed order.
#[inline(always)]
fn combine(mut acc: [f64; LANES]) -> f64 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            acc[k] += acc[k + width];
        }
    }
    acc[0]
}

/// A norm as torch's `norm(...).item()` gives it: rounded to the element type.
pub(super) fn norm<A: Float>(sum_of_squares: f64) -> f64 {
    A::from_f64(sum_of_squares.sqrt()).as_f64()
}

/// torch's `a.lerp_(b, w)` with a Python-float weight (rounded to the element type):
/// `a + w (b − a)` for `|w| < 0.5`, else `b − (b − a)(1 − w)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lerp<A> {
    weight: A,
    small: bool,
    complement: A,
}

impl<A: Float> Lerp<A> {
    pub(super) fn new(w: f64) -> Self {
        let weight = A::from_f64(w);
        Lerp {
            weight,
            small: weight.abs() < A::from_f64(0.5),
            complement: A::one() - weight,
        }
    }

    #[inline(always)]
    fn apply(self, a: A, b: A) -> A {
        if self.small {
            a + self.weight * (b - a)
        } else {
            b - (b - a) * self.complement
        }
    }
}

/// What one step of one parameter needs besides its tensors.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step<A> {
    /// The averaging of the second moment, weight `t^beta2_decay`.
    pub lerp: Lerp<A>,
    /// ε₁: the floor of the row factors' mean.
    pub eps1: A,
    /// ε₁², computed in `f64`: the floor of the variance estimate.
    pub eps1_sq: A,
    /// `1 − lr · weight_decay`, when there is weight decay.
    pub decay: Option<A>,
    /// Whether the gradient is negated.
    pub maximize: bool,
}

/// `1 / √max(v, ε₁²) · g`, as torch's `clamp_(min=ε₁²).rsqrt_().mul_(g)` (NaN stays NaN).
#[inline(always)]
fn update<A: Float>(v: A, eps1_sq: A, g: A) -> A {
    let v = if v < eps1_sq { eps1_sq } else { v };
    A::one() / v.sqrt() * g
}

/// `p · (1 − lr · wd) + s · u`: torch's `mul_` then `add_(u, alpha=s)`, one rounding each.
#[inline(always)]
fn apply<A: Float>(p: A, decay: Option<A>, s: A, u: A) -> A {
    let p = match decay {
        Some(f) => p * f,
        None => p,
    };
    p + s * u
}

/// One factored step of a parameter of shape `[.., m, n]` with its `row` (`[.., m, 1]`)
/// and `col` (`[.., 1, n]`) factors. `scale` gives the update's factor from `Σ p²` (before
/// the decay) and `Σ U²`.
#[allow(clippy::too_many_arguments)] // the tensors, their two sizes, and the step
pub(super) fn factored<A: Float>(
    step: &Step<A>,
    scale: impl FnOnce(f64, f64) -> A,
    p: &mut [A],
    g: &[A],
    row: &mut [A],
    col: &mut [A],
    m: usize,
    n: usize,
    isa: Isa,
) {
    // Pass 1: Σ p², and each row's and column's Σ g².
    let mut row_sums = vec![0.0f64; row.len()];
    let mut col_sums = vec![0.0f64; col.len()];
    let param_sum = isa.run(FactoredSums {
        p,
        g,
        row_sums: &mut row_sums,
        col_sums: &mut col_sums,
        m,
        n,
    });
    // The factors: the new mean squares (norm², then / size, in the element type), lerped.
    let mean_square = |sum: f64, count: usize| {
        let norm = A::from_f64(sum.sqrt());
        norm * norm / A::from_f64(count as f64)
    };
    for (r, &sum) in row.iter_mut().zip(&row_sums) {
        *r = step.lerp.apply(*r, mean_square(sum, n));
    }
    for (c, &sum) in col.iter_mut().zip(&col_sums) {
        *c = step.lerp.apply(*c, mean_square(sum, m));
    }
    // Each batch's mean row factor, floored at ε₁: `row_var.mean(dim=-2).clamp_(min=ε₁)`.
    let means: Vec<A> = row
        .chunks(m.max(1))
        .map(|rows| {
            let mean = A::from_f64(rows.iter().map(|r| r.as_f64()).sum::<f64>()) / A::from_f64(m as f64);
            if mean < step.eps1 { step.eps1 } else { mean }
        })
        .collect();
    let factors = Factors {
        row,
        col,
        means: &means,
        m,
        n,
        eps1_sq: step.eps1_sq,
    };
    // Pass 2: Σ U². Pass 3: the update.
    let update_sum = isa.run(FactoredNorm { factors: &factors, g });
    let s = scale(param_sum, update_sum);
    isa.run(FactoredApply {
        factors: &factors,
        p,
        g,
        step,
        s,
    });
}

/// Pass 1 of a factored step.
struct FactoredSums<'a, A> {
    p: &'a [A],
    g: &'a [A],
    row_sums: &'a mut [f64],
    col_sums: &'a mut [f64],
    m: usize,
    n: usize,
}

impl<A: Float> Kernel for FactoredSums<'_, A> {
    type Output = f64;

    #[inline(always)]
    fn run(self) -> f64 {
        let Self {
            p,
            g,
            row_sums,
            col_sums,
            m,
            n,
        } = self;
        let mut param_sum = 0.0;
        if n == 0 {
            return param_sum;
        }
        for ((gr, pr), (r, row_sum)) in g
            .chunks_exact(n)
            .zip(p.chunks_exact(n))
            .zip(row_sums.iter_mut().enumerate())
        {
            param_sum += sum_of_squares(pr);
            *row_sum = sum_of_squares(gr);
            let batch = r / m;
            let cols = &mut col_sums[batch * n..(batch + 1) * n];
            for (c, &x) in cols.iter_mut().zip(gr) {
                let x = x.as_f64();
                *c += x * x;
            }
        }
        param_sum
    }
}

/// The factors of the variance estimate, after pass 1.
struct Factors<'a, A> {
    row: &'a [A],
    col: &'a [A],
    /// Each batch's floored mean row factor.
    means: &'a [A],
    m: usize,
    n: usize,
    eps1_sq: A,
}

impl<A: Float> Factors<'_, A> {
    /// Row `r`'s factor, and its batch's column factors and floored mean row factor. (The
    /// passes loop over rows themselves: a closure would be compiled apart from the loop,
    /// for the baseline instruction set.)
    #[inline(always)]
    fn row(&self, r: usize) -> (A, &[A], A) {
        let batch = r / self.m;
        (
            self.row[r],
            &self.col[batch * self.n..(batch + 1) * self.n],
            self.means[batch],
        )
    }
}

/// `V = R · C / mean` for one element, torch's `(row_var @ col_var).div_(mean)`.
#[inline(always)]
fn estimate<A: Float>(row: A, col: A, mean: A) -> A {
    row * col / mean
}

/// Pass 2 of a factored step: Σ U² (the sign of the gradient does not matter).
struct FactoredNorm<'a, 'f, A> {
    factors: &'f Factors<'a, A>,
    g: &'a [A],
}

impl<A: Float> Kernel for FactoredNorm<'_, '_, A> {
    type Output = f64;

    #[inline(always)]
    fn run(self) -> f64 {
        let Self { factors, g } = self;
        let (n, eps1_sq) = (factors.n, factors.eps1_sq);
        let mut total = 0.0;
        if n == 0 {
            return total;
        }
        for (r, gr) in g.chunks_exact(n).enumerate() {
            let (row, cols, mean) = factors.row(r);
            let (g_chunks, g_tail) = gr.as_chunks::<LANES>();
            let (c_chunks, c_tail) = cols.as_chunks::<LANES>();
            let mut acc = [0.0f64; LANES];
            for (gc, cc) in g_chunks.iter().zip(c_chunks) {
                for k in 0..LANES {
                    let u = update(estimate(row, cc[k], mean), eps1_sq, gc[k]).as_f64();
                    acc[k] += u * u;
                }
            }
            let mut tail = 0.0;
            for (&gv, &c) in g_tail.iter().zip(c_tail) {
                let u = update(estimate(row, c, mean), eps1_sq, gv).as_f64();
                tail += u * u;
            }
            total += combine(acc) + tail;
        }
        total
    }
}

/// Pass 3 of a factored step: the update, applied with the weight decay.
struct FactoredApply<'a, 'f, A> {
    factors: &'f Factors<'a, A>,
    p: &'a mut [A],
    g: &'a [A],
    step: &'a Step<A>,
    s: A,
}

impl<A: Float> Kernel for FactoredApply<'_, '_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self { factors, p, g, step, s } = self;
        let (n, eps1_sq, decay, maximize) = (factors.n, factors.eps1_sq, step.decay, step.maximize);
        if n == 0 {
            return;
        }
        for (r, (pr, gr)) in p.chunks_exact_mut(n).zip(g.chunks_exact(n)).enumerate() {
            let (row, cols, mean) = factors.row(r);
            for ((pv, &gv), &c) in pr.iter_mut().zip(gr).zip(cols) {
                let gv = if maximize { -gv } else { gv };
                *pv = apply(*pv, decay, s, update(estimate(row, c, mean), eps1_sq, gv));
            }
        }
    }
}

/// One unfactored step (a 1-d or 0-d parameter) with its `variance`.
pub(super) fn unfactored<A: Float>(
    step: &Step<A>,
    scale: impl FnOnce(f64, f64) -> A,
    p: &mut [A],
    g: &[A],
    variance: &mut [A],
    isa: Isa,
) {
    // Pass 1: Σ p², the variance, Σ U². Pass 2: the update.
    let (param_sum, update_sum) = isa.run(UnfactoredNorm {
        p,
        g,
        variance: &mut *variance,
        step,
    });
    let s = scale(param_sum, update_sum);
    isa.run(UnfactoredApply {
        p,
        g,
        variance,
        step,
        s,
    });
}

/// Pass 1 of an unfactored step.
struct UnfactoredNorm<'a, A> {
    p: &'a [A],
    g: &'a [A],
    variance: &'a mut [A],
    step: &'a Step<A>,
}

impl<A: Float> Kernel for UnfactoredNorm<'_, A> {
    type Output = (f64, f64);

    #[inline(always)]
    fn run(self) -> (f64, f64) {
        let Self { p, g, variance, step } = self;
        let (lerp, eps1_sq) = (step.lerp, step.eps1_sq);
        let (v_chunks, v_tail) = variance.as_chunks_mut::<LANES>();
        let (g_chunks, g_tail) = g.as_chunks::<LANES>();
        let mut acc = [0.0f64; LANES];
        for (vc, gc) in v_chunks.iter_mut().zip(g_chunks) {
            for k in 0..LANES {
                let u = variance_update(&mut vc[k], gc[k], lerp, eps1_sq);
                acc[k] += u * u;
            }
        }
        let mut tail = 0.0;
        for (v, &gv) in v_tail.iter_mut().zip(g_tail) {
            let u = variance_update(v, gv, lerp, eps1_sq);
            tail += u * u;
        }
        (sum_of_squares(p), combine(acc) + tail)
    }
}

/// One element of pass 1 of an unfactored step: `v ← lerp(v, g², w)`; returns `U`.
#[inline(always)]
fn variance_update<A: Float>(v: &mut A, g: A, lerp: Lerp<A>, eps1_sq: A) -> f64 {
    let new = lerp.apply(*v, g * g);
    *v = new;
    update(new, eps1_sq, g).as_f64()
}

/// Pass 2 of an unfactored step.
struct UnfactoredApply<'a, A> {
    p: &'a mut [A],
    g: &'a [A],
    variance: &'a [A],
    step: &'a Step<A>,
    s: A,
}

impl<A: Float> Kernel for UnfactoredApply<'_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Self {
            p,
            g,
            variance,
            step,
            s,
        } = self;
        let (eps1_sq, decay, maximize) = (step.eps1_sq, step.decay, step.maximize);
        for ((pv, &gv), &v) in p.iter_mut().zip(g).zip(variance) {
            let gv = if maximize { -gv } else { gv };
            *pv = apply(*pv, decay, s, update(v, eps1_sq, gv));
        }
    }
}
