//! CosineAnnealingWarmRestarts, as `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`.

use std::f64::consts::PI;

use optim_core::schedule::{Clock, Entries, ExplicitEpochs, Init, Schedule, ScheduleState, Values};
use optim_core::{DictValue, Error, Map, Result};
use optim_derive::Schedule;

/// Cosine annealing with warm restarts (SGDR), as
/// `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`:
/// `lr = η_min + (base_lr − η_min)(1 + cos(π T_cur / T_i)) / 2`, where `T_cur` counts the
/// epochs since the last restart and `T_i` (first `T_0`) is multiplied by `T_mult` at each
/// restart. Not chainable.
///
/// Step it with [`step`](optim_core::schedule::Scheduler::step), or go to an explicit,
/// possibly fractional epoch with [`step_at`](optim_core::schedule::Scheduler::step_at)
/// (torch's `step(epoch)`; `step_at(&mut opt, epoch + i as f64 / iters)` within an epoch),
/// which finds the cycle with torch's floating-point logarithm (so at
/// `log(epoch / T_0 · (T_mult − 1) + 1) / log(T_mult)` just below an integer it picks the
/// cycle before, as torch does). Like torch, it never counts `_step_count`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `T_0` | required | ≥ 1 |
/// | `T_mult` | 1 | ≥ 1 |
/// | `eta_min` | 0 | finite |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "cosineannealingwarmrestarts", state = WarmRestarts)]
pub struct CosineAnnealingWarmRestarts {
    /// The number of epochs until the first restart (torch's `T_0`).
    #[hyper(
        required,
        rename = "T_0",
        range(1.., "expected positive integer T_0, but got {t_0}"),
        invalid("expected positive integer T_0, but got {value}")
    )]
    pub t_0: u64,
    /// The factor of the period after each restart (torch's `T_mult`).
    #[hyper(
        default = 1,
        rename = "T_mult",
        range(1.., "expected integer T_mult >= 1, but got {t_mult}"),
        invalid("expected integer T_mult >= 1, but got {value}")
    )]
    pub t_mult: u64,
    /// The lowest lr.
    #[hyper(default = 0.0, finite, invalid("expected float or int eta_min, but got {value}"))]
    pub eta_min: f64,
}

/// Where CosineAnnealingWarmRestarts is in its cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WarmRestarts {
    /// Epochs since the last restart (torch's `T_cur`; fractional after a fractional
    /// explicit epoch).
    pub t_cur: f64,
    /// The current period (torch's `T_i`).
    pub t_i: u64,
}

impl ScheduleState for WarmRestarts {
    const KEYS: &'static [&'static str] = &["T_i", "T_cur"];

    fn pack(&self, out: &mut Map<'static>) {
        out.insert("T_i", DictValue::Int(self.t_i as i64));
        out.insert("T_cur", self.t_cur);
    }

    fn unpack(entries: &Entries<'_, '_>) -> Result<Self> {
        let t_i = entries.int("T_i")?;
        let t_cur = entries.float("T_cur")?;
        match u64::try_from(t_i) {
            Ok(t_i) if t_i >= 1 && t_cur.is_finite() => Ok(WarmRestarts { t_cur, t_i }),
            _ if t_i < 1 => Err(entries.error("T_i", format!("must be a period of at least 1, found {t_i}"))),
            _ => Err(entries.error("T_cur", format!("must be finite, found {t_cur}"))),
        }
    }
}

impl Schedule for CosineAnnealingWarmRestarts {
    fn init(&mut self, _: &mut Init<'_, '_>) -> Result<WarmRestarts> {
        // torch: `T_i = T_0`, `T_cur = last_epoch` (-1).
        Ok(WarmRestarts {
            t_cur: -1.0,
            t_i: self.t_0,
        })
    }

    fn advance(&self, state: &mut WarmRestarts, clock: &mut Clock) {
        if clock.last_epoch < 0 {
            // The constructor's step: torch's `step()` takes the explicit path at epoch 0.
            self.go_to(state, clock, 0.0);
            return;
        }
        state.t_cur += 1.0;
        if state.t_cur >= state.t_i as f64 {
            state.t_cur %= state.t_i as f64;
            state.t_i = state.t_i.saturating_mul(self.t_mult);
        }
        clock.last_epoch += 1;
    }

    fn values(&self, state: &WarmRestarts, cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let eta_min = self.eta_min;
        let cos = (PI * state.t_cur / state.t_i as f64).cos();
        Ok(cx.map_base(|_, base| eta_min + (base - eta_min) * (1.0 + cos) / 2.0))
    }
}

impl CosineAnnealingWarmRestarts {
    /// torch's explicit-epoch path, for a non-negative `epoch`.
    fn go_to(&self, state: &mut WarmRestarts, clock: &mut Clock, epoch: f64) {
        let (t_0, t_mult) = (self.t_0, self.t_mult);
        if epoch >= t_0 as f64 {
            if t_mult == 1 {
                state.t_cur = epoch % t_0 as f64;
            } else {
                // torch: `n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))`, where
                // `math.log(x, b)` is `log(x) / log(b)`.
                let x = epoch / t_0 as f64 * (t_mult - 1) as f64 + 1.0;
                let n = (x.ln() / (t_mult as f64).ln()) as u32;
                let power = t_mult.checked_pow(n).unwrap_or(u64::MAX);
                state.t_cur = epoch - t_0.saturating_mul(power - 1) as f64 / (t_mult - 1) as f64;
                state.t_i = t_0.saturating_mul(power);
            }
        } else {
            state.t_i = t_0;
            state.t_cur = epoch;
        }
        clock.last_epoch = epoch.floor() as i64;
    }
}

impl ExplicitEpochs for CosineAnnealingWarmRestarts {
    fn advance_to(&self, state: &mut WarmRestarts, clock: &mut Clock, epoch: f64) -> Result<()> {
        if !epoch.is_finite() || epoch < 0.0 {
            return Err(Error::InvalidEpoch {
                kind: "cosineannealingwarmrestarts",
                epoch,
            });
        }
        self.go_to(state, clock, epoch);
        Ok(())
    }
}
