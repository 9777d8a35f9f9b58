//! The non-finite contract of `Lbfgs`, through `Optimizer::step_with`: a non-finite loss or
//! gradient stops the step with `Error::NonFiniteClosure`, the parameters go back bit for
//! bit to where that evaluation's move started (the iteration's starting point), the
//! counters count what was done, and every other state entry is as at the end of the last
//! completed iteration.
//!
//! Every evaluation of a reference run is made to fail in turn, and the outcome is compared
//! with a run stopped (by `max_iter`) right after the last completed iteration.

mod lbfgs_support;

use lbfgs_support::{bits, flat_values, params_from};
use optim_tests::problems::{Quadratic, Rosenbrock};
use optimizers::state::LbfgsState;
use optimizers::{Error, Lbfgs, LbfgsOptions, LineSearch, Optimizer, Param};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    NanLoss,
    InfLoss,
    NanGrad,
}

/// A closure body: Rosenbrock or a quadratic over the parameters, with a fault injected at
/// one evaluation (counted from 1 over the closure's life).
struct Faulty {
    params: Vec<Param<f64>>,
    quad: Option<Quadratic<f64>>,
    evals: u64,
    fail_at: Option<u64>,
    fault: Fault,
    x: Vec<f64>,
    g: Vec<f64>,
}

impl Faulty {
    fn new(params: &[Param<f64>], quad: Option<Quadratic<f64>>) -> Self {
        let n = params.iter().map(Param::numel).sum();
        Faulty {
            params: params.to_vec(),
            quad,
            evals: 0,
            fail_at: None,
            fault: Fault::NanLoss,
            x: vec![0.0; n],
            g: vec![0.0; n],
        }
    }

    fn eval(&mut self) -> f64 {
        self.evals += 1;
        let mut offset = 0;
        for p in &self.params {
            let n = p.numel();
            self.x[offset..offset + n].copy_from_slice(p.value().as_slice().expect("contiguous"));
            offset += n;
        }
        let mut f = match &self.quad {
            Some(q) => q.eval(&self.x, &mut self.g),
            None => Rosenbrock.eval(&self.x, &mut self.g),
        };
        if self.fail_at == Some(self.evals) {
            match self.fault {
                Fault::NanLoss => f = f64::NAN,
                Fault::InfLoss => f = f64::INFINITY,
                Fault::NanGrad => {
                    let mid = self.g.len() / 2;
                    self.g[mid] = f64::NAN;
                }
            }
        }
        let mut offset = 0;
        for p in &self.params {
            let n = p.numel();
            p.set_grad_from_slice(&self.g[offset..offset + n])
                .expect("lengths match");
            offset += n;
        }
        f
    }
}

struct Case<'a> {
    options: LbfgsOptions,
    shapes: &'a [&'a [usize]],
    x0: &'a [f64],
    quad: Option<Quadratic<f64>>,
}

impl Case<'_> {
    fn optimizer(&self, max_iter: Option<usize>) -> (Optimizer<Lbfgs, f64>, Vec<Param<f64>>) {
        let params = params_from(self.shapes, self.x0);
        let mut opt = Lbfgs::new(params.clone(), self.options.clone()).expect("valid options");
        if let Some(m) = max_iter {
            // Only `max_iter` changes: `max_eval` keeps the full run's value (its default
            // would otherwise follow the smaller `max_iter`).
            opt.set_options(0, &LbfgsOptions::new().max_iter(m))
                .expect("valid options");
        }
        (opt, params)
    }

    /// The state and parameters after one fault-free step of at most `max_iter` iterations.
    fn reference(&self, max_iter: Option<usize>) -> (LbfgsState<f64>, Vec<f64>) {
        let (mut opt, params) = self.optimizer(max_iter);
        let mut faulty = Faulty::new(&params, self.quad.clone());
        opt.step_with(|| faulty.eval()).expect("no fault");
        let state = opt.state(&params[0]).expect("stepped").clone();
        (state, flat_values(&params))
    }
}

/// Fails each evaluation of a fresh run's first step in turn and checks the contract.
fn check_every_evaluation(case: &Case<'_>, fault: Fault) {
    let (full, x_full) = case.reference(None);
    assert!(full.func_evals >= 6, "reference run too short: {full:?}");
    for fail_at in 1..=full.func_evals {
        let (mut opt, params) = case.optimizer(None);
        let mut faulty = Faulty::new(&params, case.quad.clone());
        faulty.fail_at = Some(fail_at);
        faulty.fault = fault;
        let err = opt.step_with(|| faulty.eval()).expect_err("the fault stops the step");
        let Error::NonFiniteClosure {
            kind,
            evaluation,
            what,
            value,
        } = err
        else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(kind, "lbfgs");
        assert_eq!(evaluation, fail_at, "{fault:?} at {fail_at}");
        match fault {
            Fault::NanLoss => assert!(what == "loss" && value.is_nan()),
            Fault::InfLoss => assert!(what == "loss" && value == f64::INFINITY),
            Fault::NanGrad => assert!(what == "gradient" && value.is_nan()),
        }
        let state = opt.state(&params[0]).expect("stepped").clone();
        assert_eq!(state.func_evals, fail_at, "func_evals counts the failing evaluation");

        if fail_at == 1 {
            // nothing moved, nothing else changed
            assert_eq!(bits(&flat_values(&params)), bits(case.x0));
            let mut expected = LbfgsState::new();
            expected.func_evals = 1;
            assert_eq!(state, expected);
            continue;
        }

        // the parameters are back at the failing iteration's starting point, and the state
        // is that of the last completed iteration
        let completed = state.n_iter - 1;
        let (mut expected, x_expected) = if completed == 0 {
            (LbfgsState::new(), case.x0.to_vec())
        } else {
            case.reference(Some(completed as usize))
        };
        assert_eq!(expected.n_iter, completed, "reference stopped early");
        assert_eq!(
            bits(&flat_values(&params)),
            bits(&x_expected),
            "{fault:?} at {fail_at}: params not restored"
        );
        expected.func_evals = fail_at;
        expected.n_iter = completed + 1;
        assert_eq!(state, expected, "{fault:?} at {fail_at}: state not rolled back");

        // the optimizer stays usable
        faulty.fail_at = None;
        let next = opt.step_with(|| faulty.eval()).expect("no fault any more");
        assert!(next.is_finite());
        if completed == 0 {
            // the failed iteration was the run's first: the next step starts afresh, exactly
            // like a fresh run's first step
            let after = opt.state(&params[0]).expect("stepped");
            assert_eq!(bits(&flat_values(&params)), bits(&x_full));
            assert_eq!(after.d, full.d);
            assert_eq!(after.history, full.history);
        }
    }
}

fn strong_wolfe() -> LbfgsOptions {
    LbfgsOptions::new()
        .line_search_fn(LineSearch::StrongWolfe)
        .max_iter(12)
        .max_eval(1000)
}

fn quadratic3() -> Quadratic<f64> {
    Quadratic {
        n: 3,
        a: vec![4.0, 1.0, 0.0, 1.0, 3.0, 0.5, 0.0, 0.5, 2.0],
        b: vec![1.0, -2.0, 0.5],
    }
}

#[test]
fn nan_loss_at_the_first_evaluation_changes_nothing() {
    let case = Case {
        options: strong_wolfe(),
        shapes: &[&[2]],
        x0: &[-1.5, 2.0],
        quad: None,
    };
    let (mut opt, params) = case.optimizer(None);
    let mut faulty = Faulty::new(&params, None);
    opt.step_with(|| faulty.eval()).expect("no fault");
    opt.step_with(|| faulty.eval()).expect("no fault");
    let before = opt.state(&params[0]).expect("stepped").clone();
    let x_before = flat_values(&params);
    faulty.fail_at = Some(faulty.evals + 1);
    let err = opt.step_with(|| faulty.eval()).expect_err("NaN loss");
    assert!(
        matches!(err, Error::NonFiniteClosure { evaluation, what: "loss", value, .. }
            if evaluation == before.func_evals + 1 && value.is_nan()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "lbfgs: evaluation {} of the closure gave a non-finite loss (NaN); the step stopped and the parameters \
             were restored to the last finite point",
            before.func_evals + 1
        )
    );
    assert_eq!(bits(&flat_values(&params)), bits(&x_before));
    let mut expected = before;
    expected.func_evals += 1;
    assert_eq!(opt.state(&params[0]), Some(&expected));
}

#[test]
fn every_evaluation_failing_inside_a_strong_wolfe_search() {
    // from (-1.5, 2): bracketing, extrapolation and zoom all occur
    let case = Case {
        options: strong_wolfe(),
        shapes: &[&[2]],
        x0: &[-1.5, 2.0],
        quad: None,
    };
    check_every_evaluation(&case, Fault::NanLoss);
    check_every_evaluation(&case, Fault::NanGrad);
    let lr3 = Case {
        options: strong_wolfe().lr(3.0),
        shapes: &[&[1], &[1]],
        x0: &[0.0, 0.0],
        quad: None,
    };
    check_every_evaluation(&lr3, Fault::InfLoss);
    // a budget that runs out while bracketing (t = 0 returned)
    let budget = Case {
        options: strong_wolfe().max_eval(7).lr(0.02),
        shapes: &[&[3]],
        x0: &[3.0, -1.0, 2.0],
        quad: Some(quadratic3()),
    };
    check_every_evaluation(&budget, Fault::NanGrad);
}

#[test]
fn every_evaluation_failing_without_line_search() {
    let case = Case {
        options: LbfgsOptions::new().max_iter(15),
        shapes: &[&[2]],
        x0: &[-1.5, 2.0],
        quad: None,
    };
    check_every_evaluation(&case, Fault::NanGrad);
    let four = Case {
        options: LbfgsOptions::new().max_iter(15),
        shapes: &[&[2], &[2]],
        x0: &[-1.5, 2.0, 0.5, -0.3],
        quad: None,
    };
    check_every_evaluation(&four, Fault::NanLoss);
    check_every_evaluation(&four, Fault::NanGrad);
}

#[test]
fn nan_gradient_in_the_middle_of_a_line_search_restores_the_iterations_start() {
    // an explicit instance of the above: the second evaluation of a later iteration's search
    let case = Case {
        options: strong_wolfe(),
        shapes: &[&[2]],
        x0: &[-1.5, 2.0],
        quad: None,
    };
    let max_iter = 12;
    let mut evals = vec![0u64];
    for k in 1..=max_iter {
        evals.push(case.reference(Some(k)).0.func_evals);
    }
    let k = (2..max_iter)
        .find(|&k| evals[k + 1] - evals[k] >= 2)
        .expect("an iteration whose search makes at least two evaluations");
    let fail_at = evals[k] + 2;
    let (mut opt, params) = case.optimizer(None);
    let mut faulty = Faulty::new(&params, None);
    faulty.fail_at = Some(fail_at);
    faulty.fault = Fault::NanGrad;
    let err = opt.step_with(|| faulty.eval()).expect_err("NaN gradient");
    assert!(
        matches!(err, Error::NonFiniteClosure { evaluation, what: "gradient", .. } if evaluation == fail_at),
        "{err:?}"
    );
    let (expected, x_start) = case.reference(Some(k));
    let state = opt.state(&params[0]).expect("stepped");
    assert_eq!(bits(&flat_values(&params)), bits(&x_start));
    assert_eq!(state.n_iter, k as u64 + 1);
    assert_eq!(state.d, expected.d);
    assert_eq!(state.t, expected.t);
    assert_eq!(state.history, expected.history);
    assert_eq!(state.al, expected.al);
    assert_eq!(state.prev_flat_grad, expected.prev_flat_grad);
}

#[test]
fn with_maximize_the_error_reports_the_closures_own_values() {
    let p = Param::new(optimizers::ndarray::array![0.5f64, -0.5]);
    let mut opt = Lbfgs::new([p.clone()], LbfgsOptions::new().maximize(true)).expect("valid");
    let err = opt
        .step_with(|| {
            p.set_grad_from_slice(&[1.0, 1.0]).expect("two elements");
            f64::INFINITY
        })
        .expect_err("infinite loss");
    assert!(
        matches!(err, Error::NonFiniteClosure { what: "loss", value, .. } if value == f64::INFINITY),
        "{err:?}"
    );
    let err = opt
        .step_with(|| {
            p.set_grad_from_slice(&[1.0, f64::NEG_INFINITY]).expect("two elements");
            1.0
        })
        .expect_err("infinite gradient");
    assert!(
        matches!(err, Error::NonFiniteClosure { evaluation: 2, what: "gradient", value, .. } if value == f64::NEG_INFINITY),
        "{err:?}"
    );
    assert_eq!(p.to_array(), optimizers::ndarray::array![0.5f64, -0.5].into_dyn());
}
