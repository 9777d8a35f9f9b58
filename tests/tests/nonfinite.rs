//! What each bundled optimizer does with NaN and infinities: SGD, Adam and AdamW propagate
//! them into the parameters as torch does; `Optimizer::check_finite` is the guard that names
//! the parameter before a step; LBFGS stops with `Error::NonFiniteClosure` and restores the
//! parameters; non-finite state survives a state dict's JSON. The book's chapter "Errors at
//! run time" shows parts of this file (between `ANCHOR` lines).

use optimizers::error::ParamRef;
use optimizers::ndarray::array;
use optimizers::{
    Adam, AdamOptions, AdamW, AdamWOptions, DynOptimizer, Error, Lbfgs, LbfgsOptions, Param, Sgd, SgdOptions, StateDict,
};

/// Each optimizer (boxed), over `p`.
fn optimizers(p: &Param<f64>) -> Vec<(&'static str, Box<dyn DynOptimizer<f64>>)> {
    let params = || vec![p.clone()];
    vec![
        (
            "sgd",
            Box::new(Sgd::new(params(), SgdOptions::new().lr(0.1)).expect("valid")),
        ),
        (
            "sgd momentum",
            Box::new(Sgd::new(params(), SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid")),
        ),
        (
            "adam",
            Box::new(Adam::new(params(), AdamOptions::new()).expect("valid")),
        ),
        (
            "adam amsgrad",
            Box::new(Adam::new(params(), AdamOptions::new().amsgrad(true)).expect("valid")),
        ),
        (
            "adamw",
            Box::new(AdamW::new(params(), AdamWOptions::new()).expect("valid")),
        ),
    ]
}

#[test]
fn a_nan_gradient_makes_that_element_nan_and_leaves_the_others() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let p = Param::new(array![1.0, 2.0, 3.0]);
        for (name, mut opt) in optimizers(&p) {
            p.set_value(array![1.0, 2.0, 3.0]).expect("shape");
            p.set_grad(array![0.5, bad, -0.5]).expect("shape");
            opt.step()
                .expect("a step does not check for NaN: torch does not either");
            let v = p.to_array();
            assert!(v[0].is_finite() && v[2].is_finite(), "{name}: {v}");
            match (name, bad.is_nan()) {
                // SGD without momentum: p - lr * inf is an infinity of the opposite sign.
                ("sgd" | "sgd momentum", false) => assert_eq!(v[1], -0.1 * bad, "{name}"),
                // Adam: m / sqrt(v) is inf / inf = NaN.
                _ => assert!(v[1].is_nan(), "{name} with {bad}: {v}"),
            }
        }
    }
}

#[test]
fn torch_propagates_nan_and_so_do_sgd_and_adam() -> Result<(), Error> {
    // ANCHOR: propagate
    let w = Param::named("w", array![1.0f32, 2.0]);
    let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
    w.set_grad(array![f32::NAN, 0.5])?;
    opt.step()?; // no error: as in torch, the NaN flows into the parameter ...
    assert!(w.value()[0].is_nan());
    assert!(w.value()[1].is_finite()); // ... element by element
    for _ in 0..3 {
        w.set_grad(array![0.1f32, 0.1])?;
        opt.step()?; // and stays: Adam's running averages hold it now
    }
    assert!(w.value()[0].is_nan());
    assert!(opt.state(&w).expect("stepped").exp_avg[0].is_nan());
    // ANCHOR_END: propagate
    Ok(())
}

/// The guard: a step is taken only when every gradient is finite.
fn guarded_step(opt: &mut optimizers::Optimizer<Sgd, f64>) -> Result<bool, Error> {
    // ANCHOR: guard
    match opt.check_finite() {
        Ok(()) => {
            opt.step()?;
            Ok(true)
        }
        Err(e @ Error::NonFiniteGrad { .. }) => {
            // `e` names the parameter: `parameter 1 of group 0 ("fc.bias") has a
            // non-finite gradient (NaN at flat index 0): skip this step or ...`
            eprintln!("skipping a step: {e}");
            opt.zero_grad()?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
    // ANCHOR_END: guard
}

#[test]
fn check_finite_names_the_parameter_and_guards_the_step() {
    let w = Param::named("fc.weight", array![[1.0, 2.0], [3.0, 4.0]]);
    let b = Param::named("fc.bias", array![0.5, -0.5]);
    let mut opt = Sgd::new([w.clone(), b.clone()], SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    w.set_grad(array![[0.1, 0.1], [0.1, 0.1]]).expect("shape");
    b.set_grad(array![f64::NAN, 1.0]).expect("shape");
    let err = opt.check_finite().expect_err("NaN in fc.bias");
    assert!(matches!(
        &err,
        Error::NonFiniteGrad { param: ParamRef { group: 0, index: 1, name: Some(n) }, position: 0, value }
            if n == "fc.bias" && value.is_nan()
    ));
    let before = (w.to_array(), b.to_array(), opt.state_dict().into_owned());
    assert!(!guarded_step(&mut opt).expect("no other error"), "the step is skipped");
    assert_eq!((w.to_array(), b.to_array(), opt.state_dict()), before);
    assert!(!w.has_grad() && !b.has_grad());

    w.set_grad(array![[0.1, 0.1], [0.1, 0.1]]).expect("shape");
    b.set_grad(array![f64::INFINITY, 1.0]).expect("shape");
    let err = opt.check_finite().expect_err("inf in fc.bias");
    assert!(err.to_string().contains("(inf at flat index 0)"), "{err}");

    b.set_grad(array![1.0, 1.0]).expect("shape");
    assert!(guarded_step(&mut opt).expect("finite"), "the step is taken");
    assert!(w.value().iter().chain(b.value().iter()).all(|x| x.is_finite()));
    // parameters without a gradient are not checked (they do not step)
    b.zero_grad(true);
    opt.check_finite().expect("w's gradient is finite; b has none");
}

#[test]
fn lbfgs_stops_on_a_non_finite_closure_and_restores_the_parameters() -> Result<(), Error> {
    // ANCHOR: lbfgs
    let x = Param::new(array![3.0f64, -2.0]);
    let mut opt = Lbfgs::new([x.clone()], LbfgsOptions::new())?;
    let mut calls = 0;
    let err = opt
        .step_with(|| {
            calls += 1;
            let v = x.to_array();
            x.set_grad(v.mapv(|xi| 2.0 * xi)).expect("same shape");
            // a loss that overflows after the first move
            if calls > 1 {
                f64::NAN
            } else {
                v.mapv(|xi| xi * xi).sum()
            }
        })
        .expect_err("the second evaluation is NaN");
    assert!(matches!(
        err,
        Error::NonFiniteClosure {
            evaluation: 2,
            what: "loss",
            ..
        }
    ));
    assert_eq!(x.to_array(), array![3.0, -2.0].into_dyn()); // where the move started
    // The optimizer stays usable: with a closure that behaves, the next step proceeds.
    let loss = opt.step_with(|| {
        let v = x.to_array();
        x.set_grad(v.mapv(|xi| 2.0 * xi)).expect("same shape");
        v.mapv(|xi| xi * xi).sum()
    })?;
    assert_eq!(loss, 13.0);
    // ANCHOR_END: lbfgs
    assert!(x.value().iter().all(|v| v.abs() < 1e-6), "{}", *x.value());
    Ok(())
}

#[test]
fn lbfgs_reports_a_non_finite_gradient_from_the_first_evaluation_and_changes_nothing() {
    let x = Param::new(array![1.0f32, 2.0, 3.0]);
    let mut opt = Lbfgs::new([x.clone()], LbfgsOptions::new()).expect("valid");
    let err = opt
        .step_with(|| {
            x.set_grad(array![1.0f32, f32::NEG_INFINITY, 0.0]).expect("shape");
            1.0
        })
        .expect_err("infinite gradient");
    assert!(
        matches!(err, Error::NonFiniteClosure { evaluation: 1, what: "gradient", value, .. } if value == f64::NEG_INFINITY),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "lbfgs: evaluation 1 of the closure gave a non-finite gradient (-inf); the step stopped and the parameters \
         were restored to the last finite point"
    );
    assert_eq!(x.to_array(), array![1.0f32, 2.0, 3.0].into_dyn());
    assert_eq!(opt.state(&x).expect("created").func_evals, 1);
}

#[test]
fn non_finite_state_survives_json_and_loads_back() {
    let p = Param::new(array![1.0f32, 2.0]);
    let mut opt = Sgd::new([p.clone()], SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    p.set_grad(array![f32::NAN, f32::INFINITY]).expect("shape");
    opt.step().expect("step");
    let json = opt.state_dict().to_json();
    assert!(json.contains("[\"NaN\",\"Infinity\"]"), "{json}");
    let q = Param::new(array![0.0f32, 0.0]);
    let mut other = Sgd::new([q.clone()], SgdOptions::new().lr(0.1)).expect("valid");
    other
        .load_state_dict(&StateDict::from_json(&json).expect("reads"))
        .expect("NaN state is state");
    assert_eq!(other.state_dict().to_json(), json);
    let buf = other
        .state(&q)
        .expect("loaded")
        .momentum_buffer
        .clone()
        .expect("buffer");
    assert!(buf[0].is_nan() && buf[1] == f32::INFINITY);
}

#[test]
fn non_finite_options_are_rejected_where_they_could_not_be_meant() {
    let p = || vec![Param::new(array![1.0f64])];
    // NaN fails every `≥ 0` check (torch's `not 0.0 <= lr` lets NaN through).
    assert!(Sgd::new(p(), SgdOptions::new().lr(f64::NAN)).is_err());
    assert!(Adam::new(p(), AdamOptions::new().eps(f64::NAN)).is_err());
    assert!(Adam::new(p(), AdamOptions::new().betas((f64::NAN, 0.9))).is_err());
    assert!(Lbfgs::new(p(), LbfgsOptions::new().lr(f64::INFINITY)).is_err());
    // torch accepts an infinite learning rate; a step with one can only destroy the
    // parameters, so here every bundled optimizer refuses it.
    let err = Sgd::new(p(), SgdOptions::new().lr(f64::INFINITY)).expect_err("infinite lr");
    assert_eq!(err.to_string(), "defaults: invalid learning rate: inf");
    assert!(Sgd::new(p(), SgdOptions::new().lr(0.1).dampening(f64::NAN)).is_err());
    assert!(Adam::new(p(), AdamOptions::new().lr(f64::INFINITY)).is_err());
    assert!(AdamW::new(p(), AdamWOptions::new().weight_decay(f64::INFINITY)).is_err());
}
