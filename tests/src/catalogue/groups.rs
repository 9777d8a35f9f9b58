//! Building an optimizer and its groups: constructors, the registry and `add_param_group`.

use optimizers::error::Scope;
use optimizers::ndarray::array;
use optimizers::{Adam, AdamOptions, Error, ErrorKind, Map, Param, ParamGroup, Sgd, SgdOptions, registry};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "groups",
    title: "Building an optimizer and its groups",
    intro: "These errors come from the constructors (`new`, `with_groups`, `from_maps`, \
            `registry::build`) and from `add_param_group`. A constructor that fails returns no \
            optimizer, and a group that is rejected is not added.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "construct-empty",
            cause: "building an optimizer over no parameters at all",
            fix: "pass the model's parameters; check that the iterator you pass is not already consumed",
            kind: ErrorKind::EmptyParamList,
            fragment: "group 0 has an empty parameter list",
            expect: |e| matches!(e, Error::EmptyParamList { group: 0 }),
            run: || construct(Vec::new(), |p| Adam::new(p, AdamOptions::new())),
        },
        Case {
            id: "group-empty",
            cause: "`add_param_group` with a group that has no parameters",
            fix: "give every group at least one parameter",
            kind: ErrorKind::EmptyParamList,
            fragment: "group 2 has an empty parameter list",
            expect: |e| matches!(e, Error::EmptyParamList { group: 2 }),
            run: || trial(adam().0, |o| o.add_param_group(ParamGroup::new([]))),
        },
        Case {
            id: "construct-missing-required",
            cause: "building SGD without a learning rate (`lr` is `required`)",
            fix: "set `lr` in the optimizer's options, or in every group",
            kind: ErrorKind::MissingRequiredOption,
            fragment: "group 0 does not set the required option `lr`",
            expect: |e| matches!(e, Error::MissingRequiredOption { group: 0, option: "lr" }),
            run: || construct(unnamed_params(), |p| Sgd::new(p, SgdOptions::new())),
        },
        Case {
            id: "group-missing-required",
            cause: "adding a group without `lr` to an SGD whose defaults have none (each group set its own)",
            fix: "set `lr` in the new group's options",
            kind: ErrorKind::MissingRequiredOption,
            fragment: "group 1 does not set the required option `lr`",
            expect: |e| matches!(e, Error::MissingRequiredOption { group: 1, option: "lr" }),
            run: || {
                let params = unnamed_params();
                let opt = Sgd::with_groups(
                    [ParamGroup::new([params[0].clone()]).options(SgdOptions::new().lr(0.1))],
                    SgdOptions::new(),
                )
                .expect("valid");
                trial(opt, |o| o.add_param_group(ParamGroup::new([params[1].clone()])))
            },
        },
        Case {
            id: "group-duplicate-param",
            cause: "the same parameter (the same handle) twice in one group",
            fix: "list each parameter once; clones of a `Param` are the same parameter",
            kind: ErrorKind::DuplicateParam,
            fragment: "parameter 1 of group 2 (\"head.weight\") is the same parameter as parameter 0",
            expect: |e| matches!(e, Error::DuplicateParam { first: 0, .. }),
            run: || {
                let p = Param::named("head.weight", array![1.0, 2.0]);
                trial(adam().0, |o| o.add_param_group(ParamGroup::new([p.clone(), p.clone()])))
            },
        },
        Case {
            id: "group-param-in-other-group",
            cause: "adding a group with a parameter that another group already holds",
            fix: "put each parameter in exactly one group; give the new group only new parameters",
            kind: ErrorKind::ParamInOtherGroup,
            fragment: "parameter 0 of group 2 (\"fc.bias\") is already in group 1 (as its parameter 0)",
            expect: |e| {
                matches!(
                    e,
                    Error::ParamInOtherGroup {
                        other_group: 1,
                        other_index: 0,
                        ..
                    }
                )
            },
            run: || {
                let (opt, params) = adam();
                trial(opt, |o| o.add_param_group(ParamGroup::new([params[1].clone()])))
            },
        },
        Case {
            id: "group-non-trainable",
            cause: "adding a derived value (`Param::derived`, torch's non-leaf tensor)",
            fix: "optimize the parameters the value is computed from, not the value",
            kind: ErrorKind::NonTrainableParam,
            fragment: "parameter 0 of group 2 is not trainable",
            expect: |e| matches!(e, Error::NonTrainableParam { .. }),
            run: || {
                trial(adam().0, |o| {
                    o.add_param_group(ParamGroup::new([Param::derived(array![1.0])]))
                })
            },
        },
        Case {
            id: "construct-invalid-param",
            cause: "building an optimizer that takes matrices only (`matrix_sgd`, the catalogue's stand-in for Muon) over a model's parameters, biases included",
            fix: "give it the weight matrices only, and the other parameters to a second optimizer (AdamW, as Muon's authors do)",
            kind: ErrorKind::InvalidParam,
            fragment: "parameter 1 of group 0 (\"fc.bias\") cannot be optimized by matrix_sgd: it takes matrices only, and this parameter has shape [3]",
            expect: |e| {
                matches!(e, Error::InvalidParam { kind: "matrix_sgd", param, .. }
                    if (param.group, param.index, param.name.as_deref()) == (0, 1, Some("fc.bias")))
            },
            run: || construct(named_params(), |p| MatrixSgd::new(p, MatrixSgdOptions::new())),
        },
        Case {
            id: "group-invalid-param",
            cause: "adding a group with a vector to an optimizer that takes matrices only",
            fix: "optimize the vector with a second optimizer; `param_check` in the optimizer's definition says what it takes",
            kind: ErrorKind::InvalidParam,
            fragment: "parameter 0 of group 1 (\"fc.bias\") cannot be optimized by matrix_sgd: it takes matrices only, and this parameter has shape [3]",
            expect: |e| {
                matches!(e, Error::InvalidParam { kind: "matrix_sgd", param, .. }
                    if (param.group, param.index, param.name.as_deref()) == (1, 0, Some("fc.bias")))
            },
            run: || {
                let (opt, params) = matrix_sgd();
                trial(opt, |o| o.add_param_group(ParamGroup::new([params[1].clone()])))
            },
        },
        Case {
            id: "group-unnamed-param",
            cause: "adding a parameter without a name to an optimizer whose parameters have names",
            fix: "create it with `Param::named`",
            kind: ErrorKind::MixedParamNames,
            fragment: "parameter 0 of group 2 has no name but other parameters do",
            expect: |e| matches!(e, Error::MixedParamNames { .. }),
            run: || {
                trial(adam().0, |o| {
                    o.add_param_group(ParamGroup::new([Param::new(array![1.0])]))
                })
            },
        },
        Case {
            id: "group-named-param",
            cause: "adding a named parameter to an optimizer whose parameters have no names",
            fix: "name every parameter (`Param::named`) or none",
            kind: ErrorKind::MixedParamNames,
            fragment: "parameter 0 of group 1 (\"head.bias\") has a name but other parameters do not",
            expect: |e| matches!(e, Error::MixedParamNames { .. }),
            run: || {
                let p = Param::named("head.bias", array![1.0]);
                trial(sgd().0, |o| o.add_param_group(ParamGroup::new([p.clone()])))
            },
        },
        Case {
            id: "group-duplicate-name",
            cause: "adding a parameter whose name another parameter of the optimizer has",
            fix: "give every parameter a unique name (as `named_parameters()` does: `layer.weight`)",
            kind: ErrorKind::DuplicateParamName,
            fragment: "parameter 0 of group 2 (\"fc.weight\") has the name \"fc.weight\"",
            expect: |e| matches!(e, Error::DuplicateParamName { name, .. } if name == "fc.weight"),
            run: || {
                let p = Param::named("fc.weight", array![1.0]);
                trial(adam().0, |o| o.add_param_group(ParamGroup::new([p.clone()])))
            },
        },
        Case {
            id: "group-invalid-option",
            cause: "adding a group with an option value that fails its check (Adam's `eps` = -1)",
            fix: "use a value in the option's range (see the optimizer's table of options)",
            kind: ErrorKind::InvalidOption,
            fragment: "group 2: invalid epsilon value: -1.0",
            expect: |e| matches!(e, Error::InvalidOption { option: "eps", .. }),
            run: || {
                let p = Param::named("head.weight", array![1.0]);
                let group = ParamGroup::new([p.clone()]).options(AdamOptions::new().eps(-1.0));
                trial(adam().0, |o| o.add_param_group(group))
            },
        },
        Case {
            id: "group-cross-option",
            cause: "adding an SGD group with `nesterov` and a non-zero `dampening`",
            fix: "Nesterov momentum needs `momentum` > 0 and `dampening` = 0",
            kind: ErrorKind::InvalidOptions,
            fragment: "group 1: Nesterov momentum requires a momentum and zero dampening",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: Scope::Group(1),
                        ..
                    }
                )
            },
            run: || {
                let group =
                    ParamGroup::new([Param::new(array![1.0])]).options(SgdOptions::new().nesterov(true).dampening(0.1));
                trial(sgd().0, |o| o.add_param_group(group))
            },
        },
        Case {
            id: "lbfgs-second-group",
            cause: "adding a second group to LBFGS",
            fix: "put all parameters in LBFGS's one group",
            kind: ErrorKind::TooManyGroups,
            fragment: "lbfgs supports only 1 parameter group(s) and cannot take group 1",
            expect: |e| {
                matches!(
                    e,
                    Error::TooManyGroups {
                        kind: "lbfgs",
                        max: 1,
                        group: 1
                    }
                )
            },
            run: || {
                trial(lbfgs().0, |o| {
                    o.add_param_group(ParamGroup::new([Param::new(array![1.0])]))
                })
            },
        },
        Case {
            id: "registry-unknown-optimizer",
            cause: "building an optimizer by a name the registry does not know",
            fix: "use one of the names listed (`registry::KINDS`)",
            kind: ErrorKind::UnknownOptimizer,
            fragment: "unknown optimizer `sparseadam` (known: sgd, adam, adamw, lbfgs, ",
            expect: |e| matches!(e, Error::UnknownOptimizer { kind, .. } if kind == "sparseadam"),
            run: || {
                construct(unnamed_params(), |p| {
                    registry::build("sparseadam", vec![(p, Map::new())], &Map::new())
                })
            },
        },
        Case {
            id: "registry-unknown-option",
            cause: "building an optimizer from a config whose defaults misspell an option (`lrr`)",
            fix: "spell the option as the optimizer names it (listed in the message)",
            kind: ErrorKind::UnknownOption,
            fragment: "defaults: sgd has no option `lrr`",
            expect: |e| matches!(e, Error::UnknownOption { option, .. } if option == "lrr"),
            run: || {
                let defaults: Map = [("lrr", 0.1)].into_iter().collect();
                construct(unnamed_params(), |p| {
                    registry::build("sgd", vec![(p, Map::new())], &defaults)
                })
            },
        },
    ]
}
