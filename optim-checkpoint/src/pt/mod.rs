//! PyTorch's `.pt` files: the zip container torch.save writes, and the pickle inside it,
//! read by an interpreter of an allowlist and written in the same subset.
//!
//! Reading gives what `torch.load(path, weights_only=True)` returns, as an [`Object`] tree
//! whose tensors borrow their data from the mapped file; a file holding anything else
//! (another global, another pickle protocol, a storage of the wrong size, a corrupt
//! archive) is an [`Error`](crate::Error) naming what was found, and no code ever runs.
//!
//! ```
//! use optim_checkpoint::pt::{self, Dict, Object, Tensor};
//!
//! let exp_avg = [0.5f32, -1.5];
//! let mut state = Dict::new();
//! state.insert(0, Object::Dict([("exp_avg", Tensor::from_slice(&[2], &exp_avg)?)].into_iter().collect()));
//! let mut checkpoint = Dict::new();
//! checkpoint.insert("state", state);
//! checkpoint.insert("epoch", 3);
//!
//! let bytes = pt::write(Vec::new(), &Object::Dict(checkpoint))?;
//! let loaded = pt::load_bytes(&bytes)?;
//! let tensor = loaded.as_dict().and_then(|d| d.get_str("state")).and_then(|s| s.as_dict())
//!     .and_then(|s| s.get_int(0)).and_then(|p| p.as_dict()).and_then(|p| p.get_str("exp_avg"))
//!     .and_then(|t| t.as_tensor()).unwrap();
//! assert_eq!(tensor.to_vec::<f32>()?, vec![0.5, -1.5]);
//! # Ok::<(), optim_checkpoint::Error>(())
//! ```

mod archive;
mod archive_writer;
mod dtype;
mod element;
mod load;
mod object;
mod pickle;
pub(crate) mod save;
mod tensor;
pub(crate) mod tree;

pub use dtype::DType;
pub use element::Element;
pub use load::{PtFile, load_bytes};
pub use object::{Dict, Key, Object};
pub use save::{save, write};
pub use tensor::Tensor;

/// The element types [`Element`] covers beyond Rust's own, re-exported from `half`.
pub use half::{bf16, f16};
