//! How a case runs its mistake: on a built optimizer ([`trial`]), in a constructor
//! ([`construct`]), or in loading a broken state dict ([`load`], [`load_lbfgs`],
//! [`load_json`]); each returns a [`Trial`] holding the error and snapshots of everything
//! observable before and after.

use std::fmt::Debug;

use optimizers::error::Scope;
use optimizers::{Error, Float, Lbfgs, Map, Optimizer, Param, Result, Rule, StateDict};

use super::subjects::{lbfgs, quadratic, set_grads, train};
use crate::snapshot::Snapshot;

/// What a case did: the error it got, and snapshots from before and after.
pub struct Trial {
    /// The error.
    pub error: Error,
    /// Everything observable before the mistake.
    pub before: Snapshot,
    /// The same after it: must equal `before`.
    pub after: Snapshot,
}

/// Runs `act` on `opt`, which must fail, with snapshots of `opt` and its parameters around
/// it.
pub fn trial<R: Rule, A: Float>(mut opt: Optimizer<R, A>, act: impl FnOnce(&mut Optimizer<R, A>) -> Result<()>) -> Trial
where
    R::State<A>: Debug,
{
    let before = Snapshot::of(&opt);
    let error = act(&mut opt).expect_err("the case must fail");
    let after = Snapshot::of(&opt);
    Trial { error, before, after }
}

/// Builds an optimizer over `params` with `build`, which must fail; the snapshots are of
/// the parameters (given gradients first, so that a change to those would show).
pub fn construct<T>(params: Vec<Param<f64>>, build: impl FnOnce(Vec<Param<f64>>) -> Result<T>) -> Trial {
    set_grads(&params, 0);
    let before = Snapshot::of_params(&params);
    let error = match build(params.clone()) {
        Ok(_) => panic!("the case must fail"),
        Err(e) => e,
    };
    Trial {
        error,
        before,
        after: Snapshot::of_params(&params),
    }
}

/// Whether `e` is [`Error::InvalidOption`] for `option`, found in `scope`: what a case of a
/// check on one option expects.
pub fn invalid_option(e: &Error, scope: Scope, option: &str) -> bool {
    matches!(e, Error::InvalidOption { scope: s, option: o, .. } if *s == scope && *o == option)
}

/// Loads a broken copy of the optimizer's state dict: `break_it` gets the dict as it was
/// one step ago (so that a partial load would show as a change) and breaks it.
pub fn load<R: Rule>(
    (mut opt, params): (Optimizer<R, f64>, Vec<Param<f64>>),
    break_it: impl FnOnce(&mut StateDict<'static>),
) -> Trial
where
    R::State<f64>: Debug,
{
    let mut dict = opt.state_dict().into_owned();
    train(&mut opt, &params, 2..3);
    break_it(&mut dict);
    trial(opt, |opt| opt.load_state_dict(&dict))
}

/// As [`load`], for the LBFGS subject (whose steps need a closure).
pub fn load_lbfgs(break_it: impl FnOnce(&mut StateDict<'static>)) -> Trial {
    let (mut opt, params): (Optimizer<Lbfgs, f64>, _) = lbfgs();
    let mut dict = opt.state_dict().into_owned();
    opt.step_with(quadratic(&params, None)).expect("a valid step");
    break_it(&mut dict);
    trial(opt, |opt| opt.load_state_dict(&dict))
}

/// Reads a broken checkpoint text with `StateDict::from_json` and loads it into `opt`:
/// `break_it` gets the JSON of `opt`'s state dict.
pub fn load_json<R: Rule>(opt: Optimizer<R, f64>, break_it: impl FnOnce(String) -> String) -> Trial
where
    R::State<f64>: Debug,
{
    let text = break_it(opt.state_dict().to_json());
    trial(opt, |opt| opt.load_state_dict(&StateDict::from_json(&text)?))
}

/// The state entry of parameter `index`.
pub fn entry<'d>(dict: &'d mut StateDict<'static>, index: usize) -> &'d mut Map<'static> {
    dict.state.get_mut(&index).expect("the parameter has state")
}

/// The options of group `group`.
pub fn options<'d>(dict: &'d mut StateDict<'static>, group: usize) -> &'d mut Map<'static> {
    &mut dict.param_groups[group].options
}

/// A float64 tensor of `shape`, every element 0.5.
pub fn tensor(shape: &[usize]) -> optimizers::DictValue<'static> {
    let n = shape.iter().product();
    optimizers::DictValue::Tensor(optimizers::DictTensor::owned(shape, &vec![0.5f64; n]).expect("the data fits"))
}
