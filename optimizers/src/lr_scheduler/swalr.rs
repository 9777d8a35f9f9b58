//! SWALR, as `torch.optim.swa_utils.SWALR`.

use std::f64::consts::PI;

use optim_core::schedule::{PerGroup, Schedule, Values};
use optim_core::{Error, Map, Result, Scope};
use optim_derive::Schedule;

use super::support::AnnealStrategy;

/// Anneals each group's lr to a constant `swa_lr` over `anneal_epochs` epochs, for
/// stochastic weight averaging, as `torch.optim.swa_utils.SWALR`. At step `t`
/// (`_step_count − 1`), with `α(t) = anneal(clamp(t / anneal_epochs, 0, 1))` (`cos`:
/// `(1 − cos(π t)) / 2`, `linear`: `t`):
///
/// ```text
/// prev = swa_lr  if α(t − 1) = 1  else  (lr − α(t − 1) · swa_lr) / (1 − α(t − 1))
/// lr ← swa_lr · α(t) + prev · (1 − α(t))
/// ```
///
/// It recovers the lr before the blend from the current one, so an lr set by hand during
/// the annealing is continued from (and amplified by `1 / (1 − α(t − 1))`); afterwards the
/// lr is `swa_lr`. With `anneal_epochs = 0` construction sets `swa_lr` at once. Building on
/// a later stage of a [`SequentialLR`](super::SequentialLR) is the usual use.
///
/// | option | default | valid |
/// |---|---|---|
/// | `swa_lr` | required | a number or one per group |
/// | `anneal_epochs` | 10 | |
/// | `anneal_strategy` | `cos` | `cos`, `linear` |
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "swalr")]
pub struct Swalr {
    /// The lr to anneal to and keep.
    #[hyper(required, finite)]
    pub swa_lr: PerGroup<f64>,
    /// The epochs of the annealing.
    #[hyper(default = 10, invalid("anneal_epochs must be equal or greater than 0, got {value}"))]
    pub anneal_epochs: u64,
    /// Cosine or linear annealing.
    #[hyper(
        default = AnnealStrategy::Cos,
        invalid("anneal_strategy must be one of 'cos' or 'linear', instead got {value}")
    )]
    pub anneal_strategy: AnnealStrategy,
}

impl Swalr {
    fn anneal(&self, t: f64) -> f64 {
        match self.anneal_strategy {
            AnnealStrategy::Cos => (1.0 - (PI * t).cos()) / 2.0,
            AnnealStrategy::Linear => t,
        }
    }
}

impl Schedule for Swalr {
    fn check_groups(&self, groups: usize) -> Result<()> {
        match self.swa_lr.list_len() {
            Some(n) if n != groups => Err(Error::InvalidOption {
                scope: Scope::Schedule("swalr"),
                option: "swa_lr",
                message: format!(
                    "swa_lr must have the same length as optimizer.param_groups: swa_lr has {n}, optimizer.param_groups has {groups}"
                ),
            }),
            _ => Ok(()),
        }
    }

    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let epochs = self.anneal_epochs as i64;
        let mut step = cx.step_count() - 1;
        if epochs == 0 {
            step = step.max(1);
        }
        let span = epochs.max(1) as f64;
        let prev_alpha = self.anneal(((step - 1) as f64 / span).clamp(0.0, 1.0));
        let alpha = self.anneal((step as f64 / span).clamp(0.0, 1.0));
        // torch reads `swa_lr` from each group: the groups it was built for.
        let swa = self.swa_lr.expand(cx.base().len());
        Ok(cx
            .current()
            .iter()
            .zip(&swa)
            .map(|(&lr, &swa_lr)| {
                let prev = if prev_alpha == 1.0 {
                    swa_lr
                } else {
                    (lr - prev_alpha * swa_lr) / (1.0 - prev_alpha)
                };
                swa_lr * alpha + prev * (1.0 - alpha)
            })
            .collect())
    }

    fn group_entries(&self, _: &(), group: usize, out: &mut Map<'static>) {
        if let Some(&swa_lr) = self.swa_lr.get(group) {
            out.insert("swa_lr", swa_lr);
        }
    }
}
