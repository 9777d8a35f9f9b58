//! Checkpoint files for optim: state dicts (and any tree of the state-dict data model, a
//! learning-rate scheduler's or a weight average's) saved and loaded as JSON, safetensors or
//! PyTorch's `.pt`, chosen by the file's name.
//!
//! ```no_run
//! # fn main() -> optim_core::Result<()> {
//! # let dict = optim_core::StateDict::default();
//! // Save: streamed from the optimizer's state, written atomically.
//! optim_checkpoint::save("optimizer.safetensors", &dict)?;
//!
//! // Load: the file is mapped; the state dict borrows it, so that
//! // `opt.load_state_dict(&state)` copies each tensor once, into the optimizer.
//! let checkpoint = optim_checkpoint::load("optimizer.safetensors")?;
//! let state = checkpoint.state_dict()?;
//!
//! // A training checkpoint written by PyTorch: the optimizer's entry of the dict.
//! let torch = optim_checkpoint::load_entry("checkpoint.pt", "optimizer")?;
//! # let _ = (state, torch);
//! # Ok(()) }
//! ```
//!
//! | format | module | layout |
//! |---|---|---|
//! | `.json` | `optim_core`'s codec | the state dict's tree as JSON; tensors as `{"shape", "dtype", "data"}` |
//! | `.safetensors` | `safetensors` (private) | a tensor entry per tensor, named by its path (`state.0.exp_avg`); the rest of the tree in the header's `__metadata__`; shards and an index above a chosen size |
//! | `.pt` | [`pt`] | torch's zip + pickle; int parameter indices, tuples for `betas`; read by an allowlist interpreter |
//!
//! The functions that save and load return the optimizers' [`optim_core::Result`]: a file
//! this crate cannot read is `optim_core::Error::Checkpoint` holding this crate's typed
//! [`Error`], an I/O failure is `optim_core::Error::Io`, and a tree that is not a state
//! dict is `optim_core::Error::Format`, as for every codec.

mod checkpoint;
pub mod error;
mod file;
pub mod pt;
mod safetensors;
mod tree;

pub use checkpoint::{Checkpoint, Format, SaveOptions, load, load_entry, save, save_tree, save_tree_with, save_with};
pub use error::{Error, Result};
