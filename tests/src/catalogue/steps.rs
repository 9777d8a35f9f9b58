//! Parameters, gradients and steps: setting a value or gradient, and stepping.

use optimizers::error::GuardKind;
use optimizers::ndarray::array;
use optimizers::{Error, ErrorKind};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};
use crate::snapshot::Snapshot;

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "steps",
    title: "Parameters, gradients and steps",
    intro: "A value or gradient of the wrong shape is rejected where it is set, not at the next \
            step, so the error points at the line that is wrong. A step that fails, fails before it \
            changes anything, except LBFGS's, which restores the parameters (see \
            [`NonFiniteClosure`](#nonfiniteclosure)).",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "grad-wrong-shape",
            cause: "`set_grad` with a gradient of another shape (a transposed matrix)",
            fix: "give the gradient the parameter's shape",
            kind: ErrorKind::ShapeMismatch,
            fragment: "gradient of shape [3, 2] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            expect: |e| matches!(e, Error::ShapeMismatch { what: "gradient", .. }),
            run: || {
                let (opt, params) = adam();
                let grad = params[0].grad_array().expect("a gradient").reversed_axes();
                trial(opt, |_| params[0].set_grad(grad))
            },
        },
        Case {
            id: "grad-slice-wrong-length",
            cause: "`set_grad_from_slice` with a slice of the wrong length",
            fix: "pass `numel()` elements, row-major",
            kind: ErrorKind::ShapeMismatch,
            fragment: "gradient of shape [5] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            expect: |e| matches!(e, Error::ShapeMismatch { what: "gradient", found, .. } if found == &[5]),
            run: || {
                let (opt, params) = adam();
                trial(opt, |_| params[0].set_grad_from_slice(&[0.0; 5]))
            },
        },
        Case {
            id: "grad-accumulate-wrong-shape",
            cause: "`accumulate_grad` with an array of another shape",
            fix: "accumulate arrays of the parameter's shape",
            kind: ErrorKind::ShapeMismatch,
            fragment: "gradient of shape [2] does not match the parameter \"fc.bias\"'s shape [3]",
            expect: |e| matches!(e, Error::ShapeMismatch { what: "gradient", .. }),
            run: || {
                let (opt, params) = adam();
                trial(opt, |_| params[1].accumulate_grad(&array![1.0, 2.0]))
            },
        },
        Case {
            id: "value-wrong-shape",
            cause: "`set_value` with an array of another shape",
            fix: "a parameter's shape never changes: create a new parameter (and optimizer) to change it",
            kind: ErrorKind::ShapeMismatch,
            fragment: "value of shape [6] does not match the parameter \"fc.weight\"'s shape [2, 3]",
            expect: |e| matches!(e, Error::ShapeMismatch { what: "value", .. }),
            run: || {
                let (opt, params) = adam();
                trial(opt, |_| params[0].set_value(array![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
            },
        },
        Case {
            id: "nonfinite-gradient",
            cause: "`check_finite` before a step, with a NaN in a gradient",
            fix: "skip the step (`zero_grad`), lower the learning rate, or find where the loss overflows",
            kind: ErrorKind::NonFiniteGrad,
            fragment: "parameter 0 of group 1 (\"fc.bias\") has a non-finite gradient (NaN at flat index 2)",
            expect: |e| matches!(e, Error::NonFiniteGrad { position: 2, value, .. } if value.is_nan()),
            run: || {
                let (opt, params) = adam();
                params[1].grad_mut().expect("a gradient")[[2]] = f64::NAN;
                trial(opt, |o| o.check_finite())
            },
        },
        Case {
            id: "lbfgs-step-without-closure",
            cause: "`step()` on LBFGS",
            fix: "call `step_with(closure)`, the closure recomputing loss and gradients",
            kind: ErrorKind::ClosureRequired,
            fragment: "lbfgs re-evaluates the loss several times per step: call `step_with(closure)`",
            expect: |e| matches!(e, Error::ClosureRequired { kind: "lbfgs" }),
            run: || trial(lbfgs().0, |o| o.step()),
        },
        Case {
            id: "lbfgs-nonfinite-loss",
            cause: "an LBFGS closure that returns NaN",
            fix: "find why the loss overflows (a learning rate too large, a log of 0); the optimizer stays usable",
            kind: ErrorKind::NonFiniteClosure,
            fragment: "lbfgs: evaluation 8 of the closure gave a non-finite loss (NaN)",
            expect: |e| {
                matches!(
                    e,
                    Error::NonFiniteClosure {
                        evaluation: 8,
                        what: "loss",
                        ..
                    }
                )
            },
            run: || nonfinite_closure(Poison::Loss),
        },
        Case {
            id: "lbfgs-nonfinite-gradient",
            cause: "an LBFGS closure that writes an infinite gradient",
            fix: "find why the gradient overflows; the optimizer stays usable",
            kind: ErrorKind::NonFiniteClosure,
            fragment: "lbfgs: evaluation 8 of the closure gave a non-finite gradient (inf)",
            expect: |e| {
                matches!(
                    e,
                    Error::NonFiniteClosure {
                        evaluation: 8,
                        what: "gradient",
                        ..
                    }
                )
            },
            run: || nonfinite_closure(Poison::Gradient),
        },
        Case {
            id: "step-holding-value-guard",
            cause: "`step()` while this thread still holds a guard from `p.value()` (a `let w = p.value();` still in scope)",
            fix: "end the guard's scope (or `drop` it) before the step, or read a copy with `p.to_array()`",
            kind: ErrorKind::GuardHeld,
            fragment: "step needs parameter 0 of group 0 (\"fc.weight\"), but this thread holds its `value()` guard",
            expect: |e| {
                matches!(e, Error::GuardHeld { operation: "step", param, guard: GuardKind::Value }
                    if (param.group, param.index) == (0, 0))
            },
            run: || {
                let (opt, params) = adam();
                trial(opt, |o| {
                    let _weight = params[0].value();
                    o.step()
                })
            },
        },
        Case {
            id: "zero-grad-holding-grad-guard",
            cause: "`zero_grad()` while this thread still holds a guard from `p.grad()`",
            fix: "end the guard's scope (or `drop` it) first, or read a copy with `p.grad_array()`",
            kind: ErrorKind::GuardHeld,
            fragment: "zero_grad needs parameter 0 of group 1 (\"fc.bias\"), but this thread holds its `grad()` guard",
            expect: |e| {
                matches!(e, Error::GuardHeld { operation: "zero_grad", param, guard: GuardKind::Grad }
                    if (param.group, param.index) == (1, 0))
            },
            run: || {
                let (opt, params) = adam();
                trial(opt, |o| {
                    let _bias_grad = params[1].grad();
                    o.zero_grad()
                })
            },
        },
        Case {
            id: "step-with-holding-grad-guard",
            cause: "`step_with(closure)` on LBFGS while this thread holds a guard from `p.grad_mut()` (the closure could never write that gradient)",
            fix: "drop the guard before the step; the closure may take guards of its own, as long as they end with it",
            kind: ErrorKind::GuardHeld,
            fragment: "step_with needs parameter 1 of group 0, but this thread holds its `grad_mut()` guard",
            expect: |e| {
                matches!(e, Error::GuardHeld { operation: "step_with", param, guard: GuardKind::GradMut }
                    if (param.group, param.index) == (0, 1))
            },
            run: || {
                let (opt, params) = lbfgs();
                trial(opt, |o| {
                    let _grad = params[1].grad_mut();
                    o.step_with(quadratic(&params, None)).map(drop)
                })
            },
        },
    ]
}

/// LBFGS after two steps, whose next step meets a closure that fails at evaluation 8 (the
/// first evaluation of that step is 7, whose parameters must be restored).
fn nonfinite_closure(poison: Poison) -> Trial {
    let (mut opt, params) = lbfgs();
    let evals_before = opt.state(&params[0]).expect("state").func_evals;
    assert_eq!(evals_before, 6, "the subject's evaluations so far");
    let before = Snapshot::of_params(&params);
    let closure = quadratic(&params, Some((2, poison)));
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
