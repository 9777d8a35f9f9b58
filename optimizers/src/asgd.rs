//! Averaged stochastic gradient descent, as `torch.optim.ASGD`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, ShapeCtx, State, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::{LastValue, Preamble};

/// Averaged SGD (Polyak and Juditsky, 1992), exactly as `torch.optim.ASGD` (torch 2.15,
/// single-tensor path): SGD with a decaying step size `η` and a running average `ax` of
/// the iterates, started after `t0` steps.
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first, and `η`,
/// `μ` the values the previous step left in the state (float32, as torch keeps them):
///
/// ```text
/// g ← -g                                   if maximize
/// g ← g + weight_decay · p                 if weight_decay ≠ 0
/// p ← p · (1 − lambd · η)
/// p ← p − η · g
/// ax ← ax + (p − ax) · μ                   if μ ≠ 1 (with the updated p)
/// ax ← p                                   otherwise
/// η ← float32(lr / (1 + lambd · lr · t)^alpha)
/// μ ← float32(1 / max(1, t − t0))
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-2 | ≥ 0, finite |
/// | `lambd` | 1e-4 | ≥ 0, finite |
/// | `alpha` | 0.75 | ≥ 0, finite |
/// | `t0` | 1e6 | any (not checked, as in torch; +∞ never averages) |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `maximize` | false | |
///
/// State, created at a parameter's first step with a gradient: `step` (a count), `eta`
/// (`η`, starting at the group's `lr` of that moment), `mu` (`μ`, starting at 1) and `ax`.
/// `step`, `eta` and `mu` are saved as torch's 0-d float32 tensors, and `eta` and `mu`
/// are float32 values also for `f64` parameters, as in torch: a step uses the rounded
/// values. A step uses the `η` the previous one computed: a new `lr` does not change the
/// size of the next step, which computes the following `η` from it. `μ` stays 1, and `ax`
/// a copy of `p`, while `t ≤ t0 + 1`.
///
/// Unlike torch, NaN and infinite values fail the checks of `lr`, `lambd`, `alpha` and
/// `weight_decay`.
///
/// ```
/// use optimizers::{Asgd, AsgdOptions, Param, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = Asgd::new([p.clone()], AsgdOptions::new().lr(0.1).lambd(0.0))?;
/// p.set_grad(array![2.0])?;
/// opt.step()?;
/// // The first step uses η = float32(lr).
/// assert_eq!(p.value()[0], 1.0 - 0.1f32 as f64 * 2.0);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "asgd", state = AsgdState, update = elementwise)]
pub struct Asgd {
    /// Learning rate: the first step size, and the scale of the later ones.
    #[hyper(default = 1e-2, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Decay term: both the weight shrinkage `1 − lambd · η` and the step-size decay.
    #[hyper(default = 1e-4, range(0.0.., "invalid lambd value: {lambd:?}"))]
    pub lambd: f64,
    /// Power of the step-size decay.
    #[hyper(default = 0.75, range(0.0.., "invalid alpha value: {alpha:?}"))]
    pub alpha: f64,
    /// The step after which averaging starts.
    #[hyper(default = 1e6)]
    pub t0: f64,
    /// Weight decay (L2 penalty).
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// The per-parameter state of [`Asgd`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct AsgdState<A: Float> {
    /// Steps taken by this parameter.
    pub step: StepCount,
    /// The step size of the next step (float32, as torch keeps it).
    pub eta: f32,
    /// The averaging factor of the next step (float32, as torch keeps it).
    pub mu: f32,
    /// The running average of the parameter.
    pub ax: ArrayD<A>,
}

/// ASGD's per-step scalars, rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct AsgdScalars<A> {
    preamble: Preamble<A>,
    decay_factor: A,
    neg_eta: A,
    average: bool,
    mu: A,
}

impl Elementwise for Asgd {
    type Scalars<A: Float> = AsgdScalars<A>;

    /// `eta` starts at the group's `lr` rounded to float32, `mu` at 1.
    fn init_state<A: Float>(&self, _defaults: &AsgdOptions, ctx: &ShapeCtx<'_>) -> AsgdState<A> {
        AsgdState {
            eta: self.lr as f32,
            mu: 1.0,
            ..State::init(ctx)
        }
    }

    fn prepare<A: Float>(&self, state: &mut AsgdState<A>, _shape: &[usize]) -> AsgdScalars<A> {
        let t = state.step.increment();
        let (eta, mu) = (f64::from(state.eta), f64::from(state.mu));
        let scalars = AsgdScalars {
            preamble: Preamble::l2(self.maximize, self.weight_decay),
            decay_factor: A::from_f64(1.0 - self.lambd * eta),
            neg_eta: A::from_f64(-eta),
            average: mu != 1.0,
            mu: A::from_f64(mu),
        };
        // The next step's values, stored as float32 (torch's `as_tensor` of a Python float).
        thread_local! {
            static ETA: LastValue<4, f32> = const { LastValue::new() };
        }
        state.eta = ETA.with(|last| {
            last.get([self.lr, self.lambd, self.alpha, t], || {
                (self.lr / (1.0 + self.lambd * self.lr * t).powf(self.alpha)) as f32
            })
        });
        state.mu = (1.0 / f64::max(1.0, t - self.t0)) as f32;
        scalars
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &AsgdScalars<A>, p: &mut A, g: A, state: AsgdStateElem<'_, A>) {
        let (param, g) = s.preamble.apply(*p, g);
        let param = param * s.decay_factor;
        let param = param + s.neg_eta * g;
        *p = param;
        let ax = *state.ax;
        *state.ax = if s.average { ax + (param - ax) * s.mu } else { param };
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
        assert_checks::<Asgd>([
            (
                AsgdOptions::new().lr(-1.0).lambd(-1.0),
                Some("invalid learning rate: -1.0"),
            ),
            (
                AsgdOptions::new().lambd(-1.0).alpha(-1.0),
                Some("invalid lambd value: -1.0"),
            ),
            (
                AsgdOptions::new().alpha(f64::NAN).weight_decay(-1.0),
                Some("invalid alpha value: NaN"),
            ),
            (
                AsgdOptions::new().weight_decay(-1.0),
                Some("invalid weight_decay value: -1.0"),
            ),
            (AsgdOptions::new().t0(f64::INFINITY), None),
        ]);
    }

    #[test]
    fn eta_is_a_float32_value_for_f64_parameters() -> optim_core::Result<()> {
        let p = Param::new(array![1.0f64]);
        let (lr, lambd, alpha) = (0.05, 0.5, 0.75);
        let mut opt = Asgd::new([p.clone()], AsgdOptions::new().lr(lr).lambd(lambd).alpha(alpha))?;
        p.set_grad(array![1.0])?;
        opt.step()?;
        let eta = (lr / (1.0 + lambd * lr * 1.0f64).powf(alpha)) as f32;
        assert_ne!(f64::from(eta), lr / (1.0 + lambd * lr).powf(alpha), "float32 rounds it");
        assert_eq!(state_entry(&opt, 0, "eta"), Some(f32_scalar(eta)));
        assert_eq!(state_entry(&opt, 0, "mu"), Some(f32_scalar(1.0)));

        // The second step uses that float32 value.
        let before = p.value()[0];
        opt.step()?;
        let eta = f64::from(eta);
        assert_eq!(p.value()[0], before * (1.0 - lambd * eta) + (-eta) * 1.0);
        Ok(())
    }

    #[test]
    fn averaging_starts_after_t0_with_the_updated_parameter() -> optim_core::Result<()> {
        let p = Param::new(array![1.0f64]);
        let mut opt = Asgd::new([p.clone()], AsgdOptions::new().lambd(0.0).t0(1.0))?;
        let mut values = Vec::new();
        for _ in 0..4 {
            p.set_grad(array![1.0])?;
            opt.step()?;
            values.push(p.value()[0]);
        }
        // μ after step t is 1 / max(1, t − 1): 1, 1, 1/2, and step t uses the μ of step
        // t − 1: steps 1 to 3 copy the parameter, step 4 is the first to average.
        let ax = opt.state(&p).expect("created").ax[[0]];
        assert_eq!(ax, values[2] + (values[3] - values[2]) * 0.5);
        Ok(())
    }
}
