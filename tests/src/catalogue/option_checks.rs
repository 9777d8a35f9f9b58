//! Every check of every bundled optimizer's options, one case each.

use optimizers::error::Scope;
use optimizers::{AdamOptions, DictValue, Error, ErrorKind, Lbfgs, LbfgsOptions, Sgd, SgdOptions};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "option-checks",
    title: "The checks of the bundled optimizers",
    intro: "Every check of every bundled optimizer's options, one case each. The same checks run \
            wherever an option can change: at construction, in `add_param_group`, `set_option`, \
            `set_options`, `update_hyperparameters` and `load_state_dict`. The valid ranges are listed \
            in [The bundled optimizers](bundled-optimizers.md).",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "sgd-negative-lr",
            cause: "SGD with a negative learning rate",
            fix: "use `lr` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.1",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || construct(unnamed_params(), |p| Sgd::new(p, SgdOptions::new().lr(-0.1))),
        },
        Case {
            id: "sgd-nan-lr",
            cause: "SGD with a NaN learning rate (torch accepts it)",
            fix: "use a finite `lr` ≥ 0; a NaN usually comes from a schedule dividing by zero",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: NaN",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || construct(unnamed_params(), |p| Sgd::new(p, SgdOptions::new().lr(f64::NAN))),
        },
        Case {
            id: "sgd-negative-momentum",
            cause: "SGD with a negative momentum",
            fix: "use `momentum` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid momentum value: -0.5",
            expect: |e| matches!(e, Error::InvalidOption { option: "momentum", .. }),
            run: || {
                construct(unnamed_params(), |p| {
                    Sgd::new(p, SgdOptions::new().lr(0.1).momentum(-0.5))
                })
            },
        },
        Case {
            id: "sgd-negative-weight-decay",
            cause: "SGD with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: -0.0001",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "weight_decay",
                        ..
                    }
                )
            },
            run: || {
                construct(unnamed_params(), |p| {
                    Sgd::new(p, SgdOptions::new().lr(0.1).weight_decay(-1e-4))
                })
            },
        },
        Case {
            id: "sgd-infinite-dampening",
            cause: "setting SGD's dampening to infinity at run time",
            fix: "use a finite `dampening`; 0, torch's default, is usual",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid dampening value: inf",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "dampening",
                        ..
                    }
                )
            },
            run: || trial(sgd().0, |o| o.set_option(0, "dampening", f64::INFINITY)),
        },
        Case {
            id: "sgd-nesterov-without-momentum",
            cause: "SGD with `nesterov` but no momentum",
            fix: "set `momentum` > 0 (and leave `dampening` at 0), or drop `nesterov`",
            kind: ErrorKind::InvalidOptions,
            fragment: "defaults: Nesterov momentum requires a momentum and zero dampening",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: Scope::Defaults,
                        ..
                    }
                )
            },
            run: || {
                construct(unnamed_params(), |p| {
                    Sgd::new(p, SgdOptions::new().lr(0.1).nesterov(true))
                })
            },
        },
        Case {
            id: "sgd-momentum-removed-under-nesterov",
            cause: "setting `momentum` to 0 at run time on a Nesterov SGD group",
            fix: "turn `nesterov` off first (`set_options` with both), or keep a momentum",
            kind: ErrorKind::InvalidOptions,
            fragment: "group 0: Nesterov momentum requires a momentum and zero dampening",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: Scope::Group(0),
                        ..
                    }
                )
            },
            run: || {
                let params = unnamed_params();
                let opt = Sgd::new(params, SgdOptions::new().lr(0.1).momentum(0.9).nesterov(true)).expect("valid");
                trial(opt, |o| o.set_option(0, "momentum", 0.0))
            },
        },
        Case {
            id: "adam-negative-lr",
            cause: "setting Adam's learning rate to a negative value at run time",
            fix: "use `lr` ≥ 0; check the schedule that computed it",
            kind: ErrorKind::InvalidOption,
            fragment: "group 1: invalid learning rate: -0.001",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || trial(adam().0, |o| o.set_option(1, "lr", -1e-3)),
        },
        Case {
            id: "adam-beta1-out-of-range",
            cause: "Adam with β₁ = 1 (`betas` must each be in [0, 1))",
            fix: "use β₁ in [0, 1), typically 0.9",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid beta parameter at index 0: 1.0",
            expect: |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            run: || {
                trial(adam().0, |o| {
                    o.set_option(0, "betas", DictValue::List(vec![1.0.into(), 0.999.into()]))
                })
            },
        },
        Case {
            id: "adam-beta2-out-of-range",
            cause: "Adam with a negative β₂",
            fix: "use β₂ in [0, 1), typically 0.999",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid beta parameter at index 1: -0.1",
            expect: |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            run: || trial(adam().0, |o| o.set_options(0, &AdamOptions::new().betas((0.9, -0.1)))),
        },
        Case {
            id: "adam-negative-eps",
            cause: "Adam with a negative epsilon",
            fix: "use `eps` ≥ 0, typically 1e-8",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid epsilon value: -1e-8",
            expect: |e| matches!(e, Error::InvalidOption { option: "eps", .. }),
            run: || trial(adam().0, |o| o.set_option(0, "eps", -1e-8)),
        },
        Case {
            id: "adam-negative-weight-decay",
            cause: "Adam with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid weight_decay value: -0.1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "weight_decay",
                        ..
                    }
                )
            },
            run: || trial(adam().0, |o| o.set_option(0, "weight_decay", -0.1)),
        },
        Case {
            id: "adamw-negative-lr",
            cause: "AdamW with a negative learning rate, through `update_options`",
            fix: "use `lr` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid learning rate: -1.0",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.lr = -1.0)),
        },
        Case {
            id: "adamw-beta1-out-of-range",
            cause: "AdamW with β₁ above 1",
            fix: "use β₁ in [0, 1)",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid beta parameter at index 0: 1.5",
            expect: |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            run: || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.betas.0 = 1.5)),
        },
        Case {
            id: "adamw-beta2-out-of-range",
            cause: "AdamW with β₂ = 1",
            fix: "use β₂ in [0, 1)",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid beta parameter at index 1: 1.0",
            expect: |e| matches!(e, Error::InvalidOption { option: "betas", .. }),
            run: || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.betas.1 = 1.0)),
        },
        Case {
            id: "adamw-negative-eps",
            cause: "AdamW with a negative epsilon",
            fix: "use `eps` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid epsilon value: -0.5",
            expect: |e| matches!(e, Error::InvalidOption { option: "eps", .. }),
            run: || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.eps = -0.5)),
        },
        Case {
            id: "adamw-negative-weight-decay",
            cause: "AdamW with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid weight_decay value: -0.01",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "weight_decay",
                        ..
                    }
                )
            },
            run: || trial(adamw().0, |o| o.update_hyperparameters(0, |o| o.weight_decay = -0.01)),
        },
        Case {
            id: "adamw-coupled-weight-decay",
            cause: "AdamW with `decoupled_weight_decay` = false",
            fix: "use `Adam` for an L2 penalty; AdamW's decay is decoupled by definition",
            // A check of the variant AdamW on one option of its base, Adam.
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: AdamW always decouples weight decay: use Adam for an L2 penalty",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        scope: Scope::Group(0),
                        option: "decoupled_weight_decay",
                        ..
                    }
                )
            },
            run: || trial(adamw().0, |o| o.set_option(0, "decoupled_weight_decay", false)),
        },
        Case {
            id: "lbfgs-negative-lr",
            cause: "LBFGS with a negative learning rate",
            fix: "use a finite `lr` ≥ 0 (1 is usual with a line search)",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid learning rate: -1.0 (must be finite and at least 0)",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || trial(lbfgs().0, |o| o.set_options(0, &LbfgsOptions::new().lr(-1.0))),
        },
        Case {
            id: "lbfgs-infinite-lr",
            cause: "LBFGS with an infinite learning rate",
            fix: "use a finite `lr` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid learning rate: inf (must be finite and at least 0)",
            expect: |e| matches!(e, Error::InvalidOption { option: "lr", .. }),
            run: || trial(lbfgs().0, |o| o.set_option(0, "lr", f64::INFINITY)),
        },
        Case {
            id: "lbfgs-zero-max-iter",
            cause: "LBFGS with `max_iter` = 0",
            fix: "use `max_iter` ≥ 1",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid max_iter: 0 (must be at least 1)",
            expect: |e| matches!(e, Error::InvalidOption { option: "max_iter", .. }),
            run: || trial(lbfgs().0, |o| o.set_options(0, &LbfgsOptions::new().max_iter(0))),
        },
        Case {
            id: "lbfgs-zero-max-eval",
            cause: "LBFGS with `max_eval` = 0",
            fix: "use `max_eval` ≥ 1, or leave it out (it defaults to `max_iter * 5 / 4`)",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid max_eval: 0 (must be at least 1)",
            expect: |e| matches!(e, Error::InvalidOption { option: "max_eval", .. }),
            run: || trial(lbfgs().0, |o| o.set_option(0, "max_eval", 0i64)),
        },
        Case {
            id: "lbfgs-negative-tolerance-grad",
            cause: "LBFGS with a negative `tolerance_grad`",
            fix: "use `tolerance_grad` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid tolerance_grad: -1e-7 (must be at least 0)",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "tolerance_grad",
                        ..
                    }
                )
            },
            run: || {
                trial(lbfgs().0, |o| {
                    o.set_options(0, &LbfgsOptions::new().tolerance_grad(-1e-7))
                })
            },
        },
        Case {
            id: "lbfgs-nan-tolerance-change",
            cause: "LBFGS with a NaN `tolerance_change`",
            fix: "use `tolerance_change` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid tolerance_change: NaN (must be at least 0)",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "tolerance_change",
                        ..
                    }
                )
            },
            run: || {
                trial(lbfgs().0, |o| {
                    o.set_options(0, &LbfgsOptions::new().tolerance_change(f64::NAN))
                })
            },
        },
        Case {
            id: "lbfgs-zero-history-size",
            cause: "LBFGS with `history_size` = 0",
            fix: "use `history_size` from 1 to 2²⁰ (10 to 100 is usual)",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid history_size: 0 (must be from 1 to 1048576)",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "history_size",
                        ..
                    }
                )
            },
            run: || trial(lbfgs().0, |o| o.set_options(0, &LbfgsOptions::new().history_size(0))),
        },
        Case {
            id: "lbfgs-huge-history-size",
            cause: "LBFGS with a `history_size` above 2²⁰",
            fix: "use `history_size` from 1 to 2²⁰; memory grows with it",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid history_size: 1048577 (must be from 1 to 1048576)",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "history_size",
                        ..
                    }
                )
            },
            run: || {
                trial(lbfgs().0, |o| {
                    o.set_options(0, &LbfgsOptions::new().history_size(Lbfgs::MAX_HISTORY_SIZE + 1))
                })
            },
        },
    ]
}
