//! Learning-rate schedules (torch's `torch.optim.lr_scheduler`): the machinery, written
//! once for every schedule.
//!
//! A schedule is a struct of options with `#[derive(Schedule)]` (the options language of
//! optimizers: defaults, `required`, checks, `rename`), which implements [`ScheduleRule`],
//! and one function its author writes: [`Schedule::values`] (a value per group at each
//! step, torch's `get_lr`) or [`MetricSchedule::on_metric`] (from a metric, torch's
//! `ReduceLROnPlateau`). The engines [`Scheduler`] and [`MetricScheduler`] do the rest as
//! torch's `LRScheduler` does: the construction step, the counters, `get_last_lr`, state
//! dicts.
//!
//! A schedule drives an option of the optimizer by name through [`Schedulable`] (`lr`
//! unless built otherwise; any number among the options: `weight_decay`, `momentum`,
//! `betas[0]`), so that one schedule works on every optimizer. It does not hold the
//! optimizer: it is given it when built and at every step.
//!
//! What torch's schedulers write into `param_groups` besides `lr` (`initial_lr`, `max_lr`,
//! `swa_lr`, ...) the optimizers here cannot hold (their options are typed); schedules keep
//! it themselves and show it per group ([`Scheduler::group_entries`]).

mod common;
mod compose;
mod metric;
mod per_group;
mod rule;
mod scheduler;
mod target;

pub use compose::{Build, BuildSchedule, Builder, DynSchedule};
pub use metric::MetricScheduler;
pub use per_group::{Lambda, PerGroup};
pub use rule::{
    Clock, Engine, Entries, ExplicitEpochs, Init, MetricSchedule, Schedule, ScheduleRule, ScheduleState, Unbuildable,
    Values,
};
pub use scheduler::Scheduler;
pub use target::{Journal, OptionPath, Schedulable, atomically};
