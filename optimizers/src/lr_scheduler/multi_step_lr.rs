//! MultiStepLR, as `torch.optim.lr_scheduler.MultiStepLR`.

use optim_core::Result;
use optim_core::schedule::{Schedule, Values};
use optim_derive::Schedule;

use super::support::bisect_right;

/// Decays each group's lr by `gamma` at each milestone, as
/// `torch.optim.lr_scheduler.MultiStepLR`: `lr ← lr · γ^c` at an epoch that appears `c`
/// times among the milestones (torch keeps them in a `Counter`: a repeated milestone decays
/// by `γ²`, and their order does not matter). Chainable; closed form `base_lr · γ^k`, `k`
/// the milestones at or before the epoch.
///
/// | option | default | valid |
/// |---|---|---|
/// | `milestones` | required | epochs, in any order, repeats allowed |
/// | `gamma` | 0.1 | finite |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "multisteplr")]
pub struct MultiStepLR {
    /// The epochs at which to decay, as given (the state dict keeps them so).
    #[hyper(required)]
    pub milestones: Vec<u64>,
    /// The factor of each decay.
    #[hyper(default = 0.1, finite)]
    pub gamma: f64,
}

impl MultiStepLR {
    /// How many times `epoch` appears among the milestones (torch's `Counter`).
    fn count(&self, epoch: i64) -> usize {
        self.milestones.iter().filter(|&&m| m as i64 == epoch).count()
    }
}

impl Schedule for MultiStepLR {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let count = self.count(cx.epoch());
        Ok(cx.map_current(|_, lr| {
            if count == 0 {
                lr
            } else {
                lr * self.gamma.powf(count as f64)
            }
        }))
    }

    fn closed_form(&self, _: &(), cx: &Values<'_>) -> Option<Vec<f64>> {
        let mut sorted = self.milestones.clone();
        sorted.sort_unstable();
        let k = bisect_right(&sorted, cx.epoch());
        Some(cx.map_base(|_, base| base * self.gamma.powf(k as f64)))
    }
}
