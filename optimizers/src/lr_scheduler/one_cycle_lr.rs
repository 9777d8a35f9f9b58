//! OneCycleLR, as `torch.optim.lr_scheduler.OneCycleLR`.

use std::f64::consts::PI;

use optim_core::schedule::{Init, PerGroup, Schedule, Values};
use optim_core::{Error, Map, Result};
use optim_derive::Schedule;

use super::cyclic_lr::CyclicState;
use super::support::{AnnealStrategy, check_len, momentum_entries, momentum_path, start_momentum};

/// The 1cycle policy, as `torch.optim.lr_scheduler.OneCycleLR`: from `max_lr / div_factor`
/// up to `max_lr` over the first `pct_start` of the steps, then down to
/// `max_lr / div_factor / final_div_factor` (or, with `three_phase`, back to the initial lr
/// and then down), annealed by cosine or linearly; the momentum goes the other way between
/// `max_momentum` and `base_momentum`. Not chainable.
///
/// The phases end at `pct_start · total − 1`, (`2 · pct_start · total − 2`,) and
/// `total − 1`; as in torch, step `total` is allowed (it extrapolates past the end) and
/// step `total + 1` is an error ([`Error::ScheduleFinished`]).
///
/// | option | default | valid |
/// |---|---|---|
/// | `max_lr` | required | a number or one per group |
/// | `total_steps` | none | ≥ 1; or `epochs` × `steps_per_epoch` |
/// | `epochs`, `steps_per_epoch` | none | ≥ 1 |
/// | `pct_start` | 0.3 | in [0, 1] |
/// | `anneal_strategy` | `cos` | `cos`, `linear` |
/// | `cycle_momentum` | true | needs an optimizer with `momentum` or `betas` |
/// | `base_momentum` | 0.85 | a number or one per group |
/// | `max_momentum` | 0.95 | a number or one per group |
/// | `div_factor` | 25 | finite |
/// | `final_div_factor` | 1e4 | finite |
/// | `three_phase` | false | |
///
/// Building sets each group's `initial_lr` to `max_lr / div_factor` (the base value) and its
/// momentum to `max_momentum`; `total_steps` is then always set (from `epochs` ×
/// `steps_per_epoch` if it was not).
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(
    kind = "onecyclelr",
    state = CyclicState,
    check(
        total_steps.is_some() || (epochs.is_some() && steps_per_epoch.is_some()),
        "you must define either total_steps OR (epochs AND steps_per_epoch)"
    )
)]
pub struct OneCycleLR {
    /// The peak lr.
    #[hyper(required, finite)]
    pub max_lr: PerGroup<f64>,
    /// The number of steps of the cycle.
    #[hyper(
        default = None,
        check(total_steps != Some(0), "expected positive integer total_steps, but got 0"),
        invalid("expected positive integer total_steps, but got {value}")
    )]
    pub total_steps: Option<u64>,
    /// The number of epochs (with `steps_per_epoch`, when `total_steps` is none).
    #[hyper(
        default = None,
        check(total_steps.is_some() || epochs != Some(0), "expected positive integer epochs, but got 0"),
        invalid("expected positive integer epochs, but got {value}")
    )]
    pub epochs: Option<u64>,
    /// The number of steps per epoch.
    #[hyper(
        default = None,
        check(
            total_steps.is_some() || steps_per_epoch != Some(0),
            "expected positive integer steps_per_epoch, but got 0"
        ),
        invalid("expected positive integer steps_per_epoch, but got {value}")
    )]
    pub steps_per_epoch: Option<u64>,
    /// The fraction of the cycle spent increasing the lr.
    #[hyper(
        default = 0.3,
        range(0.0..=1.0, "expected float between 0 and 1 pct_start, but got {pct_start:?}"),
        invalid("expected float between 0 and 1 pct_start, but got {value}")
    )]
    pub pct_start: f64,
    /// Cosine or linear annealing.
    #[hyper(
        default = AnnealStrategy::Cos,
        invalid("anneal_strategy must be one of 'cos' or 'linear', instead got {value}")
    )]
    pub anneal_strategy: AnnealStrategy,
    /// Whether to cycle the momentum inversely.
    #[hyper(default = true)]
    pub cycle_momentum: bool,
    /// The momentum at the lr's peak.
    #[hyper(default = PerGroup::All(0.85), finite)]
    pub base_momentum: PerGroup<f64>,
    /// The momentum at the start and the end.
    #[hyper(default = PerGroup::All(0.95), finite)]
    pub max_momentum: PerGroup<f64>,
    /// The initial lr is `max_lr / div_factor`.
    #[hyper(default = 25.0, finite)]
    pub div_factor: f64,
    /// The final lr is the initial lr divided by this.
    #[hyper(default = 1e4, finite)]
    pub final_div_factor: f64,
    /// Three phases (up, back down to the initial lr, then down to the final one) instead
    /// of two.
    #[hyper(default = false)]
    pub three_phase: bool,
}

const KIND: &str = "onecyclelr";

/// Which of a group's values a phase starts or ends at.
#[derive(Clone, Copy)]
enum Level {
    Initial,
    Max,
    Min,
}

/// One phase of the cycle: where it ends, and the lr and momentum at its two ends.
struct Phase {
    end_step: f64,
    lr: (Level, Level),
    momentum: (bool, bool),
}

impl OneCycleLR {
    fn total(&self) -> u64 {
        self.total_steps.unwrap_or_else(|| {
            self.epochs
                .unwrap_or(0)
                .saturating_mul(self.steps_per_epoch.unwrap_or(0))
        })
    }

    /// torch's `_schedule_phases` (momentum: `true` for `max_momentum`).
    fn phases(&self) -> Vec<Phase> {
        let total = self.total();
        let first = self.pct_start * total as f64 - 1.0;
        let last = (total as f64) - 1.0;
        if self.three_phase {
            vec![
                Phase {
                    end_step: first,
                    lr: (Level::Initial, Level::Max),
                    momentum: (true, false),
                },
                Phase {
                    end_step: 2.0 * self.pct_start * total as f64 - 2.0,
                    lr: (Level::Max, Level::Initial),
                    momentum: (false, true),
                },
                Phase {
                    end_step: last,
                    lr: (Level::Initial, Level::Min),
                    momentum: (true, true),
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: first,
                    lr: (Level::Initial, Level::Max),
                    momentum: (true, false),
                },
                Phase {
                    end_step: last,
                    lr: (Level::Max, Level::Min),
                    momentum: (false, true),
                },
            ]
        }
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        match self.anneal_strategy {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

impl Schedule for OneCycleLR {
    fn check_groups(&self, groups: usize) -> Result<()> {
        check_len(KIND, "max_lr", &self.max_lr, groups)?;
        if self.cycle_momentum {
            check_len(KIND, "max_momentum", &self.max_momentum, groups)?;
            check_len(KIND, "base_momentum", &self.base_momentum, groups)?;
        }
        Ok(())
    }

    fn init(&mut self, cx: &mut Init<'_, '_>) -> Result<CyclicState> {
        self.total_steps = Some(self.total());
        for (g, max_lr) in self.max_lr.expand(cx.groups()).into_iter().enumerate() {
            cx.set_initial(g, max_lr / self.div_factor);
        }
        let use_beta1 = if self.cycle_momentum {
            Some(start_momentum(KIND, cx, &self.max_momentum)?)
        } else {
            None
        };
        Ok(CyclicState { use_beta1 })
    }

    fn values(&self, state: &CyclicState, cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let (step, total) = (cx.epoch(), self.total());
        if step > total as i64 {
            return Err(Error::ScheduleFinished {
                kind: KIND,
                step,
                total,
            });
        }
        let phases = self.phases();
        let groups = cx.base().len().min(cx.groups());
        let (max_lr, high, low) = (
            self.max_lr.expand(groups),
            self.max_momentum.expand(groups),
            self.base_momentum.expand(groups),
        );
        let path = state.use_beta1.map(momentum_path);
        let mut lrs = Vec::with_capacity(groups);
        for g in 0..groups {
            let initial = max_lr[g] / self.div_factor;
            let level = |l: Level| match l {
                Level::Initial => initial,
                Level::Max => max_lr[g],
                Level::Min => initial / self.final_div_factor,
            };
            let momentum = |m: bool| if m { high[g] } else { low[g] };
            let mut start_step = 0.0;
            for (i, phase) in phases.iter().enumerate() {
                if step as f64 <= phase.end_step || i == phases.len() - 1 {
                    let pct = (step as f64 - start_step) / (phase.end_step - start_step);
                    lrs.push(self.anneal(level(phase.lr.0), level(phase.lr.1), pct));
                    if let Some(path) = &path {
                        let m = self.anneal(momentum(phase.momentum.0), momentum(phase.momentum.1), pct);
                        cx.write(g, path, m);
                    }
                    break;
                }
                start_step = phase.end_step;
            }
        }
        Ok(lrs)
    }

    fn group_entries(&self, state: &CyclicState, group: usize, out: &mut Map<'static>) {
        if let Some(&max_lr) = self.max_lr.get(group) {
            out.insert("max_lr", max_lr);
            out.insert("min_lr", max_lr / self.div_factor / self.final_div_factor);
        }
        if state.use_beta1.is_some() {
            momentum_entries(&self.max_momentum, &self.base_momentum, group, out);
        }
    }
}
