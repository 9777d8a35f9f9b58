//! The engine of schedules stepped by epochs: torch's `LRScheduler`, written once.

use crate::dict::{DictValue, Map};
use crate::error::Result;
use crate::schedule::common::{self, BASE, LAST, LAST_EPOCH, Reader, STEP_COUNT};
use crate::schedule::compose::{Build, DynSchedule};
use crate::schedule::rule::{Clock, Engine, ExplicitEpochs, Init, Schedule, ScheduleRule, ScheduleState, Values};
use crate::schedule::target::{OptionPath, Schedulable};

/// A schedule `S` running on an optimizer's option (`lr` unless built otherwise): torch's
/// `LRScheduler`.
///
/// | torch | here |
/// |---|---|
/// | `StepLR(opt, step_size=30)` | `StepLR::new(&mut opt, StepLROptions::new().step_size(30))?` |
/// | `scheduler.step()` | `sched.step(&mut opt)?` |
/// | `scheduler.step(epoch)` (CosineAnnealingWarmRestarts) | `sched.step_at(&mut opt, epoch)?` |
/// | `scheduler.get_last_lr()` | `sched.get_last_lr()` |
/// | `scheduler.base_lrs`, `last_epoch` | `sched.base_lrs()`, `sched.last_epoch()` |
/// | `scheduler.state_dict()` / `load_state_dict(sd)` | `sched.state_dict()` / `sched.load_state_dict(&sd)?` |
///
/// The scheduler does not hold the optimizer (a training loop steps it meanwhile): it is
/// given the optimizer when it is built, which takes torch's construction step, and at
/// every step. Every operation that fails changes neither the scheduler nor the optimizer.
pub struct Scheduler<S: ScheduleRule> {
    rule: S,
    state: S::State,
    option: OptionPath,
    clock: Clock,
    base: Vec<f64>,
    last: Vec<f64>,
}

impl<S: ScheduleRule> Clone for Scheduler<S> {
    fn clone(&self) -> Self {
        Scheduler {
            rule: self.rule.clone(),
            state: self.state.clone(),
            option: self.option.clone(),
            clock: self.clock,
            base: self.base.clone(),
            last: self.last.clone(),
        }
    }
}

impl<S: ScheduleRule> std::fmt::Debug for Scheduler<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("kind", &S::KIND)
            .field("options", &self.rule)
            .field("option", &self.option.to_string())
            .field("state", &self.state)
            .field("last_epoch", &self.clock.last_epoch)
            .field("step_count", &self.clock.step_count)
            .field("base_lrs", &self.base)
            .field("last_lr", &self.last)
            .finish()
    }
}

impl<S: Schedule> Engine<S> for Scheduler<S> {
    fn build(mut rule: S, option: OptionPath, cx: &mut Build<'_>) -> Result<Self> {
        let groups = cx.target().num_groups();
        rule.check_groups(groups)?;
        // The option must be a number in every group before anything is written.
        common::read_all(cx.target(), &option)?;
        let mut init = Init {
            cx,
            option: &option,
            rebase: None,
        };
        let state = rule.init(&mut init)?;
        let rebase = init.rebase;
        let current = common::read_all(cx.target(), &option)?;
        // torch: `group.setdefault("initial_lr", group["lr"])`, then `base_lrs` from them.
        let table = cx.initial_table(&option, groups);
        let base = current
            .iter()
            .zip(table.iter_mut())
            .map(|(&x, slot)| *slot.get_or_insert(x))
            .collect();
        let mut scheduler = Scheduler {
            rule,
            state,
            option,
            clock: Clock {
                last_epoch: -1,
                step_count: 0,
            },
            base,
            last: current,
        };
        scheduler.initial_step_dyn(cx.target())?;
        if let Some(base) = rebase {
            scheduler.base = base;
        }
        Ok(scheduler)
    }
}

impl<S: ScheduleRule> Scheduler<S> {
    /// The resolved options (`sched.options().gamma`).
    pub fn options(&self) -> &S {
        &self.rule
    }

    /// The schedule's own state (CosineAnnealingWarmRestarts' `T_cur`).
    pub fn state(&self) -> &S::State {
        &self.state
    }

    /// The option it drives (`lr`).
    pub fn option(&self) -> &OptionPath {
        &self.option
    }

    /// The values the last step set, one per group (torch's `get_last_lr()`; for a schedule
    /// of another option, that option's values).
    pub fn get_last_lr(&self) -> &[f64] {
        &self.last
    }

    /// Each group's base value (torch's `base_lrs`), for the groups it was built for.
    pub fn base_lrs(&self) -> &[f64] {
        &self.base
    }

    /// torch's `last_epoch`: 0 after construction, one more at every step.
    pub fn last_epoch(&self) -> i64 {
        self.clock.last_epoch
    }

    /// torch's `_step_count`: the calls to `step`, counting the constructor's.
    pub fn step_count(&self) -> i64 {
        self.clock.step_count
    }
}

impl<S: Schedule> Scheduler<S> {
    /// One step: torch's `scheduler.step()`. Call it after the optimizer's step.
    pub fn step(&mut self, opt: &mut (impl Schedulable + ?Sized)) -> Result<()> {
        let mut opt = opt;
        self.step_dyn(&mut opt)
    }

    fn step_dyn(&mut self, target: &mut dyn Schedulable) -> Result<()> {
        let (mut clock, mut state) = (self.clock, self.state.clone());
        self.rule.advance(&mut state, &mut clock);
        self.apply(target, clock, state, false, false)
    }

    fn initial_step_dyn(&mut self, target: &mut dyn Schedulable) -> Result<()> {
        let mut clock = Clock {
            step_count: 0,
            ..self.clock
        };
        let mut state = self.state.clone();
        self.rule.advance(&mut state, &mut clock);
        self.apply(target, clock, state, true, false)
    }

    /// Computes and sets the values of the step at `clock`, with the state `state`; commits
    /// all of it only if every value was set.
    fn apply(
        &mut self,
        target: &mut dyn Schedulable,
        clock: Clock,
        state: S::State,
        initial: bool,
        closed_form: bool,
    ) -> Result<()> {
        let current = common::read_all(target, &self.option)?;
        let mut cx = Values::new(clock, initial, &self.base, &current);
        let values = match closed_form.then(|| self.rule.closed_form(&state, &cx)).flatten() {
            Some(values) => values,
            None => self.rule.values(&state, &mut cx)?,
        };
        let writes = cx.into_writes();
        let last = common::apply(target, S::KIND, &self.option, &values, &writes, self.base.len())?;
        self.clock = clock;
        self.state = state;
        self.last = last;
        Ok(())
    }

    /// The entries torch's scheduler adds to `param_groups[group]`: `initial_lr` (for a
    /// schedule of another option, `initial_<option>`) and the schedule's own (`max_lr`,
    /// `swa_lr`, ...), for the groups it was built for; none for a group added later.
    pub fn group_entries(&self, group: usize) -> Map<'static> {
        let mut out = Map::new();
        if let Some(&base) = self.base.get(group) {
            out.insert(format!("initial_{}", self.option), base);
            self.rule.group_entries(&self.state, group, &mut out);
        }
        out
    }

    /// The state dict, a tree: `kind`, `version`, `option`, the options (by their names in
    /// torch), `base_lrs`, `last_epoch`, `_step_count`, `_last_lr` and the schedule's state.
    pub fn state_dict(&self) -> DictValue<'static> {
        let mut map = common::head(&self.rule, &self.option);
        map.insert(BASE, common::floats(&self.base));
        map.insert(LAST_EPOCH, DictValue::Int(self.clock.last_epoch));
        map.insert(STEP_COUNT, DictValue::Int(self.clock.step_count));
        map.insert(LAST, common::floats(&self.last));
        self.state.pack(&mut map);
        DictValue::Map(map)
    }

    /// Loads a state dict written by [`state_dict`](Scheduler::state_dict): every entry is
    /// checked (kind, version, option, each option's type and checks, the counters, the
    /// state) before anything changes. Functions (`lr_lambda`) are not in state dicts: the
    /// scheduler keeps its own, as torch does.
    pub fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
        let mut reader = Reader::new::<S>(dict)?;
        reader.option(&self.option)?;
        let rule = reader.options(&self.rule)?;
        let base = reader.floats(BASE)?;
        let clock = Clock {
            last_epoch: reader.int(LAST_EPOCH)?,
            step_count: reader.int(STEP_COUNT)?,
        };
        let last = reader.floats(LAST)?;
        let state = reader.state::<S::State>()?;
        reader.finish()?;
        rule.check_groups(base.len())?;
        if last.len() < base.len() {
            return Err(crate::Error::ScheduleStateDict {
                kind: S::KIND,
                entry: LAST.into(),
                problem: format!(
                    "has {} value(s) but `base_lrs` has {}: a value per group",
                    last.len(),
                    base.len()
                ),
            });
        }
        *self = Scheduler {
            rule,
            state,
            option: self.option.clone(),
            clock,
            base,
            last,
        };
        Ok(())
    }
}

impl<S: ExplicitEpochs> Scheduler<S> {
    /// A step to an explicit epoch, possibly fractional (torch's `scheduler.step(epoch)` of
    /// CosineAnnealingWarmRestarts).
    pub fn step_at(&mut self, opt: &mut (impl Schedulable + ?Sized), epoch: f64) -> Result<()> {
        let mut opt = opt;
        let (mut clock, mut state) = (self.clock, self.state.clone());
        self.rule.advance_to(&mut state, &mut clock, epoch)?;
        self.apply(&mut opt, clock, state, false, false)
    }
}

impl<S: Schedule> DynSchedule for Scheduler<S> {
    fn kind(&self) -> &'static str {
        S::KIND
    }
    fn option_name(&self) -> String {
        self.option.to_string()
    }
    fn step(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
        self.step_dyn(opt)
    }
    fn get_last_lr(&self) -> &[f64] {
        &self.last
    }
    fn group_entries(&self, group: usize) -> Map<'static> {
        Scheduler::group_entries(self, group)
    }
    fn state_dict(&self) -> DictValue<'static> {
        Scheduler::state_dict(self)
    }
    fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
        Scheduler::load_state_dict(self, dict)
    }
    fn clone_box(&self) -> Box<dyn DynSchedule> {
        Box::new(self.clone())
    }
    fn undo(&mut self) {
        self.clock.last_epoch -= 1;
    }
    fn initial_step(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
        self.initial_step_dyn(opt)
    }
    fn restart(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
        let clock = Clock {
            last_epoch: 0,
            ..self.clock
        };
        let state = self.state.clone();
        self.apply(opt, clock, state, false, true)
    }
}
