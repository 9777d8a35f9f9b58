//! ReduceLROnPlateau, as `torch.optim.lr_scheduler.ReduceLROnPlateau`.

use optim_core::schedule::{Entries, Init, MetricSchedule, PerGroup, ScheduleState, Values};
use optim_core::{DictValue, Error, Map, Result, Scope};
use optim_derive::{OptionValue, Schedule};

/// Reduces each group's lr by `factor` when a metric has stopped improving for `patience`
/// steps, as `torch.optim.lr_scheduler.ReduceLROnPlateau`. Step it with the metric:
/// `sched.step(&mut opt, val_loss)?`.
///
/// A metric is better than the best so far when (`rel`) `m < best · (1 − threshold)`
/// (`min`) or `m > best · (1 + threshold)` (`max`), or (`abs`) `m < best − threshold` /
/// `m > best + threshold`. After more than `patience` steps without improvement, each
/// group's lr becomes `max(lr · factor, min_lr)` if that lowers it by more than `eps`; then
/// `cooldown` steps pass before bad steps count again. No construction step.
///
/// | option | default | valid |
/// |---|---|---|
/// | `mode` | `min` | `min`, `max` |
/// | `factor` | 0.1 | < 1 |
/// | `patience` | 10 | |
/// | `threshold` | 1e-4 | finite |
/// | `threshold_mode` | `rel` | `rel`, `abs` |
/// | `cooldown` | 0 | |
/// | `min_lr` | 0 | a number, or one per group |
/// | `eps` | 1e-8 | finite |
///
/// ```
/// use optimizers::lr_scheduler::{ReduceLROnPlateau, ReduceLROnPlateauOptions};
/// use optimizers::{Param, Sgd, SgdOptions, ndarray::array};
///
/// let mut opt = Sgd::new([Param::new(array![1.0f64])], SgdOptions::new().lr(0.1))?;
/// let mut sched = ReduceLROnPlateau::new(&mut opt, ReduceLROnPlateauOptions::new().patience(1))?;
/// for loss in [1.0, 0.9, 0.9, 0.9] {
///     sched.step(&mut opt, loss)?;
/// }
/// assert!((sched.get_last_lr()[0] - 0.01).abs() < 1e-15);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "reducelronplateau", form = metric, state = Plateau)]
pub struct ReduceLROnPlateau {
    /// Whether the metric should decrease (`min`) or increase (`max`).
    #[hyper(default = PlateauMode::Min, invalid("mode {value} is unknown!"))]
    pub mode: PlateauMode,
    /// The factor of a reduction.
    #[hyper(default = 0.1, check(factor < 1.0, "factor should be < 1.0"))]
    pub factor: f64,
    /// The steps without improvement tolerated.
    #[hyper(default = 10)]
    pub patience: u64,
    /// How much better a metric must be to count as an improvement.
    #[hyper(default = 1e-4, finite)]
    pub threshold: f64,
    /// Whether `threshold` is relative or absolute.
    #[hyper(default = ThresholdMode::Rel, invalid("threshold mode {value} is unknown!"))]
    pub threshold_mode: ThresholdMode,
    /// The steps after a reduction during which bad steps do not count.
    #[hyper(default = 0)]
    pub cooldown: u64,
    /// The lowest lr: one for all groups, or one per group.
    #[hyper(default = PerGroup::All(0.0), finite)]
    pub min_lr: PerGroup<f64>,
    /// The smallest reduction made.
    #[hyper(default = 1e-8, finite)]
    pub eps: f64,
}

/// Whether ReduceLROnPlateau's metric should decrease or increase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, OptionValue)]
pub enum PlateauMode {
    /// A loss: lower is better.
    Min,
    /// An accuracy: higher is better.
    Max,
}

/// Whether ReduceLROnPlateau's threshold is relative or absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, OptionValue)]
pub enum ThresholdMode {
    /// `best · (1 ∓ threshold)`.
    Rel,
    /// `best ∓ threshold`.
    Abs,
}

/// ReduceLROnPlateau's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Plateau {
    /// The best metric so far (infinitely bad before the first).
    pub best: f64,
    /// Steps since the last improvement.
    pub num_bad_epochs: u64,
    /// Steps of cooldown left.
    pub cooldown_counter: u64,
}

impl ScheduleState for Plateau {
    const KEYS: &'static [&'static str] = &["best", "cooldown_counter", "num_bad_epochs"];

    fn pack(&self, out: &mut Map<'static>) {
        out.insert("best", self.best);
        out.insert("cooldown_counter", DictValue::Int(self.cooldown_counter as i64));
        out.insert("num_bad_epochs", DictValue::Int(self.num_bad_epochs as i64));
    }

    fn unpack(entries: &Entries<'_, '_>) -> Result<Self> {
        let count = |key: &str| {
            let n = entries.int(key)?;
            u64::try_from(n).map_err(|_| entries.error(key, format!("must not be negative, found {n}")))
        };
        Ok(Plateau {
            best: entries.float("best")?,
            num_bad_epochs: count("num_bad_epochs")?,
            cooldown_counter: count("cooldown_counter")?,
        })
    }
}

const KIND: &str = "reducelronplateau";

impl ReduceLROnPlateau {
    fn is_better(&self, a: f64, best: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }
}

impl MetricSchedule for ReduceLROnPlateau {
    fn check_groups(&self, groups: usize) -> Result<()> {
        match self.min_lr.list_len() {
            Some(n) if n != groups => Err(Error::InvalidOption {
                scope: Scope::Schedule(KIND),
                option: "min_lr",
                message: format!("expected {groups} min_lrs, got {n}"),
            }),
            _ => Ok(()),
        }
    }

    fn init(&mut self, _: &mut Init<'_, '_>) -> Result<Plateau> {
        Ok(Plateau {
            best: match self.mode {
                PlateauMode::Min => f64::INFINITY,
                PlateauMode::Max => f64::NEG_INFINITY,
            },
            num_bad_epochs: 0,
            cooldown_counter: 0,
        })
    }

    fn on_metric(&self, state: &mut Plateau, cx: &mut Values<'_>, metric: f64) -> Result<Vec<f64>> {
        if self.is_better(metric, state.best) {
            state.best = metric;
            state.num_bad_epochs = 0;
        } else {
            state.num_bad_epochs += 1;
        }
        if state.cooldown_counter > 0 {
            state.cooldown_counter -= 1;
            state.num_bad_epochs = 0;
        }
        let mut values = cx.current().to_vec();
        if state.num_bad_epochs > self.patience {
            if let Some(n) = self.min_lr.list_len().filter(|&n| n != values.len()) {
                // torch: a RuntimeError at the first reduction after a group was added.
                return Err(Error::UnscheduledGroup {
                    kind: KIND,
                    group: n.min(values.len()),
                    groups: n,
                });
            }
            let min_lrs = self.min_lr.expand(values.len());
            for (lr, min_lr) in values.iter_mut().zip(min_lrs) {
                let new = (*lr * self.factor).max(min_lr);
                if *lr - new > self.eps {
                    *lr = new;
                }
            }
            state.cooldown_counter = self.cooldown;
            state.num_bad_epochs = 0;
        }
        Ok(values)
    }
}
