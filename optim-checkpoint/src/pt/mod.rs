//! PyTorch's `.pt` files: the zip container torch.save writes, and the pickle inside it,
//! read by an interpreter of an allowlist and written in the same subset.
//!
//! Reading gives what `torch.load(path, weights_only=True)` returns, as an [`Object`] tree
//! whose tensors borrow their data from the mapped file; a file holding anything else
//! (another global, another pickle protocol, a storage of the wrong size, a corrupt
//! archive) is an [`Error`](crate::Error) naming what was found, and no code ever runs.
//!

mod archive;
mod dtype;
mod element;
mod load;
mod object;
mod pickle;
mod tensor;

pub use dtype::DType;
pub use element::Element;
pub use load::{PtFile, load_bytes};
pub use object::{Dict, Key, Object};
pub use tensor::Tensor;

/// The element types [`Element`] covers beyond Rust's own, re-exported from `half`.
pub use half::{bf16, f16};
