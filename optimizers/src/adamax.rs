//! Adamax, as `torch.optim.Adamax`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::{LastValue, Lerp, Preamble, maximum};

/// Adamax (Kingma and Ba, 2015, section 7), exactly as `torch.optim.Adamax` (torch 2.15,
/// single-tensor path): Adam with the infinity norm of past gradients in place of the
/// root mean square.
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first (`m` is
/// `exp_avg`, `u` is `exp_inf`):
///
/// ```text
/// g ← -g                                   if maximize
/// g ← g + weight_decay · p                 if weight_decay ≠ 0
/// m ← m + (1 − β₁) (g − m)                 (torch's lerp)
/// u ← max(β₂ u, |g| + ε)                   (ε inside the max)
/// clr ← lr / (1 − β₁ᵗ)
/// p ← p + (−clr · m) / u
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 2e-3 | ≥ 0, finite |
/// | `eps` | 1e-8 | ≥ 0, finite |
/// | `betas` | (0.9, 0.999) | each in [0, 1) |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `maximize` | false | |
///
/// State, created at a parameter's first step with a gradient: `step` (a count, saved as
/// torch's 0-d float32 tensor), `exp_avg` (`m`) and `exp_inf` (`u`). Unlike torch, NaN and
/// infinite values fail the checks, which run in torch's order (`lr`, `eps`, `betas`,
/// `weight_decay`).
///
/// ```
/// use optimizers::{Adamax, AdamaxOptions, Param, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = Adamax::new([p.clone()], AdamaxOptions::new().lr(0.1).eps(0.0))?;
/// p.set_grad(array![-4.0])?;
/// opt.step()?;
/// // m = 0.1 · -4, u = 4, clr = 0.1 / 0.1: the first step is lr · sign(g)
/// assert!((p.value()[0] - 1.1).abs() < 1e-15);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "adamax", state = AdamaxState, update = elementwise)]
pub struct Adamax {
    /// Learning rate.
    #[hyper(default = 2e-3, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Added to `|g|` inside the maximum, for numerical stability.
    #[hyper(default = 1e-8, range(0.0.., "invalid epsilon value: {eps:?}"))]
    pub eps: f64,
    /// Coefficients of the running average of the gradient and of the decaying maximum.
    #[hyper(default = (0.9, 0.999), range(0.0..1.0, "invalid beta parameter at index {index}: {value}"))]
    pub betas: (f64, f64),
    /// Weight decay (L2 penalty).
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// The per-parameter state of [`Adamax`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct AdamaxState<A: Float> {
    /// Steps taken by this parameter.
    pub step: StepCount,
    /// Running average of the gradient.
    pub exp_avg: ArrayD<A>,
    /// Decaying maximum of `|g| + ε`.
    pub exp_inf: ArrayD<A>,
}

/// Adamax's per-step scalars, rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct AdamaxScalars<A> {
    preamble: Preamble<A>,
    lerp: Lerp<A>,
    beta2: A,
    eps: A,
    neg_clr: A,
}

impl Elementwise for Adamax {
    type Scalars<A: Float> = AdamaxScalars<A>;

    fn prepare<A: Float>(&self, state: &mut AdamaxState<A>, _shape: &[usize]) -> AdamaxScalars<A> {
        let t = state.step.increment();
        let (beta1, beta2) = self.betas;
        thread_local! {
            static BIAS_CORRECTION: LastValue<2, f64> = const { LastValue::new() };
        }
        let bias_correction = BIAS_CORRECTION.with(|last| last.get([beta1, t], || 1.0 - beta1.powf(t)));
        let clr = self.lr / bias_correction;
        AdamaxScalars {
            preamble: Preamble::l2(self.maximize, self.weight_decay),
            lerp: Lerp::new(1.0 - beta1),
            beta2: A::from_f64(beta2),
            eps: A::from_f64(self.eps),
            neg_clr: A::from_f64(-clr),
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &AdamaxScalars<A>, p: &mut A, g: A, state: AdamaxStateElem<'_, A>) {
        let (param, g) = s.preamble.apply(*p, g);
        let m = s.lerp.apply(*state.exp_avg, g);
        *state.exp_avg = m;
        let u = maximum(*state.exp_inf * s.beta2, g.abs() + s.eps);
        *state.exp_inf = u;
        *p = param + (s.neg_clr * m) / u;
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
        assert_checks::<Adamax>([
            (
                AdamaxOptions::new().lr(-1.0).eps(-1.0),
                Some("invalid learning rate: -1.0"),
            ),
            (
                AdamaxOptions::new().eps(-1.0).betas((2.0, 0.9)),
                Some("invalid epsilon value: -1.0"),
            ),
            (
                AdamaxOptions::new().betas((1.0, 0.9)),
                Some("invalid beta parameter at index 0: 1.0"),
            ),
            (
                AdamaxOptions::new().betas((0.9, -0.5)).weight_decay(-1.0),
                Some("invalid beta parameter at index 1: -0.5"),
            ),
            (
                AdamaxOptions::new().weight_decay(-1.0),
                Some("invalid weight_decay value: -1.0"),
            ),
        ]);
    }

    #[test]
    fn exp_inf_holds_eps_inside_the_maximum() -> optim_core::Result<()> {
        let p = Param::new(array![1.0f64, 1.0]);
        let mut opt = Adamax::new([p.clone()], AdamaxOptions::new().eps(0.5).betas((0.9, 0.5)))?;
        p.set_grad(array![0.0, 2.0])?;
        opt.step()?;
        let state = opt.state(&p).expect("created by the step");
        assert_eq!(state.exp_inf, array![0.5, 2.5].into_dyn());
        Ok(())
    }
}
