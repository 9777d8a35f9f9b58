//! optimizers (under construction).
