//! RAdam, as `torch.optim.RAdam`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::{LastValue, Lerp, Preamble};

/// RAdam (Liu et al., 2020): Adam with a rectified adaptive step, exactly as
/// `torch.optim.RAdam` (torch 2.15, single-tensor path), with optional decoupled weight
/// decay (RAdamW). While the variance of the adaptive step is intractable (`ρₜ ≤ 5`), the
/// step is plain momentum SGD.
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first (`m` is
/// `exp_avg`, `v` is `exp_avg_sq`):
///
/// ```text
/// g ← -g                                         if maximize
/// p ← p · (1 − lr · weight_decay)                if decoupled_weight_decay
/// g ← g + weight_decay · p                       otherwise, if weight_decay ≠ 0
/// m ← m + (1 − β₁) (g − m)                       (torch's lerp)
/// v ← β₂ v + (1 − β₂) g²
/// m̂ ← m / (1 − β₁ᵗ)
/// ρ∞ ← 2 / (1 − β₂) − 1
/// ρₜ ← ρ∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
/// if ρₜ > 5:
///     a ← (1 / (√v + ε)) · √(1 − β₂ᵗ)
///     r ← √((ρₜ − 4)(ρₜ − 2) ρ∞ / ((ρ∞ − 4)(ρ∞ − 2) ρₜ))
///     p ← p − ((m̂ · lr) · a) · r
/// else:
///     p ← p − m̂ · lr
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-3 | ≥ 0, finite |
/// | `eps` | 1e-8 | ≥ 0, finite |
/// | `betas` | (0.9, 0.999) | each in [0, 1) |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `decoupled_weight_decay` | false | |
/// | `maximize` | false | |
///
/// With the default β₂ = 0.999, steps 1 to 5 take the plain branch and later steps the
/// rectified one; with β₂ ≤ 2/3 the rectified branch is never taken.
///
/// State, created at a parameter's first step with a gradient: `step` (a count, saved as
/// torch's 0-d float32 tensor), `exp_avg` (`m`) and `exp_avg_sq` (`v`). Unlike torch, NaN
/// and infinite values fail the checks, which run in torch's order (`lr`, `eps`, `betas`,
/// `weight_decay`).
///
/// ```
/// use optimizers::{Param, RAdam, RAdamOptions, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = RAdam::new([p.clone()], RAdamOptions::new().lr(0.1))?;
/// p.set_grad(array![3.0])?;
/// opt.step()?;
/// // Step 1 is plain: m̂ = g.
/// assert!((p.value()[0] - (1.0 - 0.1 * 3.0)).abs() < 1e-15);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "radam", state = RAdamState, update = elementwise)]
pub struct RAdam {
    /// Learning rate.
    #[hyper(default = 1e-3, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Added to the denominator for numerical stability.
    #[hyper(default = 1e-8, range(0.0.., "invalid epsilon value: {eps:?}"))]
    pub eps: f64,
    /// Coefficients of the running averages of the gradient and its square.
    #[hyper(default = (0.9, 0.999), range(0.0..1.0, "invalid beta parameter at index {index}: {value}"))]
    pub betas: (f64, f64),
    /// Weight decay: an L2 penalty, or decoupled with `decoupled_weight_decay`.
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// Decay the weights directly (RAdamW) instead of adding an L2 term to the gradient.
    #[hyper(default = false)]
    pub decoupled_weight_decay: bool,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// The per-parameter state of [`RAdam`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct RAdamState<A: Float> {
    /// Steps taken by this parameter.
    pub step: StepCount,
    /// Running average of the gradient.
    pub exp_avg: ArrayD<A>,
    /// Running average of the squared gradient.
    pub exp_avg_sq: ArrayD<A>,
}

/// RAdam's per-step scalars, computed in `f64` and rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct RAdamScalars<A> {
    preamble: Preamble<A>,
    lerp: Lerp<A>,
    beta2: A,
    one_minus_beta2: A,
    bias_correction1: A,
    lr: A,
    eps: A,
    rectified: bool,
    bias_correction2_sqrt: A,
    rect: A,
}

impl Elementwise for RAdam {
    type Scalars<A: Float> = RAdamScalars<A>;

    fn prepare<A: Float>(&self, state: &mut RAdamState<A>, _shape: &[usize]) -> RAdamScalars<A> {
        let t = state.step.increment();
        let (beta1, beta2) = self.betas;
        thread_local! {
            static SCALARS: LastValue<3, (f64, f64, bool, f64)> = const { LastValue::new() };
        }
        let (bias_correction1, bias_correction2_sqrt, rectified, rect) = SCALARS.with(|last| {
            last.get([beta1, beta2, t], || {
                let bias_correction2 = 1.0 - beta2.powf(t);
                let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
                let rho_t = rho_inf - 2.0 * t * beta2.powf(t) / bias_correction2;
                let rectified = rho_t > 5.0;
                let rect = if rectified {
                    ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).powf(0.5)
                } else {
                    1.0
                };
                (1.0 - beta1.powf(t), bias_correction2.powf(0.5), rectified, rect)
            })
        });
        RAdamScalars {
            preamble: Preamble::new(self.maximize, self.weight_decay, self.decoupled_weight_decay, self.lr),
            lerp: Lerp::new(1.0 - beta1),
            beta2: A::from_f64(beta2),
            one_minus_beta2: A::from_f64(1.0 - beta2),
            bias_correction1: A::from_f64(bias_correction1),
            lr: A::from_f64(self.lr),
            eps: A::from_f64(self.eps),
            rectified,
            bias_correction2_sqrt: A::from_f64(bias_correction2_sqrt),
            rect: A::from_f64(rect),
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &RAdamScalars<A>, p: &mut A, g: A, state: RAdamStateElem<'_, A>) {
        let (param, g) = s.preamble.apply(*p, g);
        let m = s.lerp.apply(*state.exp_avg, g);
        *state.exp_avg = m;
        let v = *state.exp_avg_sq * s.beta2 + s.one_minus_beta2 * g * g;
        *state.exp_avg_sq = v;
        let step = m / s.bias_correction1 * s.lr;
        // torch evaluates `√(1 − β₂ᵗ) / (√v + ε)` as a reciprocal times the scalar.
        let adaptive = (v.sqrt() + s.eps).recip() * s.bias_correction2_sqrt;
        let step = if s.rectified { step * adaptive * s.rect } else { step };
        *p = param - step;
    }
}

#[cfg(test)]
mod tests {
    use optim_core::Param;
    use optim_core::ndarray::array;

    use super::*;
    use crate::test_support::assert_checks;

    #[test]
    fn checks_run_in_torchs_order_with_its_messages() {
        assert_checks::<RAdam>([
            (
                RAdamOptions::new().lr(-1.0).eps(-1.0),
                Some("invalid learning rate: -1.0"),
            ),
            (
                RAdamOptions::new().eps(-1.0).betas((1.0, 1.0)),
                Some("invalid epsilon value: -1.0"),
            ),
            (
                RAdamOptions::new().betas((-0.1, 0.9)),
                Some("invalid beta parameter at index 0: -0.1"),
            ),
            (
                RAdamOptions::new().weight_decay(-1.0),
                Some("invalid weight_decay value: -1.0"),
            ),
        ]);
    }

    #[test]
    fn the_first_five_steps_are_plain_momentum_with_default_betas() -> optim_core::Result<()> {
        let p = Param::new(array![0.0f64]);
        let mut opt = RAdam::new([p.clone()], RAdamOptions::new().lr(1.0))?;
        // A constant gradient: m̂ = g exactly (up to rounding), so each plain step moves by lr · g.
        for _ in 0..5 {
            p.set_grad(array![1.0])?;
            opt.step()?;
        }
        assert!((p.value()[0] + 5.0).abs() < 1e-12, "{}", p.value()[0]);
        // Step 6 is rectified: a smaller step, scaled by √(1 − β₂ᵗ) / √v ≈ 1 and r < 1.
        p.set_grad(array![1.0])?;
        opt.step()?;
        let moved = -5.0 - p.value()[0];
        assert!(moved > 0.0 && moved < 0.1, "{moved}");
        Ok(())
    }
}
