//! The pickle layer: an interpreter of the allowlisted subset (`read`), the globals it
//! accepts (`globals`), and a writer of the same subset (`write`).
//!
//! Why not a crate: `serde-pickle` cannot read persistent ids (how torch refers to
//! storages), and a general unpickler is exactly what a weights-only reader must not be.

pub(crate) mod globals;
mod materialize;
mod node;
pub(crate) mod opcodes;
pub(crate) mod read;
mod rebuild;
pub(crate) mod write;

/// How deep objects may nest. torch's checkpoints nest a handful of levels (a training
/// checkpoint: file, optimizer, state, parameter, tensor); the bound keeps every recursive
/// walk here (building the tree, writing it, dropping it) far from the end of a small
/// thread's stack, even unoptimized.
pub(crate) const MAX_DEPTH: usize = 256;
