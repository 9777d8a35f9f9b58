//! SequentialLR, as `torch.optim.lr_scheduler.SequentialLR`.

use optim_core::schedule::{Build, BuildSchedule, DynSchedule, OptionPath, Schedulable};
use optim_core::{DictValue, Error, Map, Result, Scope};

use super::composite::{self, CHILDREN, LAST};
use super::support::bisect_right;

const KIND: &str = "sequentiallr";
const MILESTONES: &str = "_milestones";
const LAST_EPOCH: &str = "last_epoch";

/// Schedules one after the other, switching at milestones, as
/// `torch.optim.lr_scheduler.SequentialLR`: warmup then decay, or three stages.
///
/// The children are built first, in order, on the optimizer (each taking its construction
/// step, as torch's are constructed before the SequentialLR); then each group's lr is set
/// back to its initial lr, every child goes one epoch back, and the first child takes its
/// construction step again. At a milestone the next child *restarts*: back to epoch 0, by
/// its closed form when it has one (from its base lrs: an ExponentialLR or StepLR restarts at
/// the initial lr, whatever the lr was), else by its `get_lr` (LambdaLR: `base_lr · f(0)`).
///
/// ```
/// use optimizers::lr_scheduler::{CosineAnnealingLR, CosineAnnealingLROptions, LinearLR, LinearLROptions, SequentialLR};
/// use optimizers::{Param, Sgd, SgdOptions, ndarray::array};
///
/// let mut opt = Sgd::new([Param::new(array![1.0f64])], SgdOptions::new().lr(0.1))?;
/// let warmup = LinearLR::builder(LinearLROptions::new().start_factor(0.1).total_iters(5));
/// let decay = CosineAnnealingLR::builder(CosineAnnealingLROptions::new().t_max(95));
/// let mut sched = SequentialLR::new(&mut opt, vec![warmup.into(), decay.into()], [5])?;
/// for _ in 0..100 {
///     // ... opt.step()? ...
///     sched.step(&mut opt)?;
/// }
/// assert!(sched.get_last_lr()[0] < 1e-3);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SequentialLR {
    children: Vec<Box<dyn DynSchedule>>,
    milestones: Vec<u64>,
    last_epoch: i64,
    last: Vec<f64>,
}

/// A [`SequentialLR`] not built yet: a child of another composite.
pub struct SequentialLRBuilder {
    children: Vec<Box<dyn BuildSchedule>>,
    milestones: Vec<u64>,
}

impl SequentialLR {
    /// Builds the children in order on `opt`, then the SequentialLR (torch:
    /// `SequentialLR(optimizer, schedulers, milestones)`). Nothing changes on error.
    pub fn new(
        opt: &mut (impl Schedulable + ?Sized),
        schedulers: Vec<Box<dyn BuildSchedule>>,
        milestones: impl Into<Vec<u64>>,
    ) -> Result<Self> {
        let mut opt = opt;
        let builder = Self::builder(schedulers, milestones);
        Build::run(&mut opt, |cx| builder.build_in(cx))
    }

    /// A SequentialLR not built yet, as a child of a composite (`.into()`).
    pub fn builder(schedulers: Vec<Box<dyn BuildSchedule>>, milestones: impl Into<Vec<u64>>) -> SequentialLRBuilder {
        SequentialLRBuilder {
            children: schedulers,
            milestones: milestones.into(),
        }
    }

    /// One step (torch's `scheduler.step()`): the child of the current stage steps, or, at a
    /// milestone, the next child restarts.
    pub fn step(&mut self, opt: &mut (impl Schedulable + ?Sized)) -> Result<()> {
        let mut opt = opt;
        self.step_dyn(&mut opt)
    }

    fn step_dyn(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
        let epoch = self.last_epoch + 1;
        let stage = bisect_right(&self.milestones, epoch);
        let child = &mut self.children[stage];
        if stage > 0 && self.milestones[stage - 1] as i64 == epoch {
            child.restart(opt)?;
        } else {
            child.step(opt)?;
        }
        self.last = child.get_last_lr().to_vec();
        self.last_epoch = epoch;
        Ok(())
    }

    /// The option it drives (its first child's).
    pub fn option_name(&self) -> String {
        self.children[0].option_name()
    }

    /// The values of the last step (torch's `get_last_lr()`: the current stage's).
    pub fn get_last_lr(&self) -> &[f64] {
        &self.last
    }

    /// The children, in order.
    pub fn schedulers(&self) -> &[Box<dyn DynSchedule>] {
        &self.children
    }

    /// The milestones.
    pub fn milestones(&self) -> &[u64] {
        &self.milestones
    }

    /// torch's `last_epoch`.
    pub fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    /// The entries torch's children add to `param_groups[group]` (`initial_lr`, ...).
    pub fn group_entries(&self, group: usize) -> Map<'static> {
        composite::group_entries(&self.children, group)
    }

    /// The state dict: `kind`, `version`, `_milestones`, `last_epoch`, `_last_lr` and the
    /// children's state dicts under `_schedulers` (torch's layout).
    pub fn state_dict(&self) -> DictValue<'static> {
        let mut map = composite::head(KIND);
        map.insert(
            MILESTONES,
            DictValue::List(self.milestones.iter().map(|&m| DictValue::Int(m as i64)).collect()),
        );
        map.insert(LAST_EPOCH, DictValue::Int(self.last_epoch));
        map.insert(LAST, composite::floats(&self.last));
        map.insert(CHILDREN, composite::children_dicts(&self.children));
        DictValue::Map(map)
    }

    /// Loads a state dict: every entry and every child's state dict checked before anything
    /// changes.
    pub fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
        let entries = composite::entries(KIND, dict, &[MILESTONES, LAST_EPOCH, LAST, CHILDREN])?;
        let milestones = entries
            .floats(MILESTONES)?
            .into_iter()
            .map(|m| (m >= 0.0 && m.fract() == 0.0).then_some(m as u64))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| entries.error(MILESTONES, "must be a list of epochs".into()))?;
        if milestones.len() + 1 != self.children.len() {
            return Err(entries.error(
                MILESTONES,
                format!(
                    "has {} milestone(s) but this SequentialLR has {} schedulers",
                    milestones.len(),
                    self.children.len()
                ),
            ));
        }
        let last_epoch = entries.int(LAST_EPOCH)?;
        let last = entries.floats(LAST)?;
        let children = composite::load_children(KIND, &self.children, &entries)?;
        *self = SequentialLR {
            children,
            milestones,
            last_epoch,
            last,
        };
        Ok(())
    }
}

impl SequentialLRBuilder {
    fn build_in(self, cx: &mut Build<'_>) -> Result<SequentialLR> {
        let scope = Scope::Schedule(KIND);
        let (n, m) = (self.children.len(), self.milestones.len());
        if n == 0 {
            return Err(Error::InvalidOptions {
                scope,
                message: "SequentialLR expects at least one scheduler, but got no scheduler".into(),
            });
        }
        if m + 1 != n {
            return Err(Error::InvalidOptions {
                scope,
                message: format!(
                    "sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers {n} and the number of milestones to be equal to {m}"
                ),
            });
        }
        let mut children = Vec::with_capacity(n);
        for child in self.children {
            children.push(cx.build(child)?);
        }
        if let Some(i) = children.iter().skip(1).position(|c| !c.can_restart()) {
            return Err(Error::InvalidOptions {
                scope,
                message: format!(
                    "the scheduler at index {} is a composite, which cannot restart at its milestone (torch raises NotImplementedError there): put it first, or flatten it",
                    i + 1
                ),
            });
        }
        // torch: every group's lr back to its `initial_lr`, ...
        let mut options: Vec<String> = children.iter().map(|c| c.option_name()).collect();
        options.sort();
        options.dedup();
        for name in options {
            let Some(path) = OptionPath::parse(&name) else { continue };
            let initial: Vec<Option<f64>> = cx.initial(&name).map(<[_]>::to_vec).unwrap_or_default();
            for (g, x) in initial.into_iter().enumerate() {
                if let Some(x) = x {
                    path.write(cx.target(), g, x)?;
                }
            }
        }
        // ... every child one epoch back, and the first child's construction step again.
        for child in &mut children {
            child.undo();
        }
        children[0].initial_step(cx.target())?;
        let last = children[0].get_last_lr().to_vec();
        Ok(SequentialLR {
            children,
            milestones: self.milestones,
            last_epoch: 0,
            last,
        })
    }
}

impl BuildSchedule for SequentialLRBuilder {
    fn build_boxed(self: Box<Self>, cx: &mut Build<'_>) -> Result<Box<dyn DynSchedule>> {
        Ok(Box::new(self.build_in(cx)?))
    }
}

impl From<SequentialLRBuilder> for Box<dyn BuildSchedule> {
    fn from(builder: SequentialLRBuilder) -> Self {
        Box::new(builder)
    }
}

composite::composite_schedule!(SequentialLR, "SequentialLR");
