//! Every check of the options of Adadelta, Adagrad, Adamax, NAdam, RAdam and RMSprop, one
//! case each at construction, and a few at run time.

use optimizers::error::Scope::{Defaults, Group};
use optimizers::{
    Adadelta, AdadeltaOptions, Adagrad, AdagradOptions, Adamax, AdamaxOptions, DictValue, ErrorKind, NAdam,
    NAdamOptions, RAdam, RAdamOptions, Rmsprop, RmspropOptions,
};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "option-checks-adaptive",
    title: "The checks of Adadelta, Adagrad, Adamax, NAdam, RAdam and RMSprop",
    intro: "Every check of these optimizers' options, one case each, in the order torch runs them and \
            with torch's messages (lowercase). As for [the optimizers \
            above](#the-checks-of-the-bundled-optimizers), the same checks run wherever an option can \
            change: most cases here build an optimizer (`defaults: ...`), a few change a trained one's \
            group (`group 0: ...`). NaN fails every check, as in torch; so does an infinity, which torch \
            accepts. Each type's documentation lists its valid ranges.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "adadelta-negative-lr",
            cause: "Adadelta with a negative learning rate",
            fix: "use `lr` ≥ 0; torch's default, 1, is usual for Adadelta",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -1.0",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| Adadelta::new(p, AdadeltaOptions::new().lr(-1.0))),
        },
        Case {
            id: "adadelta-rho-above-one",
            cause: "Adadelta with `rho` above 1",
            fix: "use `rho` in [0, 1], typically 0.9",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid rho value: 1.5",
            expect: |e| invalid_option(e, Defaults, "rho"),
            run: || construct(unnamed_params(), |p| Adadelta::new(p, AdadeltaOptions::new().rho(1.5))),
        },
        Case {
            id: "adadelta-negative-eps",
            cause: "Adadelta with a negative epsilon",
            fix: "use `eps` ≥ 0, typically 1e-6",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid epsilon value: -1e-6",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adadelta::new(p, AdadeltaOptions::new().eps(-1e-6))
                })
            },
        },
        Case {
            id: "adadelta-nan-weight-decay",
            cause: "Adadelta with a NaN weight decay",
            fix: "use a finite `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: NaN",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adadelta::new(p, AdadeltaOptions::new().weight_decay(f64::NAN))
                })
            },
        },
        Case {
            id: "adagrad-negative-lr",
            cause: "Adagrad with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 1e-2",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.01",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| Adagrad::new(p, AdagradOptions::new().lr(-0.01))),
        },
        Case {
            id: "adagrad-negative-lr-decay",
            cause: "Adagrad with a negative `lr_decay` (the learning rate would grow)",
            fix: "use `lr_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid lr_decay value: -0.0001",
            expect: |e| invalid_option(e, Defaults, "lr_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adagrad::new(p, AdagradOptions::new().lr_decay(-1e-4))
                })
            },
        },
        Case {
            id: "adagrad-negative-weight-decay",
            cause: "Adagrad with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: -0.01",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adagrad::new(p, AdagradOptions::new().weight_decay(-0.01))
                })
            },
        },
        Case {
            id: "adagrad-negative-initial-accumulator-value",
            cause: "Adagrad with a negative `initial_accumulator_value`",
            fix: "use `initial_accumulator_value` ≥ 0 (only the constructor's value is used, as in torch)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid initial_accumulator_value value: -0.1",
            expect: |e| invalid_option(e, Defaults, "initial_accumulator_value"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adagrad::new(p, AdagradOptions::new().initial_accumulator_value(-0.1))
                })
            },
        },
        Case {
            id: "adagrad-infinite-eps",
            cause: "Adagrad with an infinite epsilon (torch accepts it, and then never moves)",
            fix: "use a finite `eps` ≥ 0, typically 1e-10",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid epsilon value: inf",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adagrad::new(p, AdagradOptions::new().eps(f64::INFINITY))
                })
            },
        },
        Case {
            id: "adagrad-negative-lr-decay-at-run-time",
            cause: "setting Adagrad's `lr_decay` to a negative value at run time",
            fix: "use `lr_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid lr_decay value: -0.5",
            expect: |e| invalid_option(e, Group(0), "lr_decay"),
            run: || trial(adagrad().0, |o| o.set_option(0, "lr_decay", -0.5)),
        },
        Case {
            id: "adamax-negative-lr",
            cause: "Adamax with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 2e-3",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.002",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| Adamax::new(p, AdamaxOptions::new().lr(-2e-3))),
        },
        Case {
            id: "adamax-negative-eps",
            cause: "Adamax with a negative epsilon",
            fix: "use `eps` ≥ 0, typically 1e-8",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid epsilon value: -1e-8",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || construct(unnamed_params(), |p| Adamax::new(p, AdamaxOptions::new().eps(-1e-8))),
        },
        Case {
            id: "adamax-beta1-out-of-range",
            cause: "Adamax with β₁ = 1 (`betas` must each be in [0, 1))",
            fix: "use β₁ in [0, 1), typically 0.9",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid beta parameter at index 0: 1.0",
            expect: |e| invalid_option(e, Defaults, "betas"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adamax::new(p, AdamaxOptions::new().betas((1.0, 0.999)))
                })
            },
        },
        Case {
            id: "adamax-beta2-out-of-range",
            cause: "Adamax with a NaN β₂",
            fix: "use β₂ in [0, 1), typically 0.999",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid beta parameter at index 1: NaN",
            expect: |e| invalid_option(e, Defaults, "betas"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adamax::new(p, AdamaxOptions::new().betas((0.9, f64::NAN)))
                })
            },
        },
        Case {
            id: "adamax-negative-weight-decay",
            cause: "Adamax with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: -0.5",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adamax::new(p, AdamaxOptions::new().weight_decay(-0.5))
                })
            },
        },
        Case {
            id: "nadam-negative-lr",
            cause: "NAdam with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 2e-3",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.002",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| NAdam::new(p, NAdamOptions::new().lr(-2e-3))),
        },
        Case {
            id: "nadam-infinite-eps",
            cause: "NAdam with an infinite epsilon (torch accepts it, and then never moves)",
            fix: "use a finite `eps` ≥ 0, typically 1e-8",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid epsilon value: inf",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    NAdam::new(p, NAdamOptions::new().eps(f64::INFINITY))
                })
            },
        },
        Case {
            id: "nadam-beta1-out-of-range",
            cause: "NAdam with a negative β₁",
            fix: "use β₁ in [0, 1), typically 0.9",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid beta parameter at index 0: -0.9",
            expect: |e| invalid_option(e, Defaults, "betas"),
            run: || {
                construct(unnamed_params(), |p| {
                    NAdam::new(p, NAdamOptions::new().betas((-0.9, 0.999)))
                })
            },
        },
        Case {
            id: "nadam-beta2-out-of-range",
            cause: "NAdam with β₂ = 1",
            fix: "use β₂ in [0, 1), typically 0.999",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid beta parameter at index 1: 1.0",
            expect: |e| invalid_option(e, Defaults, "betas"),
            run: || {
                construct(unnamed_params(), |p| {
                    NAdam::new(p, NAdamOptions::new().betas((0.9, 1.0)))
                })
            },
        },
        Case {
            id: "nadam-negative-weight-decay",
            cause: "NAdam with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: -0.01",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    NAdam::new(p, NAdamOptions::new().weight_decay(-0.01))
                })
            },
        },
        Case {
            id: "nadam-negative-momentum-decay",
            cause: "NAdam with a negative `momentum_decay`",
            fix: "use `momentum_decay` ≥ 0, typically 4e-3",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid momentum_decay value: -0.004",
            expect: |e| invalid_option(e, Defaults, "momentum_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    NAdam::new(p, NAdamOptions::new().momentum_decay(-4e-3))
                })
            },
        },
        Case {
            id: "nadam-beta2-out-of-range-at-run-time",
            cause: "setting NAdam's `betas` at run time with β₂ = 1",
            fix: "use β₂ in [0, 1), typically 0.999",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid beta parameter at index 1: 1.0",
            expect: |e| invalid_option(e, Group(0), "betas"),
            run: || {
                trial(nadam().0, |o| {
                    o.set_option(0, "betas", DictValue::List(vec![0.9.into(), 1.0.into()]))
                })
            },
        },
        Case {
            id: "radam-negative-lr",
            cause: "RAdam with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 1e-3",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.001",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| RAdam::new(p, RAdamOptions::new().lr(-1e-3))),
        },
        Case {
            id: "radam-negative-eps",
            cause: "RAdam with a negative epsilon",
            fix: "use `eps` ≥ 0, typically 1e-8",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid epsilon value: -1e-8",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || construct(unnamed_params(), |p| RAdam::new(p, RAdamOptions::new().eps(-1e-8))),
        },
        Case {
            id: "radam-beta1-out-of-range",
            cause: "RAdam with β₁ above 1",
            fix: "use β₁ in [0, 1), typically 0.9",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid beta parameter at index 0: 1.1",
            expect: |e| invalid_option(e, Defaults, "betas"),
            run: || {
                construct(unnamed_params(), |p| {
                    RAdam::new(p, RAdamOptions::new().betas((1.1, 0.999)))
                })
            },
        },
        Case {
            id: "radam-beta2-out-of-range",
            cause: "RAdam with β₂ = 1 (its bias correction 1 − β₂ᵗ would be 0)",
            fix: "use β₂ in [0, 1), typically 0.999",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid beta parameter at index 1: 1.0",
            expect: |e| invalid_option(e, Defaults, "betas"),
            run: || {
                construct(unnamed_params(), |p| {
                    RAdam::new(p, RAdamOptions::new().betas((0.9, 1.0)))
                })
            },
        },
        Case {
            id: "radam-infinite-weight-decay",
            cause: "RAdam with an infinite weight decay",
            fix: "use a finite `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: inf",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    RAdam::new(p, RAdamOptions::new().weight_decay(f64::INFINITY))
                })
            },
        },
        Case {
            id: "rmsprop-negative-lr",
            cause: "RMSprop with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 1e-2",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.01",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| Rmsprop::new(p, RmspropOptions::new().lr(-0.01))),
        },
        Case {
            id: "rmsprop-negative-eps",
            cause: "RMSprop with a negative epsilon",
            fix: "use `eps` ≥ 0, typically 1e-8",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid epsilon value: -1e-8",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || construct(unnamed_params(), |p| Rmsprop::new(p, RmspropOptions::new().eps(-1e-8))),
        },
        Case {
            id: "rmsprop-negative-momentum",
            cause: "RMSprop with a negative momentum",
            fix: "use `momentum` ≥ 0 (0, the default, for none)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid momentum value: -0.9",
            expect: |e| invalid_option(e, Defaults, "momentum"),
            run: || {
                construct(unnamed_params(), |p| {
                    Rmsprop::new(p, RmspropOptions::new().momentum(-0.9))
                })
            },
        },
        Case {
            id: "rmsprop-negative-weight-decay",
            cause: "RMSprop with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: -0.0001",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Rmsprop::new(p, RmspropOptions::new().weight_decay(-1e-4))
                })
            },
        },
        Case {
            id: "rmsprop-negative-alpha",
            cause: "RMSprop with a negative `alpha`",
            fix: "use `alpha` ≥ 0, typically 0.99",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid alpha value: -0.99",
            expect: |e| invalid_option(e, Defaults, "alpha"),
            run: || {
                construct(unnamed_params(), |p| {
                    Rmsprop::new(p, RmspropOptions::new().alpha(-0.99))
                })
            },
        },
        Case {
            id: "rmsprop-negative-momentum-at-run-time",
            cause: "setting RMSprop's momentum to a negative value at run time",
            fix: "use `momentum` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid momentum value: -0.9",
            expect: |e| invalid_option(e, Group(0), "momentum"),
            run: || trial(rmsprop().0, |o| o.set_option(0, "momentum", -0.9)),
        },
    ]
}
