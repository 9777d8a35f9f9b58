//! RMSprop (Tieleman and Hinton, 2012), with the centered variant of Graves (2013) and
//! momentum: the update of `torch.optim.RMSprop` (without `maximize`), written as an
//! elementwise rule whose optional state tensors exist only while their options are on.

// ANCHOR: options
use optimizers::ndarray::ArrayD;
use optimizers::{Elementwise, Float, Optimizer, State};

/// RMSprop: each gradient is divided by a running root mean square of recent gradients.
///
/// For each element `p` of a parameter with gradient `g`:
///
/// ```text
/// g ← g + weight_decay · p                          if weight_decay ≠ 0
/// v ← α v + (1 − α) g²                              (square_avg)
/// if centered:  m ← α m + (1 − α) g;  d ← √(v − m²) + eps   (grad_avg)
/// else:         d ← √v + eps
/// if momentum ≠ 0:  b ← momentum · b + g / d;  p ← p − lr · b   (momentum_buffer)
/// else:             p ← p − lr · g / d
/// ```
///
/// | option | key in state dicts | default | valid |
/// |---|---|---|---|
/// | `lr` | `lr` | 1e-2 | ≥ 0 |
/// | `smoothing` (α) | `alpha` | 0.99 | in [0, 1) |
/// | `eps` | `eps` | 1e-8 | ≥ 0 |
/// | `weight_decay` | `weight_decay` | 0 | ≥ 0 |
/// | `momentum` | `momentum` | 0 | ≥ 0 |
/// | `centered` | `centered` | false | |
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "rmsprop", state = RmspropState, update = elementwise)]
pub struct Rmsprop {
    /// Learning rate.
    #[hyper(default = 1e-2, check(lr >= 0.0, "invalid learning rate: {lr}"))]
    pub lr: f64,
    /// The smoothing constant α of the running averages (torch's `alpha`).
    #[hyper(
        rename = "alpha",
        default = 0.99,
        check(0.0 <= smoothing && smoothing < 1.0, "invalid alpha value: {} (must be in [0, 1))", smoothing)
    )]
    pub smoothing: f64,
    /// Added to the denominator, for numerical stability.
    #[hyper(default = 1e-8, check(eps >= 0.0, "invalid epsilon value: {eps}"))]
    pub eps: f64,
    /// Weight decay (an L2 penalty added to the gradient).
    #[hyper(default = 0.0, check(weight_decay >= 0.0))]
    pub weight_decay: f64,
    /// Momentum factor.
    #[hyper(default = 0.0, check(momentum >= 0.0, "invalid momentum value: {momentum}"))]
    pub momentum: f64,
    /// Divide by the running variance instead of the running mean square.
    #[hyper(default = false)]
    pub centered: bool,
}

/// RMSprop's per-parameter state.
#[derive(Clone, Debug, PartialEq, State)]
pub struct RmspropState<A: Float> {
    /// Steps taken by this parameter.
    pub step: u64,
    /// Running average of the squared gradient.
    pub square_avg: ArrayD<A>,
    /// The momentum buffer, while `momentum` is not 0.
    pub momentum_buffer: Option<ArrayD<A>>,
    /// Running average of the gradient, while `centered` is on.
    pub grad_avg: Option<ArrayD<A>>,
}
// ANCHOR_END: options

// ANCHOR: update
/// The scalars of one step of one parameter, computed once in `f64` and rounded to the
/// element type `A`.
#[derive(Clone, Copy, Debug)]
pub struct RmspropScalars<A> {
    /// The learning rate.
    pub lr: A,
    /// α.
    pub alpha: A,
    /// 1 − α, computed in `f64`.
    pub one_minus_alpha: A,
    /// ε.
    pub eps: A,
    /// The weight decay, and whether it is on.
    pub weight_decay: Option<A>,
    /// The momentum factor.
    pub momentum: A,
}

impl Elementwise for Rmsprop {
    type Scalars<A: Float> = RmspropScalars<A>;

    fn prepare<A: Float>(&self, state: &mut RmspropState<A>, shape: &[usize]) -> RmspropScalars<A> {
        state.step += 1;
        // The optional tensors exist exactly while their options ask for them, so that
        // `element` only has to look at whether they are there.
        if self.momentum == 0.0 {
            state.momentum_buffer = None;
        } else if state.momentum_buffer.is_none() {
            state.momentum_buffer = Some(ArrayD::zeros(shape));
        }
        if !self.centered {
            state.grad_avg = None;
        } else if state.grad_avg.is_none() {
            state.grad_avg = Some(ArrayD::zeros(shape));
        }
        RmspropScalars {
            lr: A::from_f64(self.lr),
            alpha: A::from_f64(self.smoothing),
            one_minus_alpha: A::from_f64(1.0 - self.smoothing),
            eps: A::from_f64(self.eps),
            weight_decay: (self.weight_decay != 0.0).then(|| A::from_f64(self.weight_decay)),
            momentum: A::from_f64(self.momentum),
        }
    }

    fn element<A: Float>(s: &RmspropScalars<A>, p: &mut A, g: A, state: RmspropStateElem<'_, A>) {
        let g = match s.weight_decay {
            Some(wd) => g + wd * *p,
            None => g,
        };
        let v = state.square_avg;
        *v = s.alpha * *v + s.one_minus_alpha * g * g;
        let denom = match state.grad_avg {
            Some(m) => {
                *m = s.alpha * *m + s.one_minus_alpha * g;
                (*v - *m * *m).sqrt() + s.eps
            }
            None => v.sqrt() + s.eps,
        };
        match state.momentum_buffer {
            Some(b) => {
                *b = s.momentum * *b + g / denom;
                *p -= s.lr * *b;
            }
            None => *p -= s.lr * g / denom,
        }
    }
}
// ANCHOR_END: update
