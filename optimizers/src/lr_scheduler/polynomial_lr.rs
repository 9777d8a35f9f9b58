//! PolynomialLR, as `torch.optim.lr_scheduler.PolynomialLR`.

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

/// Decays each group's lr polynomially to 0 over `total_iters` epochs, as
/// `torch.optim.lr_scheduler.PolynomialLR`. Chainable: each step multiplies by
/// `((1 − e/T) / (1 − (e − 1)/T))^power` (reaching exactly 0 at `e = T`, and staying);
/// closed form `base_lr · (1 − min(T, e)/T)^power`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `total_iters` | 5 | |
/// | `power` | 1 | finite |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "polynomiallr")]
pub struct PolynomialLR {
    /// The number of epochs to decay over.
    #[hyper(default = 5)]
    pub total_iters: u64,
    /// The power of the polynomial.
    #[hyper(default = 1.0, finite)]
    pub power: f64,
}

impl Schedule for PolynomialLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let e = cx.epoch();
        if cx.is_initial() || e > self.total_iters as i64 {
            return Ok(cx.current().to_vec());
        }
        let t = self.total_iters as f64;
        let decay = ((1.0 - e as f64 / t) / (1.0 - (e - 1) as f64 / t)).powf(self.power);
        Ok(cx.map_current(|_, lr| lr * decay))
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let t = self.total_iters as f64;
        let done = (self.total_iters as i64).min(cx.epoch()) as f64;
        Some(cx.map_base(|_, base| base * (1.0 - done / t).powf(self.power)))
    }
}
