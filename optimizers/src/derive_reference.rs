//! The derives' documentation (`optim-derive/doc/*.md`: the rustdoc of
//! `#[derive(Optimizer)]`, `#[derive(State)]`, `#[derive(OptionValue)]` and
//! `#[derive(Schedule)]`, and the book's
//! "Derive reference"), whose examples are compiled and run here as doctests: a
//! proc-macro crate cannot use its own derives in its doctests.

#[doc = include_str!("../../optim-derive/doc/optimizer.md")]
pub struct DeriveOptimizer;

#[doc = include_str!("../../optim-derive/doc/state.md")]
pub struct DeriveState;

#[doc = include_str!("../../optim-derive/doc/option_value.md")]
pub struct DeriveOptionValue;

#[doc = include_str!("../../optim-derive/doc/schedule.md")]
pub struct DeriveSchedule;
