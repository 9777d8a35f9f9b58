//! Around the step: gradient clipping and weight averages.

use optimizers::average::Averaged;
use optimizers::clip::{clip_grad_norm, clip_grad_value};
use optimizers::error::GuardKind;
use optimizers::ndarray::array;
use optimizers::{Error, ErrorKind};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "around-the-step",
    title: "Clipping and averaging",
    intro: "The functions of `optimizers::clip` and the averages of `optimizers::average` take \
            any sequence of parameters (`opt.all_params()`); they name a parameter by its \
            position in that sequence, as group 0. Each checks its arguments and the \
            gradients' norm before it changes anything.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "clip-nonfinite-norm",
            cause: "`clip_grad_norm(.., error_if_nonfinite = true)` with an infinite gradient element",
            fix: "skip the batch (the gradients are untouched), or pass `error_if_nonfinite = false` to scale by the non-finite norm as torch does",
            kind: ErrorKind::NonFiniteNorm,
            fragment: "parameter 1 of group 0 (\"fc.bias\")'s gradient has norm inf",
            expect: |e| matches!(e, Error::NonFiniteNorm { param, .. } if param.index == 1),
            run: || {
                let (opt, params) = adam();
                params[1].set_grad(array![1.0, f64::INFINITY, 0.0]).expect("the shape");
                trial(opt, |o| clip_grad_norm(o.all_params(), 1.0, 2.0, true).map(|_| ()))
            },
        },
        Case {
            id: "clip-norm-type-zero",
            cause: "`clip_grad_norm` with `norm_type` 0 (torch counts non-zero elements)",
            fix: "use an order greater than 0, or `f64::INFINITY` for the largest absolute value",
            kind: ErrorKind::InvalidArgument,
            fragment: "clip_grad_norm: `norm_type` must be a number greater than 0, or infinity; found 0.0",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidArgument {
                        argument: "norm_type",
                        ..
                    }
                )
            },
            run: || {
                let (opt, _) = adam();
                trial(opt, |o| clip_grad_norm(o.all_params(), 1.0, 0.0, false).map(|_| ()))
            },
        },
        Case {
            id: "clip-negative-max-norm",
            cause: "`clip_grad_norm` with a negative `max_norm` (torch would flip every gradient)",
            fix: "give the largest norm the gradients may have, at least 0",
            kind: ErrorKind::InvalidArgument,
            fragment: "clip_grad_norm: `max_norm` must be a finite number of at least 0, found -1.0",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidArgument {
                        argument: "max_norm",
                        ..
                    }
                )
            },
            run: || {
                let (opt, _) = adam();
                trial(opt, |o| clip_grad_norm(o.all_params(), -1.0, 2.0, false).map(|_| ()))
            },
        },
        Case {
            id: "clip-value-nan",
            cause: "`clip_grad_value` with a NaN `clip_value`",
            fix: "give the largest absolute value an element may have",
            kind: ErrorKind::InvalidArgument,
            fragment: "clip_grad_value: `clip_value` must be a finite number of at least 0, found NaN",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidArgument {
                        argument: "clip_value",
                        ..
                    }
                )
            },
            run: || {
                let (opt, _) = adam();
                trial(opt, |o| clip_grad_value(o.all_params(), f64::NAN))
            },
        },
        Case {
            id: "clip-holding-grad-guard",
            cause: "`clip_grad_norm` while holding a `grad()` guard of one of the parameters",
            fix: "end the guard's scope before clipping",
            kind: ErrorKind::GuardHeld,
            fragment: "clip_grad_norm needs parameter 0 of group 0 (\"fc.weight\"), but this thread holds its `grad()` guard",
            expect: |e| {
                matches!(
                    e,
                    Error::GuardHeld {
                        guard: GuardKind::Grad,
                        operation: "clip_grad_norm",
                        ..
                    }
                )
            },
            run: || {
                let (opt, params) = adam();
                trial(opt, |o| {
                    let _held = params[0].grad();
                    clip_grad_norm(o.all_params(), 1.0, 2.0, false).map(|_| ())
                })
            },
        },
        Case {
            id: "average-other-params",
            cause: "`Averaged::update` with more parameters than the average was made of",
            fix: "update with the parameters the average follows, in the same order",
            kind: ErrorKind::InvalidArgument,
            fragment: "Averaged::update: `params` has 2 parameter(s) but the average was made of 1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidArgument {
                        function: "Averaged::update",
                        ..
                    }
                )
            },
            run: || {
                let (opt, params) = adam();
                let mut ema = Averaged::ema(&params[..1], 0.99).expect("valid");
                trial(opt, |o| ema.update(o.all_params()))
            },
        },
        Case {
            id: "average-other-shape",
            cause: "`Averaged::update` with a parameter of another shape than the one it follows",
            fix: "update with the parameters the average was made of",
            kind: ErrorKind::ShapeMismatch,
            fragment: "parameter to average of shape [3] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            expect: |e| {
                matches!(
                    e,
                    Error::ShapeMismatch {
                        what: "parameter to average",
                        ..
                    }
                )
            },
            run: || {
                let (opt, params) = adam();
                let mut ema = Averaged::ema(&params[..1], 0.99).expect("valid");
                trial(opt, |_| ema.update(&params[1..2]))
            },
        },
    ]
}
