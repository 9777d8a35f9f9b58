//! # optimizers
//!
//! Numerical optimizers that a PyTorch user recognises at once, matching `torch.optim`
//! step for step: [`Sgd`], [`Adam`], [`AdamW`] and [`Lbfgs`], over `ndarray` parameters
//! in `f32` or `f64`; and `#[derive(Optimizer)]` to write a new one in thirty lines,
//! checked by the compiler.
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
//! This crate re-exports all of `optim-core` (parameters, groups, state dicts, errors) and
//! the derives, so it is the only dependency a user needs, also to define optimizers.

// Lets the derives' absolute paths (`::optimizers::...`) resolve inside this crate too.
extern crate self as optimizers;

mod adam;
mod lbfgs;
mod newton_schulz;
pub mod registry;
mod sgd;

pub use adam::{Adam, AdamOptions, AdamScalars, AdamState, AdamStateElem, AdamStateSlices, AdamW, AdamWOptions};
pub use lbfgs::{CurvatureHistory, CurvaturePair, Lbfgs, LbfgsOptions, LbfgsState, LineSearch, MAX_HISTORY_SIZE};
pub use optim_core::*;
pub use optim_derive::{Optimizer, State};
pub use sgd::{Sgd, SgdOptions, SgdScalars, SgdState, SgdStateElem, SgdStateSlices};

/// Muon's Newton–Schulz orthogonalisation, for the fixture replay test and the benchmark
/// until the Muon optimizer uses it. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __newton_schulz {
    pub use crate::newton_schulz::{
        DEFAULT_COEFFICIENTS, MAX_STEPS_EXCLUSIVE, NewtonSchulz, NsError, NsScratch, round_bf16,
    };
}

/// What the derives' generated code refers to. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use optim_core::*;
}
