//! Support for the workspace's integration tests, examples and benchmarks: the catalogue
//! of errors (its cases by area, and the book chapter made from them); the loss functions
//! of the PyTorch reference fixtures and reading those fixtures (trajectories and
//! checkpoints); a plain-loop reference implementation of SGD and Adam; snapshots of an
//! optimizer (to show that a failed operation changed nothing); a seeded random number
//! generator; the subjects and properties of the `load_state_dict` fuzzing
//! (`tests/tests/mutation.rs`, `fuzz/`); trees compared bit for bit and scratch directories
//! for checkpoint files.

pub mod catalogue;
pub mod checkpoints;
pub mod fixture;
pub mod fuzzing;
pub mod mismatches;
pub mod problems;
pub mod reference;
pub mod rng;
pub mod snapshot;
pub mod trees;

/// The README's code sample, compiled and run as a doctest so that it cannot drift.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
