//! The engine of schedules stepped with a metric: torch's `ReduceLROnPlateau`, whose
//! construction takes no step and which keeps no base values.

use crate::dict::{DictValue, Map};
use crate::error::Result;
use crate::schedule::common::{self, LAST, LAST_EPOCH, Reader};
use crate::schedule::compose::Build;
use crate::schedule::rule::{Clock, Engine, Init, MetricSchedule, ScheduleRule, ScheduleState, Values};
use crate::schedule::target::{OptionPath, Schedulable};

/// A schedule `S` stepped with a metric (a validation loss): torch's `ReduceLROnPlateau`.
///
/// | torch | here |
/// |---|---|
/// | `ReduceLROnPlateau(opt, patience=3)` | `ReduceLROnPlateau::new(&mut opt, ReduceLROnPlateauOptions::new().patience(3))?` |
/// | `scheduler.step(val_loss)` | `sched.step(&mut opt, val_loss)?` |
/// | `scheduler.get_last_lr()` | `sched.get_last_lr()` |
pub struct MetricScheduler<S: ScheduleRule> {
    rule: S,
    state: S::State,
    option: OptionPath,
    last_epoch: i64,
    last: Vec<f64>,
}

impl<S: ScheduleRule> Clone for MetricScheduler<S> {
    fn clone(&self) -> Self {
        MetricScheduler {
            rule: self.rule.clone(),
            state: self.state.clone(),
            option: self.option.clone(),
            last_epoch: self.last_epoch,
            last: self.last.clone(),
        }
    }
}

impl<S: ScheduleRule> std::fmt::Debug for MetricScheduler<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricScheduler")
            .field("kind", &S::KIND)
            .field("options", &self.rule)
            .field("option", &self.option.to_string())
            .field("state", &self.state)
            .field("last_epoch", &self.last_epoch)
            .field("last_lr", &self.last)
            .finish()
    }
}

impl<S: MetricSchedule> Engine<S> for MetricScheduler<S> {
    fn build(mut rule: S, option: OptionPath, cx: &mut Build<'_>) -> Result<Self> {
        rule.check_groups(cx.target().num_groups())?;
        common::read_all(cx.target(), &option)?;
        let mut init = Init {
            cx,
            option: &option,
            rebase: None,
        };
        let state = rule.init(&mut init)?;
        let last = common::read_all(cx.target(), &option)?;
        Ok(MetricScheduler {
            rule,
            state,
            option,
            last_epoch: 0,
            last,
        })
    }
}

impl<S: MetricSchedule> MetricScheduler<S> {
    /// One step with `metric` (torch's `scheduler.step(metric)`), after the optimizer's step
    /// and the evaluation that gives the metric.
    pub fn step(&mut self, opt: &mut (impl Schedulable + ?Sized), metric: f64) -> Result<()> {
        let mut opt = opt;
        let target: &mut dyn Schedulable = &mut opt;
        let mut state = self.state.clone();
        let clock = Clock {
            last_epoch: self.last_epoch + 1,
            step_count: 0,
        };
        let current = common::read_all(target, &self.option)?;
        let mut cx = Values::new(clock, false, &[], &current);
        let values = self.rule.on_metric(&mut state, &mut cx, metric)?;
        let writes = cx.into_writes();
        let built_for = values.len();
        self.last = common::apply(target, S::KIND, &self.option, &values, &writes, built_for)?;
        self.state = state;
        self.last_epoch = clock.last_epoch;
        Ok(())
    }

    /// The resolved options.
    pub fn options(&self) -> &S {
        &self.rule
    }

    /// The schedule's own state (ReduceLROnPlateau's `best`, `num_bad_epochs`, ...).
    pub fn state(&self) -> &S::State {
        &self.state
    }

    /// The option it drives (`lr`).
    pub fn option(&self) -> &OptionPath {
        &self.option
    }

    /// The values after the last step, one per group (torch's `get_last_lr()`).
    pub fn get_last_lr(&self) -> &[f64] {
        &self.last
    }

    /// The number of steps taken (torch's `last_epoch`).
    pub fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    /// Nothing: torch's ReduceLROnPlateau adds no entry to the param groups. (For symmetry
    /// with [`Scheduler::group_entries`](crate::schedule::Scheduler::group_entries).)
    pub fn group_entries(&self, group: usize) -> Map<'static> {
        let _ = group;
        Map::new()
    }

    /// The state dict, a tree: `kind`, `version`, `option`, the options, `last_epoch`,
    /// `_last_lr` and the schedule's state.
    pub fn state_dict(&self) -> DictValue<'static> {
        let mut map = common::head(&self.rule, &self.option);
        map.insert(LAST_EPOCH, DictValue::Int(self.last_epoch));
        map.insert(LAST, common::floats(&self.last));
        self.state.pack(&mut map);
        DictValue::Map(map)
    }

    /// Loads a state dict, every entry checked before anything changes.
    pub fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
        let mut reader = Reader::new::<S>(dict)?;
        reader.option(&self.option)?;
        let rule = reader.options(&self.rule)?;
        let last_epoch = reader.int(LAST_EPOCH)?;
        let last = reader.floats(LAST)?;
        let state = reader.state::<S::State>()?;
        reader.finish()?;
        rule.check_groups(last.len())?;
        *self = MetricScheduler {
            rule,
            state,
            option: self.option.clone(),
            last_epoch,
            last,
        };
        Ok(())
    }
}
