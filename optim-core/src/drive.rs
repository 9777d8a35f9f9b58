//! Drivers: the loop over groups and parameters, written once for each form of rule.
//!
//! A driver skips parameters without a gradient (their state untouched), creates state
//! lazily on a parameter's first step with a gradient, and holds each parameter's locks
//! only while updating that parameter.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::group::Group;
use crate::kernel;
use crate::param::Param;
use crate::problem::Problem;
use crate::rule::{ClosureRule, Elementwise, PerTensor, Rule};
use crate::state::{ShapeCtx, Slices, State};

/// How an optimizer's steps run; chosen by `#[optimizer(update = ...)]`.
pub trait Driver<R: Rule>: 'static {
    /// The most groups the optimizer accepts (`None`: no limit).
    const MAX_GROUPS: Option<usize>;
    /// Whether all state lives under the first parameter and sees the parameters as one
    /// flat vector (torch's LBFGS).
    const FLAT_STATE: bool;

    /// Runs one step. `closure` re-evaluates the loss; a driver that needs it fails
    /// without it.
    fn step<A: Float>(groups: &mut [Group<R, A>], closure: Option<&mut dyn FnMut() -> f64>) -> Result<Option<f64>>;
}

/// Runs [`Elementwise`] rules: one fused pass per parameter.
pub struct ElementwiseDriver;

/// Runs [`PerTensor`] rules.
pub struct PerTensorDriver;

/// Runs [`ClosureRule`]s over the flat problem.
pub struct ClosureDriver;

/// Calls `update` for every parameter that has a gradient, with its value and gradient as
/// contiguous slices and its state (created on first use).
fn for_each_param_with_grad<R: Rule, A: Float>(
    groups: &mut [Group<R, A>],
    mut update: impl FnMut(&R, &Param<A>, &mut [A], &[A], &mut R::State<A>),
) {
    for group in groups {
        let rule = &group.options;
        for (param, slot) in group.params.iter().zip(group.states.iter_mut()) {
            let Some((mut value, grad)) = param.lock_for_update() else {
                continue;
            };
            // Values and gradients are kept in standard layout (see `param.rs`), so both
            // slices exist; the `let else` only guards that invariant.
            let (Some(p), Some(g)) = (value.as_slice_mut(), grad.as_ref().and_then(|g| g.as_slice())) else {
                continue;
            };
            let state = slot.get_or_insert_with(|| R::State::<A>::init(&ShapeCtx::of(param.shape())));
            update(rule, param, p, g, state);
        }
    }
}

impl<R: Elementwise> Driver<R> for ElementwiseDriver {
    const MAX_GROUPS: Option<usize> = None;
    const FLAT_STATE: bool = false;

    fn step<A: Float>(groups: &mut [Group<R, A>], closure: Option<&mut dyn FnMut() -> f64>) -> Result<Option<f64>> {
        let loss = closure.map(|f| f());
        for_each_param_with_grad(groups, |rule, param, p, g, state| {
            let scalars = rule.prepare(state, param.shape());
            let slices = state.slices();
            kernel::run(|| slices.for_each(p, g, |p, g, s| R::element(&scalars, p, g, s)));
        });
        Ok(loss)
    }
}

impl<R: PerTensor> Driver<R> for PerTensorDriver {
    const MAX_GROUPS: Option<usize> = None;
    const FLAT_STATE: bool = false;

    fn step<A: Float>(groups: &mut [Group<R, A>], closure: Option<&mut dyn FnMut() -> f64>) -> Result<Option<f64>> {
        let loss = closure.map(|f| f());
        for_each_param_with_grad(groups, |rule, param, p, g, state| {
            let shape = ndarray::IxDyn(param.shape());
            // The slices have exactly the parameter's element count, so the views build.
            if let (Ok(pv), Ok(gv)) = (
                ndarray::ArrayViewMutD::from_shape(shape.clone(), p),
                ndarray::ArrayViewD::from_shape(shape, g),
            ) {
                rule.update(pv, gv, state);
            }
        });
        Ok(loss)
    }
}

impl<R: ClosureRule> Driver<R> for ClosureDriver {
    const MAX_GROUPS: Option<usize> = Some(1);
    const FLAT_STATE: bool = true;

    fn step<A: Float>(groups: &mut [Group<R, A>], closure: Option<&mut dyn FnMut() -> f64>) -> Result<Option<f64>> {
        let closure = closure.ok_or(Error::ClosureRequired { kind: R::KIND })?;
        // An optimizer always has at least one group, and closure rules at most one.
        let Some(group) = groups.first_mut() else {
            return Ok(None);
        };
        let Some(slot) = group.states.first_mut() else {
            return Ok(None);
        };
        let numel: usize = group.params.iter().map(Param::numel).sum();
        let state = slot.get_or_insert_with(|| R::State::<A>::init(&ShapeCtx { shape: &[numel], numel }));
        let mut problem = Problem::new(&group.params, closure);
        group.options.step(state, &mut problem).map(Some)
    }
}

/// The driver `#[derive(Optimizer)]` names when its input lacks `update = ...`: it lets
/// the expansion type-check so that the user sees the missing key reported, not a cascade
/// of errors. Code that compiles never uses it.
#[doc(hidden)]
pub struct FallbackDriver;

impl<R: Rule> Driver<R> for FallbackDriver {
    const MAX_GROUPS: Option<usize> = None;
    const FLAT_STATE: bool = false;

    fn step<A: Float>(_: &mut [Group<R, A>], _: Option<&mut dyn FnMut() -> f64>) -> Result<Option<f64>> {
        Ok(None)
    }
}
