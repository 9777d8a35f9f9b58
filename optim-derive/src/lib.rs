//! `#[derive(Optimizer)]` (under construction).
