//! LambdaLR, as `torch.optim.lr_scheduler.LambdaLR`.

use optim_core::schedule::{Lambda, PerGroup, Schedule, Values};
use optim_core::{Error, Result, Scope};
use optim_derive::Schedule;

use super::support::epoch_arg;

/// Each group's lr is its initial lr times a function of the epoch, as
/// `torch.optim.lr_scheduler.LambdaLR`: `lr = base_lr · f(epoch)`, from the first step
/// (construction sets `base_lr · f(0)`). Not chainable: an lr set by hand is overwritten.
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr_lambda` | required | a function, or one per group |
///
/// A function is not saved in state dicts (torch saves `None` for plain functions): a
/// loaded schedule keeps its own. A group added after building fails the next step.
///
/// ```
/// use optimizers::lr_scheduler::{Lambda, LambdaLR, LambdaLROptions};
/// use optimizers::{Param, Sgd, SgdOptions, ndarray::array};
///
/// let mut opt = Sgd::new([Param::new(array![1.0f64])], SgdOptions::new().lr(0.1))?;
/// let warmup = Lambda::new(|epoch| ((epoch + 1) as f64 / 10.0).min(1.0));
/// let mut sched = LambdaLR::new(&mut opt, LambdaLROptions::new().lr_lambda(warmup))?;
/// assert_eq!(sched.get_last_lr(), [0.1 * 0.1]);
/// sched.step(&mut opt)?;
/// assert_eq!(opt.hyperparameters(0)?.lr, 0.1 * 0.2);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "lambdalr")]
pub struct LambdaLR {
    /// The factor of the initial lr at each epoch: one function, or one per group.
    #[hyper(required, check(lr_lambda.are_functions(), "lr_lambda should be a function, but got NoneType"))]
    pub lr_lambda: PerGroup<Lambda>,
}

/// torch's check of a list of functions: one per group.
pub(crate) fn check_lambdas(kind: &'static str, lambdas: &PerGroup<Lambda>, groups: usize) -> Result<()> {
    match lambdas.list_len() {
        Some(n) if n != groups => Err(Error::InvalidOption {
            scope: Scope::Schedule(kind),
            option: "lr_lambda",
            message: format!("expected {groups} lr_lambdas, but got {n}"),
        }),
        _ => Ok(()),
    }
}

impl Schedule for LambdaLR {
    fn check_groups(&self, groups: usize) -> Result<()> {
        check_lambdas("lambdalr", &self.lr_lambda, groups)
    }

    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let e = epoch_arg(cx.epoch());
        let lambdas = self.lr_lambda.expand(cx.base().len());
        Ok(cx.map_base(|g, base| base * lambdas[g].call(e)))
    }
}
