//! ConstantLR, as `torch.optim.lr_scheduler.ConstantLR`.

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

/// Multiplies each group's lr by `factor` until `total_iters` epochs, as
/// `torch.optim.lr_scheduler.ConstantLR`: `lr ← lr · factor` at construction and
/// `lr ← lr / factor` (torch: `lr · (1 / factor)`) at epoch `total_iters`. Chainable: an lr
/// set by hand is divided too, and so is a group added before `total_iters`, though it was
/// never multiplied (as in torch).
///
/// | option | default | valid |
/// |---|---|---|
/// | `factor` | 1/3 | in [0, 1] |
/// | `total_iters` | 5 | |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "constantlr")]
pub struct ConstantLR {
    /// The factor until `total_iters`.
    #[hyper(default = 1.0 / 3.0, range(0.0..=1.0, "constant multiplicative factor expected to be between 0 and 1"))]
    pub factor: f64,
    /// The epoch at which the factor is undone.
    #[hyper(default = 5)]
    pub total_iters: u64,
}

impl Schedule for ConstantLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let e = cx.epoch();
        Ok(if e == 0 {
            cx.map_current(|_, lr| lr * self.factor)
        } else if e != self.total_iters as i64 {
            cx.current().to_vec()
        } else {
            cx.map_current(|_, lr| lr * (1.0 / self.factor))
        })
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let after = if cx.epoch() >= self.total_iters as i64 {
            1.0 - self.factor
        } else {
            0.0
        };
        Some(cx.map_base(|_, base| base * (self.factor + after)))
    }
}
