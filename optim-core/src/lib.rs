//! # optim-core
//!
//! The machinery behind every optimizer of the *optim* project, modelled on PyTorch's
//! `torch.optim.Optimizer`: parameters shared with the model ([`Param`]), parameter groups
//! with per-group options over defaults and `required` options ([`ParamGroup`],
//! [`Hyperparameters`]), steps with and without a closure, per-parameter state
//! ([`State`]), and state dicts ([`StateDict`]) that torch users will recognise but that
//! also say which optimizer wrote them, match parameters by name and load atomically.
//!
//! An optimizer is [`Optimizer<R, A>`]: a generic engine for an update [`Rule`] `R` over
//! parameters of element type `A` (`f32` or `f64`). Rules are defined with
//! `#[derive(Optimizer)]` from the `optimizers` crate, which re-exports this one; that is
//! the crate to depend on.

mod drive;
mod dyn_optimizer;
mod error;
mod float;
mod group;
mod hyper;
pub mod kernel;
mod load;
mod optimizer;
mod option_value;
mod param;
mod problem;
mod rule;
mod state;
mod state_dict;
mod value;

pub use drive::{
    ClosureDriver, Driver, ElementwiseDriver, FallbackDriver, PARALLEL_CHUNK, PARALLEL_MIN_ELEMENTS, PerTensorDriver,
    StepConfig,
};
pub use dyn_optimizer::DynOptimizer;
pub use error::{Error, ParamRef, Result, Scope};
pub use float::{DType, Float};
pub use group::{Group, ParamGroup};
pub use hyper::{
    Hyperparameters, check_option_keys, get_option, option_type_error, read_option, resolve, unknown_option,
    with_overrides,
};
pub use kernel::Isa;
pub use load::TORCH_GROUP_FLAGS;
pub use optimizer::Optimizer;
pub use option_value::OptionValue;
pub use param::{GradMut, GradRef, Param, ParamId, ValueMut, ValueRef};
pub use problem::Problem;
pub use rule::{ClosureRule, Elementwise, PerTensor, Rule};
pub use state::{
    FieldError, ShapeCtx, Slices, State, StateEntries, StateError, StateField, StepCount, check_state_keys,
    flat_vector, pack_flat, prefetch_tensor, tensor_slice_mut, unpack_field,
};
pub use state_dict::{GroupState, StateDict};
pub use value::{Map, Tensor, TensorData, Value};

/// A parameter-shaped state tensor (`ndarray::ArrayD<A>`).
pub type TensorD<A> = ndarray::ArrayD<A>;

/// The `ndarray` this crate is built on, re-exported so that users need no version match.
pub use ndarray;

/// The `rayon` the parallel step runs on (to build a pool: `rayon::ThreadPoolBuilder`).
#[cfg(feature = "rayon")]
pub use rayon;

/// What the derives' generated code refers to when used with `crate = optim_core`. Not a
/// public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::*;
}
