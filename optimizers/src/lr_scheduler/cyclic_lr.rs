//! CyclicLR, as `torch.optim.lr_scheduler.CyclicLR`.

use optim_core::schedule::{Entries, Init, Lambda, PerGroup, Schedule, ScheduleState, Values};
use optim_core::{Map, Result};
use optim_derive::{OptionValue, Schedule};

use super::support::{check_len, epoch_arg, momentum_entries, momentum_path, start_momentum};

/// Cycles each group's lr between `base_lr` and `max_lr` (and the momentum inversely, between
/// `max_momentum` and `base_momentum`), as `torch.optim.lr_scheduler.CyclicLR`:
///
/// ```text
/// cycle = ⌊1 + e / (up + down)⌋,  x = 1 + e / (up + down) − cycle
/// s = x / r  if x ≤ r  else  (x − 1) / (r − 1),   r = up / (up + down)
/// lr       = base_lr + (max_lr − base_lr) · s · f(a)
/// momentum = max_momentum − (max_momentum − base_momentum) · s · f(a)
/// ```
///
/// with `f` the scale function (`triangular`: 1, `triangular2`: `1 / 2^(cycle − 1)`,
/// `exp_range`: `γ^e`, or `scale_fn`) of `a` = the cycle or the epoch (`scale_mode`). Not
/// chainable. Building sets each group's lr to its `base_lr` and, with `cycle_momentum`, its
/// momentum (SGD's `momentum`, or Adam's `betas[0]`) to its `max_momentum`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `base_lr` | required | a number or one per group |
/// | `max_lr` | required | a number or one per group |
/// | `step_size_up` | 2000 | ≥ 1 |
/// | `step_size_down` | `step_size_up` | |
/// | `mode` | `triangular` | `triangular`, `triangular2`, `exp_range` |
/// | `gamma` | 1 | finite |
/// | `scale_fn` | none | a function (then `mode` is not used) |
/// | `scale_mode` | `cycle` | `cycle`, `iterations` (for `scale_fn` only; the modes have their own) |
/// | `cycle_momentum` | true | needs an optimizer with `momentum` or `betas` |
/// | `base_momentum` | 0.8 | a number or one per group |
/// | `max_momentum` | 0.9 | a number or one per group |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "cycliclr", state = CyclicState)]
pub struct CyclicLR {
    /// The lower lr of the cycle.
    #[hyper(required, finite)]
    pub base_lr: PerGroup<f64>,
    /// The upper lr of the cycle.
    #[hyper(required, finite)]
    pub max_lr: PerGroup<f64>,
    /// The epochs (batches) from `base_lr` to `max_lr`.
    #[hyper(default = 2000, range(1.., "step_size_up must be a positive integer, but got {step_size_up}"))]
    pub step_size_up: u64,
    /// The epochs back down (`step_size_up` when none).
    #[hyper(default = None)]
    pub step_size_down: Option<u64>,
    /// The scale function, when `scale_fn` is none.
    #[hyper(default = CyclicMode::Triangular, invalid("mode is invalid and scale_fn is None"))]
    pub mode: CyclicMode,
    /// `exp_range`'s base.
    #[hyper(default = 1.0, finite)]
    pub gamma: f64,
    /// A scale function of the cycle or the epoch, replacing `mode`'s.
    #[hyper(default = Lambda::default())]
    pub scale_fn: Lambda,
    /// What `scale_fn` is a function of (the built-in modes choose their own).
    #[hyper(default = ScaleMode::Cycle)]
    pub scale_mode: ScaleMode,
    /// Whether to cycle the momentum inversely.
    #[hyper(default = true)]
    pub cycle_momentum: bool,
    /// The momentum at the lr's peak.
    #[hyper(default = PerGroup::All(0.8), finite)]
    pub base_momentum: PerGroup<f64>,
    /// The momentum at the lr's low.
    #[hyper(default = PerGroup::All(0.9), finite)]
    pub max_momentum: PerGroup<f64>,
}

/// CyclicLR's built-in scale functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, OptionValue)]
pub enum CyclicMode {
    /// No scaling.
    Triangular,
    /// The amplitude halves at every cycle.
    Triangular2,
    /// The amplitude is scaled by `gamma^epoch`.
    ExpRange,
}

/// What CyclicLR's scale function is a function of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, OptionValue)]
pub enum ScaleMode {
    /// The cycle number, from 1.
    Cycle,
    /// The epoch (batch) count.
    Iterations,
}

/// What CyclicLR keeps: whether it cycles Adam's β₁ rather than a `momentum`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CyclicState {
    /// torch's `use_beta1` (absent without `cycle_momentum`).
    pub use_beta1: Option<bool>,
}

impl ScheduleState for CyclicState {
    const KEYS: &'static [&'static str] = &["use_beta1"];

    fn pack(&self, out: &mut Map<'static>) {
        if let Some(b) = self.use_beta1 {
            out.insert("use_beta1", b);
        }
    }

    fn unpack(entries: &Entries<'_, '_>) -> Result<Self> {
        Ok(CyclicState {
            use_beta1: if entries.contains("use_beta1") {
                Some(entries.bool("use_beta1")?)
            } else {
                None
            },
        })
    }
}

const KIND: &str = "cycliclr";

impl CyclicLR {
    fn scale(&self, x: u64) -> f64 {
        if self.scale_fn.is_function() {
            return self.scale_fn.call(x);
        }
        match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(x as f64 - 1.0),
            CyclicMode::ExpRange => self.gamma.powf(x as f64),
        }
    }
}

impl Schedule for CyclicLR {
    fn check_groups(&self, groups: usize) -> Result<()> {
        check_len(KIND, "base_lr", &self.base_lr, groups)?;
        check_len(KIND, "max_lr", &self.max_lr, groups)?;
        if self.cycle_momentum {
            check_len(KIND, "base_momentum", &self.base_momentum, groups)?;
            check_len(KIND, "max_momentum", &self.max_momentum, groups)?;
        }
        Ok(())
    }

    fn init(&mut self, cx: &mut Init<'_, '_>) -> Result<CyclicState> {
        let groups = cx.groups();
        let base = self.base_lr.expand(groups);
        let option = cx.option().clone();
        for (g, &lr) in base.iter().enumerate() {
            cx.write(g, &option, lr)?;
        }
        if !self.scale_fn.is_function() {
            // torch's `_init_scale_fn`: the built-in modes have their own scale mode.
            self.scale_mode = match self.mode {
                CyclicMode::Triangular | CyclicMode::Triangular2 => ScaleMode::Cycle,
                CyclicMode::ExpRange => ScaleMode::Iterations,
            };
        }
        let use_beta1 = if self.cycle_momentum {
            Some(start_momentum(KIND, cx, &self.max_momentum)?)
        } else {
            None
        };
        cx.rebase_after_initial_step(base);
        Ok(CyclicState { use_beta1 })
    }

    fn values(&self, state: &CyclicState, cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let up = self.step_size_up as f64;
        let total = up + self.step_size_down.map_or(up, |d| d as f64);
        let ratio = up / total;
        let e = cx.epoch();
        let cycle = (1.0 + e as f64 / total).floor();
        let x = 1.0 + e as f64 / total - cycle;
        let s = if x <= ratio {
            x / ratio
        } else {
            (x - 1.0) / (ratio - 1.0)
        };
        let f = self.scale(match self.scale_mode {
            ScaleMode::Cycle => cycle as u64,
            ScaleMode::Iterations => epoch_arg(e),
        });
        let groups = cx.base().len();
        let max_lr = self.max_lr.expand(groups);
        let lrs = cx.map_base(|g, base| base + (max_lr[g] - base) * s * f);
        if let Some(beta1) = state.use_beta1 {
            let path = momentum_path(beta1);
            let (low, high) = (self.base_momentum.expand(groups), self.max_momentum.expand(groups));
            for g in 0..groups.min(cx.groups()) {
                cx.write(g, &path, high[g] - (high[g] - low[g]) * s * f);
            }
        }
        Ok(lrs)
    }

    fn group_entries(&self, state: &CyclicState, group: usize, out: &mut Map<'static>) {
        if state.use_beta1.is_some() {
            momentum_entries(&self.max_momentum, &self.base_momentum, group, out);
        }
    }
}
