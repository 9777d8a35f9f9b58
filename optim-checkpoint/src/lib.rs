//! Checkpoint formats for optim, as a layer below its state dicts: for now PyTorch's `.pt`
//! files ([`pt`]), read and written without running code and without copying tensor data
//! more than once. It does not depend on the optimizers; mapping these trees to their
//! state dicts is a separate step.

pub mod error;
pub mod pt;

pub use error::{Error, Result};
