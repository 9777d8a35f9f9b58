//! ChainedScheduler, as `torch.optim.lr_scheduler.ChainedScheduler`.

use optim_core::schedule::{Build, BuildSchedule, DynSchedule, OptionPath, Schedulable, atomically};
use optim_core::{DictValue, Error, Map, Result, Scope};

use super::composite::{self, CHILDREN, LAST};

const KIND: &str = "chainedscheduler";

/// Schedules stepped together, each on the value the one before left, as
/// `torch.optim.lr_scheduler.ChainedScheduler`: a warmup factor times a decay, or a
/// schedule of the lr with one of the weight decay.
///
/// The children are built in order (each taking its construction step); the chain takes
/// none of its own. A step steps every child in order, all or none: if one fails, the
/// others' steps are undone too. Its last values are the optimizer's values of the last
/// child's option.
#[derive(Clone, Debug)]
pub struct ChainedScheduler {
    children: Vec<Box<dyn DynSchedule>>,
    last: Vec<f64>,
}

/// A [`ChainedScheduler`] not built yet: a child of another composite.
pub struct ChainedSchedulerBuilder {
    children: Vec<Box<dyn BuildSchedule>>,
}

impl ChainedScheduler {
    /// Builds the children in order on `opt` (torch: `ChainedScheduler(schedulers)`).
    /// Nothing changes on error.
    pub fn new(opt: &mut (impl Schedulable + ?Sized), schedulers: Vec<Box<dyn BuildSchedule>>) -> Result<Self> {
        let mut opt = opt;
        let builder = Self::builder(schedulers);
        Build::run(&mut opt, |cx| builder.build_in(cx))
    }

    /// A ChainedScheduler not built yet, as a child of a composite (`.into()`).
    pub fn builder(schedulers: Vec<Box<dyn BuildSchedule>>) -> ChainedSchedulerBuilder {
        ChainedSchedulerBuilder { children: schedulers }
    }

    /// One step: every child's, in order.
    pub fn step(&mut self, opt: &mut (impl Schedulable + ?Sized)) -> Result<()> {
        let mut opt = opt;
        self.step_dyn(&mut opt)
    }

    fn step_dyn(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
        let mut children = self.children.clone();
        let last = atomically(opt, |journal| {
            for child in &mut children {
                child.step(journal)?;
            }
            read_last(&children, journal)
        })?;
        self.children = children;
        self.last = last;
        Ok(())
    }

    /// The option whose values `get_last_lr` gives (its last child's).
    pub fn option_name(&self) -> String {
        self.children.last().map(|c| c.option_name()).unwrap_or_default()
    }

    /// The values after the last step (torch's `get_last_lr()`).
    pub fn get_last_lr(&self) -> &[f64] {
        &self.last
    }

    /// The children, in order.
    pub fn schedulers(&self) -> &[Box<dyn DynSchedule>] {
        &self.children
    }

    /// The entries torch's children add to `param_groups[group]`.
    pub fn group_entries(&self, group: usize) -> Map<'static> {
        composite::group_entries(&self.children, group)
    }

    /// The state dict: `kind`, `version`, `_last_lr` and the children's under `_schedulers`.
    pub fn state_dict(&self) -> DictValue<'static> {
        let mut map = composite::head(KIND);
        map.insert(LAST, composite::floats(&self.last));
        map.insert(CHILDREN, composite::children_dicts(&self.children));
        DictValue::Map(map)
    }

    /// Loads a state dict, all or nothing.
    pub fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
        let entries = composite::entries(KIND, dict, &[LAST, CHILDREN])?;
        let last = entries.floats(LAST)?;
        let children = composite::load_children(KIND, &self.children, &entries)?;
        *self = ChainedScheduler { children, last };
        Ok(())
    }
}

/// The optimizer's values of the last child's option (torch: `[g["lr"] for g in param_groups]`).
fn read_last(children: &[Box<dyn DynSchedule>], opt: &dyn Schedulable) -> Result<Vec<f64>> {
    let name = children.last().map(|c| c.option_name()).unwrap_or_default();
    let path = OptionPath::parse(&name).ok_or_else(|| Error::InvalidOptions {
        scope: Scope::Schedule(KIND),
        message: format!("the last scheduler drives {name:?}, which is not an option"),
    })?;
    (0..opt.num_groups()).map(|g| path.read(opt, g)).collect()
}

impl ChainedSchedulerBuilder {
    fn build_in(self, cx: &mut Build<'_>) -> Result<ChainedScheduler> {
        if self.children.is_empty() {
            return Err(Error::InvalidOptions {
                scope: Scope::Schedule(KIND),
                message: "ChainedScheduler expects at least one scheduler to be chained, but got no scheduler".into(),
            });
        }
        let mut children = Vec::with_capacity(self.children.len());
        for child in self.children {
            children.push(cx.build(child)?);
        }
        let last = read_last(&children, cx.target())?;
        Ok(ChainedScheduler { children, last })
    }
}

impl BuildSchedule for ChainedSchedulerBuilder {
    fn build_boxed(self: Box<Self>, cx: &mut Build<'_>) -> Result<Box<dyn DynSchedule>> {
        Ok(Box::new(self.build_in(cx)?))
    }
}

impl From<ChainedSchedulerBuilder> for Box<dyn BuildSchedule> {
    fn from(builder: ChainedSchedulerBuilder) -> Self {
        Box::new(builder)
    }
}

composite::composite_schedule!(ChainedScheduler, "ChainedScheduler");
