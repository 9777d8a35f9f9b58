//! Learning-rate schedules: every scheduler of `torch.optim.lr_scheduler` (torch 2.15) and
//! `torch.optim.swa_utils.SWALR`, matching torch bit for bit, on every optimizer.
//!
//! | torch | here |
//! |---|---|
//! | `sched = StepLR(opt, step_size=30, gamma=0.1)` | `let mut sched = StepLR::new(&mut opt, StepLROptions::new().step_size(30).gamma(0.1))?;` |
//! | `sched.step()` | `sched.step(&mut opt)?;` |
//! | `sched.step(val_loss)` (ReduceLROnPlateau) | `sched.step(&mut opt, val_loss)?;` |
//! | `sched.step(epoch)` (CosineAnnealingWarmRestarts) | `sched.step_at(&mut opt, epoch)?;` |
//! | `sched.get_last_lr()` | `sched.get_last_lr()` |
//! | `SequentialLR(opt, [a, b], milestones=[10])` | `SequentialLR::new(&mut opt, vec![A::builder(..).into(), B::builder(..).into()], [10])?` |
//! | `LambdaLR(opt, lambda e: 0.95 ** e)` | `LambdaLR::new(&mut opt, LambdaLROptions::new().lr_lambda(Lambda::new(\|e\| 0.95f64.powf(e as f64))))?` |
//! | `sched.state_dict()` / `load_state_dict(sd)` | `sched.state_dict()` / `sched.load_state_dict(&sd)?` |
//!
//! A schedule does not hold the optimizer: it takes it when built (torch's constructor
//! already steps: LinearLR's warmup factor is applied at once) and at every step, after
//! the optimizer's. It drives `lr` by default and any other number among the optimizer's
//! options when built with `X::builder(options).option("weight_decay").build(&mut opt)?`.
//!
//! | schedule | what it does | chainable |
//! |---|---|---|
//! | [`LambdaLR`] | `base_lr · f(epoch)` | no |
//! | [`MultiplicativeLR`] | `lr · f(epoch)` | yes |
//! | [`StepLR`] | `· gamma` every `step_size` epochs | yes |
//! | [`MultiStepLR`] | `· gamma` at each milestone | yes |
//! | [`ConstantLR`] | `· factor` until `total_iters` | yes |
//! | [`LinearLR`] | linear from `start_factor` to `end_factor` (warmup) | yes |
//! | [`ExponentialLR`] | `· gamma` every epoch | yes |
//! | [`PolynomialLR`] | polynomial decay to 0 | yes |
//! | [`CosineAnnealingLR`] | cosine to `eta_min` over `T_max` | yes |
//! | [`CosineAnnealingWarmRestarts`] | cosine with restarts (SGDR) | no |
//! | [`CyclicLR`] | triangular cycles, momentum inversely | no |
//! | [`OneCycleLR`] | the 1cycle policy, momentum inversely | no |
//! | [`Swalr`] | anneal to a constant (SWA) | yes |
//! | [`ReduceLROnPlateau`] | `· factor` when a metric stalls | yes |
//! | [`SequentialLR`] | one schedule after another | |
//! | [`ChainedScheduler`] | schedules stepped together | |
//!
//! *Chainable* schedules compute from the current value, so that a value set by hand
//! between steps is continued from; the others overwrite it. Writing a schedule of your own
//! is `#[derive(Schedule)]` on a struct of options and one function: see [`Schedule`].

mod chained_scheduler;
mod composite;
mod constant_lr;
mod cosine_annealing_lr;
mod cosine_annealing_warm_restarts;
mod cyclic_lr;
mod exponential_lr;
mod lambda_lr;
mod linear_lr;
mod multi_step_lr;
mod multiplicative_lr;
mod one_cycle_lr;
mod polynomial_lr;
mod reduce_lr_on_plateau;
mod sequential_lr;
mod step_lr;
mod support;
mod swalr;

pub use chained_scheduler::{ChainedScheduler, ChainedSchedulerBuilder};
pub use constant_lr::{ConstantLR, ConstantLROptions};
pub use cosine_annealing_lr::{CosineAnnealingLR, CosineAnnealingLROptions};
pub use cosine_annealing_warm_restarts::{
    CosineAnnealingWarmRestarts, CosineAnnealingWarmRestartsOptions, WarmRestarts,
};
pub use cyclic_lr::{CyclicLR, CyclicLROptions, CyclicMode, CyclicState, ScaleMode};
pub use exponential_lr::{ExponentialLR, ExponentialLROptions};
pub use lambda_lr::{LambdaLR, LambdaLROptions};
pub use linear_lr::{LinearLR, LinearLROptions};
pub use multi_step_lr::{MultiStepLR, MultiStepLROptions};
pub use multiplicative_lr::{MultiplicativeLR, MultiplicativeLROptions};
pub use one_cycle_lr::{OneCycleLR, OneCycleLROptions};
pub use polynomial_lr::{PolynomialLR, PolynomialLROptions};
pub use reduce_lr_on_plateau::{Plateau, PlateauMode, ReduceLROnPlateau, ReduceLROnPlateauOptions, ThresholdMode};
pub use sequential_lr::{SequentialLR, SequentialLRBuilder};
pub use step_lr::{StepLR, StepLROptions};
pub use support::AnnealStrategy;
pub use swalr::{Swalr, SwalrOptions};

pub use optim_core::schedule::{
    Build, BuildSchedule, Builder, Clock, DynSchedule, Entries, ExplicitEpochs, Init, Lambda, MetricSchedule,
    MetricScheduler, OptionPath, PerGroup, Schedulable, Schedule, ScheduleRule, ScheduleState, Scheduler, Values,
};
/// Derives a schedule from a struct of options (see [`Schedule`]).
pub use optim_derive::Schedule;
