//! The code samples of the optim book (`book/src`), which includes them by anchor
//! (`{{#include ../samples/src/lion.rs:optimizer}}`), so that every sample in the book is
//! compiled and tested by `cargo test --workspace`.
//!
//! This crate depends on `optimizers` alone, as a user's crate would. Its modules are the
//! optimizers the chapter "Writing your own optimizer" derives, one per form of update
//! rule, and the test problem of the book's pictures:
//!
//! - [`lion`]: Lion, elementwise, the smallest complete optimizer;
//! - [`rmsprop`]: RMSprop, elementwise, with optional state tensors and renamed options;
//! - [`lars`]: LARS, per tensor (it needs each tensor's norm), with a default computed
//!   from another option and a check relating two options;
//! - [`backtracking`]: gradient descent with a backtracking line search, a closure rule
//!   (it re-evaluates the loss, as LBFGS does);
//! - [`reference`](mod@reference): one optimizer that uses every key of the derives (the derive reference);
//! - [`rosenbrock`]: Rosenbrock's function, the problem of the pictures and closure examples;
//! - [`schedules`]: two learning-rate schedules torch does not ship (the chapter
//!   "Learning-rate schedules").
#![deny(warnings)]

pub mod backtracking;
pub mod lars;
pub mod lion;
pub mod reference;
pub mod rmsprop;
pub mod rosenbrock;
pub mod schedules;

/// The README's example, run as a doctest so that the first code a visitor reads compiles
/// and runs (`cargo test --workspace` runs it with this crate's doctests).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExample;
