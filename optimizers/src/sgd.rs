//! Stochastic gradient descent with momentum, as `torch.optim.SGD`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float};
use optim_derive::{Optimizer, State};

/// Stochastic gradient descent, optionally with (Nesterov) momentum, exactly as
/// `torch.optim.SGD` (torch 2.15, single-tensor path).
///
/// For each parameter `p` with gradient `g`, at step `t`:
///
/// ```text
/// g ← -g                                   if maximize
/// g ← g + weight_decay · p                 if weight_decay ≠ 0
/// if momentum ≠ 0:
///     b ← g                                at the parameter's first step
///     b ← momentum · b + (1 − dampening) · g   afterwards
///     g ← g + momentum · b                 if nesterov
///     g ← b                                otherwise
/// p ← p − lr · g
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | required | ≥ 0, finite |
/// | `momentum` | 0 | ≥ 0, finite |
/// | `dampening` | 0 | finite |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `nesterov` | false | needs `momentum` > 0 and `dampening` = 0 |
/// | `maximize` | false | |
///
/// `lr` is required, as torch's `required` sentinel intended (torch 2.x gives it a default
/// of 1e-3; a learning rate is the one option no default fits). Unlike torch, NaN and
/// infinite values are rejected. State: `momentum_buffer`,
/// only while momentum is used.
///
/// ```
/// use optimizers::{Param, Sgd, SgdOptions, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = Sgd::new([p.clone()], SgdOptions::new().lr(0.1).momentum(0.9))?;
/// p.set_grad(array![2.0])?;
/// opt.step()?;
/// assert_eq!(p.value()[0], 1.0 - 0.1 * 2.0);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(
    kind = "sgd",
    state = SgdState,
    update = elementwise,
    check(
        !nesterov || (momentum > 0.0 && dampening == 0.0),
        "Nesterov momentum requires a momentum and zero dampening"
    )
)]
pub struct Sgd {
    /// Learning rate.
    #[hyper(required, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Momentum factor.
    #[hyper(default = 0.0, range(0.0.., "invalid momentum value: {momentum:?}"))]
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    #[hyper(default = 0.0, finite("invalid dampening value: {dampening:?}"))]
    pub dampening: f64,
    /// Weight decay (L2 penalty).
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// Nesterov momentum.
    #[hyper(default = false)]
    pub nesterov: bool,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// SGD's per-parameter state.
#[derive(Clone, Debug, PartialEq, State)]
pub struct SgdState<A: Float> {
    /// The momentum buffer: a copy of the first (decayed) gradient, then the running
    /// average. Absent while momentum is 0.
    pub momentum_buffer: Option<ArrayD<A>>,
}

/// SGD's per-step scalars, rounded to the element type once per parameter and step.
#[derive(Clone, Copy, Debug)]
pub struct SgdScalars<A> {
    lr: A,
    momentum: A,
    one_minus_dampening: A,
    weight_decay: A,
    decay: bool,
    use_momentum: bool,
    nesterov: bool,
    maximize: bool,
    first: bool,
}

impl Elementwise for Sgd {
    type Scalars<A: Float> = SgdScalars<A>;

    fn prepare<A: Float>(&self, state: &mut SgdState<A>, shape: &[usize]) -> SgdScalars<A> {
        let use_momentum = self.momentum != 0.0;
        let first = use_momentum && state.momentum_buffer.is_none();
        if first {
            state.momentum_buffer = Some(ArrayD::zeros(shape));
        }
        SgdScalars {
            lr: A::from_f64(self.lr),
            momentum: A::from_f64(self.momentum),
            one_minus_dampening: A::from_f64(1.0 - self.dampening),
            weight_decay: A::from_f64(self.weight_decay),
            decay: self.weight_decay != 0.0,
            use_momentum,
            nesterov: self.nesterov,
            maximize: self.maximize,
            first,
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &SgdScalars<A>, p: &mut A, g: A, state: SgdStateElem<'_, A>) {
        let d = if s.maximize { -g } else { g };
        let d = if s.decay { d + s.weight_decay * *p } else { d };
        let d = match state.momentum_buffer {
            Some(b) => {
                let buf = if s.first {
                    d
                } else {
                    *b * s.momentum + s.one_minus_dampening * d
                };
                *b = if s.use_momentum { buf } else { *b };
                match (s.use_momentum, s.nesterov) {
                    (false, _) => d,
                    (true, true) => d + s.momentum * buf,
                    (true, false) => buf,
                }
            }
            None => d,
        };
        *p += (-s.lr) * d;
    }
}
