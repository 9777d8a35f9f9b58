//! Adadelta, as `torch.optim.Adadelta`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::Preamble;

/// Adadelta (Zeiler, 2012), exactly as `torch.optim.Adadelta` (torch 2.15, single-tensor
/// path): a per-element step size from the ratio of two running averages, of the squared
/// updates and of the squared gradients.
///
/// For each parameter `p` with gradient `g` (`s` is `square_avg`, `u` is `acc_delta`):
///
/// ```text
/// g ← -g                                   if maximize
/// g ← g + weight_decay · p                 if weight_decay ≠ 0
/// s ← ρ s + (1 − ρ) g²
/// δ ← √(u + ε) / √(s + ε) · g              (the new s, the old u; divide, then multiply)
/// u ← ρ u + (1 − ρ) δ²
/// p ← p − lr · δ
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1.0 | ≥ 0, finite |
/// | `rho` | 0.9 | in [0, 1] |
/// | `eps` | 1e-6 | ≥ 0, finite |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `maximize` | false | |
///
/// State, created at a parameter's first step with a gradient: `step` (a count, saved as
/// torch's 0-d float32 tensor; the update does not use it), `square_avg` (`s`) and
/// `acc_delta` (`u`). Unlike torch, NaN and infinite values fail the checks.
///
/// ```
/// use optimizers::{Adadelta, AdadeltaOptions, Param, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = Adadelta::new([p.clone()], AdadeltaOptions::new().rho(0.5))?;
/// p.set_grad(array![2.0])?;
/// opt.step()?;
/// // s = 0.5 · 4 = 2, δ = √1e-6 / √(2 + 1e-6) · 2
/// let delta = 1e-6f64.sqrt() / (2.0f64 + 1e-6).sqrt() * 2.0;
/// assert_eq!(p.value()[0], 1.0 - delta);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "adadelta", state = AdadeltaState, update = elementwise)]
pub struct Adadelta {
    /// Learning rate: the factor of the update `δ` (torch's default is 1).
    #[hyper(default = 1.0, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Coefficient of both running averages.
    #[hyper(default = 0.9, range(0.0..=1.0, "invalid rho value: {rho:?}"))]
    pub rho: f64,
    /// Added inside both square roots for numerical stability.
    #[hyper(default = 1e-6, range(0.0.., "invalid epsilon value: {eps:?}"))]
    pub eps: f64,
    /// Weight decay (L2 penalty).
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// The per-parameter state of [`Adadelta`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct AdadeltaState<A: Float> {
    /// Steps taken by this parameter (kept as torch keeps it; the update does not use it).
    pub step: StepCount,
    /// Running average of the squared gradient.
    pub square_avg: ArrayD<A>,
    /// Running average of the squared update.
    pub acc_delta: ArrayD<A>,
}

/// Adadelta's per-step scalars, rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct AdadeltaScalars<A> {
    preamble: Preamble<A>,
    rho: A,
    one_minus_rho: A,
    eps: A,
    neg_lr: A,
}

impl Elementwise for Adadelta {
    type Scalars<A: Float> = AdadeltaScalars<A>;

    fn prepare<A: Float>(&self, state: &mut AdadeltaState<A>, _shape: &[usize]) -> AdadeltaScalars<A> {
        state.step.increment();
        AdadeltaScalars {
            preamble: Preamble::l2(self.maximize, self.weight_decay),
            rho: A::from_f64(self.rho),
            one_minus_rho: A::from_f64(1.0 - self.rho),
            eps: A::from_f64(self.eps),
            neg_lr: A::from_f64(-self.lr),
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &AdadeltaScalars<A>, p: &mut A, g: A, state: AdadeltaStateElem<'_, A>) {
        let (param, g) = s.preamble.apply(*p, g);
        let square_avg = *state.square_avg * s.rho + s.one_minus_rho * g * g;
        *state.square_avg = square_avg;
        let std = (square_avg + s.eps).sqrt();
        let delta = (*state.acc_delta + s.eps).sqrt() / std * g;
        *state.acc_delta = *state.acc_delta * s.rho + s.one_minus_rho * delta * delta;
        *p = param + s.neg_lr * delta;
    }
}

#[cfg(test)]
mod tests {
    use optim_core::Param;
    use optim_core::ndarray::array;

    use super::*;
    use crate::test_support::{assert_checks, f32_scalar, state_entry};

    #[test]
    fn checks_run_in_torchs_order_with_its_messages() {
        assert_checks::<Adadelta>([
            (
                AdadeltaOptions::new().lr(-1.0).rho(2.0),
                Some("invalid learning rate: -1.0"),
            ),
            (AdadeltaOptions::new().rho(1.5), Some("invalid rho value: 1.5")),
            (AdadeltaOptions::new().eps(-1e-6), Some("invalid epsilon value: -1e-6")),
            (
                AdadeltaOptions::new().weight_decay(f64::NAN),
                Some("invalid weight_decay value: NaN"),
            ),
            (AdadeltaOptions::new().rho(1.0), None),
        ]);
    }

    #[test]
    fn state_appears_at_the_first_gradient_with_a_count() -> optim_core::Result<()> {
        let (p, q) = (Param::new(array![1.0f64, 2.0]), Param::new(array![3.0f64]));
        let mut opt = Adadelta::new([p.clone(), q.clone()], AdadeltaOptions::new())?;
        p.set_grad(array![0.5, -0.5])?;
        opt.step()?;
        opt.step()?;
        assert_eq!(state_entry(&opt, 0, "step"), Some(f32_scalar(2.0)));
        assert!(!opt.state_dict().state.contains_key(&1), "no gradient, no state");
        Ok(())
    }
}
