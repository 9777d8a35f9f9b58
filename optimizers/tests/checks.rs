//! Each bundled optimizer's validity checks, with torch's messages (lowercased, as all of
//! this project's messages are), on construction, on groups and at runtime.

use optimizers::error::Scope;
use optimizers::ndarray::array;
use optimizers::{Adam, AdamOptions, AdamW, AdamWOptions, Error, Param, ParamGroup, Sgd, SgdOptions};

fn p() -> Param<f64> {
    Param::new(array![1.0, 2.0])
}

fn defaults_error(err: Error) -> String {
    match &err {
        Error::InvalidOption {
            scope: Scope::Defaults, ..
        }
        | Error::InvalidOptions { .. } => err.to_string(),
        other => panic!("expected an invalid option in the defaults, got {other:?}"),
    }
}

#[test]
fn sgd_checks_match_torch() {
    let sgd = |o: SgdOptions| Sgd::new([p()], o).map(|_| ()).map_err(defaults_error);
    assert_eq!(
        sgd(SgdOptions::new().lr(-0.1)),
        Err("defaults: invalid learning rate: -0.1".into())
    );
    assert_eq!(
        sgd(SgdOptions::new().lr(0.1).momentum(-0.5)),
        Err("defaults: invalid momentum value: -0.5".into())
    );
    assert_eq!(
        sgd(SgdOptions::new().lr(0.1).weight_decay(-1e-4)),
        Err("defaults: invalid weight_decay value: -0.0001".into())
    );
    let nesterov = "defaults: Nesterov momentum requires a momentum and zero dampening";
    assert_eq!(sgd(SgdOptions::new().lr(0.1).nesterov(true)), Err(nesterov.into()));
    assert_eq!(
        sgd(SgdOptions::new().lr(0.1).nesterov(true).momentum(0.9).dampening(0.1)),
        Err(nesterov.into())
    );
    assert_eq!(sgd(SgdOptions::new().lr(0.1).nesterov(true).momentum(0.9)), Ok(()));
    // NaN passes torch's `lr < 0.0` test; it fails ours.
    assert_eq!(
        sgd(SgdOptions::new().lr(f64::NAN)),
        Err("defaults: invalid learning rate: NaN".into())
    );
}

#[test]
fn sgd_lr_is_required() {
    let err = Sgd::new([p()], SgdOptions::new()).expect_err("no lr");
    assert_eq!(err, Error::MissingRequiredOption { group: 0, option: "lr" });
    Sgd::with_groups(
        [ParamGroup::new([p()]).options(SgdOptions::new().lr(0.1))],
        SgdOptions::new(),
    )
    .expect("the group sets it");
}

#[test]
fn adam_checks_match_torch() {
    let adam = |o: AdamOptions| Adam::new([p()], o).map(|_| ()).map_err(defaults_error);
    assert_eq!(
        adam(AdamOptions::new().lr(-1e-3)),
        Err("defaults: invalid learning rate: -0.001".into())
    );
    assert_eq!(
        adam(AdamOptions::new().eps(-1e-8)),
        Err("defaults: invalid epsilon value: -1e-8".into())
    );
    assert_eq!(
        adam(AdamOptions::new().betas((1.0, 0.999))),
        Err("defaults: invalid beta parameter at index 0: 1.0".into())
    );
    assert_eq!(
        adam(AdamOptions::new().betas((0.9, -0.1))),
        Err("defaults: invalid beta parameter at index 1: -0.1".into())
    );
    assert_eq!(
        adam(AdamOptions::new().weight_decay(-0.1)),
        Err("defaults: invalid weight_decay value: -0.1".into())
    );
    assert_eq!(adam(AdamOptions::new()), Ok(()));
}

#[test]
fn adamw_shares_adams_checks_and_stays_decoupled() {
    let adamw = |o: AdamWOptions| AdamW::new([p()], o).map(|_| ()).map_err(defaults_error);
    assert_eq!(
        adamw(AdamWOptions::new().lr(-1.0)),
        Err("defaults: invalid learning rate: -1.0".into())
    );
    assert_eq!(
        adamw(AdamWOptions::new().betas((0.9, 1.0))),
        Err("defaults: invalid beta parameter at index 1: 1.0".into())
    );
    assert_eq!(
        adamw(AdamWOptions::new().decoupled_weight_decay(false)),
        Err("defaults: AdamW always decouples weight decay: use Adam for an L2 penalty".into())
    );
    let opt = AdamW::new([p()], AdamWOptions::new()).expect("defaults");
    let o = opt.hyperparameters(0).expect("group 0");
    assert_eq!((o.lr, o.weight_decay, o.decoupled_weight_decay), (1e-3, 1e-2, true));
}

#[test]
fn checks_also_run_on_groups_and_runtime_changes() {
    let err = Adam::with_groups(
        [
            ParamGroup::new([p()]),
            ParamGroup::new([p()]).options(AdamOptions::new().eps(-1.0)),
        ],
        AdamOptions::new(),
    )
    .expect_err("group 1");
    assert_eq!(err.to_string(), "group 1: invalid epsilon value: -1.0");
    let mut opt = Sgd::new([p()], SgdOptions::new().lr(0.1).momentum(0.9).nesterov(true)).expect("valid");
    let err = opt.set_option(0, "momentum", 0.0).expect_err("nesterov needs momentum");
    assert_eq!(
        err.to_string(),
        "group 0: Nesterov momentum requires a momentum and zero dampening"
    );
    assert_eq!(opt.hyperparameters(0).expect("group 0").momentum, 0.9, "unchanged");
}
