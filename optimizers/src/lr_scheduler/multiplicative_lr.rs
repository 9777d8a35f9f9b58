//! MultiplicativeLR, as `torch.optim.lr_scheduler.MultiplicativeLR`.

use optim_core::Result;
use optim_core::schedule::{Lambda, PerGroup, Schedule, Values};
use optim_derive::Schedule;

use super::lambda_lr::check_lambdas;
use super::support::epoch_arg;

/// Each group's lr is multiplied by a function of the epoch at every step, as
/// `torch.optim.lr_scheduler.MultiplicativeLR`: `lr ← lr · f(epoch)` (construction leaves
/// it). Chainable: an lr set by hand is continued from.
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr_lambda` | required | a function, or one per group |
///
/// Functions are not saved in state dicts (a loaded schedule keeps its own). A group added
/// after building fails the next step.
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "multiplicativelr")]
pub struct MultiplicativeLR {
    /// The factor at each epoch: one function, or one per group.
    #[hyper(required, check(lr_lambda.are_functions(), "lr_lambda should be a function, but got NoneType"))]
    pub lr_lambda: PerGroup<Lambda>,
}

impl Schedule for MultiplicativeLR {
    fn check_groups(&self, groups: usize) -> Result<()> {
        check_lambdas("multiplicativelr", &self.lr_lambda, groups)
    }

    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        if cx.is_initial() {
            return Ok(cx.current().to_vec());
        }
        let e = epoch_arg(cx.epoch());
        // torch zips the functions (one per group built for) with the groups.
        let lambdas = self.lr_lambda.expand(cx.base().len());
        Ok(cx
            .current()
            .iter()
            .zip(&lambdas)
            .map(|(lr, f)| lr * f.call(e))
            .collect())
    }
}
