//! Defaults, `required`, groups, options at runtime, and every `add_param_group` check.

mod support;

use optim_core::ndarray::array;
use optim_core::{DictValue, Error, Param, ParamGroup, Scope};
use support::*;

#[test]
fn required_option_may_be_absent_from_defaults_when_every_group_sets_it() {
    let (a, b) = two_params();
    let opt = Momentum::with_groups(
        [
            ParamGroup::new([a]).options(MomentumOptions::new().lr(0.1)),
            ParamGroup::new([b]).options(MomentumOptions::new().lr(0.2)),
        ],
        MomentumOptions::new(),
    )
    .expect("every group sets lr");
    assert_eq!(opt.hyperparameters(0).expect("group 0").lr, 0.1);
    assert_eq!(opt.hyperparameters(1).expect("group 1").lr, 0.2);
    assert_eq!(opt.defaults().lr, None, "the default stays absent");
}

#[test]
fn missing_required_option_names_the_option_and_the_group() {
    let (a, b) = two_params();
    let err = Momentum::with_groups(
        [
            ParamGroup::new([a]).options(MomentumOptions::new().lr(0.1)),
            ParamGroup::new([b]),
        ],
        MomentumOptions::new(),
    )
    .expect_err("group 1 has no lr");
    assert_eq!(err, Error::MissingRequiredOption { group: 1, option: "lr" });
    assert!(
        err.to_string()
            .contains("group 1 does not set the required option `lr`"),
        "{err}"
    );
}

#[test]
fn a_group_takes_what_it_does_not_set_from_the_defaults() {
    let (a, b) = two_params();
    let opt = Momentum::with_groups(
        [
            ParamGroup::new([a]),
            ParamGroup::new([b]).options(MomentumOptions::new().momentum(0.5)),
        ],
        MomentumOptions::new().lr(0.01).momentum(0.9),
    )
    .expect("valid");
    let g1 = opt.hyperparameters(1).expect("group 1");
    assert_eq!((g1.lr, g1.momentum, g1.nesterov), (0.01, 0.5, false));
    assert_eq!(opt.hyperparameters(0).expect("group 0").momentum, 0.9);
}

#[test]
fn options_change_per_group_while_training_typed_and_by_name() {
    let (a, b) = two_params();
    let mut opt = Momentum::with_groups(
        [ParamGroup::new([a]), ParamGroup::new([b])],
        MomentumOptions::new().lr(0.1),
    )
    .expect("valid");
    train(&mut opt, 0, 2);
    opt.set_options(0, &MomentumOptions::new().lr(0.05)).expect("valid lr");
    opt.update_hyperparameters(1, |o| o.momentum = 0.5)
        .expect("valid momentum");
    opt.set_option(1, "lr", 0.01).expect("by name");
    assert_eq!(opt.hyperparameters(0).expect("g0").lr, 0.05);
    assert_eq!(opt.option(1, "lr").expect("by name"), DictValue::Float(0.01));
    assert_eq!(opt.option(1, "momentum").expect("by name"), DictValue::Float(0.5));
    assert_eq!(opt.hyperparameters(0).expect("g0").momentum, 0.0, "group 0 untouched");
}

#[test]
fn invalid_runtime_changes_are_rejected_and_change_nothing() {
    let (a, _) = two_params();
    let mut opt = Momentum::new([a], MomentumOptions::new().lr(0.1)).expect("valid");
    let before = opt.hyperparameters(0).expect("g0").clone();
    let err = opt
        .set_options(0, &MomentumOptions::new().lr(-1.0))
        .expect_err("negative lr");
    assert_eq!(err.to_string(), "group 0: invalid learning rate: -1");
    let err = opt
        .update_hyperparameters(0, |o| o.nesterov = true)
        .expect_err("nesterov without momentum");
    assert_eq!(err.to_string(), "group 0: nesterov momentum requires a momentum");
    let err = opt.set_option(0, "lr", "fast").expect_err("wrong type");
    assert_eq!(
        err,
        Error::OptionType {
            scope: Scope::Group(0),
            option: "lr".into(),
            expected: "a number".into(),
            found: "a string (\"fast\")".into()
        }
    );
    let err = opt.set_option(0, "lrr", 0.1).expect_err("typo");
    assert!(err.to_string().contains("momentum has no option `lrr`"), "{err}");
    let err = opt.option(3, "lr").expect_err("no such group");
    assert_eq!(err, Error::NoSuchGroup { group: 3, groups: 1 });
    assert_eq!(opt.hyperparameters(0).expect("g0"), &before);
}

#[test]
fn add_param_group_works_after_steps_and_uses_the_defaults() {
    let (a, b) = two_params();
    let mut opt = Momentum::new([a.clone()], MomentumOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    train(&mut opt, 0, 3);
    opt.set_options(0, &MomentumOptions::new().lr(0.5)).expect("valid");
    opt.add_param_group(ParamGroup::new([b.clone()]).options(MomentumOptions::new().momentum(0.0)))
        .expect("new group");
    let g1 = opt.hyperparameters(1).expect("group 1");
    assert_eq!((g1.lr, g1.momentum), (0.1, 0.0), "defaults, not group 0's current lr");
    train(&mut opt, 3, 1);
    assert_eq!(opt.state(&a).expect("stepped").step, 4);
    assert_eq!(opt.state(&b).expect("stepped").step, 1);
}

/// Builds an optimizer over `a`, tries to add `group`, and checks the error and that the
/// optimizer is unchanged.
fn add_fails(group: ParamGroup<MomentumOptions, f64>, expected: Error, message: &str) {
    let (a, _) = two_params();
    let mut opt = Momentum::new([a.clone()], MomentumOptions::new().lr(0.1)).expect("valid");
    train(&mut opt, 0, 1);
    let before = snapshot(&opt);
    // A group that reuses `a` refers to the optimizer's own parameter.
    let group = ParamGroup {
        params: group
            .params
            .into_iter()
            .map(|p| if p.name() == Some("__a") { a.clone() } else { p })
            .collect(),
        options: group.options,
    };
    let err = opt.add_param_group(group).expect_err("must fail");
    assert_eq!(err, expected);
    assert_eq!(err.to_string(), message);
    assert_eq!(snapshot(&opt), before);
    assert_eq!(opt.num_groups(), 1);
}

/// A stand-in for "the optimizer's own parameter" in `add_fails` (replaced by identity).
fn own() -> Param<f64> {
    Param::named("__a", array![0.0])
}

#[test]
fn add_param_group_rejects_an_empty_list() {
    add_fails(
        ParamGroup::new([]),
        Error::EmptyParamList { group: 1 },
        "group 1 has an empty parameter list: give every group at least one parameter",
    );
}

#[test]
fn add_param_group_rejects_a_parameter_twice_in_the_group() {
    let p = Param::new(array![1.0, 2.0]);
    let err = Momentum::new([p.clone(), p], MomentumOptions::new().lr(0.1)).expect_err("duplicate");
    assert_eq!(
        err.to_string(),
        "parameter 1 of group 0 is the same parameter as parameter 0 of that group: a parameter may appear only once"
    );
}

#[test]
fn add_param_group_rejects_a_parameter_of_another_group() {
    add_fails(
        ParamGroup::new([Param::new(array![1.0]), own()]),
        Error::ParamInOtherGroup {
            param: optim_core::ParamRef {
                group: 1,
                index: 1,
                name: None,
            },
            other_group: 0,
            other_index: 0,
        },
        "parameter 1 of group 1 is already in group 0 (as its parameter 0): a parameter may belong to one group only",
    );
}

#[test]
fn add_param_group_rejects_a_non_trainable_parameter() {
    add_fails(
        ParamGroup::new([Param::derived(array![1.0])]),
        Error::NonTrainableParam {
            param: optim_core::ParamRef {
                group: 1,
                index: 0,
                name: None,
            },
        },
        "parameter 0 of group 1 is not trainable (a derived value, torch's non-leaf tensor): only trainable parameters can be optimized",
    );
}

#[test]
fn add_param_group_rejects_a_value_that_fails_its_check() {
    add_fails(
        ParamGroup::new([Param::new(array![1.0])]).options(MomentumOptions::new().weight_decay(-0.5)),
        Error::InvalidOption {
            scope: Scope::Group(1),
            option: "weight_decay",
            message: "invalid weight_decay value: -0.5".into(),
        },
        "group 1: invalid weight_decay value: -0.5",
    );
}

#[test]
fn add_param_group_rejects_options_that_fail_a_cross_check() {
    add_fails(
        ParamGroup::new([Param::new(array![1.0])]).options(MomentumOptions::new().nesterov(true)),
        Error::InvalidOptions {
            scope: Scope::Group(1),
            message: "nesterov momentum requires a momentum".into(),
        },
        "group 1: nesterov momentum requires a momentum",
    );
}

#[test]
fn add_param_group_rejects_a_missing_required_option() {
    let (a, b) = two_params();
    let mut opt = Momentum::with_groups(
        [ParamGroup::new([a]).options(MomentumOptions::new().lr(0.1))],
        MomentumOptions::new(),
    )
    .expect("valid");
    let err = opt.add_param_group(ParamGroup::new([b])).expect_err("no lr");
    assert_eq!(err, Error::MissingRequiredOption { group: 1, option: "lr" });
    assert_eq!(opt.num_groups(), 1);
}

#[test]
fn names_are_all_or_none_and_unique() {
    let a = Param::named("w", array![1.0]);
    let mut opt = Momentum::new([a], MomentumOptions::new().lr(0.1)).expect("valid");
    let err = opt
        .add_param_group(ParamGroup::new([Param::new(array![1.0])]))
        .expect_err("unnamed");
    assert_eq!(
        err.to_string(),
        "parameter 0 of group 1 has no name but other parameters do: name every parameter of an optimizer or none, so that checkpoints can be matched by name"
    );
    let err = opt
        .add_param_group(ParamGroup::new([Param::named("w", array![2.0])]))
        .expect_err("same name");
    assert_eq!(
        err.to_string(),
        "parameter 0 of group 1 (\"w\") has the name \"w\", which another parameter of this optimizer already has: names must be unique"
    );
    let err = Momentum::new(
        [Param::new(array![1.0]), Param::named("b", array![1.0])],
        MomentumOptions::new().lr(0.1),
    )
    .expect_err("mixed");
    assert!(matches!(err, Error::MixedParamNames { .. }), "{err}");
}

#[test]
fn invalid_defaults_are_rejected_at_construction() {
    let (a, _) = two_params();
    let err = Momentum::new([a], MomentumOptions::new().lr(-0.1)).expect_err("negative lr");
    assert_eq!(
        err,
        Error::InvalidOption {
            scope: Scope::Defaults,
            option: "lr",
            message: "invalid learning rate: -0.1".into()
        }
    );
    assert_eq!(err.to_string(), "defaults: invalid learning rate: -0.1");
}

#[test]
fn closure_rules_take_one_group() {
    let (a, b) = two_params();
    let err = Backtrack::with_groups_for_test([ParamGroup::new([a]), ParamGroup::new([b])]).expect_err("two groups");
    assert_eq!(
        err.to_string(),
        "backtrack supports only 1 parameter group(s) and cannot take group 1: put all parameters in one group"
    );
}

trait WithGroups: Sized {
    fn with_groups_for_test(
        groups: impl IntoIterator<Item = ParamGroup<BacktrackOptions, f64>>,
    ) -> optim_core::Result<optim_core::Optimizer<Backtrack, f64>>;
}
impl WithGroups for Backtrack {
    fn with_groups_for_test(
        groups: impl IntoIterator<Item = ParamGroup<BacktrackOptions, f64>>,
    ) -> optim_core::Result<optim_core::Optimizer<Backtrack, f64>> {
        optim_core::Optimizer::with_groups(groups, BacktrackOptions::default())
    }
}
