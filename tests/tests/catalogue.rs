//! The catalogue of ways a user can go wrong, one case each: what they did, the `Error`
//! variant it gives, a fragment of its message that names what is at fault, and the fix.
//!
//! Every case runs against a trained optimizer (or, for a constructor, against parameters
//! with values and gradients) and checks, besides the variant and the message, that nothing
//! observable changed: defaults, each group's options, every parameter's state, the state
//! dict, and every parameter's value and gradient, bit for bit (see
//! `optim_tests::snapshot`).
//!
//! The book's chapter `book/src/errors.md` shows the catalogue: under each variant's heading,
//! a block generated from the cases below, with the message each case actually gives. A test
//! checks the chapter against the catalogue (every variant of `Error` has a heading and at
//! least one case, every case id and message fragment appears), so the two cannot drift.
//! After changing a case or a message, regenerate the blocks with
//!
//! ```text
//! OPTIM_BLESS=1 cargo test -p optim-tests --test catalogue
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use optim_tests::snapshot::Snapshot;
use optimizers::ndarray::{ArrayD, array};
use optimizers::{
    Adam, AdamOptions, AdamW, AdamWOptions, DictTensor, DictValue, Error, Float, Lbfgs, LbfgsOptions, Map, Optimizer,
    Param, ParamGroup, Result, Rule, Sgd, SgdOptions, StateDict, checkpoint, registry,
};

// ----- the subjects --------------------------------------------------------------------------

/// A deterministic gradient for every parameter at step `step`.
fn set_grads(params: &[Param<f64>], step: usize) {
    for (k, p) in params.iter().enumerate() {
        let g: Vec<f64> = (0..p.numel())
            .map(|i| ((i * 7 + k * 3 + step * 5) % 11) as f64 / 11.0 - 0.4)
            .collect();
        p.set_grad_from_slice(&g).expect("a gradient of the parameter's length");
    }
}

fn train<R: Rule>(opt: &mut Optimizer<R, f64>, params: &[Param<f64>], steps: std::ops::Range<usize>) {
    for s in steps {
        set_grads(params, s);
        opt.step().expect("a valid step");
    }
}

/// `fc.weight` and `fc.bias`, named.
fn named_params() -> Vec<Param<f64>> {
    vec![
        Param::named("fc.weight", array![[0.5, -1.0, 0.25], [2.0, 0.1, -0.3]]),
        Param::named("fc.bias", array![0.1, -0.2, 0.3]),
    ]
}

/// Two parameters without names, as torch's `model.parameters()` gives them.
fn unnamed_params() -> Vec<Param<f64>> {
    vec![
        Param::new(array![[0.5, -1.0], [2.0, 0.1]]),
        Param::new(array![0.1, -0.2]),
    ]
}

/// Adam over named parameters in two groups (the bias with its own `lr`), two steps taken,
/// gradients present.
fn adam() -> (Optimizer<Adam, f64>, Vec<Param<f64>>) {
    let params = named_params();
    let mut opt = Adam::with_groups(
        [
            ParamGroup::new([params[0].clone()]),
            ParamGroup::new([params[1].clone()]).options(AdamOptions::new().lr(1e-2)),
        ],
        AdamOptions::new().lr(1e-3).amsgrad(true),
    )
    .expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// AdamW over named parameters, two steps taken.
fn adamw() -> (Optimizer<AdamW, f64>, Vec<Param<f64>>) {
    let params = named_params();
    let mut opt = AdamW::new(params.clone(), AdamWOptions::new()).expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// SGD with momentum over unnamed parameters (torch style: state dicts load by position),
/// two steps taken.
fn sgd() -> (Optimizer<Sgd, f64>, Vec<Param<f64>>) {
    let params = unnamed_params();
    let mut opt = Sgd::new(params.clone(), SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// A closure for LBFGS: `f(x) = Σ (i + 1) (xᵢ − 1)²` over all parameters as one flat
/// vector. `poison` makes evaluation `n` (counted from 1) return a NaN loss (`"loss"`) or
/// write an infinite gradient (`"gradient"`).
fn quadratic(params: &[Param<f64>], poison: Option<(usize, &'static str)>) -> impl FnMut() -> f64 + use<> {
    let params = params.to_vec();
    let mut evaluations = 0;
    move || {
        evaluations += 1;
        let mut loss = 0.0;
        let mut i = 0;
        for p in &params {
            let grad: ArrayD<f64> = p.value().mapv(|x| {
                i += 1;
                let c = i as f64;
                loss += c * (x - 1.0) * (x - 1.0);
                2.0 * c * (x - 1.0)
            });
            p.set_grad(grad).expect("the parameter's shape");
        }
        match poison {
            Some((n, "loss")) if n == evaluations => f64::NAN,
            Some((n, _)) if n == evaluations => {
                p0_grad_to_infinity(&params[0]);
                loss
            }
            _ => loss,
        }
    }
}

fn p0_grad_to_infinity(p: &Param<f64>) {
    if let Some(mut g) = p.grad_mut() {
        g[[0]] = f64::INFINITY;
    }
}

/// LBFGS over two unnamed parameters ([3] and [2]), two steps taken.
fn lbfgs() -> (Optimizer<Lbfgs, f64>, Vec<Param<f64>>) {
    let params = vec![Param::new(array![0.0, 2.0, -1.0]), Param::new(array![3.0, 0.5])];
    let mut opt = Lbfgs::new(params.clone(), LbfgsOptions::new().history_size(3).max_iter(3)).expect("valid");
    let mut closure = quadratic(&params, None);
    for _ in 0..2 {
        opt.step_with(&mut closure).expect("a valid step");
    }
    (opt, params)
}

// ----- trials ----------------------------------------------------------------------------------

/// What a case did: the error, and snapshots before and after.
struct Trial {
    error: Error,
    before: Snapshot,
    after: Snapshot,
}

/// Runs `act` on `opt`, which must fail, with snapshots around it.
fn trial<R: Rule, A: Float>(mut opt: Optimizer<R, A>, act: impl FnOnce(&mut Optimizer<R, A>) -> Result<()>) -> Trial
where
    R::State<A>: std::fmt::Debug,
{
    let before = Snapshot::of(&opt);
    let error = act(&mut opt).expect_err("the case must fail");
    let after = Snapshot::of(&opt);
    Trial { error, before, after }
}

/// Builds an optimizer with `build`, which must fail, and checks the parameters it was given.
fn construct<T>(params: Vec<Param<f64>>, build: impl FnOnce(Vec<Param<f64>>) -> Result<T>) -> Trial {
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

/// Loads a broken copy of the optimizer's state dict: `break_it` gets the dict as it was
/// one step ago (so that a partial load would show) and breaks it.
fn load<R: Rule>(
    (mut opt, params): (Optimizer<R, f64>, Vec<Param<f64>>),
    break_it: impl FnOnce(&mut StateDict<'static>),
) -> Trial
where
    R::State<f64>: std::fmt::Debug,
{
    let mut dict = opt.state_dict().into_owned();
    train(&mut opt, &params, 2..3);
    break_it(&mut dict);
    trial(opt, |opt| opt.load_state_dict(&dict))
}

/// As [`load`], for LBFGS (its steps need a closure).
fn load_lbfgs(break_it: impl FnOnce(&mut StateDict<'static>)) -> Trial {
    let (mut opt, params) = lbfgs();
    let mut dict = opt.state_dict().into_owned();
    opt.step_with(quadratic(&params, None)).expect("a valid step");
    break_it(&mut dict);
    trial(opt, |opt| opt.load_state_dict(&dict))
}

/// Reads a broken checkpoint text with `StateDict::from_json` and loads it: `break_it`
/// gets the JSON of the SGD subject's state dict.
fn load_json(break_it: impl FnOnce(String) -> String) -> Trial {
    let (opt, _) = sgd();
    let text = break_it(opt.state_dict().to_json());
    trial(opt, |opt| opt.load_state_dict(&StateDict::from_json(&text)?))
}

/// The state entry of parameter `index`.
fn entry<'d>(dict: &'d mut StateDict<'static>, index: usize) -> &'d mut Map<'static> {
    dict.state.get_mut(&index).expect("the parameter has state")
}

fn options<'d>(dict: &'d mut StateDict<'static>, group: usize) -> &'d mut Map<'static> {
    &mut dict.param_groups[group].options
}

fn tensor(shape: &[usize]) -> DictValue<'static> {
    let n = shape.iter().product();
    DictValue::Tensor(DictTensor::owned(shape, &vec![0.5f64; n]).expect("the data fits"))
}

// ----- the catalogue -------------------------------------------------------------------------

/// One way to go wrong.
struct Case {
    /// A short, unique, stable name (used in the book).
    id: &'static str,
    /// What the user did, as one line.
    cause: &'static str,
    /// How to fix it, as one line.
    fix: &'static str,
    /// The name of the `Error` variant it gives.
    variant: &'static str,
    /// A part of the message that names what is at fault.
    fragment: &'static str,
    /// The variant and its fields, checked with `matches!`.
    expect: fn(&Error) -> bool,
    /// Runs the case.
    run: fn() -> Trial,
}

/// The cases, in the order of the chapter.
fn cases() -> Vec<Case> {
    let c = |id, cause, fix, variant, fragment, expect, run| Case {
        id,
        cause,
        fix,
        variant,
        fragment,
        expect,
        run,
    };
    vec![
        // ----- building an optimizer and its groups -----
        c(
            "construct-empty",
            "building an optimizer over no parameters at all",
            "pass the model's parameters; check that the iterator you pass is not already consumed",
            "EmptyParamList",
            "group 0 has an empty parameter list",
            |e| matches!(e, Error::EmptyParamList { group: 0 }),
            || construct(Vec::new(), |p| Adam::new(p, AdamOptions::new())),
        ),
        c(
            "group-empty",
            "`add_param_group` with a group that has no parameters",
            "give every group at least one parameter",
            "EmptyParamList",
            "group 2 has an empty parameter list",
            |e| matches!(e, Error::EmptyParamList { group: 2 }),
            || trial(adam().0, |o| o.add_param_group(ParamGroup::new([]))),
        ),
        c(
            "construct-missing-required",
            "building SGD without a learning rate (`lr` is `required`)",
            "set `lr` in the optimizer's options, or in every group",
            "MissingRequiredOption",
            "group 0 does not set the required option `lr`",
            |e| matches!(e, Error::MissingRequiredOption { group: 0, option: "lr" }),
            || construct(unnamed_params(), |p| Sgd::new(p, SgdOptions::new())),
        ),
        c(
            "group-missing-required",
            "adding a group without `lr` to an SGD whose defaults have none (each group set its own)",
            "set `lr` in the new group's options",
            "MissingRequiredOption",
            "group 1 does not set the required option `lr`",
            |e| matches!(e, Error::MissingRequiredOption { group: 1, option: "lr" }),
            || {
                let params = unnamed_params();
                let opt = Sgd::with_groups(
                    [ParamGroup::new([params[0].clone()]).options(SgdOptions::new().lr(0.1))],
                    SgdOptions::new(),
                )
                .expect("valid");
                trial(opt, |o| o.add_param_group(ParamGroup::new([params[1].clone()])))
            },
        ),
        c(
            "group-duplicate-param",
            "the same parameter (the same handle) twice in one group",
            "list each parameter once; clones of a `Param` are the same parameter",
            "DuplicateParam",
            "parameter 1 of group 2 (\"head.weight\") is the same parameter as parameter 0",
            |e| matches!(e, Error::DuplicateParam { first: 0, .. }),
            || {
                let p = Param::named("head.weight", array![1.0, 2.0]);
                trial(adam().0, |o| o.add_param_group(ParamGroup::new([p.clone(), p.clone()])))
            },
        ),
        c(
            "group-param-in-other-group",
            "adding a group with a parameter that another group already holds",
            "put each parameter in exactly one group; give the new group only new parameters",
            "ParamInOtherGroup",
            "parameter 0 of group 2 (\"fc.bias\") is already in group 1 (as its parameter 0)",
            |e| {
                matches!(
                    e,
                    Error::ParamInOtherGroup {
                        other_group: 1,
                        other_index: 0,
                        ..
                    }
                )
            },
            || {
                let (opt, params) = adam();
                trial(opt, |o| o.add_param_group(ParamGroup::new([params[1].clone()])))
            },
        ),
        c(
            "group-non-trainable",
            "adding a derived value (`Param::derived`, torch's non-leaf tensor)",
            "optimize the parameters the value is computed from, not the value",
            "NonTrainableParam",
            "parameter 0 of group 2 is not trainable",
            |e| matches!(e, Error::NonTrainableParam { .. }),
            || {
                trial(adam().0, |o| {
                    o.add_param_group(ParamGroup::new([Param::derived(array![1.0])]))
                })
            },
        ),
        c(
            "group-unnamed-param",
            "adding a parameter without a name to an optimizer whose parameters have names",
            "create it with `Param::named`",
            "MixedParamNames",
            "parameter 0 of group 2 has no name but other parameters do",
            |e| matches!(e, Error::MixedParamNames { .. }),
            || {
                trial(adam().0, |o| {
                    o.add_param_group(ParamGroup::new([Param::new(array![1.0])]))
                })
            },
        ),
        c(
            "group-named-param",
            "adding a named parameter to an optimizer whose parameters have no names",
            "name every parameter (`Param::named`) or none",
            "MixedParamNames",
            "parameter 0 of group 1 (\"head.bias\") has a name but other parameters do not",
            |e| matches!(e, Error::MixedParamNames { .. }),
            || {
                let p = Param::named("head.bias", array![1.0]);
                trial(sgd().0, |o| o.add_param_group(ParamGroup::new([p.clone()])))
            },
        ),
        c(
            "group-duplicate-name",
            "adding a parameter whose name another parameter of the optimizer has",
            "give every parameter a unique name (as `named_parameters()` does: `layer.weight`)",
            "DuplicateParamName",
            "parameter 0 of group 2 (\"fc.weight\") has the name \"fc.weight\"",
            |e| matches!(e, Error::DuplicateParamName { name, .. } if name == "fc.weight"),
            || {
                let p = Param::named("fc.weight", array![1.0]);
                trial(adam().0, |o| o.add_param_group(ParamGroup::new([p.clone()])))
            },
        ),
        c(
            "group-invalid-option",
            "adding a group with an option value that fails its check (Adam's `eps` = -1)",
            "use a value in the option's range (see the optimizer's table of options)",
            "InvalidOption",
            "group 2: invalid epsilon value: -1.0",
            |e| matches!(e, Error::InvalidOption { option: "eps", .. }),
            || {
                let p = Param::named("head.weight", array![1.0]);
                let group = ParamGroup::new([p.clone()]).options(AdamOptions::new().eps(-1.0));
                trial(adam().0, |o| o.add_param_group(group))
            },
        ),
        c(
            "group-cross-option",
            "adding an SGD group with `nesterov` and a non-zero `dampening`",
            "Nesterov momentum needs `momentum` > 0 and `dampening` = 0",
            "InvalidOptions",
            "group 1: Nesterov momentum requires a momentum and zero dampening",
            |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: optimizers::error::Scope::Group(1),
                        ..
                    }
                )
            },
            || {
                let group =
                    ParamGroup::new([Param::new(array![1.0])]).options(SgdOptions::new().nesterov(true).dampening(0.1));
                trial(sgd().0, |o| o.add_param_group(group))
            },
        ),
        c(
            "lbfgs-second-group",
            "adding a second group to LBFGS",
            "put all parameters in LBFGS's one group",
            "TooManyGroups",
            "lbfgs supports only 1 parameter group(s) and cannot take group 1",
            |e| {
                matches!(
                    e,
                    Error::TooManyGroups {
                        kind: "lbfgs",
                        max: 1,
                        group: 1
                    }
                )
            },
            || {
                trial(lbfgs().0, |o| {
                    o.add_param_group(ParamGroup::new([Param::new(array![1.0])]))
                })
            },
        ),
        c(
            "registry-unknown-optimizer",
            "building an optimizer by a name the registry does not know",
            "use one of the names listed (`registry::KINDS`)",
            "UnknownOptimizer",
            "unknown optimizer `adagrad` (known: sgd, adam, adamw, lbfgs)",
            |e| matches!(e, Error::UnknownOptimizer { kind, .. } if kind == "adagrad"),
            || {
                construct(unnamed_params(), |p| {
                    registry::build("adagrad", vec![(p, Map::new())], &Map::new())
                })
            },
        ),
        c(
            "registry-unknown-option",
            "building an optimizer from a config whose defaults misspell an option (`lrr`)",
            "spell the option as the optimizer names it (listed in the message)",
            "UnknownOption",
            "defaults: sgd has no option `lrr`",
            |e| matches!(e, Error::UnknownOption { option, .. } if option == "lrr"),
            || {
                let defaults: Map = [("lrr", 0.1)].into_iter().collect();
                construct(unnamed_params(), |p| {
                    registry::build("sgd", vec![(p, Map::new())], &defaults)
                })
            },
        ),
        // ----- every check of every bundled optimizer -----
        c(
            "sgd-negative-lr",
            "SGD with a negative learning rate",
            "use `lr` ≥ 0",
            "InvalidOption",
            "defaults: invalid learning rate: -0.1",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || construct(unnamed_params(), |p| Sgd::new(p, SgdOptions::new().lr(-0.1))),
        ),
        c(
            "sgd-nan-lr",
            "SGD with a NaN learning rate (torch accepts it)",
            "use a finite `lr` ≥ 0; a NaN usually comes from a schedule dividing by zero",
            "InvalidOption",
            "defaults: invalid learning rate: NaN",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || construct(unnamed_params(), |p| Sgd::new(p, SgdOptions::new().lr(f64::NAN))),
        ),
        c(
            "sgd-negative-momentum",
            "SGD with a negative momentum",
            "use `momentum` ≥ 0",
            "InvalidOption",
            "defaults: invalid momentum value: -0.5",
            |e| matches!(e, Error::InvalidOption { option: "momentum", .. }),
            || {
                construct(unnamed_params(), |p| {
                    Sgd::new(p, SgdOptions::new().lr(0.1).momentum(-0.5))
                })
            },
        ),
        c(
            "sgd-negative-weight-decay",
            "SGD with a negative weight decay",
            "use `weight_decay` ≥ 0",
            "InvalidOption",
            "defaults: invalid weight_decay value: -0.0001",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "weight_decay",
                        ..
                    }
                )
            },
            || {
                construct(unnamed_params(), |p| {
                    Sgd::new(p, SgdOptions::new().lr(0.1).weight_decay(-1e-4))
                })
            },
        ),
        c(
            "sgd-nesterov-without-momentum",
            "SGD with `nesterov` but no momentum",
            "set `momentum` > 0 (and leave `dampening` at 0), or drop `nesterov`",
            "InvalidOptions",
            "defaults: Nesterov momentum requires a momentum and zero dampening",
            |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: optimizers::error::Scope::Defaults,
                        ..
                    }
                )
            },
            || {
                construct(unnamed_params(), |p| {
                    Sgd::new(p, SgdOptions::new().lr(0.1).nesterov(true))
                })
            },
        ),
        c(
            "sgd-momentum-removed-under-nesterov",
            "setting `momentum` to 0 at run time on a Nesterov SGD group",
            "turn `nesterov` off first (`set_options` with both), or keep a momentum",
            "InvalidOptions",
            "group 0: Nesterov momentum requires a momentum and zero dampening",
            |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: optimizers::error::Scope::Group(0),
                        ..
                    }
                )
            },
            || {
                let params = unnamed_params();
                let opt = Sgd::new(params, SgdOptions::new().lr(0.1).momentum(0.9).nesterov(true)).expect("valid");
                trial(opt, |o| o.set_option(0, "momentum", 0.0))
            },
        ),
        c(
            "adam-negative-lr",
            "setting Adam's learning rate to a negative value at run time",
            "use `lr` ≥ 0; check the schedule that computed it",
            "InvalidOption",
            "group 1: invalid learning rate: -0.001",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || trial(adam().0, |o| o.set_option(1, "lr", -1e-3)),
        ),
        c(
            "adam-beta1-out-of-range",
            "Adam with β₁ = 1 (`betas` must each be in [0, 1))",
            "use β₁ in [0, 1), typically 0.9",
            "InvalidOption",
            "group 0: invalid beta parameter at index 0: 1.0",
            |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            || {
                trial(adam().0, |o| {
                    o.set_option(0, "betas", DictValue::List(vec![1.0.into(), 0.999.into()]))
                })
            },
        ),
        c(
            "adam-beta2-out-of-range",
            "Adam with a negative β₂",
            "use β₂ in [0, 1), typically 0.999",
            "InvalidOption",
            "group 0: invalid beta parameter at index 1: -0.1",
            |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            || trial(adam().0, |o| o.set_options(0, &AdamOptions::new().betas((0.9, -0.1)))),
        ),
        c(
            "adam-negative-eps",
            "Adam with a negative epsilon",
            "use `eps` ≥ 0, typically 1e-8",
            "InvalidOption",
            "group 0: invalid epsilon value: -1e-8",
            |e| matches!(e, Error::InvalidOption { option: "eps", .. }),
            || trial(adam().0, |o| o.set_option(0, "eps", -1e-8)),
        ),
        c(
            "adam-negative-weight-decay",
            "Adam with a negative weight decay",
            "use `weight_decay` ≥ 0",
            "InvalidOption",
            "group 0: invalid weight_decay value: -0.1",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "weight_decay",
                        ..
                    }
                )
            },
            || trial(adam().0, |o| o.set_option(0, "weight_decay", -0.1)),
        ),
        c(
            "adamw-negative-lr",
            "AdamW with a negative learning rate, through `update_options`",
            "use `lr` ≥ 0",
            "InvalidOption",
            "group 0: invalid learning rate: -1.0",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.lr = -1.0)),
        ),
        c(
            "adamw-beta1-out-of-range",
            "AdamW with β₁ above 1",
            "use β₁ in [0, 1)",
            "InvalidOption",
            "group 0: invalid beta parameter at index 0: 1.5",
            |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.betas.0 = 1.5)),
        ),
        c(
            "adamw-beta2-out-of-range",
            "AdamW with β₂ = 1",
            "use β₂ in [0, 1)",
            "InvalidOption",
            "group 0: invalid beta parameter at index 1: 1.0",
            |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.betas.1 = 1.0)),
        ),
        c(
            "adamw-negative-eps",
            "AdamW with a negative epsilon",
            "use `eps` ≥ 0",
            "InvalidOption",
            "group 0: invalid epsilon value: -0.5",
            |e| matches!(e, Error::InvalidOption { option: "eps", .. }),
            || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.eps = -0.5)),
        ),
        c(
            "adamw-negative-weight-decay",
            "AdamW with a negative weight decay",
            "use `weight_decay` ≥ 0",
            "InvalidOption",
            "group 0: invalid weight_decay value: -0.01",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "weight_decay",
                        ..
                    }
                )
            },
            || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.weight_decay = -0.01)),
        ),
        c(
            "adamw-coupled-weight-decay",
            "AdamW with `decoupled_weight_decay` = false",
            "use `Adam` for an L2 penalty; AdamW's decay is decoupled by definition",
            "InvalidOption",
            "group 0: AdamW always decouples weight decay: use Adam for an L2 penalty",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "decoupled_weight_decay",
                        ..
                    }
                )
            },
            || trial(adamw().0, |o| o.set_option(0, "decoupled_weight_decay", false)),
        ),
        c(
            "lbfgs-negative-lr",
            "LBFGS with a negative learning rate",
            "use a finite `lr` ≥ 0 (1 is usual with a line search)",
            "InvalidOption",
            "group 0: invalid learning rate: -1 (must be finite and at least 0)",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || trial(lbfgs().0, |o| o.set_options(0, &LbfgsOptions::new().lr(-1.0))),
        ),
        c(
            "lbfgs-infinite-lr",
            "LBFGS with an infinite learning rate",
            "use a finite `lr` ≥ 0",
            "InvalidOption",
            "group 0: invalid learning rate: inf (must be finite and at least 0)",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || trial(lbfgs().0, |o| o.set_option(0, "lr", f64::INFINITY)),
        ),
        c(
            "lbfgs-zero-max-iter",
            "LBFGS with `max_iter` = 0",
            "use `max_iter` ≥ 1",
            "InvalidOption",
            "group 0: invalid max_iter: 0 (must be at least 1)",
            |e| matches!(e, Error::InvalidOption { option: "max_iter", .. }),
            || trial(lbfgs().0, |o| o.set_options(0, &LbfgsOptions::new().max_iter(0))),
        ),
        c(
            "lbfgs-zero-max-eval",
            "LBFGS with `max_eval` = 0",
            "use `max_eval` ≥ 1, or leave it out (it defaults to `max_iter * 5 / 4`)",
            "InvalidOption",
            "group 0: invalid max_eval: 0 (must be at least 1)",
            |e| matches!(e, Error::InvalidOption { option: "max_eval", .. }),
            || trial(lbfgs().0, |o| o.set_option(0, "max_eval", 0i64)),
        ),
        c(
            "lbfgs-negative-tolerance-grad",
            "LBFGS with a negative `tolerance_grad`",
            "use `tolerance_grad` ≥ 0",
            "InvalidOption",
            "group 0: invalid tolerance_grad: -0.0000001 (must be at least 0)",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "tolerance_grad",
                        ..
                    }
                )
            },
            || {
                trial(lbfgs().0, |o| {
                    o.set_options(0, &LbfgsOptions::new().tolerance_grad(-1e-7))
                })
            },
        ),
        c(
            "lbfgs-nan-tolerance-change",
            "LBFGS with a NaN `tolerance_change`",
            "use `tolerance_change` ≥ 0",
            "InvalidOption",
            "group 0: invalid tolerance_change: NaN (must be at least 0)",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "tolerance_change",
                        ..
                    }
                )
            },
            || {
                trial(lbfgs().0, |o| {
                    o.set_options(0, &LbfgsOptions::new().tolerance_change(f64::NAN))
                })
            },
        ),
        c(
            "lbfgs-zero-history-size",
            "LBFGS with `history_size` = 0",
            "use `history_size` from 1 to 2²⁰ (10 to 100 is usual)",
            "InvalidOption",
            "group 0: invalid history_size: 0 (must be from 1 to 1048576)",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "history_size",
                        ..
                    }
                )
            },
            || trial(lbfgs().0, |o| o.set_options(0, &LbfgsOptions::new().history_size(0))),
        ),
        c(
            "lbfgs-huge-history-size",
            "LBFGS with a `history_size` above 2²⁰",
            "use `history_size` from 1 to 2²⁰; memory grows with it",
            "InvalidOption",
            "group 0: invalid history_size: 1048577 (must be from 1 to 1048576)",
            |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "history_size",
                        ..
                    }
                )
            },
            || {
                trial(lbfgs().0, |o| {
                    o.set_options(0, &LbfgsOptions::new().history_size(Lbfgs::MAX_HISTORY_SIZE + 1))
                })
            },
        ),
        // ----- options by name at run time -----
        c(
            "set-option-unknown-name",
            "`set_option` with a misspelt option name (`lrr`; torch silently adds it)",
            "use one of the option names the message lists",
            "UnknownOption",
            "group 0: adam has no option `lrr` (its options are: lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)",
            |e| matches!(e, Error::UnknownOption { kind: "adam", option, .. } if option == "lrr"),
            || trial(adam().0, |o| o.set_option(0, "lrr", 0.1)),
        ),
        c(
            "option-unknown-name",
            "reading an option the optimizer does not have (`momentum` of Adam)",
            "read one of the options the message lists (Adam's momentum is `betas`)",
            "UnknownOption",
            "group 0: adam has no option `momentum`",
            |e| matches!(e, Error::UnknownOption { option, .. } if option == "momentum"),
            || trial(adam().0, |o| o.option(0, "momentum").map(drop)),
        ),
        c(
            "set-option-wrong-type",
            "`set_option` with a value of the wrong type (the string \"0.1\" for `lr`)",
            "pass a value of the type the message names",
            "OptionType",
            "group 0: option `lr` must be a number, found a string (\"0.1\")",
            |e| matches!(e, Error::OptionType { option, .. } if option == "lr"),
            || trial(adam().0, |o| o.set_option(0, "lr", "0.1")),
        ),
        c(
            "set-option-betas-length",
            "`set_option` of `betas` with one number instead of two",
            "pass a list of two numbers: `[0.9, 0.999]`",
            "OptionType",
            "group 0: option `betas` must be a list of 2 items (a number, a number), found a list of 1 item(s)",
            |e| matches!(e, Error::OptionType { option, .. } if option == "betas"),
            || {
                trial(adam().0, |o| {
                    o.set_option(0, "betas", DictValue::List(vec![0.9.into()]))
                })
            },
        ),
        c(
            "set-option-no-such-group",
            "`set_option` on a group index the optimizer does not have",
            "use an index below `num_groups()`",
            "NoSuchGroup",
            "group 5 does not exist: the optimizer has 2 group(s)",
            |e| matches!(e, Error::NoSuchGroup { group: 5, groups: 2 }),
            || trial(adam().0, |o| o.set_option(5, "lr", 0.1)),
        ),
        // ----- parameters and gradients -----
        c(
            "grad-wrong-shape",
            "`set_grad` with a gradient of another shape (a transposed matrix)",
            "give the gradient the parameter's shape",
            "ShapeMismatch",
            "gradient of shape [3, 2] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            |e| matches!(e, Error::ShapeMismatch { what: "gradient", .. }),
            || {
                let (opt, params) = adam();
                let grad = params[0].grad_array().expect("a gradient").reversed_axes();
                trial(opt, |_| params[0].set_grad(grad))
            },
        ),
        c(
            "grad-slice-wrong-length",
            "`set_grad_from_slice` with a slice of the wrong length",
            "pass `numel()` elements, row-major",
            "ShapeMismatch",
            "gradient of shape [5] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            |e| matches!(e, Error::ShapeMismatch { what: "gradient", found, .. } if found == &[5]),
            || {
                let (opt, params) = adam();
                trial(opt, |_| params[0].set_grad_from_slice(&[0.0; 5]))
            },
        ),
        c(
            "grad-accumulate-wrong-shape",
            "`accumulate_grad` with an array of another shape",
            "accumulate arrays of the parameter's shape",
            "ShapeMismatch",
            "gradient of shape [2] does not match the parameter \"fc.bias\"'s shape [3]",
            |e| matches!(e, Error::ShapeMismatch { what: "gradient", .. }),
            || {
                let (opt, params) = adam();
                trial(opt, |_| params[1].accumulate_grad(&array![1.0, 2.0]))
            },
        ),
        c(
            "value-wrong-shape",
            "`set_value` with an array of another shape",
            "a parameter's shape never changes: create a new parameter (and optimizer) to change it",
            "ShapeMismatch",
            "value of shape [6] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            |e| matches!(e, Error::ShapeMismatch { what: "value", .. }),
            || {
                let (opt, params) = adam();
                trial(opt, |_| params[0].set_value(array![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
            },
        ),
        // ----- steps -----
        c(
            "nonfinite-gradient",
            "`check_finite` before a step, with a NaN in a gradient",
            "skip the step (`zero_grad`), lower the learning rate, or find where the loss overflows",
            "NonFiniteGrad",
            "parameter 0 of group 1 (\"fc.bias\") has a non-finite gradient (NaN at flat index 2)",
            |e| matches!(e, Error::NonFiniteGrad { position: 2, value, .. } if value.is_nan()),
            || {
                let (opt, params) = adam();
                params[1].grad_mut().expect("a gradient")[[2]] = f64::NAN;
                trial(opt, |o| o.check_finite())
            },
        ),
        c(
            "lbfgs-step-without-closure",
            "`step()` on LBFGS",
            "call `step_with(closure)`, the closure recomputing loss and gradients",
            "ClosureRequired",
            "lbfgs re-evaluates the loss several times per step: call `step_with(closure)`",
            |e| matches!(e, Error::ClosureRequired { kind: "lbfgs" }),
            || trial(lbfgs().0, |o| o.step()),
        ),
        c(
            "lbfgs-nonfinite-loss",
            "an LBFGS closure that returns NaN",
            "find why the loss overflows (a learning rate too large, a log of 0); the optimizer stays usable",
            "NonFiniteClosure",
            "lbfgs: evaluation 8 of the closure gave a non-finite loss (NaN)",
            |e| {
                matches!(
                    e,
                    Error::NonFiniteClosure {
                        evaluation: 8,
                        what: "loss",
                        ..
                    }
                )
            },
            || nonfinite_closure("loss"),
        ),
        c(
            "lbfgs-nonfinite-gradient",
            "an LBFGS closure that writes an infinite gradient",
            "find why the gradient overflows; the optimizer stays usable",
            "NonFiniteClosure",
            "lbfgs: evaluation 8 of the closure gave a non-finite gradient (inf)",
            |e| {
                matches!(
                    e,
                    Error::NonFiniteClosure {
                        evaluation: 8,
                        what: "gradient",
                        ..
                    }
                )
            },
            || nonfinite_closure("gradient"),
        ),
        // ----- loading a state dict -----
        c(
            "load-wrong-optimizer",
            "loading Adam's state dict into SGD",
            "load a checkpoint into the kind of optimizer that saved it",
            "WrongOptimizer",
            "the state dict comes from `adam` and cannot be loaded into `sgd`: load it into the optimizer that saved it",
            |e| matches!(e, Error::WrongOptimizer { expected: "sgd", found } if found == "adam"),
            || {
                let adam_dict = adam_dict_for_sgd();
                trial(sgd().0, |o| o.load_state_dict(&adam_dict))
            },
        ),
        c(
            "load-wrong-optimizer-without-kind",
            "loading Adam's state dict into SGD when the dict does not record its kind (torch's own dicts)",
            "load a checkpoint into the kind of optimizer that saved it",
            "UnknownOption",
            "group 0: sgd has no option `betas`",
            |e| matches!(e, Error::UnknownOption { kind: "sgd", option, .. } if option == "betas"),
            || {
                let mut adam_dict = adam_dict_for_sgd();
                adam_dict.kind = None;
                trial(sgd().0, |o| o.load_state_dict(&adam_dict))
            },
        ),
        c(
            "load-newer-version",
            "loading a state dict written by a newer format version",
            "upgrade optim to a version that reads it",
            "UnsupportedVersion",
            "the state dict has format version 99 but this `sgd` reads versions up to 1",
            |e| {
                matches!(
                    e,
                    Error::UnsupportedVersion {
                        found: 99,
                        supported: 1,
                        ..
                    }
                )
            },
            || load(sgd(), |d| d.version = Some(99)),
        ),
        c(
            "load-too-few-groups",
            "loading a state dict with fewer groups than the optimizer",
            "build the optimizer with the groups it had when it was saved (`add_param_group` them before loading)",
            "GroupCount",
            "loaded state dict has 1 parameter group(s) but the optimizer has 2",
            |e| matches!(e, Error::GroupCount { expected: 2, found: 1 }),
            || load(adam(), |d| drop(d.param_groups.pop())),
        ),
        c(
            "load-too-many-groups",
            "loading a state dict with more groups than the optimizer",
            "build the optimizer with the groups it had when it was saved",
            "GroupCount",
            "loaded state dict has 2 parameter group(s) but the optimizer has 1",
            |e| matches!(e, Error::GroupCount { expected: 1, found: 2 }),
            || {
                load(sgd(), |d| {
                    let mut extra = d.param_groups[0].clone();
                    extra.params = vec![2];
                    d.param_groups.push(extra);
                })
            },
        ),
        c(
            "load-group-size",
            "loading a state dict whose group has another number of parameters",
            "build each group with the parameters it had when it was saved",
            "GroupSize",
            "group 0 of the loaded state dict has 3 parameter(s) but the optimizer's group 0 has 2",
            |e| {
                matches!(
                    e,
                    Error::GroupSize {
                        group: 0,
                        expected: 2,
                        found: 3
                    }
                )
            },
            || load(sgd(), |d| d.param_groups[0].params.push(2)),
        ),
        c(
            "load-duplicate-index",
            "a state dict whose groups list one parameter index twice",
            "the file was edited or corrupted: save it again from the optimizer",
            "DuplicateStateIndex",
            "parameter index 0 is listed twice in the state dict's groups (group 0)",
            |e| matches!(e, Error::DuplicateStateIndex { index: 0, group: 0 }),
            || load(sgd(), |d| d.param_groups[0].params = vec![0, 0]),
        ),
        c(
            "load-unknown-index",
            "a state dict with state for a parameter index that no group lists",
            "the file was edited or corrupted: save it again from the optimizer",
            "UnknownStateIndex",
            "the state dict has state for parameter index 7, which none of its groups lists",
            |e| matches!(e, Error::UnknownStateIndex { index: 7 }),
            || {
                load(sgd(), |d| {
                    let e = entry(d, 0).clone();
                    d.state.insert(7, e);
                })
            },
        ),
        c(
            "load-lbfgs-misplaced-state",
            "an LBFGS state dict with state under parameter 1 (LBFGS keeps all of it under 0)",
            "keep LBFGS's state under parameter 0, as torch and this crate save it",
            "MisplacedState",
            "lbfgs keeps all of its state under parameter 0, but the state dict has state for parameter index 1",
            |e| {
                matches!(
                    e,
                    Error::MisplacedState {
                        kind: "lbfgs",
                        index: 1
                    }
                )
            },
            || {
                load_lbfgs(|d| {
                    let e = d.state.remove(&0).expect("state under 0");
                    d.state.insert(1, e);
                })
            },
        ),
        c(
            "load-unknown-state-key",
            "a state entry with a key the optimizer does not know",
            "remove the entry, or load into the optimizer that saved it",
            "UnknownStateKey",
            "state of parameter 1: sgd has no state entry `exp_avg` (its entries are: momentum_buffer)",
            |e| matches!(e, Error::UnknownStateKey { index: 1, key, .. } if key == "exp_avg"),
            || load(sgd(), |d| entry(d, 1).insert("exp_avg", tensor(&[2]))),
        ),
        c(
            "load-missing-state-key",
            "a state entry without a key that must be present (Adam's `exp_avg_sq`)",
            "the file was edited or truncated: save it again from the optimizer",
            "MissingStateKey",
            "state of parameter 0: the entry `exp_avg_sq` is missing",
            |e| matches!(e, Error::MissingStateKey { index: 0, key } if key == "exp_avg_sq"),
            || load(adam(), |d| drop(entry(d, 0).remove("exp_avg_sq"))),
        ),
        c(
            "load-state-shape",
            "a state tensor whose shape is not its parameter's (parameters matched by position)",
            "load into a model with the same parameter shapes, in the same order",
            "StateShape",
            "state of parameter 1: `momentum_buffer` has shape [3] but the parameter needs [2]",
            |e| matches!(e, Error::StateShape { index: 1, expected, found, .. } if expected == &[2] && found == &[3]),
            || load(sgd(), |d| entry(d, 1).insert("momentum_buffer", tensor(&[3]))),
        ),
        c(
            "load-state-wrong-type",
            "a state entry of the wrong type (a string where a tensor belongs)",
            "the file was edited or corrupted: save it again from the optimizer",
            "StateType",
            "state of parameter 0: `momentum_buffer` must be a tensor, found a string (\"zeros\")",
            |e| matches!(e, Error::StateType { index: 0, key, .. } if key == "momentum_buffer"),
            || load(sgd(), |d| entry(d, 0).insert("momentum_buffer", "zeros")),
        ),
        c(
            "load-negative-count",
            "a state entry with an impossible value (LBFGS's `n_iter` = -1)",
            "the file was edited or corrupted: save it again from the optimizer",
            "StateValue",
            "state of parameter 0: `n_iter` must not be negative, found -1",
            |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "n_iter"),
            || load_lbfgs(|d| entry(d, 0).insert("n_iter", -1i64)),
        ),
        c(
            "load-fractional-step",
            "Adam's step count edited to a fraction (or a negative number, or NaN)",
            "the file was edited or corrupted: save it again from the optimizer",
            "StateValue",
            "state of parameter 1: `step` must be a whole number of steps from 0 to 2^53, found 2.5",
            |e| matches!(e, Error::StateValue { index: 1, key, .. } if key == "step"),
            || load(adam(), |d| entry(d, 1).insert("step", 2.5)),
        ),
        c(
            "load-lbfgs-partial-history",
            "an LBFGS state with `old_dirs` and `old_stps` but no `ro`",
            "LBFGS saves its eight history entries together: restore the whole entry",
            "StateValue",
            "state of parameter 0: `ro` is missing although `d` is present",
            |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "ro"),
            || load_lbfgs(|d| drop(entry(d, 0).remove("ro"))),
        ),
        c(
            "load-negative-option",
            "a saved group with a negative learning rate",
            "correct the value in the file, or change the option after loading a valid one",
            "InvalidOption",
            "group 0: invalid learning rate: -0.1",
            |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            || load(sgd(), |d| options(d, 0).insert("lr", -0.1)),
        ),
        c(
            "load-nan-option",
            "a saved group with a NaN option (JSON `\"NaN\"`)",
            "correct the value in the file",
            "InvalidOption",
            "group 0: invalid momentum value: NaN",
            |e| matches!(e, Error::InvalidOption { option: "momentum", .. }),
            || load(sgd(), |d| options(d, 0).insert("momentum", f64::NAN)),
        ),
        c(
            "load-unknown-option",
            "a saved group with an option the optimizer does not have",
            "remove the key, or load into the optimizer that saved it",
            "UnknownOption",
            "group 0: sgd has no option `foreach`",
            |e| matches!(e, Error::UnknownOption { option, .. } if option == "foreach"),
            || load(sgd(), |d| options(d, 0).insert("foreach", DictValue::Null)),
        ),
        c(
            "load-option-wrong-type",
            "a saved group with an option of the wrong type",
            "correct the value in the file",
            "OptionType",
            "group 0: option `nesterov` must be a boolean, found a string (\"yes\")",
            |e| matches!(e, Error::OptionType { option, .. } if option == "nesterov"),
            || load(sgd(), |d| options(d, 0).insert("nesterov", "yes")),
        ),
        c(
            "load-name-mismatch",
            "loading by name when a parameter was renamed",
            "rename it back, or load into a model with the saved names (every mismatch is listed)",
            "ParamNames",
            "group 0: parameter \"fc.weight\" is missing from the state dict; group 0: the state dict has parameter \"fc.w\", which the optimizer does not have",
            |e| matches!(e, Error::ParamNames { problems } if problems.len() == 2),
            || {
                load(adam(), |d| {
                    d.param_groups[0].param_names = Some(vec!["fc.w".into()]);
                })
            },
        ),
        c(
            "load-state-shape-by-name",
            "loading by name when a parameter changed shape",
            "load into a model whose parameters have the saved shapes",
            "ParamNames",
            "parameter \"fc.bias\": state of parameter 1: `exp_avg` has shape [4] but the parameter needs [3]",
            |e| matches!(e, Error::ParamNames { problems } if problems.len() == 1),
            || load(adam(), |d| entry(d, 1).insert("exp_avg", tensor(&[4]))),
        ),
        c(
            "load-names-count",
            "a saved group with more parameter names than parameters",
            "the file was edited or corrupted: save it again from the optimizer",
            "Format",
            "malformed state dict: group 1 lists 1 parameter(s) but 2 name(s)",
            |e| matches!(e, Error::Format { .. }),
            || {
                load(adam(), |d| {
                    d.param_groups[1].param_names = Some(vec!["fc.bias".into(), "fc.extra".into()]);
                })
            },
        ),
        // ----- reading a checkpoint -----
        c(
            "json-truncated",
            "a checkpoint file cut short (a full disk, an interrupted copy)",
            "save again, to a temporary file renamed into place once written",
            "Json",
            "cannot read the state dict as JSON: EOF while parsing",
            |e| matches!(e, Error::Json { .. }),
            || load_json(|t| t[..t.len() / 2].to_string()),
        ),
        c(
            "json-broken",
            "a checkpoint that is not valid JSON (edited by hand)",
            "fix the syntax at the line and column the message gives",
            "Json",
            "cannot read the state dict as JSON: expected `:` at line 1 column 9",
            |e| matches!(e, Error::Json { .. }),
            || load_json(|t| t.replacen(":", " ", 1)),
        ),
        c(
            "json-duplicate-key",
            "a checkpoint with a key twice in one object",
            "keep one of them: which one was meant is ambiguous",
            "Json",
            "a parameter group has `lr` twice",
            |e| matches!(e, Error::Json { .. }),
            || load_json(|t| t.replacen("\"lr\":0.1", "\"lr\":0.1,\"lr\":0.2", 1)),
        ),
        c(
            "json-duplicate-state-index",
            "a checkpoint with the state of one parameter index twice",
            "keep one of them: which one was meant is ambiguous",
            "Json",
            "state has parameter index 0 twice",
            |e| matches!(e, Error::Json { .. }),
            || load_json(|t| t.replacen("\"1\":{\"momentum_buffer\"", "\"0\":{\"momentum_buffer\"", 1)),
        ),
        c(
            "json-not-a-state-dict",
            "a JSON file that is not a state dict (no `param_groups`)",
            "load the file `checkpoint::save` wrote",
            "Json",
            "the state dict has no `param_groups`",
            |e| matches!(e, Error::Json { .. }),
            || load_json(|_| r#"{"state": {}}"#.to_string()),
        ),
        c(
            "json-bad-tensor",
            "a tensor whose data does not fill its shape",
            "the file was edited or corrupted: save it again from the optimizer",
            "Json",
            "tensor of shape [2, 2] cannot hold 3 element(s)",
            |e| matches!(e, Error::Json { .. }),
            || load_json(|t| t.replacen(&first_data(&t), "[0.1,0.2,0.3]", 1)),
        ),
        c(
            "checkpoint-missing-file",
            "`checkpoint::load` of a file that does not exist",
            "check the path; the message names it and gives the system's reason",
            "Io",
            "cannot read /nonexistent/optim/checkpoint.json",
            |e| matches!(e, Error::Io { action: "read", .. }),
            || {
                trial(sgd().0, |o| {
                    o.load_state_dict(&checkpoint::load("/nonexistent/optim/checkpoint.json")?.state_dict()?)
                })
            },
        ),
    ]
}

/// The first tensor data list in `text` (`[...]` after the first `"data":`).
fn first_data(text: &str) -> String {
    let start = text.find("\"data\":[").expect("a tensor") + "\"data\":".len();
    let end = start + text[start..].find(']').expect("the list ends") + 1;
    text[start..end].to_string()
}

/// Adam's state dict over parameters shaped as the SGD subject's.
fn adam_dict_for_sgd() -> StateDict<'static> {
    let params = unnamed_params();
    let mut opt = Adam::new(params.clone(), AdamOptions::new()).expect("valid");
    train(&mut opt, &params, 0..2);
    opt.state_dict().into_owned()
}

/// LBFGS after two steps, whose next step meets a closure that fails at evaluation 8 (the
/// first evaluation of that step is 7, whose parameters must be restored).
fn nonfinite_closure(what: &'static str) -> Trial {
    let (mut opt, params) = lbfgs();
    let evals_before = opt.state(&params[0]).expect("state").func_evals;
    assert_eq!(evals_before, 6, "the subject's evaluations so far");
    let before = Snapshot::of_params(&params);
    let closure = quadratic(&params, Some((2, what)));
    let error = opt.step_with(closure).expect_err("a non-finite evaluation");
    let state = opt.state(&params[0]).expect("state");
    assert_eq!(
        state.func_evals,
        evals_before + 2,
        "func_evals counts the failed evaluation"
    );
    let mut after = Snapshot::of_params(&params);
    // The closure's first call rewrote the gradients (with the same values, at the same point).
    after
        .params
        .iter_mut()
        .zip(&before.params)
        .for_each(|(a, b)| a.grad.clone_from(&b.grad));
    Trial { error, before, after }
}

// ----- handling errors (shown in the chapter) -------------------------------------------------

// ANCHOR: resume
/// Resumes from the checkpoint at `path` when there is one this optimizer can take;
/// returns whether it did.
fn resume(opt: &mut Optimizer<Adam, f64>, path: &Path) -> Result<bool> {
    let file = match checkpoint::load(path) {
        Ok(file) => file,
        Err(Error::Io { .. }) => return Ok(false), // no checkpoint yet: start afresh
        Err(e) => return Err(e),                   // a damaged file: stop and say so
    };
    match opt.load_state_dict(&file.state_dict()?) {
        Ok(()) => Ok(true),
        // The model changed since the checkpoint was written. Every renamed, missing or
        // reshaped parameter is listed, and nothing was loaded.
        Err(Error::ParamNames { problems }) => {
            for problem in &problems {
                eprintln!("not resuming: {problem}");
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
// ANCHOR_END: resume

#[test]
fn errors_are_handled_by_their_variant_and_fields() {
    let dir = std::env::temp_dir().join(format!("optim-catalogue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.json");
    let (mut opt, _) = adam();
    assert!(!resume(&mut opt, &path).unwrap(), "no checkpoint yet");
    checkpoint::save(&path, &opt.state_dict()).unwrap();
    let (mut other, _) = adam();
    assert!(resume(&mut other, &path).unwrap(), "the same model resumes");
    // a renamed model does not resume, and keeps its state
    let params = [
        Param::named("head.weight", array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        Param::named("fc.bias", array![1.0, 2.0, 3.0]),
    ];
    let mut renamed = Adam::with_groups(
        [
            ParamGroup::new([params[0].clone()]),
            ParamGroup::new([params[1].clone()]),
        ],
        AdamOptions::new(),
    )
    .unwrap();
    let before = Snapshot::of(&renamed);
    assert!(!resume(&mut renamed, &path).unwrap());
    assert_eq!(Snapshot::of(&renamed), before);
    // a damaged file is an error
    std::fs::write(&path, "{\"state\": {").unwrap();
    assert!(matches!(resume(&mut other, &path), Err(Error::Json { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ----- running the catalogue -----------------------------------------------------------------

/// What a case gave.
struct Outcome {
    id: &'static str,
    message: String,
    problems: Vec<String>,
}

/// The variant's name, from `Debug` (`GroupCount { expected: 2, found: 1 }` → `GroupCount`).
fn variant_name(e: &Error) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn run(case: &Case) -> Outcome {
    let mut problems = Vec::new();
    let mut message = String::new();
    match catch_unwind(AssertUnwindSafe(case.run)) {
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            problems.push(format!("panicked: {text}"));
        }
        Ok(trial) => {
            message = trial.error.to_string();
            let name = variant_name(&trial.error);
            if name != case.variant {
                problems.push(format!(
                    "gave {name}, catalogued as {}: {:?}",
                    case.variant, trial.error
                ));
            }
            if !(case.expect)(&trial.error) {
                problems.push(format!("does not match the expected pattern: {:?}", trial.error));
            }
            if !message.contains(case.fragment) {
                problems.push(format!("message {message:?} lacks {:?}", case.fragment));
            }
            if let Some(diff) = trial.before.difference(&trial.after) {
                problems.push(format!("changed the optimizer: {diff}"));
            }
        }
    }
    Outcome {
        id: case.id,
        message,
        problems,
    }
}

/// Every case's outcome, computed once for all the tests of this file.
fn outcomes() -> &'static [Outcome] {
    static OUTCOMES: OnceLock<Vec<Outcome>> = OnceLock::new();
    OUTCOMES.get_or_init(|| cases().iter().map(run).collect())
}

#[test]
fn every_case_gives_its_error_names_the_culprit_and_changes_nothing() {
    let failures: Vec<String> = outcomes()
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| format!("{}:\n    {}", o.id, o.problems.join("\n    ")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_catalogue_has_at_least_thirty_cases_with_unique_ids() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut seen = BTreeSet::new();
    for case in &cases {
        assert!(seen.insert(case.id), "the id {} is used twice", case.id);
        assert!(
            case.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "ids are kebab-case: {}",
            case.id
        );
        assert!(
            !case.fragment.is_empty() && !case.cause.is_empty() && !case.fix.is_empty(),
            "{}",
            case.id
        );
    }
}

// ----- the chapter ---------------------------------------------------------------------------

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chapter_path() -> PathBuf {
    workspace().join("book/src/errors.md")
}

/// The variants of `Error`, in declaration order, read from its source.
fn error_variants() -> Vec<String> {
    let source = std::fs::read_to_string(workspace().join("optim-core/src/error.rs")).expect("error.rs");
    let body = source
        .split("pub enum Error {")
        .nth(1)
        .expect("the Error enum")
        .split("\n}\n")
        .next()
        .expect("its end");
    body.lines()
        .filter_map(|line| {
            let name = line.strip_prefix("    ")?.split_whitespace().next()?;
            let first = name.chars().next()?;
            (first.is_ascii_uppercase() && name.chars().all(|c| c.is_ascii_alphanumeric())).then(|| name.to_string())
        })
        .collect()
}

/// A message as an inline code span (double backticks, as messages contain single ones).
fn code(message: &str) -> String {
    format!("`` {message} ``")
}

/// The generated block of one variant: its cases with their actual messages.
fn render(variant: &str) -> String {
    let cases = cases();
    let mut out = String::new();
    for (case, outcome) in cases.iter().zip(outcomes()).filter(|(c, _)| c.variant == variant) {
        out.push_str(&format!(
            "- **`{}`**: {}.\\\n  {}\\\n  *Fix:* {}.\n",
            case.id,
            case.cause,
            code(&outcome.message),
            case.fix
        ));
    }
    out
}

const OPEN: &str = "<!-- cases ";
const CLOSE: &str = "<!-- /cases -->";

/// The chapter with every generated block replaced by what the catalogue gives now, and the
/// variants whose block is missing.
fn regenerate(chapter: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut rest = chapter;
    let mut found = BTreeSet::new();
    while let Some(start) = rest.find(OPEN) {
        let header_end = start + rest[start..].find("-->").expect("the marker closes") + 3;
        let variant = rest[start + OPEN.len()..header_end - 3].trim().to_string();
        let close = header_end + rest[header_end..].find(CLOSE).expect("every block is closed");
        out.push_str(&rest[..header_end]);
        out.push('\n');
        out.push_str(&render(&variant));
        out.push_str(CLOSE);
        rest = &rest[close + CLOSE.len()..];
        found.insert(variant);
    }
    out.push_str(rest);
    let missing = error_variants().into_iter().filter(|v| !found.contains(v)).collect();
    (out, missing)
}

#[test]
fn every_error_variant_has_a_case() {
    let catalogued: BTreeSet<&str> = cases().iter().map(|c| c.variant).collect();
    let variants = error_variants();
    assert!(variants.len() >= 30, "read the variants of Error: {variants:?}");
    let missing: Vec<&String> = variants.iter().filter(|v| !catalogued.contains(v.as_str())).collect();
    assert!(missing.is_empty(), "variants without a case: {missing:?}");
    let unknown: Vec<&&str> = catalogued
        .iter()
        .filter(|v| !variants.iter().any(|x| x == *v))
        .collect();
    assert!(unknown.is_empty(), "cases naming no variant of Error: {unknown:?}");
}

#[test]
fn the_chapter_shows_the_catalogue() {
    let path = chapter_path();
    let chapter = std::fs::read_to_string(&path).expect("book/src/errors.md");
    let (expected, missing) = regenerate(&chapter);
    assert!(
        missing.is_empty(),
        "errors.md has no `{OPEN}NAME -->` … `{CLOSE}` block for {missing:?}: add a section for each"
    );
    if std::env::var_os("OPTIM_BLESS").is_some() {
        // Written beside it and renamed over it, so that the other tests of this file,
        // which read the chapter meanwhile, see the old text or the new, never half of it.
        let fresh = path.with_extension("md.new");
        std::fs::write(&fresh, &expected).expect("write errors.md.new");
        std::fs::rename(&fresh, &path).expect("replace errors.md");
    } else {
        assert!(
            chapter == expected,
            "book/src/errors.md is out of date with the catalogue: run \
             `OPTIM_BLESS=1 cargo test -p optim-tests --test catalogue` and review the diff"
        );
    }
    for variant in error_variants() {
        assert!(
            expected.contains(&format!("### `{variant}`")),
            "errors.md has no heading for {variant}"
        );
    }
    for (case, outcome) in cases().iter().zip(outcomes()) {
        assert!(
            expected.contains(&format!("`{}`", case.id)),
            "{} is not in the chapter",
            case.id
        );
        assert!(
            expected.contains(case.fragment),
            "{}'s fragment is not in the chapter",
            case.id
        );
        assert!(
            !outcome.message.contains("``"),
            "{}: a message with a double backtick",
            case.id
        );
    }
}

#[test]
fn the_chapters_includes_resolve() {
    let chapter = std::fs::read_to_string(chapter_path()).expect("book/src/errors.md");
    let mut includes = BTreeMap::new();
    for piece in chapter.split("{{#include ").skip(1) {
        let target = piece.split("}}").next().expect("the include closes").trim();
        let (file, anchor) = target.split_once(':').unwrap_or((target, ""));
        includes.insert(file.to_string(), anchor.to_string());
        let text = std::fs::read_to_string(workspace().join("book/src").join(file))
            .unwrap_or_else(|e| panic!("errors.md includes {file}: {e}"));
        if !anchor.is_empty() {
            assert!(
                text.contains(&format!("ANCHOR: {anchor}")) && text.contains(&format!("ANCHOR_END: {anchor}")),
                "{file} has no anchor {anchor}"
            );
        }
    }
    assert!(!includes.is_empty(), "the chapter shows its code samples by include");
}
