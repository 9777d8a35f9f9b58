//! `step`, closure steps, `zero_grad`, lazy per-parameter state, the three rule forms and
//! the dyn-compatible trait.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use optim_core::ndarray::{ArrayD, array};
use optim_core::{DynOptimizer, Error, Param, ParamGroup};
use support::*;

/// The momentum rule computed by hand for one element sequence.
fn momentum_by_hand(p0: f64, grads: &[f64], lr: f64, mu: f64, wd: f64, nesterov: bool) -> f64 {
    let (mut p, mut buf) = (p0, None::<f64>);
    for &g in grads {
        let mut d = g + wd * p;
        if mu != 0.0 {
            let b = match buf {
                None => d,
                Some(b) => mu * b + d,
            };
            buf = Some(b);
            d = if nesterov { d + mu * b } else { b };
        }
        p -= lr * d;
    }
    p
}

#[test]
fn elementwise_step_matches_the_rule_by_hand_in_f64_and_f32() {
    for nesterov in [false, true] {
        let p = Param::new(array![1.5f64, -0.5]);
        let mut opt = Momentum::new(
            [p.clone()],
            MomentumOptions::new()
                .lr(0.1)
                .momentum(0.9)
                .weight_decay(0.01)
                .nesterov(nesterov),
        )
        .expect("valid");
        let q = Param::new(array![1.5f32, -0.5]);
        let mut opt32 = Momentum::new(
            [q.clone()],
            MomentumOptions::new()
                .lr(0.1)
                .momentum(0.9)
                .weight_decay(0.01)
                .nesterov(nesterov),
        )
        .expect("valid");
        let grads = [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.05]];
        for g in grads {
            p.set_grad(array![g[0], g[1]]).expect("shape");
            q.set_grad(array![g[0] as f32, g[1] as f32]).expect("shape");
            opt.step().expect("step");
            opt32.step().expect("step");
        }
        for (i, p0) in [1.5, -0.5].into_iter().enumerate() {
            let gs: Vec<f64> = grads.iter().map(|g| g[i]).collect();
            let expected = momentum_by_hand(p0, &gs, 0.1, 0.9, 0.01, nesterov);
            assert_eq!(p.value()[i], expected, "f64 element {i}");
            assert!((q.value()[i] as f64 - expected).abs() < 1e-6, "f32 element {i}");
        }
    }
}

#[test]
fn step_skips_parameters_without_a_gradient_and_leaves_their_state() {
    let (a, b) = two_params();
    let mut opt = Momentum::new([a.clone(), b.clone()], MomentumOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    set_grad(&a, 0);
    opt.step().expect("step");
    assert!(opt.state(&b).is_none(), "no state before a first gradient");
    let b_before = b.to_array();
    set_grad(&b, 1);
    opt.step().expect("step");
    let b_state = opt.state(&b).expect("created").momentum_buffer.clone();
    b.zero_grad(true);
    set_grad(&a, 2);
    opt.step().expect("step");
    assert_eq!(opt.state(&a).expect("a").step, 3);
    assert_eq!(opt.state(&b).expect("b").step, 1, "b's count did not move");
    assert_eq!(
        opt.state(&b).expect("b").momentum_buffer,
        b_state,
        "b's buffer did not move"
    );
    assert_ne!(b.to_array(), b_before);
}

#[test]
fn state_is_keyed_by_identity_not_value() {
    let a = Param::new(array![1.0f64, 2.0]);
    let twin = Param::new(array![1.0f64, 2.0]);
    let mut opt = Momentum::new([a.clone()], MomentumOptions::new().lr(0.1)).expect("valid");
    set_grad(&a, 0);
    opt.step().expect("step");
    assert!(opt.state(&a.clone()).is_some());
    assert!(opt.state(&twin).is_none(), "an equal value is another parameter");
}

#[test]
fn zero_grad_drops_or_zeroes_in_place() {
    let (a, b) = two_params();
    let opt = Momentum::new([a.clone(), b.clone()], MomentumOptions::new().lr(0.1)).expect("valid");
    set_grad(&a, 0);
    set_grad(&b, 0);
    let ptr = a.grad().expect("set").as_ptr();
    opt.zero_grad_in_place().expect("no guard held");
    assert_eq!(a.grad().expect("kept").as_ptr(), ptr, "allocation kept");
    assert!(a.grad().expect("kept").iter().all(|&x| x == 0.0));
    opt.zero_grad().expect("no guard held");
    assert!(!a.has_grad() && !b.has_grad());
}

#[test]
fn closure_step_runs_the_closure_once_and_returns_its_loss() {
    let p = Param::new(array![3.0f64]);
    let mut opt = Momentum::new([p.clone()], MomentumOptions::new().lr(0.25)).expect("valid");
    let calls = AtomicUsize::new(0);
    let closure_param = p.clone();
    let loss = opt
        .step_with(|| {
            calls.fetch_add(1, Ordering::Relaxed);
            // The closure reads the value and writes the gradient while the optimizer is
            // inside `step_with`: it holds no lock.
            let x = closure_param.value()[0];
            closure_param.set_grad(array![2.0 * x]).expect("shape");
            x * x
        })
        .expect("step");
    assert_eq!(loss, 9.0);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(p.value()[0], 3.0 - 0.25 * 6.0);
}

#[test]
fn closure_rule_re_evaluates_and_returns_the_first_loss() {
    let x = Param::new(array![2.0f64, -1.0]);
    let mut opt = optim_core::Optimizer::<Backtrack, f64>::new(
        [x.clone()],
        BacktrackOptions {
            lr: Some(4.0),
            ..Default::default()
        },
    )
    .expect("valid");
    let err = opt.step().expect_err("needs a closure");
    assert_eq!(
        err.to_string(),
        "backtrack re-evaluates the loss several times per step: call `step_with(closure)` instead of `step()`"
    );
    let evals = AtomicUsize::new(0);
    let closure_x = x.clone();
    let mut closure = || {
        evals.fetch_add(1, Ordering::Relaxed);
        let v = closure_x.to_array();
        closure_x.set_grad(v.mapv(|t| 2.0 * t)).expect("shape");
        v.iter().map(|t| t * t).sum::<f64>()
    };
    let loss = opt.step_with(&mut closure).expect("step");
    assert_eq!(loss, 5.0, "the loss of the first evaluation");
    // x - t * 2x: t=4 gives (-14, 7), loss 245; t=2 (-6, 3), 45; t=1 (-2, 1), 5, not below
    // 5; t=0.5 (0, 0), 0: accepted after 1 + 4 evaluations.
    assert_eq!(evals.load(Ordering::Relaxed), 5);
    assert_eq!(x.to_array(), array![0.0, 0.0].into_dyn());
    let state = opt.state(&x).expect("state under parameter 0");
    assert_eq!((state.func_evals, state.t), (5, Some(0.5)));
}

#[test]
fn per_tensor_rule_sees_whole_tensors() {
    let p = Param::new(array![[1.0f64, 1.0], [1.0, 1.0]]);
    let mut opt = optim_core::Optimizer::<Normalized, f64>::new([p.clone()], NormalizedOptions::default().lr(1.0))
        .expect("valid");
    p.set_grad(array![[3.0, 0.0], [0.0, 4.0]]).expect("shape");
    opt.step().expect("step");
    let s = 1.0 / 5.0; // lr / |g|
    assert_eq!(
        p.to_array(),
        array![[1.0 - s * 3.0, 1.0], [1.0, 1.0 - s * 4.0]].into_dyn()
    );
    assert!(opt.state_dict().state.is_empty(), "a stateless rule saves no state");
}

#[test]
fn check_finite_names_the_parameter_with_a_bad_gradient() {
    let a = Param::named("fc.weight", array![1.0f32, 2.0]);
    let b = Param::named("fc.bias", array![1.0f32, 2.0, 3.0]);
    let opt = Momentum::new([a.clone(), b.clone()], MomentumOptions::new().lr(0.1)).expect("valid");
    a.set_grad(array![0.1f32, 0.2]).expect("shape");
    b.set_grad(array![0.1f32, f32::NAN, 0.3]).expect("shape");
    let err = opt.check_finite().expect_err("NaN");
    assert_eq!(
        err.to_string(),
        "parameter 1 of group 0 (\"fc.bias\") has a non-finite gradient (NaN at flat index 1): skip this step or lower the learning rate"
    );
    b.set_grad(array![0.1f32, 0.2, 0.3]).expect("shape");
    opt.check_finite().expect("all finite");
}

#[test]
fn any_optimizer_fits_behind_the_dyn_trait() {
    let (a, b) = two_params();
    let mut opts: Vec<Box<dyn DynOptimizer<f64>>> = vec![
        Box::new(Momentum::new([a.clone()], MomentumOptions::new().lr(0.1)).expect("valid")),
        Box::new(
            optim_core::Optimizer::<Normalized, f64>::new([b.clone()], NormalizedOptions::default()).expect("valid"),
        ),
    ];
    for opt in &mut opts {
        let lr = opt.lr(0).expect("has lr");
        opt.set_lr(0, lr / 10.0).expect("valid");
        assert!((opt.lr(0).expect("has lr") - lr / 10.0).abs() < 1e-15);
        assert!(opt.set_lr(0, -1.0).is_err() || opt.kind() == "normalized");
        for p in opt.params(0).expect("group 0") {
            set_grad(&p, 0);
        }
        opt.step().expect("step");
        opt.zero_grad().expect("no guard held");
        let sd = opt.state_dict().into_owned();
        opt.load_state_dict(&sd).expect("own state dict loads");
    }
    assert_eq!(opts[0].kind(), "momentum");
    let mut extra = optim_core::Map::new();
    extra.insert("lr", 0.5);
    opts[0]
        .add_param_group_map(vec![Param::new(ArrayD::zeros(vec![2]))], &extra)
        .expect("new group");
    assert_eq!(opts[0].lr(1).expect("group 1"), 0.5);
    let err = opts[0].option(0, "nope").expect_err("unknown");
    assert!(matches!(err, Error::UnknownOption { .. }));
}

#[test]
fn add_param_group_between_steps_takes_effect_at_the_next_step() {
    let (a, b) = two_params();
    let mut opt = Momentum::new([a], MomentumOptions::new().lr(0.1)).expect("valid");
    train(&mut opt, 0, 2);
    let b0 = b.to_array();
    opt.add_param_group(ParamGroup::new([b.clone()])).expect("added");
    train(&mut opt, 2, 1);
    assert_ne!(b.to_array(), b0);
}
