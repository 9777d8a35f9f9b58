//! Every key of `#[derive(Schedule)]` and every option type a bundled schedule uses, in a
//! crate that names the library under another name, with warnings denied.
#![deny(warnings, missing_docs)]

use optimizers as renamed;
use renamed::lr_scheduler::{
    Clock, Entries, Lambda, MetricSchedule, PerGroup, Schedule, ScheduleState, Values,
};
use renamed::{DictValue, Map, Param, Result, Sgd, SgdOptions, ndarray::array};

/// Warmup, then a halving every `every` epochs, with a floor per group.
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(
    crate = renamed,
    kind = "halving",
    version = 2,
    options = HalvingSettings,
    state = Halvings,
    check(warmup < every, "warmup ({warmup}) must end before the first halving ({every})")
)]
pub struct Halving {
    /// Epochs of linear warmup.
    #[hyper(default = 0)]
    pub warmup: u64,
    /// Epochs between halvings.
    #[hyper(required, range(1.., "every must be positive, got {every}"), invalid("every must be an integer, got {value}"))]
    pub every: u64,
    /// The lowest lr, per group.
    #[hyper(default = PerGroup::All(0.0), finite, rename = "min_lrs")]
    pub floor: PerGroup<f64>,
    /// A factor of the epoch, if any.
    #[hyper(default = Lambda::default())]
    pub factor: Lambda,
    /// Unused here: an optional number.
    #[hyper(default = None, check(cap.is_none_or(|c| c > 0.0)))]
    pub cap: Option<f64>,
}

/// The number of halvings so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Halvings(pub u64);

impl ScheduleState for Halvings {
    const KEYS: &'static [&'static str] = &["halvings"];
    fn pack(&self, out: &mut Map<'static>) {
        out.insert("halvings", DictValue::Int(self.0 as i64));
    }
    fn unpack(entries: &Entries<'_, '_>) -> Result<Self> {
        Ok(Halvings(entries.int("halvings")? as u64))
    }
}

impl Schedule for Halving {
    fn advance(&self, state: &mut Halvings, clock: &mut Clock) {
        clock.step_count += 1;
        clock.last_epoch += 1;
        if clock.last_epoch > 0 && clock.last_epoch as u64 % self.every == 0 {
            state.0 += 1;
        }
    }

    fn values(&self, state: &Halvings, cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let e = cx.epoch() as u64;
        let warm = if e < self.warmup { (e + 1) as f64 / self.warmup as f64 } else { 1.0 };
        let f = if self.factor.is_function() { self.factor.call(e) } else { 1.0 };
        let halving = 0.5f64.powf(state.0 as f64);
        Ok(cx.map_base(|g, base| (base * warm * halving * f).max(*self.floor.get(g).unwrap_or(&0.0))))
    }
}

/// Halves the lr when a metric rises.
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(crate = renamed, form = metric)]
pub struct HalveOnRise {
    /// The factor.
    #[hyper(default = 0.5, range(0.0..1.0))]
    pub factor: f64,
}

impl MetricSchedule for HalveOnRise {
    fn on_metric(&self, _: &mut (), cx: &mut Values<'_>, metric: f64) -> Result<Vec<f64>> {
        Ok(cx.map_current(|_, lr| if metric > 1.0 { lr * self.factor } else { lr }))
    }
}

fn main() -> Result<()> {
    let mut opt = Sgd::new([Param::new(array![1.0f64])], SgdOptions::new().lr(0.1))?;
    let mut sched = Halving::new(&mut opt, HalvingSettings::new().warmup(2).every(4).floor(0.01))?;
    for _ in 0..12 {
        sched.step(&mut opt)?;
    }
    assert_eq!(sched.state().0, 3);
    let saved = sched.state_dict();
    sched.load_state_dict(&saved)?;
    let mut plateau = HalveOnRise::new(&mut opt, HalveOnRiseOptions::new())?;
    plateau.step(&mut opt, 2.0)?;
    Ok(())
}
