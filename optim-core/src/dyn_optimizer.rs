//! A dyn-compatible view of any optimizer, for training loops and schedulers that hold
//! `Box<dyn DynOptimizer<A>>`.

use crate::dict::{DictValue, Map, StateDict};
use crate::error::{Error, Result, Scope};
use crate::float::Float;
use crate::group::ParamGroup;
use crate::optimizer::Optimizer;
use crate::param::Param;
use crate::rule::Rule;

/// Any optimizer, behind a pointer: steps, gradients, string-keyed options, state dicts.
///
/// ```
/// # use optim_core::{DynOptimizer, Result};
/// /// Step decay, written once for every optimizer that has an `lr`.
/// fn decay_lr<A: optim_core::Float>(opt: &mut dyn DynOptimizer<A>, factor: f64) -> Result<()> {
///     for g in 0..opt.num_groups() {
///         let lr = opt.lr(g)?;
///         opt.set_lr(g, lr * factor)?;
///     }
///     Ok(())
/// }
/// ```
pub trait DynOptimizer<A: Float>: Send + Sync {
    /// The optimizer's kind (`"adam"`).
    fn kind(&self) -> &'static str;
    /// One step from the current gradients.
    fn step(&mut self) -> Result<()>;
    /// One step with a closure that re-evaluates the loss and gradients; returns the loss.
    fn step_with(&mut self, closure: &mut dyn FnMut() -> f64) -> Result<f64>;
    /// Drops every gradient.
    fn zero_grad(&self) -> Result<()>;
    /// Zeroes every gradient in place.
    fn zero_grad_in_place(&self) -> Result<()>;
    /// The number of groups.
    fn num_groups(&self) -> usize;
    /// Group `group`'s parameters.
    fn params(&self, group: usize) -> Result<Vec<Param<A>>>;
    /// One option by name.
    fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>>;
    /// Sets one option by name (type-checked and validated).
    fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()>;
    /// Adds a group with string-keyed options (`{"lr": 0.01}`).
    fn add_param_group_map(&mut self, params: Vec<Param<A>>, options: &Map<'_>) -> Result<()>;
    /// The state dict (borrowing the optimizer's state tensors).
    fn state_dict(&self) -> StateDict<'_>;
    /// Loads a state dict; nothing changes on error.
    fn load_state_dict(&mut self, dict: &StateDict<'_>) -> Result<()>;
    /// Whether steps may use several threads (see [`Optimizer::set_parallel`]).
    fn set_parallel(&mut self, parallel: bool);

    /// Group `group`'s learning rate, for optimizers that have an `lr` option.
    fn lr(&self, group: usize) -> Result<f64> {
        let value = self.option(group, "lr")?;
        value.as_f64().ok_or_else(|| Error::OptionType {
            scope: Scope::Group(group),
            option: "lr".into(),
            expected: "a number".into(),
            found: value.describe(),
        })
    }

    /// Sets group `group`'s learning rate.
    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        self.set_option(group, "lr", DictValue::Float(lr))
    }
}

impl<R: Rule, A: Float> DynOptimizer<A> for Optimizer<R, A> {
    fn kind(&self) -> &'static str {
        R::KIND
    }
    fn step(&mut self) -> Result<()> {
        Optimizer::step(self)
    }
    fn step_with(&mut self, closure: &mut dyn FnMut() -> f64) -> Result<f64> {
        self.step_with_dyn(closure)
    }
    fn zero_grad(&self) -> Result<()> {
        Optimizer::zero_grad(self)
    }
    fn zero_grad_in_place(&self) -> Result<()> {
        Optimizer::zero_grad_in_place(self)
    }
    fn num_groups(&self) -> usize {
        Optimizer::num_groups(self)
    }
    fn params(&self, group: usize) -> Result<Vec<Param<A>>> {
        Optimizer::params(self, group).map(<[_]>::to_vec)
    }
    fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>> {
        Optimizer::option(self, group, name)
    }
    fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()> {
        Optimizer::set_option(self, group, name, value)
    }
    fn add_param_group_map(&mut self, params: Vec<Param<A>>, options: &Map<'_>) -> Result<()> {
        let options = R::options_from_map(options, Scope::Group(self.groups.len()))?;
        self.add_param_group(ParamGroup { params, options })
    }
    fn state_dict(&self) -> StateDict<'_> {
        Optimizer::state_dict(self)
    }
    fn load_state_dict(&mut self, dict: &StateDict<'_>) -> Result<()> {
        Optimizer::load_state_dict(self, dict)
    }
    fn set_parallel(&mut self, parallel: bool) {
        Optimizer::set_parallel(self, parallel)
    }
}
