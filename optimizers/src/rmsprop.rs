//! RMSprop, as `torch.optim.RMSprop`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, StepCount};
use optim_derive::{Optimizer, State};

/// RMSprop (Tieleman and Hinton), optionally centered (Graves) and with momentum, exactly
/// as `torch.optim.RMSprop` (torch 2.15, single-tensor path).
///
/// For each parameter `p` with gradient `g`, its step count incremented first:
///
/// ```text
/// g ← -g                                       if maximize
/// g ← g + weight_decay · p                     if weight_decay ≠ 0
/// v ← α v + (1 − α) g²                         (square_avg)
/// if centered:
///     m ← m + (1 − α) (g − m)                  (grad_avg; torch's lerp)
///     d ← √(v − m²) + eps
/// else:
///     d ← √v + eps
/// if momentum > 0:
///     b ← momentum · b + g / d                 (momentum_buffer)
///     p ← p − lr · b
/// else:
///     p ← p + (−lr · g) / d
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-2 | ≥ 0, finite |
/// | `eps` | 1e-8 | ≥ 0, finite |
/// | `momentum` | 0 | ≥ 0, finite |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `alpha` | 0.99 | ≥ 0, finite |
/// | `centered` | false | |
/// | `maximize` | false | |
///
/// The options are checked in this order, torch's (`invalid learning rate: -1.0`, ...).
///
/// State: `step` (a float, as torch keeps it, not used by the update), `square_avg`; and
/// `momentum_buffer` if `momentum > 0`, `grad_avg` if `centered`, **when the parameter's
/// state is created** (its first step with a gradient). Turning `momentum` or `centered`
/// off later leaves the buffer in the state, unused, as torch does.
///
/// Differs from torch:
/// - Turning `momentum` on (from 0) or `centered` on after a parameter has state makes
///   torch raise `KeyError` at the next step. Here the missing buffer starts at zero at
///   that step, as it would have for a parameter whose state was created with the option
///   on (its first step is then `b ← g / d`, `m ← (1 − α) g`). Neither the step nor the
///   option change can report an error in this library's rule language, and ignoring the
///   option would silently take another step than the one the options describe.
/// - NaN and infinite options are rejected (torch accepts an infinite `lr`).
///
/// ```
/// use optimizers::{Param, Rmsprop, RmspropOptions, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = Rmsprop::new([p.clone()], RmspropOptions::new().lr(0.1).alpha(0.75).eps(0.0))?;
/// p.set_grad(array![2.0])?;
/// opt.step()?; // v = 0.25 · 4 = 1
/// assert_eq!(p.value()[0], 1.0 - 0.1 * 2.0);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "rmsprop", state = RmspropState, update = elementwise)]
pub struct Rmsprop {
    /// Learning rate.
    #[hyper(default = 1e-2, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Added to the denominator's square root, for numerical stability.
    #[hyper(default = 1e-8, range(0.0.., "invalid epsilon value: {eps:?}"))]
    pub eps: f64,
    /// Momentum factor.
    #[hyper(default = 0.0, range(0.0.., "invalid momentum value: {momentum:?}"))]
    pub momentum: f64,
    /// Weight decay (an L2 penalty added to the gradient).
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// The smoothing constant α of the running averages.
    #[hyper(default = 0.99, range(0.0.., "invalid alpha value: {alpha:?}"))]
    pub alpha: f64,
    /// Divide by an estimate of the gradient's variance instead of its mean square.
    #[hyper(default = false)]
    pub centered: bool,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// RMSprop's per-parameter state.
#[derive(Clone, Debug, PartialEq, State)]
pub struct RmspropState<A: Float> {
    /// Steps taken by this parameter (a float, as torch stores it).
    pub step: StepCount,
    /// Running average of the squared gradient, `v`.
    pub square_avg: ArrayD<A>,
    /// The momentum buffer `b`: created if `momentum > 0` when the state is created.
    pub momentum_buffer: Option<ArrayD<A>>,
    /// Running average of the gradient `m`: created if `centered` when the state is created.
    pub grad_avg: Option<ArrayD<A>>,
}

/// RMSprop's per-step scalars, computed in `f64` and rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct RmspropScalars<A> {
    maximize: bool,
    decay: bool,
    weight_decay: A,
    alpha: A,
    one_minus_alpha: A,
    centered: bool,
    lerp_small: bool,
    lerp_weight: A,
    lerp_complement: A,
    eps: A,
    use_momentum: bool,
    momentum: A,
    neg_lr: A,
}

impl Elementwise for Rmsprop {
    type Scalars<A: Float> = RmspropScalars<A>;

    fn prepare<A: Float>(&self, state: &mut RmspropState<A>, shape: &[usize]) -> RmspropScalars<A> {
        state.step.increment();
        let use_momentum = self.momentum > 0.0;
        // At the first step these are torch's buffers; later, an option turned on after
        // the state was created (torch: KeyError) starts its buffer here (see the docs).
        // WORKAROUND(derive gap): `prepare` cannot return an error, nor can a check on the
        // options see the state, so the change can be neither refused nor reported.
        if use_momentum && state.momentum_buffer.is_none() {
            state.momentum_buffer = Some(ArrayD::zeros(shape));
        }
        if self.centered && state.grad_avg.is_none() {
            state.grad_avg = Some(ArrayD::zeros(shape));
        }
        // torch's lerp(m, g, w): m + w (g − m) for |w| < 0.5, else g − (g − m)(1 − w).
        let lerp_weight = A::from_f64(1.0 - self.alpha);
        RmspropScalars {
            maximize: self.maximize,
            decay: self.weight_decay != 0.0,
            weight_decay: A::from_f64(self.weight_decay),
            alpha: A::from_f64(self.alpha),
            one_minus_alpha: lerp_weight,
            centered: self.centered,
            lerp_small: lerp_weight.abs() < A::from_f64(0.5),
            lerp_weight,
            lerp_complement: A::one() - lerp_weight,
            eps: A::from_f64(self.eps),
            use_momentum,
            momentum: A::from_f64(self.momentum),
            neg_lr: A::from_f64(-self.lr),
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &RmspropScalars<A>, p: &mut A, g: A, state: RmspropStateElem<'_, A>) {
        let g = if s.maximize { -g } else { g };
        let g = if s.decay { g + s.weight_decay * *p } else { g };
        let v = state.square_avg;
        let v_new = *v * s.alpha + s.one_minus_alpha * g * g;
        *v = v_new;
        // `grad_avg` is present whenever `centered` is on (`prepare` sees to it).
        let var = match state.grad_avg {
            Some(m) => {
                let m_new = if s.lerp_small {
                    *m + s.lerp_weight * (g - *m)
                } else {
                    g - (g - *m) * s.lerp_complement
                };
                *m = if s.centered { m_new } else { *m };
                if s.centered { v_new - m_new * m_new } else { v_new }
            }
            None => v_new,
        };
        let avg = var.sqrt() + s.eps;
        // `momentum_buffer` is present whenever momentum is used (`prepare` sees to it).
        *p = match state.momentum_buffer {
            Some(b) => {
                let b_new = *b * s.momentum + g / avg;
                *b = if s.use_momentum { b_new } else { *b };
                if s.use_momentum {
                    *p + s.neg_lr * b_new
                } else {
                    *p + s.neg_lr * g / avg
                }
            }
            None => *p + s.neg_lr * g / avg,
        };
    }
}
