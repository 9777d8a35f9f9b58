//! Support for the workspace's integration tests, examples and benchmarks: the loss
//! functions of the PyTorch reference fixtures, and reading those fixtures.

pub mod fixture;
pub mod problems;

/// The README's code sample, compiled and run as a doctest so that it cannot drift.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
