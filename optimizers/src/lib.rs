//! # optimizers
//!
//! Numerical optimizers that a PyTorch user recognises at once, matching `torch.optim`
//! step for step, over `ndarray` parameters in `f32` or `f64`; and `#[derive(Optimizer)]`
//! to write a new one, checked by the compiler.
//!
//! ```
//! use optimizers::{Adam, AdamOptions, Param, ndarray::array};
//!
//! let w = Param::new(array![1.0f32, -2.0]);
//! let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
//! for _ in 0..100 {
//!     let grad = w.value().mapv(|x| 2.0 * x); // d/dw of |w|^2
//!     w.set_grad(grad)?;
//!     opt.step()?;
//! }
//! assert!(w.value().iter().all(|x| x.abs() < 0.1));
//! # Ok::<(), optimizers::Error>(())
//! ```
//!
//! | to | use |
//! |---|---|
//! | hold a model's weights | [`Param`] (a shared value and gradient), [`ParamGroup`] |
//! | optimize | [`Sgd`], [`Adam`], [`AdamW`], [`Lbfgs`] and their options; [`Optimizer`] is what they build, [`DynOptimizer`] any of them behind a pointer, [`registry`] one by name |
//! | save and resume | [`checkpoint::save`] and [`checkpoint::load`] (`.json`, `.safetensors`, PyTorch's `.pt`), [`StateDict`] (torch's layout, plus kind, version and names), its values [`DictValue`], [`DictTensor`], [`Map`] |
//! | write an optimizer | `#[derive(Optimizer)]`, `#[derive(State)]`, `#[derive(OptionValue)]` and one of [`Elementwise`], [`PerTensor`], [`ClosureRule`]; [`StepCount`] for a step count |
//! | handle failures | [`Error`] (with [`Error::kind`]), [`Result`] |
//!
//! This crate is the only dependency a user needs, also to define optimizers; the rest
//! lives in modules: [`param`] (the guards), [`state`] (state field types, the bundled
//! optimizers' states), [`dict`], [`checkpoint`] (files), [`error`], [`rule`], [`isa`]
//! (instruction sets) and [`parallel`].

// Lets the derives' absolute paths (`::optimizers::...`) resolve inside this crate too.
extern crate self as optimizers;

mod adam;
mod lbfgs;
pub mod registry;
mod sgd;

pub use adam::{Adam, AdamOptions, AdamW, AdamWOptions};
pub use lbfgs::{Lbfgs, LbfgsOptions, LineSearch};
pub use sgd::{Sgd, SgdOptions};

pub use optim_core::{
    ClosureRule, DType, DictTensor, DictValue, DynOptimizer, Elementwise, Error, ErrorKind, Float, Map, Optimizer,
    OptionValue, Param, ParamGroup, PerTensor, Problem, Result, Rule, State, StateDict, StepCount,
};
pub use optim_derive::{Optimizer, OptionValue, State};

/// The `ndarray` parameters are made of (re-exported: no version to match).
pub use optim_core::ndarray;
/// The thread pool the parallel step runs on (`rayon::ThreadPoolBuilder` to size it).
#[cfg(feature = "rayon")]
pub use optim_core::rayon;
pub use optim_core::{isa, parallel, param};

/// What an optimizer's state is made of: the state traits and field types, for writing
/// `#[derive(State)]` structs and hand-written state fields; and the states of the bundled
/// optimizers.
pub mod state {
    pub use crate::adam::AdamState;
    pub use crate::lbfgs::{CurvatureHistory, CurvaturePair, LbfgsState};
    pub use crate::sgd::SgdState;
    pub use optim_core::{FieldError, ShapeCtx, StateEntries, StateError, StateField, flat_vector, pack_flat};
}

/// The rule traits, for code generic over optimizers (the options language's
/// [`Hyperparameters`](rule::Hyperparameters) and the whole [`Rule`](rule::Rule)).
pub mod rule {
    pub use optim_core::{ClosureRule, Elementwise, Hyperparameters, PerTensor, Problem, Rule};
}

/// The parts of a state dict, and JSON for its trees.
pub mod dict {
    pub use optim_core::{DictGroup, DictTensor, DictValue, Map, StateDict, tree_from_json, tree_to_json};
}

/// Checkpoint files: a state dict (or any tree, a scheduler's) saved and loaded as JSON,
/// safetensors or PyTorch's `.pt`, chosen by the file's name.
///
/// ```
/// use optimizers::{Adam, AdamOptions, Param, checkpoint, ndarray::array};
///
/// let w = Param::named("w", array![1.0f32, -2.0]);
/// let mut opt = Adam::new([w.clone()], AdamOptions::new())?;
/// w.set_grad(array![0.5, 0.25])?;
/// opt.step()?;
///
/// let path = std::env::temp_dir().join(format!("optimizers-doc-{}.safetensors", std::process::id()));
/// checkpoint::save(&path, &opt.state_dict())?;
///
/// let mut resumed = Adam::new([w.clone()], AdamOptions::new())?;
/// let file = checkpoint::load(&path)?;
/// resumed.load_state_dict(&file.state_dict()?)?; // each tensor copied once, from the file
/// assert_eq!(resumed.state_dict(), opt.state_dict());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), optimizers::Error>(())
/// ```
///
/// `.pt` files written here load in PyTorch with `torch.load(path, weights_only=True)` and
/// `optimizer.load_state_dict`, and `.pt` files written by `torch.save` load here
/// ([`load_entry`](checkpoint::load_entry) for a training checkpoint's `"optimizer"`).
/// [`pt`](checkpoint::pt) reads and writes `.pt` files as Python-object trees.
pub mod checkpoint {
    pub use optim_checkpoint::{
        Checkpoint, Error, Format, SaveOptions, load, load_entry, pt, save, save_tree, save_tree_with, save_with,
    };
}

/// The error type and the types its variants carry.
pub mod error {
    pub use optim_core::{AnyError, Error, ErrorKind, GuardKind, ParamRef, Result, Scope, Shared};
}

/// What the derives' generated code names, and nothing else: not a public API (see
/// `optim_core::__private_0_1`).
#[doc(hidden)]
pub use optim_core::__private_0_1;
