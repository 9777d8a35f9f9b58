//! Update rules: what an optimizer does with a gradient, in one of three forms.
//!
//! - [`Elementwise`]: a scalar function of one element of the parameter, its gradient and
//!   each state tensor, plus per-step scalars (bias corrections). The framework runs it as
//!   one fused pass over memory with no allocation, vectorized for the CPU it runs on
//!   (SGD, Adam, AdamW, Lion, RMSprop...).
//! - [`PerTensor`]: a function of whole tensors, for rules that need norms or other
//!   whole-tensor quantities (LARS, LAMB...).
//! - [`ClosureRule`]: a function of the whole problem (all parameters as one flat vector)
//!   and a closure that re-evaluates the loss and gradients (LBFGS).
//!
//! `#[derive(Optimizer)]` implements [`Rule`]; the author implements one of the three form
//! traits, named by `#[optimizer(update = elementwise | per_tensor | closure)]`.

use ndarray::{ArrayViewD, ArrayViewMutD};

/// A parameter (or its gradient) as a per-tensor rule sees it: an `ndarray` view of any
/// dimensionality, in standard (row-major, contiguous) layout.
pub type TensorView<'a, A> = ArrayViewD<'a, A>;

/// A parameter as a per-tensor rule updates it: a mutable `ndarray` view of any
/// dimensionality, in standard layout.
pub type TensorViewMut<'a, A> = ArrayViewMutD<'a, A>;

use crate::error::Result;
use crate::float::Float;
use crate::hyper::Hyperparameters;
use crate::isa::Isa;
use crate::problem::Problem;
use crate::state::{ShapeCtx, State};

/// A complete update rule: hyperparameters, a per-parameter state, and a driver that runs
/// the update in one of the three forms. Implemented by `#[derive(Optimizer)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an optimizer rule",
    label = "not a rule",
    note = "derive it with #[derive(Optimizer)] and #[optimizer(state = .., update = ..)]; if it has one, fix the errors reported at its #[optimizer] attribute first"
)]
pub trait Rule: Hyperparameters {
    /// The per-parameter state (for a [`ClosureRule`], the one global state, which torch
    /// keeps under parameter 0).
    type State<A: Float>: State<A>;
    /// How steps run: the driver of the update form `#[optimizer(update = ..)]` names.
    type Driver: crate::drive::Driver<Self>;

    /// Whether state is created for every parameter of the constructor's groups when the
    /// optimizer is built (`#[optimizer(eager_state)]`, torch's Adagrad), rather than at a
    /// parameter's first step with a gradient.
    const EAGER_STATE: bool = false;

    /// Checks a parameter's shape where it enters the optimizer (constructor and
    /// `add_param_group`): `#[optimizer(param_check(..))]`. `Err` is the message.
    fn check_param(shape: &[usize]) -> Result<(), String> {
        let _ = shape;
        Ok(())
    }
}

/// An update written for one element at a time, run as one fused pass.
///
/// [`prepare`](Elementwise::prepare) runs once per parameter and step, before the pass: it
/// advances counters in the state, creates optional tensors the step needs (of the
/// parameter's `shape`), and computes the per-step scalars (in `f64`, rounded to `A` once). [`element`](Elementwise::element)
/// then runs for every element; it must not depend on the element's position, which is
/// what lets the framework vectorize it and split large tensors across threads with
/// bit-identical results.
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares `update = elementwise` but does not implement `Elementwise`",
    note = "implement `Elementwise` for `{Self}` (its `prepare` and `element` functions), or choose another `update` form"
)]
pub trait Elementwise: Rule {
    /// The scalars computed once per parameter and step.
    type Scalars<A: Float>: Copy + Send + Sync;

    /// The state of a parameter of `ctx.shape` when it is created (see
    /// [`Rule::EAGER_STATE`]): by default [`State::init`] (zeros). Override it when the state
    /// starts from the options: `self` is the parameter's group's hyperparameters, `defaults`
    /// the optimizer's (torch's Adagrad fills `sum` from the constructor's
    /// `initial_accumulator_value`, Rprop its `step_size` from the group's `lr`).
    fn init_state<A: Float>(&self, defaults: &Self::Options, ctx: &ShapeCtx<'_>) -> Self::State<A> {
        let _ = defaults;
        State::init(ctx)
    }

    /// Runs before the pass over a parameter of this `shape`: updates scalar state,
    /// returns the scalars.
    fn prepare<A: Float>(&self, state: &mut Self::State<A>, shape: &[usize]) -> Self::Scalars<A>;

    /// Updates one element of the parameter and of each state tensor from one element of
    /// the gradient.
    fn element<A: Float>(
        scalars: &Self::Scalars<A>,
        param: &mut A,
        grad: A,
        state: <Self::State<A> as State<A>>::Elem<'_>,
    );
}

/// An update written for whole tensors: the parameter, its gradient and its state.
/// Tensors are in standard (row-major, contiguous) layout, so `as_slice()` always succeeds.
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares `update = per_tensor` but does not implement `PerTensor`",
    note = "implement `PerTensor` for `{Self}` (its `update` function), or choose another `update` form"
)]
pub trait PerTensor: Rule {
    /// The state of a parameter when it is created: as [`Elementwise::init_state`].
    fn init_state<A: Float>(&self, defaults: &Self::Options, ctx: &ShapeCtx<'_>) -> Self::State<A> {
        let _ = defaults;
        State::init(ctx)
    }

    /// Updates one parameter in place. `isa` is the optimizer's instruction set: run the
    /// update's loops through [`Isa::run`] with it (see [`Kernel`](crate::isa::Kernel)) to
    /// have them compiled for it, as the other forms' passes are.
    fn update<A: Float>(
        &self,
        param: TensorViewMut<'_, A>,
        grad: TensorView<'_, A>,
        state: &mut Self::State<A>,
        isa: Isa,
    );
}

/// An update of the whole problem that re-evaluates the loss through a closure (LBFGS).
/// The optimizer has one group; [`Problem`] presents its parameters as one flat vector.
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares `update = closure` but does not implement `ClosureRule`",
    note = "implement `ClosureRule` for `{Self}` (its `step` function), or choose another `update` form"
)]
pub trait ClosureRule: Rule {
    /// Runs one step and returns the loss of the closure's first evaluation.
    fn step<A: Float>(&self, state: &mut Self::State<A>, problem: &mut Problem<'_, A>) -> Result<f64>;
}
