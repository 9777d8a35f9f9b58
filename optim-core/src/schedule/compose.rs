//! Building schedules, alone or as parts of a composite: [`Builder`] (a schedule's options
//! and the option it drives), [`Build`] (what the schedules built together share: the
//! optimizer, through a journal, and torch's `initial_lr` of each group), and the
//! object-safe [`DynSchedule`] that composites (SequentialLR, ChainedScheduler) hold.

use std::collections::BTreeMap;
use std::fmt::Debug;

use crate::dict::{DictValue, Map};
use crate::error::{Error, Result, Scope};
use crate::schedule::rule::{Engine, ScheduleRule};
use crate::schedule::target::{OptionPath, Schedulable, atomically};

/// Any schedule stepped without a metric, behind a pointer: what composites hold.
///
/// Besides a user's `step`, it has the three operations torch's `SequentialLR` performs on
/// its children: [`undo`](DynSchedule::undo) (`recursive_undo`), [`initial_step`](DynSchedule::initial_step)
/// (`_initial_step`) and [`restart`](DynSchedule::restart) (`_update_lr(0)`).
pub trait DynSchedule: Debug + Send + Sync {
    /// The schedule's kind (`"steplr"`).
    fn kind(&self) -> &'static str;
    /// The option it drives (`"lr"`).
    fn option_name(&self) -> String;
    /// One step (torch's `scheduler.step()`).
    fn step(&mut self, opt: &mut dyn Schedulable) -> Result<()>;
    /// The values of the last step (torch's `get_last_lr()`).
    fn get_last_lr(&self) -> &[f64];
    /// The entries torch's scheduler adds to `param_groups[group]` (`initial_lr`, ...).
    fn group_entries(&self, group: usize) -> Map<'static>;
    /// The state dict: a tree ([`DictValue::Map`]).
    fn state_dict(&self) -> DictValue<'static>;
    /// Loads a state dict; nothing changes on error.
    fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()>;
    /// A copy (to undo a composite's step that fails halfway).
    fn clone_box(&self) -> Box<dyn DynSchedule>;
    /// torch's `recursive_undo`: one epoch back, for a schedule whose construction step a
    /// SequentialLR undoes (a composite undoes its children).
    fn undo(&mut self);
    /// torch's `_initial_step`: the constructor's step, taken again.
    fn initial_step(&mut self, opt: &mut dyn Schedulable) -> Result<()>;
    /// torch's `_update_lr(0)`: back to epoch 0, by the closed form if the schedule has one.
    fn restart(&mut self, opt: &mut dyn Schedulable) -> Result<()>;
    /// Whether [`restart`](DynSchedule::restart) is possible (not for composites: torch
    /// raises `NotImplementedError`).
    fn can_restart(&self) -> bool {
        true
    }
}

impl Clone for Box<dyn DynSchedule> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A schedule not built yet: what composites take as children, built in order on the
/// composite's optimizer (each taking its construction step, as torch's children have).
pub trait BuildSchedule: Send {
    /// Builds it within `cx`.
    fn build_boxed(self: Box<Self>, cx: &mut Build<'_>) -> Result<Box<dyn DynSchedule>>;
}

/// What schedules built together share: the optimizer (seen through the journal that undoes
/// everything if one of them fails) and torch's `initial_lr` of each group, per scheduled
/// option (set by the first schedule built, kept by the next: torch's `setdefault`).
pub struct Build<'a> {
    target: &'a mut dyn Schedulable,
    initial: BTreeMap<String, Vec<Option<f64>>>,
}

impl<'a> Build<'a> {
    /// Runs `f` on `opt` within a fresh `Build`; if it fails, every option it changed is put
    /// back.
    pub fn run<T>(opt: &mut dyn Schedulable, f: impl FnOnce(&mut Build<'_>) -> Result<T>) -> Result<T> {
        atomically(opt, |journal| {
            let mut cx = Build {
                target: journal,
                initial: BTreeMap::new(),
            };
            f(&mut cx)
        })
    }

    /// The optimizer.
    pub fn target(&mut self) -> &mut dyn Schedulable {
        &mut *self.target
    }

    /// The optimizer, to read.
    pub fn view(&self) -> &dyn Schedulable {
        &*self.target
    }

    /// Builds a child schedule.
    pub fn build(&mut self, child: Box<dyn BuildSchedule>) -> Result<Box<dyn DynSchedule>> {
        child.build_boxed(self)
    }

    /// Each group's initial value of `option` (torch's `initial_lr`), as far as known.
    pub fn initial(&self, option: &str) -> Option<&[Option<f64>]> {
        self.initial.get(option).map(Vec::as_slice)
    }

    /// The initial values of `option`, one slot per group.
    pub(crate) fn initial_table(&mut self, option: &OptionPath, groups: usize) -> &mut Vec<Option<f64>> {
        let table = self.initial.entry(option.to_string()).or_default();
        if table.len() < groups {
            table.resize(groups, None);
        }
        table
    }
}

/// A schedule's options and the option it drives, not built yet (`StepLR::builder(options)`).
/// [`build`](Builder::build) builds it on an optimizer; as a `Box<dyn BuildSchedule>`
/// (`.into()`) it is a child of a composite.
pub struct Builder<S: ScheduleRule> {
    options: S::Options,
    option: String,
    initial: Option<Vec<f64>>,
}

impl<S: ScheduleRule> Debug for Builder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &S::KIND)
            .field("options", &self.options)
            .field("option", &self.option)
            .field("initial", &self.initial)
            .finish()
    }
}

impl<S: ScheduleRule> Builder<S> {
    /// A schedule with `options` over its defaults, driving `lr`.
    pub fn new(options: S::Options) -> Self {
        Builder {
            options,
            option: "lr".into(),
            initial: None,
        }
    }

    /// Drives another option than `lr`: any number among the optimizer's options
    /// (`"weight_decay"`, `"momentum"`, `"betas[0]"`).
    #[must_use]
    pub fn option(mut self, name: impl Into<String>) -> Self {
        self.option = name.into();
        self
    }

    /// Each group's initial value of the option (torch's `initial_lr`), when it is not the
    /// current one. torch keeps `initial_lr` in the param groups, so that a second scheduler
    /// built on the same optimizer starts from the first's initial lrs, not from the current
    /// ones: here, say so with `.initial(first.base_lrs())`. (The children of a composite
    /// share theirs without it.)
    #[must_use]
    pub fn initial(mut self, values: impl Into<Vec<f64>>) -> Self {
        self.initial = Some(values.into());
        self
    }

    /// Builds the schedule on `opt`, taking torch's construction step. Nothing changes on
    /// error.
    pub fn build(self, opt: &mut (impl Schedulable + ?Sized)) -> Result<S::Scheduler> {
        let mut opt = opt;
        Build::run(&mut opt, |cx| self.build_in(cx))
    }

    /// Builds the schedule within `cx` (as part of a composite).
    pub fn build_in(self, cx: &mut Build<'_>) -> Result<S::Scheduler> {
        let scope = Scope::Schedule(S::KIND);
        let rule = S::complete(&S::defaults(&self.options))
            .map_err(|option| Error::MissingScheduleOption { kind: S::KIND, option })?;
        rule.validate(scope)?;
        let option = OptionPath::parse(&self.option).ok_or_else(|| Error::InvalidOption {
            scope,
            option: "option",
            message: format!(
                "a schedule drives an option (`lr`) or an item of one (`betas[0]`), not {:?}",
                self.option
            ),
        })?;
        if let Some(values) = self.initial {
            let groups = cx.view().num_groups();
            let table = cx.initial_table(&option, groups);
            for (slot, x) in table.iter_mut().zip(values) {
                slot.get_or_insert(x);
            }
        }
        S::Scheduler::build(rule, option, cx)
    }
}

impl<S: ScheduleRule> BuildSchedule for Builder<S>
where
    S::Scheduler: DynSchedule + 'static,
{
    fn build_boxed(self: Box<Self>, cx: &mut Build<'_>) -> Result<Box<dyn DynSchedule>> {
        Ok(Box::new(self.build_in(cx)?))
    }
}

impl<S: ScheduleRule> From<Builder<S>> for Box<dyn BuildSchedule>
where
    S::Scheduler: DynSchedule + 'static,
{
    fn from(builder: Builder<S>) -> Self {
        Box::new(builder)
    }
}
