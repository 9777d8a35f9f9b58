//! NAdam, as `torch.optim.NAdam`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, ShapeCtx, State, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::{LastValue, Lerp, Preamble};

/// NAdam (Dozat, 2016): Adam with Nesterov momentum, exactly as `torch.optim.NAdam`
/// (torch 2.15, single-tensor path), with its momentum schedule `μₜ` and optional decoupled
/// weight decay (NAdamW).
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first (`m` is
/// `exp_avg`, `v` is `exp_avg_sq`, `Π` is `mu_product`, a float32 value):
///
/// ```text
/// g ← -g                                         if maximize
/// p ← p · (1 − lr · weight_decay)                if decoupled_weight_decay
/// g ← g + weight_decay · p                       otherwise, if weight_decay ≠ 0
/// μₜ   ← β₁ (1 − ½ · 0.96^(t · momentum_decay))
/// μₜ₊₁ ← β₁ (1 − ½ · 0.96^((t + 1) · momentum_decay))
/// Π ← float32(Π · float32(μₜ))
/// m ← m + (1 − β₁) (g − m)                       (torch's lerp)
/// v ← β₂ v + (1 − β₂) g²
/// d ← √(v / (1 − β₂ᵗ)) + ε                       (divide, then the square root)
/// p ← p + ((−lr (1 − μₜ) / (1 − Π)) · g) / d
/// p ← p + ((−lr μₜ₊₁ / (1 − Π μₜ₊₁)) · m) / d    (Π μₜ₊₁ in f64, not rounded)
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 2e-3 | ≥ 0, finite |
/// | `eps` | 1e-8 | ≥ 0, finite |
/// | `betas` | (0.9, 0.999) | each in [0, 1) |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `momentum_decay` | 4e-3 | ≥ 0, finite |
/// | `decoupled_weight_decay` | false | |
/// | `maximize` | false | |
///
/// State, created at a parameter's first step with a gradient: `step` (a count),
/// `mu_product` (`Π`, starting at 1), `exp_avg` (`m`) and `exp_avg_sq` (`v`). `step` and
/// `mu_product` are saved as torch's 0-d float32 tensors, and `mu_product` is a float32
/// value also for `f64` parameters, as in torch, where it is a float32 tensor multiplied
/// in place.
///
/// Unlike torch, NaN and infinite values fail the checks, which run in torch's order
/// (`lr`, `eps`, `betas`, `weight_decay`, `momentum_decay`).
///
/// ```
/// use optimizers::{NAdam, NAdamOptions, Param, ndarray::array};
///
/// let p = Param::new(array![1.0f32, -1.0]);
/// let options = NAdamOptions::new().lr(0.1).weight_decay(0.01).decoupled_weight_decay(true);
/// let mut opt = NAdam::new([p.clone()], options)?;
/// for _ in 0..3 {
///     p.set_grad(p.value().mapv(|x| 2.0 * x))?;
///     opt.step()?;
/// }
/// assert!(p.value().iter().all(|x| x.abs() < 1.0));
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "nadam", state = NAdamState, update = elementwise)]
pub struct NAdam {
    /// Learning rate.
    #[hyper(default = 2e-3, range(0.0.., "invalid learning rate: {lr:?}"))]
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
    /// How fast the momentum schedule `μₜ` rises towards `β₁`.
    #[hyper(default = 4e-3, range(0.0.., "invalid momentum_decay value: {momentum_decay:?}"))]
    pub momentum_decay: f64,
    /// Decay the weights directly (NAdamW) instead of adding an L2 term to the gradient.
    #[hyper(default = false)]
    pub decoupled_weight_decay: bool,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// The per-parameter state of [`NAdam`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct NAdamState<A: Float> {
    /// Steps taken by this parameter.
    pub step: StepCount,
    /// The product of the momentum schedule's `μ₁ … μₜ` (float32, as torch keeps it).
    pub mu_product: f32,
    /// Running average of the gradient.
    pub exp_avg: ArrayD<A>,
    /// Running average of the squared gradient.
    pub exp_avg_sq: ArrayD<A>,
}

/// NAdam's per-step scalars, computed in `f64` and rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct NAdamScalars<A> {
    preamble: Preamble<A>,
    lerp: Lerp<A>,
    beta2: A,
    one_minus_beta2: A,
    bias_correction2: A,
    eps: A,
    grad_coef: A,
    avg_coef: A,
}

impl Elementwise for NAdam {
    type Scalars<A: Float> = NAdamScalars<A>;

    /// `mu_product` starts at 1.
    fn init_state<A: Float>(&self, _defaults: &NAdamOptions, ctx: &ShapeCtx<'_>) -> NAdamState<A> {
        NAdamState {
            mu_product: 1.0,
            ..State::init(ctx)
        }
    }

    fn prepare<A: Float>(&self, state: &mut NAdamState<A>, _shape: &[usize]) -> NAdamScalars<A> {
        let t = state.step.increment();
        let (beta1, beta2) = self.betas;
        thread_local! {
            static POWERS: LastValue<4, (f64, f64, f64)> = const { LastValue::new() };
        }
        let (bias_correction2, mu, mu_next) = POWERS.with(|last| {
            last.get([beta1, beta2, self.momentum_decay, t], || {
                (
                    1.0 - beta2.powf(t),
                    beta1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay)),
                    beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay)),
                )
            })
        });
        // torch multiplies its float32 tensor in place by the Python float: in float32.
        state.mu_product *= mu as f32;
        let mu_product = f64::from(state.mu_product);
        let mu_product_next = mu_product * mu_next;
        NAdamScalars {
            preamble: Preamble::new(self.maximize, self.weight_decay, self.decoupled_weight_decay, self.lr),
            lerp: Lerp::new(1.0 - beta1),
            beta2: A::from_f64(beta2),
            one_minus_beta2: A::from_f64(1.0 - beta2),
            bias_correction2: A::from_f64(bias_correction2),
            eps: A::from_f64(self.eps),
            grad_coef: A::from_f64(-self.lr * (1.0 - mu) / (1.0 - mu_product)),
            avg_coef: A::from_f64((-self.lr * mu_next) / (1.0 - mu_product_next)),
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &NAdamScalars<A>, p: &mut A, g: A, state: NAdamStateElem<'_, A>) {
        let (param, g) = s.preamble.apply(*p, g);
        let m = s.lerp.apply(*state.exp_avg, g);
        *state.exp_avg = m;
        let v = *state.exp_avg_sq * s.beta2 + s.one_minus_beta2 * g * g;
        *state.exp_avg_sq = v;
        let denom = (v / s.bias_correction2).sqrt() + s.eps;
        let param = param + (s.grad_coef * g) / denom;
        *p = param + (s.avg_coef * m) / denom;
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
        assert_checks::<NAdam>([
            (
                NAdamOptions::new().lr(-1.0).eps(-1.0),
                Some("invalid learning rate: -1.0"),
            ),
            (
                NAdamOptions::new().eps(-1.0).betas((1.0, 1.0)),
                Some("invalid epsilon value: -1.0"),
            ),
            (
                NAdamOptions::new().betas((0.9, 1.0)).weight_decay(-1.0),
                Some("invalid beta parameter at index 1: 1.0"),
            ),
            (
                NAdamOptions::new().weight_decay(-1.0).momentum_decay(-1.0),
                Some("invalid weight_decay value: -1.0"),
            ),
            (
                NAdamOptions::new().momentum_decay(f64::NEG_INFINITY),
                Some("invalid momentum_decay value: -inf"),
            ),
        ]);
    }

    #[test]
    fn mu_product_is_a_float32_product_for_f64_parameters() -> optim_core::Result<()> {
        let p = Param::new(array![1.0f64, 2.0]);
        let mut opt = NAdam::new([p.clone()], NAdamOptions::new())?;
        let mut expected = 1.0f32;
        for t in 1..=3 {
            p.set_grad(array![0.1, -0.2])?;
            opt.step()?;
            let mu = 0.9 * (1.0 - 0.5 * 0.96f64.powf(f64::from(t) * 4e-3));
            expected *= mu as f32;
        }
        assert_eq!(state_entry(&opt, 0, "mu_product"), Some(f32_scalar(expected)));
        assert_eq!(opt.state(&p).expect("created").mu_product, expected);
        Ok(())
    }
}
