//! Adagrad, as `torch.optim.Adagrad`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, ShapeCtx, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::Preamble;

/// Adagrad (Duchi et al., 2011), exactly as `torch.optim.Adagrad` (torch 2.15,
/// single-tensor path, dense gradients): each element's step shrinks with the sum of its
/// squared gradients.
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first (`S` is
/// `sum`):
///
/// ```text
/// g ← -g                                   if maximize
/// g ← g + weight_decay · p                 if weight_decay ≠ 0
/// clr ← lr / (1 + (t − 1) · lr_decay)
/// S ← S + g²
/// p ← p + (−clr · g) / (√S + ε)
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-2 | ≥ 0, finite |
/// | `lr_decay` | 0 | ≥ 0, finite |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `initial_accumulator_value` | 0 | ≥ 0, finite; only the constructor's value is used |
/// | `eps` | 1e-10 | ≥ 0, finite |
/// | `maximize` | false | |
///
/// State: `step` (a count, saved as torch's 0-d float32 tensor) and `sum` (`S`). As in
/// torch, the state of every parameter given to the constructor is created by the
/// constructor (a parameter that never gets a gradient still has `step` 0 and its `sum`),
/// and a parameter added later with `add_param_group` gets its state at its first gradient.
/// `sum` starts at the **optimizer's** `initial_accumulator_value` (the constructor's
/// option, or the class default 0): a group's own value is kept in the group, as torch
/// keeps it, and never used.
///
/// Unlike torch, NaN and infinite values fail the checks. The options are checked in
/// torch's order (`lr`, `lr_decay`, `weight_decay`, `initial_accumulator_value`, `eps`),
/// which is also their order here.
///
/// ```
/// use optimizers::{Adagrad, AdagradOptions, Param, ndarray::array};
///
/// let p = Param::new(array![1.0f64]);
/// let mut opt = Adagrad::new([p.clone()], AdagradOptions::new().lr(0.1).eps(0.0))?;
/// p.set_grad(array![2.0])?;
/// opt.step()?;
/// assert_eq!(p.value()[0], 1.0 - 0.1); // -0.1 · 2 / √4
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "adagrad", state = AdagradState, update = elementwise, eager_state)]
pub struct Adagrad {
    /// Learning rate.
    #[hyper(default = 1e-2, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Learning rate decay: the `t`-th step uses `lr / (1 + (t − 1) · lr_decay)`.
    #[hyper(default = 0.0, range(0.0.., "invalid lr_decay value: {lr_decay:?}"))]
    pub lr_decay: f64,
    /// Weight decay (L2 penalty).
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// The starting value of every element of `sum`: the constructor's value is used for
    /// every parameter; a group's own value is stored and ignored, as in torch.
    #[hyper(
        default = 0.0,
        range(0.0.., "invalid initial_accumulator_value value: {initial_accumulator_value:?}")
    )]
    pub initial_accumulator_value: f64,
    /// Added to the denominator for numerical stability.
    #[hyper(default = 1e-10, range(0.0.., "invalid epsilon value: {eps:?}"))]
    pub eps: f64,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// The per-parameter state of [`Adagrad`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct AdagradState<A: Float> {
    /// Steps taken by this parameter (0 until its first gradient).
    pub step: StepCount,
    /// The sum of squared gradients, from the optimizer's `initial_accumulator_value`.
    pub sum: ArrayD<A>,
}

/// Adagrad's per-step scalars, rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct AdagradScalars<A> {
    preamble: Preamble<A>,
    neg_clr: A,
    eps: A,
}

impl Elementwise for Adagrad {
    type Scalars<A: Float> = AdagradScalars<A>;

    /// `sum` filled with the optimizer's (not the group's) `initial_accumulator_value`.
    fn init_state<A: Float>(&self, defaults: &AdagradOptions, ctx: &ShapeCtx<'_>) -> AdagradState<A> {
        // The optimizer's defaults hold every option that has a class default.
        let initial = defaults.initial_accumulator_value.unwrap_or(0.0);
        AdagradState {
            step: StepCount::default(),
            sum: ArrayD::from_elem(ctx.shape, A::from_f64(initial)),
        }
    }

    fn prepare<A: Float>(&self, state: &mut AdagradState<A>, _shape: &[usize]) -> AdagradScalars<A> {
        let t = state.step.increment();
        let clr = self.lr / (1.0 + (t - 1.0) * self.lr_decay);
        AdagradScalars {
            preamble: Preamble::l2(self.maximize, self.weight_decay),
            neg_clr: A::from_f64(-clr),
            eps: A::from_f64(self.eps),
        }
    }

    /// Branch-free in the element's data, every store unconditional: it vectorizes.
    #[inline(always)]
    fn element<A: Float>(s: &AdagradScalars<A>, p: &mut A, g: A, state: AdagradStateElem<'_, A>) {
        let (param, g) = s.preamble.apply(*p, g);
        let sum = *state.sum + g * g;
        *state.sum = sum;
        *p = param + (s.neg_clr * g) / (sum.sqrt() + s.eps);
    }
}

#[cfg(test)]
mod tests {
    use optim_core::ndarray::array;
    use optim_core::{DictTensor, DictValue, Param, ParamGroup};

    use super::*;
    use crate::test_support::{assert_checks, f32_scalar, state_entry};

    #[test]
    fn checks_run_in_torchs_order_with_its_messages() {
        assert_checks::<Adagrad>([
            (
                AdagradOptions::new().lr(-0.1).eps(-1.0),
                Some("invalid learning rate: -0.1"),
            ),
            (
                AdagradOptions::new().lr_decay(-1.0),
                Some("invalid lr_decay value: -1.0"),
            ),
            (
                AdagradOptions::new().weight_decay(-1.0).eps(-1.0),
                Some("invalid weight_decay value: -1.0"),
            ),
            (
                AdagradOptions::new().initial_accumulator_value(-0.5).eps(-1.0),
                Some("invalid initial_accumulator_value value: -0.5"),
            ),
            (
                AdagradOptions::new().eps(f64::INFINITY),
                Some("invalid epsilon value: inf"),
            ),
        ]);
    }

    #[test]
    fn a_parameter_that_never_gets_a_gradient_has_state_from_the_constructor() -> optim_core::Result<()> {
        let (p, q) = (Param::new(array![1.0f64, 2.0]), Param::new(array![[3.0f64]]));
        let options = AdagradOptions::new().initial_accumulator_value(0.25);
        let mut opt = Adagrad::new([p.clone(), q.clone()], options)?;
        p.set_grad(array![0.5, -0.5])?;
        opt.step()?;
        assert_eq!(state_entry(&opt, 0, "step"), Some(f32_scalar(1.0)));
        assert_eq!(state_entry(&opt, 1, "step"), Some(f32_scalar(0.0)));
        let sum = DictTensor::owned(&[1, 1], &[0.25f64]).expect("one element");
        assert_eq!(state_entry(&opt, 1, "sum"), Some(DictValue::Tensor(sum)));
        Ok(())
    }

    #[test]
    fn a_groups_initial_accumulator_value_is_kept_but_not_used() -> optim_core::Result<()> {
        let (p, q) = (Param::new(array![1.0f64]), Param::new(array![2.0f64]));
        let mut opt = Adagrad::with_groups(
            [ParamGroup::new([p.clone()]).options(AdagradOptions::new().initial_accumulator_value(9.0))],
            AdagradOptions::new().initial_accumulator_value(1.0),
        )?;
        opt.add_param_group(
            ParamGroup::new([q.clone()]).options(AdagradOptions::new().initial_accumulator_value(4.0)),
        )?;
        assert_eq!(opt.hyperparameters(1)?.initial_accumulator_value, 4.0);
        assert_eq!(
            state_entry(&opt, 1, "sum"),
            None,
            "an added parameter waits for its gradient"
        );
        q.set_grad(array![0.0])?;
        opt.step()?;
        for param in [0, 1] {
            let one = DictTensor::owned(&[1], &[1.0f64]).expect("one element");
            assert_eq!(state_entry(&opt, param, "sum"), Some(DictValue::Tensor(one)));
        }
        Ok(())
    }
}
