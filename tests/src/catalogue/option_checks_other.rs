//! Every check of the options of ASGD, Rprop and Adafactor, one case each at construction,
//! and a few at run time.

use optimizers::error::Scope::{Defaults, Group};
use optimizers::{Adafactor, AdafactorOptions, Asgd, AsgdOptions, DictValue, ErrorKind, Rprop, RpropOptions};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "option-checks-other",
    title: "The checks of ASGD, Rprop and Adafactor",
    intro: "Every check of these optimizers' options, one case each, in the order torch runs them and \
            with torch's messages (lowercase); most cases build an optimizer, a few change a trained \
            one's group. ASGD's `t0` is not checked, as in torch. NaN and infinities fail every other \
            check: also where torch gives an infinity a meaning (Adafactor's `lr` and `d`, Rprop's \
            `etaplus`), and Rprop's `step_sizes`, which torch does not check; the fixes say which finite \
            value does the same. Adafactor refuses them with a message of its own (`should be finite`), \
            since torch's `should be >= 0 but is: inf` would contradict itself.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "asgd-negative-lr",
            cause: "ASGD with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 1e-2",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.01",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| Asgd::new(p, AsgdOptions::new().lr(-0.01))),
        },
        Case {
            id: "asgd-negative-lambd",
            cause: "ASGD with a negative `lambd` (the weights would grow at every step)",
            fix: "use `lambd` ≥ 0, typically 1e-4",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid lambd value: -0.0001",
            expect: |e| invalid_option(e, Defaults, "lambd"),
            run: || construct(unnamed_params(), |p| Asgd::new(p, AsgdOptions::new().lambd(-1e-4))),
        },
        Case {
            id: "asgd-nan-alpha",
            cause: "ASGD with a NaN `alpha`",
            fix: "use a finite `alpha` ≥ 0, typically 0.75",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid alpha value: NaN",
            expect: |e| invalid_option(e, Defaults, "alpha"),
            run: || construct(unnamed_params(), |p| Asgd::new(p, AsgdOptions::new().alpha(f64::NAN))),
        },
        Case {
            id: "asgd-negative-weight-decay",
            cause: "ASGD with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid weight_decay value: -0.01",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Asgd::new(p, AsgdOptions::new().weight_decay(-0.01))
                })
            },
        },
        Case {
            id: "asgd-negative-lr-at-run-time",
            cause: "setting ASGD's learning rate to a negative value at run time",
            fix: "use `lr` ≥ 0; check the schedule that computed it",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid learning rate: -0.01",
            expect: |e| invalid_option(e, Group(0), "lr"),
            run: || trial(asgd().0, |o| o.set_option(0, "lr", -0.01)),
        },
        Case {
            id: "rprop-negative-lr",
            cause: "Rprop with a negative learning rate (its initial step size)",
            fix: "use `lr` ≥ 0, typically 1e-2",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid learning rate: -0.01",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || construct(unnamed_params(), |p| Rprop::new(p, RpropOptions::new().lr(-0.01))),
        },
        Case {
            id: "rprop-infinite-etaplus",
            cause: "Rprop with an infinite `etaplus` (torch accepts it: step sizes jump to their maximum)",
            fix: "use a finite `etaplus` > 1, typically 1.2; a large one, such as 1e10, also jumps to the maximum",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid eta values: 0.5, inf",
            expect: |e| invalid_option(e, Defaults, "etas"),
            run: || {
                construct(unnamed_params(), |p| {
                    Rprop::new(p, RpropOptions::new().etas((0.5, f64::INFINITY)))
                })
            },
        },
        Case {
            id: "rprop-etas-swapped",
            cause: "Rprop with `etas` in the wrong order, `(etaplus, etaminus)`",
            fix: "use `(etaminus, etaplus)` with 0 < etaminus < 1 < etaplus, typically `(0.5, 1.2)`",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid eta values: 1.2, 0.5",
            expect: |e| invalid_option(e, Defaults, "etas"),
            run: || {
                construct(unnamed_params(), |p| {
                    Rprop::new(p, RpropOptions::new().etas((1.2, 0.5)))
                })
            },
        },
        Case {
            id: "rprop-infinite-max-step-size",
            cause: "Rprop with an infinite maximum step size (torch does not check `step_sizes`)",
            fix: "use finite `step_sizes`; a large maximum, such as 1e10, leaves the step sizes practically unbounded",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: invalid step_sizes[1]: inf (must be finite)",
            expect: |e| invalid_option(e, Defaults, "step_sizes"),
            run: || {
                construct(unnamed_params(), |p| {
                    Rprop::new(p, RpropOptions::new().step_sizes((1e-6, f64::INFINITY)))
                })
            },
        },
        Case {
            id: "rprop-etaminus-one-at-run-time",
            cause: "setting Rprop's `etaminus` to 1 at run time (step sizes would never shrink)",
            fix: "use 0 < etaminus < 1, typically 0.5",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid eta values: 1.0, 1.2",
            expect: |e| invalid_option(e, Group(0), "etas"),
            run: || {
                trial(rprop().0, |o| {
                    o.set_option(0, "etas", DictValue::List(vec![1.0.into(), 1.2.into()]))
                })
            },
        },
        Case {
            id: "adafactor-negative-lr",
            cause: "Adafactor with a negative learning rate",
            fix: "use `lr` ≥ 0, typically 1e-2 (it caps the relative step size and scales the weight decay)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: learning rate should be >= 0 but is: -0.01",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().lr(-0.01))
                })
            },
        },
        Case {
            id: "adafactor-infinite-lr",
            cause: "Adafactor with an infinite learning rate (torch accepts it: the step size `1/√t` is not capped)",
            fix: "use `lr` = 1 for the uncapped `1/√t` (the same step when `weight_decay` is 0)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: learning rate should be finite but is: inf",
            expect: |e| invalid_option(e, Defaults, "lr"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().lr(f64::INFINITY))
                })
            },
        },
        Case {
            id: "adafactor-positive-beta2-decay",
            cause: "Adafactor with a positive `beta2_decay` (a lost minus sign)",
            fix: "use `beta2_decay` ≤ 0, typically -0.8",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: beta2_decay should be <= 0 but is: 0.8",
            expect: |e| invalid_option(e, Defaults, "beta2_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().beta2_decay(0.8))
                })
            },
        },
        Case {
            id: "adafactor-nan-beta2-decay",
            cause: "Adafactor with a NaN `beta2_decay`",
            fix: "use a finite `beta2_decay` ≤ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: beta2_decay should be finite but is: NaN",
            expect: |e| invalid_option(e, Defaults, "beta2_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().beta2_decay(f64::NAN))
                })
            },
        },
        Case {
            id: "adafactor-negative-eps1",
            cause: "Adafactor with a negative ε₁ (`eps.0`)",
            fix: "use `eps.0` ≥ 0, or `None` for the machine epsilon of the parameters' type (torch's default)",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: epsilon1 should be >= 0 but is: -1e-30",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().eps((Some(-1e-30), 1e-3)))
                })
            },
        },
        Case {
            id: "adafactor-infinite-eps1",
            cause: "Adafactor with an infinite ε₁ (`eps.0`)",
            fix: "use a finite `eps.0` ≥ 0, or `None`",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: epsilon1 should be finite but is: inf",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().eps((Some(f64::INFINITY), 1e-3)))
                })
            },
        },
        Case {
            id: "adafactor-negative-eps2",
            cause: "Adafactor with a negative ε₂ (`eps.1`)",
            fix: "use `eps.1` ≥ 0, typically 1e-3",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: epsilon2 should be >= 0 but is: -0.001",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().eps((None, -1e-3)))
                })
            },
        },
        Case {
            id: "adafactor-nan-eps2",
            cause: "Adafactor with a NaN ε₂ (`eps.1`)",
            fix: "use a finite `eps.1` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: epsilon2 should be finite but is: NaN",
            expect: |e| invalid_option(e, Defaults, "eps"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().eps((None, f64::NAN)))
                })
            },
        },
        Case {
            id: "adafactor-d-below-one",
            cause: "Adafactor with a clipping threshold `d` below 1",
            fix: "use `d` ≥ 1, typically 1",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: clipping threshold d should be >= 1 but is: 0.5",
            expect: |e| invalid_option(e, Defaults, "d"),
            run: || construct(unnamed_params(), |p| Adafactor::new(p, AdafactorOptions::new().d(0.5))),
        },
        Case {
            id: "adafactor-infinite-d",
            cause: "Adafactor with an infinite clipping threshold `d` (torch accepts it: no clipping)",
            fix: "use a finite `d` ≥ 1; a large one, such as 1e30, turns the clipping off",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: clipping threshold d should be finite but is: inf",
            expect: |e| invalid_option(e, Defaults, "d"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().d(f64::INFINITY))
                })
            },
        },
        Case {
            id: "adafactor-negative-weight-decay",
            cause: "Adafactor with a negative weight decay",
            fix: "use `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: weight_decay should be >= 0 but is: -0.01",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().weight_decay(-0.01))
                })
            },
        },
        Case {
            id: "adafactor-infinite-weight-decay",
            cause: "Adafactor with an infinite weight decay",
            fix: "use a finite `weight_decay` ≥ 0",
            kind: ErrorKind::InvalidOption,
            fragment: "defaults: weight_decay should be finite but is: inf",
            expect: |e| invalid_option(e, Defaults, "weight_decay"),
            run: || {
                construct(unnamed_params(), |p| {
                    Adafactor::new(p, AdafactorOptions::new().weight_decay(f64::INFINITY))
                })
            },
        },
        Case {
            id: "adafactor-negative-eps2-at-run-time",
            cause: "setting Adafactor's `eps` at run time to `[null, -1e-3]`",
            fix: "use `eps.1` ≥ 0, typically 1e-3",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: epsilon2 should be >= 0 but is: -0.001",
            expect: |e| invalid_option(e, Group(0), "eps"),
            run: || {
                trial(adafactor().0, |o| {
                    o.set_option(0, "eps", DictValue::List(vec![DictValue::Null, (-1e-3).into()]))
                })
            },
        },
    ]
}
