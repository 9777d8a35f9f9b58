//! The samples of the chapter "Steps and closures": the training loop, both ways of zeroing
//! gradients, accumulation, `step_with` and LBFGS's closure, and non-finite values.

use std::error::Error as StdError;

use optim_book::rosenbrock::{self, START};
use optimizers::ndarray::{Array1, array};
use optimizers::{Adam, AdamOptions, Error, Lbfgs, LbfgsOptions, LineSearch, Param, ParamGroup, Sgd, SgdOptions};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

/// Least squares: the loss `½‖w − target‖²` and its gradient `w − target`.
fn loss_and_grad(w: &Param<f64>, target: &Array1<f64>) -> (f64, Array1<f64>) {
    let diff: Array1<f64> = w.value().iter().zip(target).map(|(w, t)| w - t).collect();
    (0.5 * diff.dot(&diff), diff)
}

#[test]
fn the_training_loop() -> Result {
    let target = array![1.0, -2.0, 3.0];
    // ANCHOR: loop
    let w = Param::new(Array1::<f64>::zeros(3));
    let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
    for _epoch in 0..300 {
        opt.zero_grad()?; // torch: optimizer.zero_grad()
        let (_loss, grad) = loss_and_grad(&w, &target); // forward and backward
        w.set_grad(grad)?;
        opt.step()?; // torch: optimizer.step()
    }
    assert!(loss_and_grad(&w, &target).0 < 1e-6);
    // ANCHOR_END: loop
    Ok(())
}

#[test]
fn zeroing_gradients_both_ways() -> Result {
    // ANCHOR: zero_grad
    let make = || -> Result<_> {
        let p = Param::new(array![1.0f64]);
        let mut opt = Sgd::new([p.clone()], SgdOptions::new().lr(0.1).momentum(0.9))?;
        p.set_grad(array![1.0])?;
        opt.step()?; // p = 1 − 0.1 · 1 = 0.9, momentum buffer 1
        Ok((p, opt))
    };

    // zero_grad() drops the gradients (torch 2.x's default, set_to_none=True):
    // a parameter without a gradient is skipped, its state untouched.
    let (p, mut opt) = make()?;
    opt.zero_grad()?;
    assert!(!p.has_grad());
    opt.step()?;
    assert_eq!(p.value()[0], 0.9);

    // zero_grad_in_place() fills them with zeros, keeping their memory
    // (torch's set_to_none=False): a zero gradient is a real step, and momentum still moves p.
    let (p, mut opt) = make()?;
    opt.zero_grad_in_place()?;
    assert_eq!(p.grad_array(), Some(array![0.0].into_dyn()));
    opt.step()?;
    assert!((p.value()[0] - (0.9 - 0.1 * 0.9)).abs() < 1e-15); // buffer 0.9 · 1 + 0
    // ANCHOR_END: zero_grad
    Ok(())
}

#[test]
fn gradients_accumulate_over_micro_batches() -> Result {
    // ANCHOR: accumulate
    let w = Param::new(array![0.0f32, 0.0]);
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.5))?;
    let micro_batches = [array![1.0f32, 0.0], array![0.0, 2.0], array![1.0, 2.0]];
    opt.zero_grad()?;
    for grad in &micro_batches {
        w.accumulate_grad(&(grad / micro_batches.len() as f32))?; // what backward does to .grad
    }
    opt.step()?; // one step with the mean gradient, [2/3, 4/3]
    assert_eq!(*w.value(), array![-1.0f32 / 3.0, -2.0 / 3.0].into_dyn());
    // ANCHOR_END: accumulate
    Ok(())
}

#[test]
fn lbfgs_evaluates_the_closure_as_often_as_it_needs() -> Result {
    // ANCHOR: lbfgs
    let xy = Param::new(Array1::from(START.to_vec())); // (−1.5, 2)
    let options = LbfgsOptions::new()
        .line_search_fn(LineSearch::StrongWolfe)
        .max_iter(100);
    let mut opt = Lbfgs::new([xy.clone()], options)?;

    let mut evaluations = 0;
    let first_loss = opt.step_with(|| {
        evaluations += 1;
        rosenbrock::evaluate(&xy).expect("the gradient has the parameter's shape")
    })?;

    assert_eq!(first_loss, 12.5); // the loss where the step started
    assert!(rosenbrock::evaluate(&xy)? < 1e-9); // at the minimum, (1, 1)
    let state = opt.state(&xy).ok_or("LBFGS has state after a step")?;
    assert_eq!(state.func_evals, evaluations);
    assert_eq!((state.func_evals, state.n_iter), (51, 41)); // in one step_with
    // ANCHOR_END: lbfgs
    Ok(())
}

#[test]
fn lbfgs_refuses_a_step_without_a_closure() -> Result {
    // ANCHOR: closure_required
    let xy = Param::new(Array1::from(START.to_vec()));
    let mut opt = Lbfgs::new([xy.clone()], LbfgsOptions::new())?;
    rosenbrock::evaluate(&xy)?;
    let err = opt.step().unwrap_err();
    assert_eq!(
        err.to_string(),
        "lbfgs re-evaluates the loss several times per step: call `step_with(closure)` instead of `step()`"
    );
    // LBFGS sees all parameters as one vector: it takes one group.
    let err = opt
        .add_param_group(ParamGroup::new([Param::new(array![0.0f64])]))
        .unwrap_err();
    assert!(matches!(err, Error::TooManyGroups { max: 1, .. }));
    // ANCHOR_END: closure_required
    Ok(())
}

#[test]
fn every_optimizer_takes_a_closure() -> Result {
    let target = array![1.0, -2.0, 3.0];
    // ANCHOR: step_with
    let w = Param::new(Array1::<f64>::zeros(3));
    let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
    let loss = opt.step_with(|| {
        let (loss, grad) = loss_and_grad(&w, &target);
        w.set_grad(grad).expect("the gradient has the parameter's shape");
        loss
    })?; // Adam calls the closure once, then steps from the gradients it wrote
    assert_eq!(loss, 7.0); // ½ (1 + 4 + 9), at the parameters before the step
    // ANCHOR_END: step_with
    Ok(())
}

#[test]
fn a_diverging_run_is_caught_before_the_step() -> Result {
    // ANCHOR: check_finite
    let w = Param::named("w", array![1.0f32, 2.0]);
    let mut opt = Adam::new([w.clone()], AdamOptions::new())?;
    w.set_grad(array![0.5f32, f32::NAN])?;

    // torch would step and spread the NaN into the parameter and Adam's moments.
    match opt.check_finite() {
        Ok(()) => opt.step()?,
        Err(err) => {
            assert_eq!(
                err.to_string(),
                "parameter 0 of group 0 (\"w\") has a non-finite gradient (NaN at flat index 1): \
                 skip this step or lower the learning rate"
            );
            opt.zero_grad()?; // skip this batch
        }
    }
    assert_eq!(*w.value(), array![1.0f32, 2.0].into_dyn());
    assert!(opt.state(&w).is_none());
    // ANCHOR_END: check_finite
    Ok(())
}

#[test]
fn lbfgs_stops_at_a_non_finite_evaluation_and_restores_the_parameters() -> Result {
    // ANCHOR: lbfgs_nonfinite
    let xy = Param::new(Array1::from(START.to_vec()));
    let mut opt = Lbfgs::new([xy.clone()], LbfgsOptions::new().lr(1.0))?;
    let mut evaluated_at = Vec::new();
    // A loss that overflows at the third evaluation (a model that blew up).
    let overflowing = || {
        evaluated_at.push(xy.to_array());
        let loss = rosenbrock::evaluate(&xy).expect("shape");
        if evaluated_at.len() == 3 { f64::INFINITY } else { loss }
    };
    let err = opt.step_with(overflowing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lbfgs: evaluation 3 of the closure gave a non-finite loss (inf); \
         the step stopped and the parameters were restored to the last finite point"
    );
    assert_eq!(xy.to_array(), evaluated_at[1]); // back where evaluation 2 was made, the last finite one
    assert_eq!(opt.state(&xy).ok_or("state")?.func_evals, 3);
    // The optimizer stays usable: the next step continues from there.
    opt.step_with(|| rosenbrock::evaluate(&xy).expect("shape"))?;
    // ANCHOR_END: lbfgs_nonfinite
    Ok(())
}
