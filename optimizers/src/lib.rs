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
//! | optimize | [`Sgd`], [`Adam`], [`AdamW`], [`Lbfgs`], [`Adadelta`], [`Adagrad`], [`Adamax`], [`Asgd`], [`NAdam`], [`RAdam`], [`Rmsprop`], [`Rprop`], [`Adafactor`], [`Muon`] (2-D parameters) and their options; [`Optimizer`](struct@Optimizer) is what they build, [`DynOptimizer`] any of them behind a pointer, [`registry`] one by name |
//! | save and resume | [`checkpoint::save`] and [`checkpoint::load`] (`.json`, `.safetensors`, PyTorch's `.pt`), [`StateDict`] (torch's layout, plus kind, version and names), its values [`DictValue`], [`DictTensor`], [`Map`] |
//! | schedule the learning rate | [`lr_scheduler`]: torch's schedulers, and `#[derive(Schedule)]` for your own |
//! | write an optimizer | `#[derive(Optimizer)]`, `#[derive(State)]`, `#[derive(OptionValue)]` and one of [`Elementwise`], [`PerTensor`], [`ClosureRule`]; [`StepCount`] for a step count |
//! | handle failures | [`Error`] (with [`Error::kind`]), [`Result`] |
//!
//! This crate is the only dependency a user needs, also to define optimizers; the rest
//! lives in modules: [`param`] (the guards), [`state`] (state field types, the bundled
//! optimizers' states), [`dict`], [`checkpoint`] (files), [`error`], [`rule`], [`isa`]
//! (instruction sets) and [`parallel`].

// Lets the derives' absolute paths (`::optimizers::...`) resolve inside this crate too.
extern crate self as optimizers;

mod adadelta;
mod adafactor;
mod adagrad;
mod adam;
mod adamax;
mod asgd;
#[cfg(doctest)]
mod derive_reference;
mod lbfgs;
pub mod lr_scheduler;
mod muon;
mod nadam;
pub mod newton_schulz;
mod radam;
pub mod registry;
mod rmsprop;
mod rprop;
mod sgd;
#[cfg(test)]
mod test_support;
mod torch_ops;

pub use adadelta::{Adadelta, AdadeltaOptions};
pub use adafactor::{Adafactor, AdafactorOptions};
pub use adagrad::{Adagrad, AdagradOptions};
pub use adam::{Adam, AdamOptions, AdamW, AdamWOptions};
pub use adamax::{Adamax, AdamaxOptions};
pub use asgd::{Asgd, AsgdOptions};
pub use lbfgs::{Lbfgs, LbfgsOptions, LineSearch};
pub use muon::{AdjustLr, Muon, MuonOptions};
pub use nadam::{NAdam, NAdamOptions};
pub use radam::{RAdam, RAdamOptions};
pub use rmsprop::{Rmsprop, RmspropOptions};
pub use rprop::{Rprop, RpropOptions};
pub use sgd::{Sgd, SgdOptions};

pub use optim_core::{
    ClosureRule, DType, DictTensor, DictValue, DynOptimizer, Elementwise, Error, ErrorKind, Float, Map, Optimizer,
    OptionValue, Param, ParamGroup, Problem, Result, Rule, State, StateDict, StepCount,
};
// Not inlined: rustdoc would show the `ndarray` views of its signature spelled out
// (`ArrayBase<ViewRepr<&mut A>, Dim<IxDynImpl>>`); optim-core's page shows them as written.
#[doc(no_inline)]
pub use optim_core::PerTensor;
pub use optim_derive::{Optimizer, OptionValue, State};

/// The `ndarray` parameters are made of (re-exported: no version to match).
pub use optim_core::ndarray;
/// The thread pool the parallel step runs on (`rayon::ThreadPoolBuilder` to size it).
#[cfg(feature = "rayon")]
pub use optim_core::rayon;
pub use optim_core::{average, clip, isa, parallel, param};

/// What an optimizer's state is made of: the state traits and field types, for writing
/// `#[derive(State)]` structs and hand-written state fields; and the states of the bundled
/// optimizers.
pub mod state {
    pub use crate::adadelta::AdadeltaState;
    pub use crate::adafactor::AdafactorState;
    pub use crate::adagrad::AdagradState;
    pub use crate::adam::AdamState;
    pub use crate::adamax::AdamaxState;
    pub use crate::asgd::AsgdState;
    pub use crate::lbfgs::{CurvatureHistory, CurvaturePair, LbfgsState};
    pub use crate::muon::MuonState;
    pub use crate::nadam::NAdamState;
    pub use crate::radam::RAdamState;
    pub use crate::rmsprop::RmspropState;
    pub use crate::rprop::RpropState;
    pub use crate::sgd::SgdState;
    pub use optim_core::{FieldError, ShapeCtx, StateEntries, StateError, StateField, flat_vector, pack_flat};
}

/// The rule traits, for code generic over optimizers (the options language's
/// [`Hyperparameters`](rule::Hyperparameters) and the whole [`Rule`]), and the views a
/// per-tensor rule gets.
pub mod rule {
    pub use optim_core::{
        ClosureRule, Elementwise, Hyperparameters, PerTensor, Problem, Rule, TensorView, TensorViewMut,
    };
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
