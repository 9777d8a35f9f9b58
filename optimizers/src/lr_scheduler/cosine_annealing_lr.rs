//! CosineAnnealingLR, as `torch.optim.lr_scheduler.CosineAnnealingLR`.

use std::f64::consts::PI;

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

/// Anneals each group's lr along a cosine from its initial lr to `eta_min` over `T_max`
/// epochs, as `torch.optim.lr_scheduler.CosineAnnealingLR`, in torch's recursive form:
///
/// ```text
/// lr ← (1 + cos(π e / T_max)) / (1 + cos(π (e − 1) / T_max)) · (lr − η_min) + η_min
/// lr ← lr + (base_lr − η_min)(1 − cos(π / T_max)) / 2     at e ≡ T_max + 1 (mod 2 T_max)
/// ```
///
/// so that an lr set by hand is continued from. It does not restart: after `T_max` the lr
/// climbs back to the initial lr over the next `T_max` epochs (for restarts, see
/// [`CosineAnnealingWarmRestarts`](super::CosineAnnealingWarmRestarts)). Closed form
/// `η_min + (base_lr − η_min)(1 + cos(π e / T_max)) / 2`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `T_max` | required | ≥ 1 |
/// | `eta_min` | 0 | finite |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "cosineannealinglr")]
pub struct CosineAnnealingLR {
    /// The number of epochs from the initial lr to `eta_min` (torch's `T_max`).
    #[hyper(required, rename = "T_max", range(1.., "T_max must be a positive integer, but got {t_max}"))]
    pub t_max: u64,
    /// The lowest lr.
    #[hyper(default = 0.0, finite)]
    pub eta_min: f64,
}

impl Schedule for CosineAnnealingLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let (e, t, eta_min) = (cx.epoch(), self.t_max as i64, self.eta_min);
        let tf = t as f64;
        if cx.is_initial() {
            return Ok(cx.current().to_vec());
        }
        if cx.step_count() == 1 && e > 0 {
            return Ok(cx.map_base(|_, base| eta_min + (base - eta_min) * (1.0 + (e as f64 * PI / tf).cos()) / 2.0));
        }
        if (e - 1 - t).rem_euclid(2 * t) == 0 {
            // torch zips the base values (groups built for) with the groups.
            return Ok(cx
                .base()
                .iter()
                .zip(cx.current())
                .map(|(base, lr)| lr + (base - eta_min) * (1.0 - (PI / tf).cos()) / 2.0)
                .collect());
        }
        let ratio = (1.0 + (PI * e as f64 / tf).cos()) / (1.0 + (PI * (e - 1) as f64 / tf).cos());
        Ok(cx.map_current(|_, lr| ratio * (lr - eta_min) + eta_min))
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let (e, tf, eta_min) = (cx.epoch() as f64, self.t_max as f64, self.eta_min);
        Some(cx.map_base(|_, base| eta_min + (base - eta_min) * (1.0 + (PI * e / tf).cos()) / 2.0))
    }
}
