//! Every check of Muon's options, one case each at construction and a few at run time, and
//! its requirement that every parameter be a matrix.

use optimizers::error::Scope::{Defaults, Group};
use optimizers::{DictValue, Error, ErrorKind, Muon, MuonOptions, Param, ParamGroup};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "option-checks-muon",
    title: "The checks of Muon",
    intro: "Every check of Muon's options, one case each, in the order torch runs them and with torch's \
            messages (lowercase), and its requirement that every parameter be a matrix. NaN and \
            infinities fail the checks of `lr`, `momentum` and `weight_decay`, which torch accepts \
            infinite, with a message of their own (`should be finite`). `ns_steps` of 100 or more fails \
            with the options, where torch accepts it and raises at the first step. `adjust_lr_fn` is \
            one of its four values by its type: any other string is an `OptionType` error, where torch \
            accepts one assigned to a group and then leaves the learning rate unscaled. torch checks \
            the shapes of the constructor's parameters only; `add_param_group` checks them too.",
    cases,
};

/// `fc.weight` of [`named_params`]: the one parameter of the constructor cases.
fn weight() -> Vec<Param<f64>> {
    named_params()[..1].to_vec()
}

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "muon-negative-lr",
            cause: "Muon with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 0.02 with `adjust_lr_fn` null, or AdamW's with `\"match_rms_adamw\"`",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: learning rate should be >= 0 but is: -0.02",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(weight(), |p| Muon::new(p, MuonOptions::new().lr(-0.02))),
        },
        Case {
            id: "muon-infinite-lr",
            cause: "Muon with an infinite learning rate (torch accepts it: the weights become infinite)",
            fix: "use a finite `lr` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: learning rate should be finite but is: inf",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(weight(), |p| Muon::new(p, MuonOptions::new().lr(f64::INFINITY))),
        },
        Case {
            id: "muon-negative-momentum",
            cause: "Muon with a negative momentum",
            fix: "use `momentum` ≥ 0, typically 0.95 (0 for none)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: momentum should be >= 0 but is: -0.9",
            expect: |e| invalid_option(e, Defaults, "momentum"),
            run: || construct(weight(), |p| Muon::new(p, MuonOptions::new().momentum(-0.9))),
        },
        Case {
            id: "muon-nan-momentum",
            cause: "Muon with a NaN momentum",
            fix: "use a finite `momentum` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: momentum should be finite but is: NaN",
            expect: |e| invalid_option(e, Defaults, "momentum"),
            run: || construct(weight(), |p| Muon::new(p, MuonOptions::new().momentum(f64::NAN))),
        },
        Case {
            id: "muon-negative-weight-decay",
            cause: "Muon with a negative weight decay",
            fix: "use `weight_decay` ≥ 0, typically 0.1 (0 for none)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: weight decay should be >= 0 but is: -0.1",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || construct(weight(), |p| Muon::new(p, MuonOptions::new().weight_decay(-0.1))),
        },
        Case {
            id: "muon-infinite-weight-decay",
            cause: "Muon with an infinite weight decay",
            fix: "use a finite `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: weight decay should be finite but is: inf",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(weight(), |p| {
                    Muon::new(p, MuonOptions::new().weight_decay(f64::INFINITY))
                })
            },
        },
        Case {
            id: "muon-too-many-ns-steps",
            cause: "Muon with 100 Newton–Schulz steps (torch accepts it, and raises at the first step)",
            fix: "use `ns_steps` < 100, typically 5: the iteration has converged as far as bfloat16 allows long before",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: number of steps must be less than 100 for computational efficiency, found ns_steps 100",
            expect: |e| invalid_option(e, Defaults, "ns_steps"),
            run: || construct(weight(), |p| Muon::new(p, MuonOptions::new().ns_steps(100))),
        },
        Case {
            id: "muon-negative-weight-decay-at-run-time",
            cause: "setting Muon's weight decay to a negative value at run time",
            fix: "use `weight_decay` ≥ 0; check the schedule that computed it",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: weight decay should be >= 0 but is: -0.1",
            expect: |e| invalid_option(e, Group(0), "weight_decay"),
            run: || trial(muon().0, |o| o.set_option(0, "weight_decay", -0.1)),
        },
        Case {
            id: "muon-too-many-ns-steps-at-run-time",
            cause: "setting Muon's `ns_steps` to 100 at run time",
            fix: "use `ns_steps` < 100, typically 5",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: number of steps must be less than 100 for computational efficiency, found ns_steps 100",
            expect: |e| invalid_option(e, Group(0), "ns_steps"),
            run: || trial(muon().0, |o| o.set_option(0, "ns_steps", 100)),
        },
        Case {
            id: "muon-unknown-adjust-lr-fn",
            cause: "setting Muon's `adjust_lr_fn` to a name it does not know (`\"spectral\"`)",
            fix: "use null (torch's `None`, as `\"original\"`), `\"original\"`, `\"match_rms_adamw\"` or `\"spectral_unclamped\"` (`AdjustLr` when typed)",
            kind: ErrorKind::OptionType,
            fragment: "group 0: option `adjust_lr_fn` must be null, \"original\", \"match_rms_adamw\" or \"spectral_unclamped\", found a string (\"spectral\")",
            expect: |e| matches!(e, Error::OptionType { option, .. } if option == "adjust_lr_fn"),
            run: || {
                trial(muon().0, |o| {
                    o.set_option(0, "adjust_lr_fn", DictValue::from("spectral"))
                })
            },
        },
        Case {
            id: "muon-vector-param",
            cause: "building Muon over a model's parameters, biases included",
            fix: "give Muon the hidden layers' weight matrices only, and the biases, gains, embeddings and output layer to a second optimizer (AdamW, as Muon's authors do)",
            kind: ErrorKind::InvalidParam,
            fragment: "parameter 1 of group 0 (\"fc.bias\") cannot be optimized by muon: muon only supports 2D parameters whereas we found a parameter with size: [3]",
            expect: |e| {
                matches!(e, Error::InvalidParam { kind: "muon", param, .. }
                    if (param.group, param.index, param.name.as_deref()) == (0, 1, Some("fc.bias")))
            },
            run: || construct(named_params(), |p| Muon::new(p, MuonOptions::new())),
        },
        Case {
            id: "muon-conv-param-in-added-group",
            cause: "adding a group with a convolution's 4-d kernel to Muon",
            fix: "reshape the kernel to a matrix (`[out, in · kh · kw]`) in the model and give Muon that, or give the kernel to a second optimizer",
            kind: ErrorKind::InvalidParam,
            fragment: "parameter 0 of group 1 (\"conv.weight\") cannot be optimized by muon: muon only supports 2D parameters whereas we found a parameter with size: [2, 1, 3, 3]",
            expect: |e| {
                matches!(e, Error::InvalidParam { kind: "muon", param, .. }
                    if (param.group, param.index, param.name.as_deref()) == (1, 0, Some("conv.weight")))
            },
            run: || {
                let kernel = Param::named(
                    "conv.weight",
                    optimizers::ndarray::ArrayD::from_elem(vec![2, 1, 3, 3], 0.5),
                );
                trial(muon().0, |o| o.add_param_group(ParamGroup::new([kernel])))
            },
        },
    ]
}
