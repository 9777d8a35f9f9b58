//! LinearLR, as `torch.optim.lr_scheduler.LinearLR`.

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

/// Changes each group's lr linearly from `start_factor · lr` to `end_factor · lr` over
/// `total_iters` epochs, as `torch.optim.lr_scheduler.LinearLR` (the usual warmup). Chainable:
/// each step multiplies the current lr by the ratio of consecutive factors,
/// `1 + (end − start) / (total_iters · start + (epoch − 1)(end − start))`; closed form
/// `base_lr · (start + (end − start) · min(total_iters, epoch) / total_iters)`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `start_factor` | 1/3 | in (0, 1] |
/// | `end_factor` | 1 | in [0, 1] |
/// | `total_iters` | 5 | |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "linearlr")]
pub struct LinearLR {
    /// The factor of the first epoch.
    #[hyper(
        default = 1.0 / 3.0,
        check(
            start_factor > 0.0 && start_factor <= 1.0,
            "starting multiplicative factor expected to be greater than 0 and less or equal to 1"
        )
    )]
    pub start_factor: f64,
    /// The factor from epoch `total_iters` on.
    #[hyper(default = 1.0, range(0.0..=1.0, "ending multiplicative factor expected to be between 0 and 1"))]
    pub end_factor: f64,
    /// The number of epochs from the one factor to the other.
    #[hyper(default = 5)]
    pub total_iters: u64,
}

impl Schedule for LinearLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let e = cx.epoch();
        if e == 0 {
            return Ok(cx.map_current(|_, lr| lr * self.start_factor));
        }
        if cx.is_initial() || e > self.total_iters as i64 {
            return Ok(cx.current().to_vec());
        }
        let (start, end) = (self.start_factor, self.end_factor);
        let ratio = 1.0 + (end - start) / (self.total_iters as f64 * start + (e - 1) as f64 * (end - start));
        Ok(cx.map_current(|_, lr| lr * ratio))
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let (start, end) = (self.start_factor, self.end_factor);
        let done = (self.total_iters as i64).min(cx.epoch()) as f64;
        let factor = start + (end - start) * done / self.total_iters as f64;
        Some(cx.map_base(|_, base| base * factor))
    }
}
