//! Loading a state dict that does not fit the optimizer, or that was edited or damaged.

use optimizers::{Adam, AdamOptions, DictValue, Error, ErrorKind, StateDict};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "state-dict",
    title: "Loading a state dict",
    intro: "`load_state_dict` checks everything before it changes anything: the kind and format \
            version, the number and size of groups, option names, types and values, that state refers \
            only to listed parameters, and that every state entry is known, present when required, of \
            the right type and of its parameter's shape. Only then does it replace the options and \
            state, so a load that fails leaves the optimizer exactly as it was.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "load-wrong-optimizer",
            cause: "loading Adam's state dict into SGD",
            fix: "load a checkpoint into the kind of optimizer that saved it",
            kind: ErrorKind::WrongOptimizer,
            fragment: "the state dict comes from `adam` and cannot be loaded into `sgd`: load it into the optimizer that saved it",
            expect: |e| matches!(e, Error::WrongOptimizer { expected: "sgd", found } if found == "adam"),
            run: || {
                let adam_dict = adam_dict_for_sgd();
                trial(sgd().0, |o| o.load_state_dict(&adam_dict))
            },
        },
        Case {
            id: "load-wrong-optimizer-without-kind",
            cause: "loading Adam's state dict into SGD when the dict does not record its kind (torch's own dicts)",
            fix: "load a checkpoint into the kind of optimizer that saved it",
            kind: ErrorKind::UnknownOption,
            fragment: "group 0: sgd has no option `betas`",
            expect: |e| matches!(e, Error::UnknownOption { kind: "sgd", option, .. } if option == "betas"),
            run: || {
                let mut adam_dict = adam_dict_for_sgd();
                adam_dict.kind = None;
                trial(sgd().0, |o| o.load_state_dict(&adam_dict))
            },
        },
        Case {
            id: "load-newer-version",
            cause: "loading a state dict written by a newer format version",
            fix: "upgrade optim to a version that reads it",
            kind: ErrorKind::UnsupportedVersion,
            fragment: "the state dict has format version 99 but this `sgd` reads versions up to 1",
            expect: |e| {
                matches!(
                    e,
                    Error::UnsupportedVersion {
                        found: 99,
                        supported: 1,
                        ..
                    }
                )
            },
            run: || load(sgd(), |d| d.version = Some(99)),
        },
        Case {
            id: "load-too-few-groups",
            cause: "loading a state dict with fewer groups than the optimizer",
            fix: "build the optimizer with the groups it had when it was saved (`add_param_group` them before loading)",
            kind: ErrorKind::GroupCount,
            fragment: "loaded state dict has 1 parameter group(s) but the optimizer has 2",
            expect: |e| matches!(e, Error::GroupCount { expected: 2, found: 1 }),
            run: || load(adam(), |d| drop(d.param_groups.pop())),
        },
        Case {
            id: "load-too-many-groups",
            cause: "loading a state dict with more groups than the optimizer",
            fix: "build the optimizer with the groups it had when it was saved",
            kind: ErrorKind::GroupCount,
            fragment: "loaded state dict has 2 parameter group(s) but the optimizer has 1",
            expect: |e| matches!(e, Error::GroupCount { expected: 1, found: 2 }),
            run: || {
                load(sgd(), |d| {
                    let mut extra = d.param_groups[0].clone();
                    extra.params = vec![2];
                    d.param_groups.push(extra);
                })
            },
        },
        Case {
            id: "load-group-size",
            cause: "loading a state dict whose group has another number of parameters",
            fix: "build each group with the parameters it had when it was saved",
            kind: ErrorKind::GroupSize,
            fragment: "group 0 of the loaded state dict has 3 parameter(s) but the optimizer's group 0 has 2",
            expect: |e| {
                matches!(
                    e,
                    Error::GroupSize {
                        group: 0,
                        expected: 2,
                        found: 3
                    }
                )
            },
            run: || load(sgd(), |d| d.param_groups[0].params.push(2)),
        },
        Case {
            id: "load-duplicate-index",
            cause: "a state dict whose groups list one parameter index twice",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::DuplicateStateIndex,
            fragment: "parameter index 0 is listed twice in the state dict's groups (group 0)",
            expect: |e| matches!(e, Error::DuplicateStateIndex { index: 0, group: 0 }),
            run: || load(sgd(), |d| d.param_groups[0].params = vec![0, 0]),
        },
        Case {
            id: "load-unknown-index",
            cause: "a state dict with state for a parameter index that no group lists",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::UnknownStateIndex,
            fragment: "the state dict has state for parameter index 7, which none of its groups lists",
            expect: |e| matches!(e, Error::UnknownStateIndex { index: 7 }),
            run: || {
                load(sgd(), |d| {
                    let e = entry(d, 0).clone();
                    d.state.insert(7, e);
                })
            },
        },
        Case {
            id: "load-lbfgs-misplaced-state",
            cause: "an LBFGS state dict with state under parameter 1 (LBFGS keeps all of it under 0)",
            fix: "keep LBFGS's state under parameter 0, as torch and this crate save it",
            kind: ErrorKind::MisplacedState,
            fragment: "lbfgs keeps all of its state under parameter 0, but the state dict has state for parameter index 1",
            expect: |e| {
                matches!(
                    e,
                    Error::MisplacedState {
                        kind: "lbfgs",
                        index: 1
                    }
                )
            },
            run: || {
                load_lbfgs(|d| {
                    let e = d.state.remove(&0).expect("state under 0");
                    d.state.insert(1, e);
                })
            },
        },
        Case {
            id: "load-unknown-state-key",
            cause: "a state entry with a key the optimizer does not know",
            fix: "remove the entry, or load into the optimizer that saved it",
            kind: ErrorKind::UnknownStateKey,
            fragment: "state of parameter 1: sgd has no state entry `exp_avg` (its entries are: momentum_buffer)",
            expect: |e| matches!(e, Error::UnknownStateKey { index: 1, key, .. } if key == "exp_avg"),
            run: || load(sgd(), |d| entry(d, 1).insert("exp_avg", tensor(&[2]))),
        },
        Case {
            id: "load-missing-state-key",
            cause: "a state entry without a key that must be present (Adam's `exp_avg_sq`)",
            fix: "the file was edited or truncated: save it again from the optimizer",
            kind: ErrorKind::MissingStateKey,
            fragment: "state of parameter 0: the entry `exp_avg_sq` is missing",
            expect: |e| matches!(e, Error::MissingStateKey { index: 0, key } if key == "exp_avg_sq"),
            run: || load(adam(), |d| drop(entry(d, 0).remove("exp_avg_sq"))),
        },
        Case {
            id: "load-state-shape",
            cause: "a state tensor whose shape is not its parameter's (parameters matched by position)",
            fix: "load into a model with the same parameter shapes, in the same order",
            kind: ErrorKind::StateShape,
            fragment: "state of parameter 1: `momentum_buffer` has shape [3] but the parameter needs [2]",
            expect: |e| matches!(e, Error::StateShape { index: 1, expected, found, .. } if expected == &[2] && found == &[3]),
            run: || load(sgd(), |d| entry(d, 1).insert("momentum_buffer", tensor(&[3]))),
        },
        Case {
            id: "load-state-wrong-type",
            cause: "a state entry of the wrong type (a string where a tensor belongs)",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::StateType,
            fragment: "state of parameter 0: `momentum_buffer` must be a tensor, found a string (\"zeros\")",
            expect: |e| matches!(e, Error::StateType { index: 0, key, .. } if key == "momentum_buffer"),
            run: || load(sgd(), |d| entry(d, 0).insert("momentum_buffer", "zeros")),
        },
        Case {
            id: "load-negative-count",
            cause: "a state entry with an impossible value (LBFGS's `n_iter` = -1)",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 0: `n_iter` must not be negative, found -1",
            expect: |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "n_iter"),
            run: || load_lbfgs(|d| entry(d, 0).insert("n_iter", -1i64)),
        },
        Case {
            id: "load-fractional-step",
            cause: "Adam's step count edited to a fraction (or a negative number, or NaN)",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 1: `step` must be a whole number of steps from 0 to 2^53, found 2.5",
            expect: |e| matches!(e, Error::StateValue { index: 1, key, .. } if key == "step"),
            run: || load(adam(), |d| entry(d, 1).insert("step", 2.5)),
        },
        Case {
            id: "load-lbfgs-partial-history",
            cause: "an LBFGS state with `old_dirs` and `old_stps` but no `ro`",
            fix: "LBFGS saves its eight history entries together: restore the whole entry",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 0: `ro` is missing although `d` is present",
            expect: |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "ro"),
            run: || load_lbfgs(|d| drop(entry(d, 0).remove("ro"))),
        },
        Case {
            id: "load-adafactor-variance-for-matrix",
            cause: "an Adafactor state with `variance` for a matrix (which keeps `row_var` and `col_var` instead)",
            fix: "the entry belongs to a vector or a scalar: load into a model with the saved parameters, in the same order",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 0: `variance` is not kept for a parameter of shape [2, 2]: this entry belongs to another parameter",
            expect: |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "variance"),
            run: || load(adafactor(), |d| entry(d, 0).insert("variance", tensor(&[2, 2]))),
        },
        Case {
            id: "load-adafactor-factor-for-vector",
            cause: "an Adafactor state with `row_var` for a vector (which keeps `variance` instead)",
            fix: "the entry belongs to a matrix: load into a model with the saved parameters, in the same order",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 1: `row_var` is not kept for a parameter of shape [2]: this entry belongs to another parameter",
            expect: |e| matches!(e, Error::StateValue { index: 1, key, .. } if key == "row_var"),
            run: || load(adafactor(), |d| entry(d, 1).insert("row_var", tensor(&[2, 1]))),
        },
        Case {
            id: "load-adafactor-missing-factor",
            cause: "an Adafactor state of a matrix with `row_var` but no `col_var`",
            fix: "the file was edited or truncated: save it again from the optimizer",
            kind: ErrorKind::MissingStateKey,
            fragment: "state of parameter 0: the entry `col_var` is missing",
            expect: |e| matches!(e, Error::MissingStateKey { index: 0, key } if key == "col_var"),
            run: || load(adafactor(), |d| drop(entry(d, 0).remove("col_var"))),
        },
        Case {
            id: "load-adafactor-factor-shape",
            cause: "an Adafactor `row_var` saved for a matrix of 3 rows, loaded for one of 2 (parameters matched by position)",
            fix: "load into a model with the same parameter shapes, in the same order",
            kind: ErrorKind::StateShape,
            fragment: "state of parameter 0: `row_var` has shape [3, 1] but the parameter needs [2, 1]",
            expect: |e| matches!(e, Error::StateShape { index: 0, expected, found, .. } if expected == &[2, 1] && found == &[3, 1]),
            run: || load(adafactor(), |d| entry(d, 0).insert("row_var", tensor(&[3, 1]))),
        },
        Case {
            id: "load-asgd-eta-not-float32",
            cause: "ASGD's `eta` written as a number that float32 cannot hold (torch keeps it in float32: 0.009999999776482582 for 0.01)",
            fix: "write the float32 value, as torch saves it, or save again from the optimizer",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 0: `eta` must be a float32 value, found 0.01",
            expect: |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "eta"),
            run: || load(asgd(), |d| entry(d, 0).insert("eta", 0.01)),
        },
        Case {
            id: "load-asgd-mu-not-float32",
            cause: "ASGD's `mu` computed in float64 (torch keeps it in float32)",
            fix: "write the float32 value, as torch saves it, or save again from the optimizer",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 1: `mu` must be a float32 value, found 0.3333333333333333",
            expect: |e| matches!(e, Error::StateValue { index: 1, key, .. } if key == "mu"),
            run: || load(asgd(), |d| entry(d, 1).insert("mu", 1.0 / 3.0)),
        },
        Case {
            id: "load-nadam-mu-product-not-float32",
            cause: "NAdam's `mu_product` computed in float64 (torch keeps it in float32)",
            fix: "write the float32 value, as torch saves it, or save again from the optimizer",
            kind: ErrorKind::StateValue,
            fragment: "state of parameter 0: `mu_product` must be a float32 value, found 0.8",
            expect: |e| matches!(e, Error::StateValue { index: 0, key, .. } if key == "mu_product"),
            run: || load(nadam(), |d| entry(d, 0).insert("mu_product", 0.8)),
        },
        Case {
            id: "load-negative-option",
            cause: "a saved group with a negative learning rate",
            fix: "correct the value in the file, or change the option after loading a valid one",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid learning rate: -0.1",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || load(sgd(), |d| options(d, 0).insert("lr", -0.1)),
        },
        Case {
            id: "load-nan-option",
            cause: "a saved group with a NaN option (JSON `\"NaN\"`)",
            fix: "correct the value in the file",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid momentum value: NaN",
            expect: |e| matches!(e, Error::InvalidOption { option: "momentum", .. }),
            run: || load(sgd(), |d| options(d, 0).insert("momentum", f64::NAN)),
        },
        Case {
            id: "load-unknown-option",
            cause: "a saved group with an option the optimizer does not have",
            fix: "remove the key, or load into the optimizer that saved it",
            kind: ErrorKind::UnknownOption,
            fragment: "group 0: sgd has no option `foreach`",
            expect: |e| matches!(e, Error::UnknownOption { option, .. } if option == "foreach"),
            run: || load(sgd(), |d| options(d, 0).insert("foreach", DictValue::Null)),
        },
        Case {
            id: "load-option-wrong-type",
            cause: "a saved group with an option of the wrong type",
            fix: "correct the value in the file",
            kind: ErrorKind::OptionType,
            fragment: "group 0: option `nesterov` must be a boolean, found a string (\"yes\")",
            expect: |e| matches!(e, Error::OptionType { option, .. } if option == "nesterov"),
            run: || load(sgd(), |d| options(d, 0).insert("nesterov", "yes")),
        },
        Case {
            id: "load-name-mismatch",
            cause: "loading by name when a parameter was renamed",
            fix: "rename it back, or load into a model with the saved names (every mismatch is listed)",
            kind: ErrorKind::ParamNames,
            fragment: "group 0: parameter \"fc.weight\" is missing from the state dict; group 0: the state dict has parameter \"fc.w\", which the optimizer does not have",
            expect: |e| matches!(e, Error::ParamNames { problems } if problems.len() == 2),
            run: || {
                load(adam(), |d| {
                    d.param_groups[0].param_names = Some(vec!["fc.w".into()]);
                })
            },
        },
        Case {
            id: "load-state-shape-by-name",
            cause: "loading by name when a parameter changed shape",
            fix: "load into a model whose parameters have the saved shapes",
            kind: ErrorKind::ParamNames,
            fragment: "parameter \"fc.bias\": state of parameter 1: `exp_avg` has shape [4] but the parameter needs [3]",
            expect: |e| matches!(e, Error::ParamNames { problems } if problems.len() == 1),
            run: || load(adam(), |d| entry(d, 1).insert("exp_avg", tensor(&[4]))),
        },
        Case {
            id: "load-names-count",
            cause: "a saved group with more parameter names than parameters",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::Format,
            fragment: "malformed state dict: group 1 lists 1 parameter(s) but 2 name(s)",
            expect: |e| matches!(e, Error::Format { .. }),
            run: || {
                load(adam(), |d| {
                    d.param_groups[1].param_names = Some(vec!["fc.bias".into(), "fc.extra".into()]);
                })
            },
        },
    ]
}

/// Adam's state dict over parameters shaped as the SGD subject's.
fn adam_dict_for_sgd() -> StateDict<'static> {
    let params = unnamed_params();
    let mut opt = Adam::new(params.clone(), AdamOptions::new()).expect("valid");
    train(&mut opt, &params, 0..2);
    opt.state_dict().into_owned()
}
