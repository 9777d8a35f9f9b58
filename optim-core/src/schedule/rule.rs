//! The traits of a schedule: [`ScheduleRule`] (implemented by `#[derive(Schedule)]`: the
//! options, the state, the engine) and the form the author writes, [`Schedule`] (torch's
//! `LRScheduler`: a value per group at every step, optionally from explicit epochs with
//! [`ExplicitEpochs`]) or [`MetricSchedule`] (torch's `ReduceLROnPlateau`: a value per
//! group from a metric). [`Values`] and [`Init`] are what the author's functions see.

use std::fmt::Debug;

use crate::dict::{DictValue, Map};
use crate::error::{Error, Result};
use crate::hyper::Hyperparameters;
use crate::schedule::compose::Build;
use crate::schedule::target::OptionPath;

/// A schedule's own state beyond torch's common counters (CosineAnnealingWarmRestarts'
/// `T_cur` and `T_i`, ReduceLROnPlateau's `best`): what it packs into its state dict and
/// reads back. `()` for the many schedules that keep nothing else.
pub trait ScheduleState: Clone + Debug + Default + Send + Sync + 'static {
    /// Its entries' names in state dicts, in order.
    const KEYS: &'static [&'static str];
    /// Writes its entries.
    fn pack(&self, out: &mut Map<'static>);
    /// Reads its entries back (every key of [`KEYS`](ScheduleState::KEYS) present and of
    /// its type, or an error naming it).
    fn unpack(entries: &Entries<'_, '_>) -> Result<Self>;
}

impl ScheduleState for () {
    const KEYS: &'static [&'static str] = &[];
    fn pack(&self, _: &mut Map<'static>) {}
    fn unpack(_: &Entries<'_, '_>) -> Result<Self> {
        Ok(())
    }
}

/// The entries of a schedule's state dict, for [`ScheduleState::unpack`]: each read with
/// its type checked, or an error naming the entry.
pub struct Entries<'m, 'a> {
    pub(crate) kind: &'static str,
    pub(crate) map: &'m Map<'a>,
}

impl<'m, 'a> Entries<'m, 'a> {
    /// The entries of `map`, a state dict of schedule `kind`.
    pub fn new(kind: &'static str, map: &'m Map<'a>) -> Self {
        Entries { kind, map }
    }

    /// The raw entry.
    pub fn get(&self, key: &str) -> Result<&DictValue<'_>> {
        self.map.get(key).ok_or_else(|| self.error(key, "is missing".into()))
    }

    /// An error about entry `key`.
    pub fn error(&self, key: &str, problem: String) -> Error {
        Error::ScheduleStateDict {
            kind: self.kind,
            entry: key.to_string(),
            problem,
        }
    }

    /// A number (an integer reads as a float).
    pub fn float(&self, key: &str) -> Result<f64> {
        let v = self.get(key)?;
        v.as_f64()
            .ok_or_else(|| self.error(key, format!("must be a number, found {}", v.describe())))
    }

    /// An integer (a whole float reads as one: torch's fixtures write some as floats).
    pub fn int(&self, key: &str) -> Result<i64> {
        let v = self.get(key)?;
        match v {
            DictValue::Int(i) => Some(*i),
            DictValue::Float(x) if x.fract() == 0.0 && x.abs() < 2f64.powi(53) => Some(*x as i64),
            _ => None,
        }
        .ok_or_else(|| self.error(key, format!("must be an integer, found {}", v.describe())))
    }

    /// A list of numbers.
    pub fn floats(&self, key: &str) -> Result<Vec<f64>> {
        let v = self.get(key)?;
        match v {
            DictValue::List(items) => items.iter().map(DictValue::as_f64).collect(),
            _ => None,
        }
        .ok_or_else(|| self.error(key, format!("must be a list of numbers, found {}", v.describe())))
    }

    /// A boolean.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key)? {
            DictValue::Bool(b) => Ok(*b),
            v => Err(self.error(key, format!("must be a boolean, found {}", v.describe()))),
        }
    }

    /// Whether the entry is present.
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }
}

/// The counters torch keeps on every scheduler: `last_epoch` (the step index; `-1` before
/// the first, `0` after construction) and `_step_count` (calls to `step`, counting the one
/// in the constructor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// torch's `last_epoch`.
    pub last_epoch: i64,
    /// torch's `_step_count`.
    pub step_count: i64,
}

/// A complete schedule: options (with their defaults and checks), state, and the engine
/// that runs it. Implemented by `#[derive(Schedule)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a schedule",
    label = "not a schedule",
    note = "derive it with #[derive(Schedule)]; if it has one, fix the errors reported at its #[schedule] attribute first"
)]
pub trait ScheduleRule: Hyperparameters {
    /// The state beyond the common counters (`#[schedule(state = ..)]`, default `()`).
    type State: ScheduleState;
    /// The scheduler that runs it: [`Scheduler<Self>`](crate::schedule::Scheduler) for
    /// `form = epochs` (the default), [`MetricScheduler<Self>`](crate::schedule::MetricScheduler)
    /// for `form = metric`.
    type Scheduler: Engine<Self>;

    /// After options were read from a state dict, takes back from `current` what state dicts
    /// do not hold (functions): each option's [`OptionValue::restore_unsaved`](crate::OptionValue::restore_unsaved).
    fn restore_unsaved(&mut self, current: &Self);
}

/// Builds a scheduler of one form from resolved options; implemented by the two engines.
#[diagnostic::on_unimplemented(
    message = "`{S}` declares a schedule form whose trait it does not implement",
    label = "the schedule's form",
    note = "implement `Schedule` for `{S}` (`form = epochs`, the default) or `MetricSchedule` (`form = metric`)"
)]
pub trait Engine<S: ScheduleRule>: Sized {
    /// The scheduler over the optimizer `cx` builds on, scheduling `option`, after torch's
    /// constructor (which, for most schedules, takes the first step).
    fn build(rule: S, option: OptionPath, cx: &mut Build<'_>) -> Result<Self>;
}

/// The engine of a schedule whose derive reported errors: it satisfies [`ScheduleRule`]
/// without asking for the form's trait, so that the errors are all the user sees. Never
/// built (the crate does not compile).
#[doc(hidden)]
pub struct Unbuildable<S>(std::marker::PhantomData<S>);

impl<S: ScheduleRule> Engine<S> for Unbuildable<S> {
    fn build(_: S, _: OptionPath, _: &mut Build<'_>) -> Result<Self> {
        unreachable!("a schedule whose derive failed is never built")
    }
}

/// A schedule stepped once per epoch or batch, as torch's `LRScheduler`: at each step the
/// clock advances and [`values`](Schedule::values) gives every group's new value.
///
/// A *chainable* schedule computes from the current value ([`Values::current`]: a value set
/// by hand between steps is continued from), a *closed-form* one from the base value
/// ([`Values::base`]) and the epoch. StepLR, with `#[derive(Schedule)]` on its options:
///
/// ```text
/// impl Schedule for StepLR {
///     fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
///         let e = cx.epoch();
///         let decay = e != 0 && e.rem_euclid(self.step_size as i64) == 0;
///         Ok(cx.map_current(|_, lr| if decay { lr * self.gamma } else { lr }))
///     }
/// }
/// ```
///
/// (The book's chapter "Learning-rate schedules" writes two complete ones.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a schedule stepped by epochs but does not implement `Schedule`",
    note = "implement `Schedule` for `{Self}` (its `values` function), or declare `#[schedule(form = metric)]` and implement `MetricSchedule`"
)]
pub trait Schedule: ScheduleRule {
    /// Checks the options against the number of groups (a per-group list's length). Runs
    /// when the schedule is built and when a state dict is loaded.
    fn check_groups(&self, groups: usize) -> Result<()> {
        let _ = groups;
        Ok(())
    }

    /// What torch's constructor does before `LRScheduler.__init__`: checks against the
    /// optimizer, writes what the schedule starts from (CyclicLR: each group's lr), and
    /// returns the initial state. Changes it makes are undone if building fails.
    fn init(&mut self, cx: &mut Init<'_, '_>) -> Result<Self::State> {
        let _ = cx;
        Ok(Self::State::default())
    }

    /// Advances the clock for one `step()`: torch's `_step_count += 1; last_epoch += 1`.
    fn advance(&self, state: &mut Self::State, clock: &mut Clock) {
        let _ = state;
        clock.step_count += 1;
        clock.last_epoch += 1;
    }

    /// torch's `get_lr`: every group's new value, in group order. Fewer values than groups
    /// (a value per group of those it was built for) fails the step with
    /// [`Error::UnscheduledGroup`].
    fn values(&self, state: &Self::State, cx: &mut Values<'_>) -> Result<Vec<f64>>;

    /// torch's `_get_closed_form_lr`, if the schedule has one: the values at
    /// [`Values::epoch`] from the base values alone. SequentialLR restarts a schedule with it.
    fn closed_form(&self, state: &Self::State, cx: &Values<'_>) -> Option<Vec<f64>> {
        let _ = (state, cx);
        None
    }

    /// What torch's scheduler writes into `param_groups[group]` besides `initial_lr`
    /// (OneCycleLR's `max_lr` and `min_lr`, SWALR's `swa_lr`), for groups it was built for.
    fn group_entries(&self, state: &Self::State, group: usize, out: &mut Map<'static>) {
        let _ = (state, group, out);
    }
}

/// A [`Schedule`] that can also go to an explicit, possibly fractional, epoch (torch's
/// `CosineAnnealingWarmRestarts.step(epoch)`): [`Scheduler::step_at`](crate::schedule::Scheduler::step_at).
pub trait ExplicitEpochs: Schedule {
    /// Sets the clock and state for `epoch`.
    fn advance_to(&self, state: &mut Self::State, clock: &mut Clock, epoch: f64) -> Result<()>;
}

/// A schedule stepped with a metric, as torch's `ReduceLROnPlateau`: no initial step, no
/// base values; [`on_metric`](MetricSchedule::on_metric) gives every group's new value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares `form = metric` but does not implement `MetricSchedule`",
    note = "implement `MetricSchedule` for `{Self}` (its `on_metric` function), or remove `form = metric`"
)]
pub trait MetricSchedule: ScheduleRule {
    /// As [`Schedule::check_groups`].
    fn check_groups(&self, groups: usize) -> Result<()> {
        let _ = groups;
        Ok(())
    }

    /// As [`Schedule::init`].
    fn init(&mut self, cx: &mut Init<'_, '_>) -> Result<Self::State> {
        let _ = cx;
        Ok(Self::State::default())
    }

    /// One step with `metric`: updates the state and gives every group's new value
    /// ([`Values::epoch`] is the step's index, from 1).
    fn on_metric(&self, state: &mut Self::State, cx: &mut Values<'_>, metric: f64) -> Result<Vec<f64>>;
}

/// What a schedule's [`values`](Schedule::values) sees: the clock, each group's base and
/// current value, and a way to change other options of a group (momentum).
#[derive(Debug)]
pub struct Values<'a> {
    clock: Clock,
    initial: bool,
    base: &'a [f64],
    current: &'a [f64],
    writes: Vec<(usize, OptionPath, f64)>,
}

impl<'a> Values<'a> {
    pub(crate) fn new(clock: Clock, initial: bool, base: &'a [f64], current: &'a [f64]) -> Self {
        Values {
            clock,
            initial,
            base,
            current,
            writes: Vec::new(),
        }
    }

    pub(crate) fn into_writes(self) -> Vec<(usize, OptionPath, f64)> {
        self.writes
    }

    /// torch's `last_epoch` after the step's increment (0 at the initial step).
    pub fn epoch(&self) -> i64 {
        self.clock.last_epoch
    }

    /// torch's `_step_count` after the step's increment (1 at the initial step).
    pub fn step_count(&self) -> i64 {
        self.clock.step_count
    }

    /// Whether this is the step the constructor takes (torch's `_is_initial`).
    pub fn is_initial(&self) -> bool {
        self.initial
    }

    /// The number of groups the optimizer has now.
    pub fn groups(&self) -> usize {
        self.current.len()
    }

    /// Each group's base value (torch's `base_lrs`), for the groups the schedule was built
    /// for.
    pub fn base(&self) -> &[f64] {
        self.base
    }

    /// Each group's current value of the scheduled option.
    pub fn current(&self) -> &[f64] {
        self.current
    }

    /// `f(group, current value)` for every group: a chainable schedule.
    pub fn map_current(&self, mut f: impl FnMut(usize, f64) -> f64) -> Vec<f64> {
        self.current.iter().enumerate().map(|(g, &x)| f(g, x)).collect()
    }

    /// `f(group, base value)` for every group the schedule was built for: a closed form.
    pub fn map_base(&self, mut f: impl FnMut(usize, f64) -> f64) -> Vec<f64> {
        self.base.iter().enumerate().map(|(g, &x)| f(g, x)).collect()
    }

    /// Also sets `option` of group `group` to `x` with this step (CyclicLR's momentum).
    pub fn write(&mut self, group: usize, option: &OptionPath, x: f64) {
        self.writes.push((group, option.clone(), x));
    }
}

/// What a schedule's [`init`](Schedule::init) sees: the optimizer (changes are undone if
/// building fails), the scheduled option, and torch's `initial_lr` of each group.
pub struct Init<'b, 'a> {
    pub(crate) cx: &'b mut Build<'a>,
    pub(crate) option: &'b OptionPath,
    pub(crate) rebase: Option<Vec<f64>>,
}

impl Init<'_, '_> {
    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.cx.view().num_groups()
    }

    /// The scheduled option.
    pub fn option(&self) -> &OptionPath {
        self.option
    }

    /// Whether the optimizer has an option of this name (torch: `name in optimizer.defaults`).
    pub fn has_option(&self, name: &str) -> bool {
        self.cx.view().option(0, name).is_ok()
    }

    /// A number of group `group`.
    pub fn read(&self, group: usize, option: &OptionPath) -> Result<f64> {
        option.read(self.cx.view(), group)
    }

    /// Sets a number of group `group`.
    pub fn write(&mut self, group: usize, option: &OptionPath, x: f64) -> Result<()> {
        option.write(self.cx.target(), group, x)
    }

    /// Sets group `group`'s initial value of the scheduled option (torch: `group["initial_lr"]
    /// = x`, as OneCycleLR does), which the base value is then read from.
    pub fn set_initial(&mut self, group: usize, x: f64) {
        let groups = self.groups();
        self.cx.initial_table(self.option, groups)[group] = Some(x);
    }

    /// Replaces the base values after the constructor's step (CyclicLR sets `base_lrs` to
    /// its `base_lr` after `LRScheduler.__init__`).
    pub fn rebase_after_initial_step(&mut self, base: Vec<f64>) {
        self.rebase = Some(base);
    }
}
