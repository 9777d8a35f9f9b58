//! The code samples of the optim book (`book/src`), which includes them by anchor
//! (`{{#include ../samples/src/lion.rs:optimizer}}`), so that every sample in the book is
//! compiled and tested by `cargo test --workspace`.
//!
//! This crate depends on `optimizers` alone, as a user's crate would.
#![deny(warnings)]

pub mod lion;
