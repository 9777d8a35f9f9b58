//! ExponentialLR, as `torch.optim.lr_scheduler.ExponentialLR`.

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

/// Decays each group's lr by `gamma` every epoch, as `torch.optim.lr_scheduler.ExponentialLR`:
/// `lr ← lr · γ` (construction leaves it). Chainable; closed form `base_lr · γ^epoch`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `gamma` | required | finite |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "exponentiallr")]
pub struct ExponentialLR {
    /// The factor of each epoch's decay.
    #[hyper(required, finite)]
    pub gamma: f64,
}

impl Schedule for ExponentialLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        if cx.is_initial() {
            return Ok(cx.current().to_vec());
        }
        Ok(cx.map_current(|_, lr| lr * self.gamma))
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let e = cx.epoch() as f64;
        Some(cx.map_base(|_, base| base * self.gamma.powf(e)))
    }
}
