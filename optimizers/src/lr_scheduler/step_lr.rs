//! StepLR, as `torch.optim.lr_scheduler.StepLR`.

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

/// Decays each group's lr by `gamma` every `step_size` epochs, as
/// `torch.optim.lr_scheduler.StepLR`: `lr ← lr · γ` when `epoch > 0` and `epoch` is a
/// multiple of `step_size`. Chainable (an lr set by hand, or a group added later, is
/// decayed from); closed form `base_lr · γ^⌊epoch / step_size⌋`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `step_size` | required | ≥ 1 |
/// | `gamma` | 0.1 | finite |
///
/// ```
/// use optimizers::lr_scheduler::{StepLR, StepLROptions};
/// use optimizers::{Param, Sgd, SgdOptions, ndarray::array};
///
/// let mut opt = Sgd::new([Param::new(array![1.0f64])], SgdOptions::new().lr(0.1))?;
/// let mut sched = StepLR::new(&mut opt, StepLROptions::new().step_size(2).gamma(0.5))?;
/// for _ in 0..4 {
///     // ... opt.step()? ...
///     sched.step(&mut opt)?;
/// }
/// assert_eq!(sched.get_last_lr(), [0.1 * 0.5 * 0.5]);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "steplr")]
pub struct StepLR {
    /// The period of the decay, in epochs.
    #[hyper(required, range(1.., "step_size must be a positive integer, but got {step_size}"))]
    pub step_size: u64,
    /// The factor of the decay.
    #[hyper(default = 0.1, finite)]
    pub gamma: f64,
}

impl Schedule for StepLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let e = cx.epoch();
        let decay = e != 0 && e.rem_euclid(self.step_size as i64) == 0;
        Ok(cx.map_current(|_, lr| if decay { lr * self.gamma } else { lr }))
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let k = cx.epoch().div_euclid(self.step_size as i64);
        Some(cx.map_base(|_, base| base * self.gamma.powf(k as f64)))
    }
}
