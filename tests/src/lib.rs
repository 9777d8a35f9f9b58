//! Support for the workspace's integration tests, examples and benchmarks: the loss
//! functions of the PyTorch reference fixtures, and reading those fixtures.

pub mod fixture;
pub mod problems;
