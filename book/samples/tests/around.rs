//! The samples of the chapter "Around the step": gradient clipping, weight averaging and
//! step hooks.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use optimizers::average::Averaged;
use optimizers::clip::{clip_grad_norm, clip_grad_value, clip_grads_with_norm, get_total_norm};
use optimizers::ndarray::{Array1, array};
use optimizers::{Adam, AdamOptions, AdamW, AdamWOptions, Error, ErrorKind, Param, Sgd, SgdOptions};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

/// The gradient of `½‖w − target‖²`, scaled so that it needs clipping.
fn steep_grad(w: &Param<f64>, target: &Array1<f64>) -> Array1<f64> {
    w.value().iter().zip(target).map(|(w, t)| 100.0 * (w - t)).collect()
}

#[test]
fn clipping_in_the_training_loop() -> Result {
    let target = array![1.0, -2.0, 3.0];
    // ANCHOR: clip_loop
    let w = Param::new(Array1::<f64>::zeros(3));
    let mut opt = AdamW::new([w.clone()], AdamWOptions::new().lr(0.05))?;
    for _ in 0..200 {
        opt.zero_grad()?;
        w.set_grad(steep_grad(&w, &target))?;
        // torch: total = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        let total = clip_grad_norm(opt.all_params(), 1.0, 2.0, false)?;
        assert!(total >= 0.0);
        opt.step()?;
    }
    // ANCHOR_END: clip_loop
    assert!(w.value().iter().zip(&target).all(|(w, t)| (w - t).abs() < 0.05));
    Ok(())
}

#[test]
fn one_norm_across_two_optimizers() -> Result {
    // ANCHOR: split
    let encoder = Param::new(array![3.0f32, 0.0]);
    let head = Param::new(array![0.0f32, 4.0]);
    let mut enc_opt = Sgd::new([encoder.clone()], SgdOptions::new().lr(0.1))?;
    let mut head_opt = Adam::new([head.clone()], AdamOptions::new())?;
    encoder.set_grad(array![3.0f32, 0.0])?;
    head.set_grad(array![0.0f32, 4.0])?;

    // One norm over both models' gradients (torch 2.6's get_total_norm)...
    let all = enc_opt.all_params().chain(head_opt.all_params());
    let total = get_total_norm(all, 2.0, false)?;
    assert_eq!(total, 5.0);
    // ...then each set scaled by the same coefficient (clip_grads_with_norm_).
    clip_grads_with_norm(enc_opt.all_params(), 1.0, total)?;
    clip_grads_with_norm(head_opt.all_params(), 1.0, total)?;
    enc_opt.step()?;
    head_opt.step()?;
    // ANCHOR_END: split
    let g = encoder.grad_array().ok_or("a gradient")?;
    assert!((g[0] - 0.6).abs() < 1e-6);
    Ok(())
}

#[test]
fn clipping_by_value_and_errors() -> Result {
    // ANCHOR: value
    let w = Param::named("w", array![0.0f64, 0.0, 0.0]);
    w.set_grad(array![-3.0, 0.5, f64::INFINITY])?;
    clip_grad_value([&w], 1.0)?; // torch.nn.utils.clip_grad_value_(params, 1.0)
    assert_eq!(w.grad_array(), Some(array![-1.0, 0.5, 1.0].into_dyn()));

    // error_if_nonfinite: an infinite gradient is an error naming it, and nothing changes.
    w.set_grad(array![1.0, f64::INFINITY, 0.0])?;
    let err = clip_grad_norm([&w], 1.0, 2.0, true).expect_err("the norm is infinite");
    assert_eq!(err.kind(), ErrorKind::NonFiniteNorm);
    assert!(
        err.to_string()
            .contains("parameter 0 of group 0 (\"w\")'s gradient has norm inf")
    );
    assert_eq!(w.grad_array(), Some(array![1.0, f64::INFINITY, 0.0].into_dyn()));
    // ANCHOR_END: value
    Ok(())
}

#[test]
fn exponential_and_stochastic_weight_averages() -> Result {
    // ANCHOR: averages
    let w = Param::named("fc.weight", array![[1.0f32, 2.0], [3.0, 4.0]]);
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.1))?;
    // torch: AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    let mut ema = Averaged::ema(opt.all_params(), 0.999)?;
    // torch: AveragedModel(model), the running mean of stochastic weight averaging
    let mut swa = Averaged::swa(opt.all_params())?;
    for step in 0..10 {
        w.set_grad(w.to_array().mapv(|x| x - step as f32))?;
        opt.step()?;
        ema.update(opt.all_params())?; // the first update copies, later ones average
        swa.update(opt.all_params())?;
    }
    assert_eq!(ema.n_averaged(), 10);
    // The averages are parameters of their own, to evaluate the model with.
    let averaged: &Param<f32> = &swa.params()[0];
    assert_eq!(averaged.name(), Some("fc.weight"));
    assert_eq!(averaged.shape(), [2, 2]);
    // ANCHOR_END: averages
    // Their state dicts: the averaged values and the count.
    let saved = ema.state_dict().into_owned();
    let mut again = Averaged::ema([&w], 0.999)?;
    again.load_state_dict(&saved)?;
    assert_eq!(again.params()[0].to_array(), ema.params()[0].to_array());
    Ok(())
}

#[test]
fn hooks_that_clip_and_average() -> Result {
    let target = array![1.0, -2.0, 3.0];
    // ANCHOR: hooks
    let w = Param::new(Array1::<f64>::zeros(3));
    let mut opt = AdamW::new([w.clone()], AdamWOptions::new().lr(0.05))?;

    // Before every step: clip the gradients (an error here would abort the step).
    opt.register_step_pre_hook(|o| clip_grad_norm(o.all_params(), 1.0, 2.0, false).map(|_| ()));

    // After every step: update a moving average of the weights, shared with the loop.
    let ema = Arc::new(Mutex::new(Averaged::ema(opt.all_params(), 0.9)?));
    let average = Arc::clone(&ema);
    let handle = opt.register_step_post_hook(move |o| {
        average
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .update(o.all_params())
    });

    for _ in 0..200 {
        opt.zero_grad()?;
        w.set_grad(steep_grad(&w, &target))?;
        opt.step()?; // runs: clip, the AdamW update, the average
    }
    handle.remove(); // torch: handle.remove(); the average stops following
    opt.step()?;
    // ANCHOR_END: hooks
    let ema = ema.lock().map_err(|_| "poisoned")?;
    assert_eq!(ema.n_averaged(), 200);
    assert!(
        ema.params()[0]
            .value()
            .iter()
            .zip(&target)
            .all(|(a, t)| (a - t).abs() < 0.1)
    );
    Ok(())
}

#[test]
fn an_aborting_pre_hook() -> Result {
    // ANCHOR: abort
    let w = Param::new(array![1.0f64]);
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.1))?;
    opt.register_step_pre_hook(|o| {
        for p in o.all_params() {
            if p.grad().is_some_and(|g| g.iter().any(|x| !x.is_finite())) {
                return Err(Error::InvalidArgument {
                    function: "skip_bad_batches",
                    argument: "gradients",
                    message: "are not finite: skipping the step".into(),
                });
            }
        }
        Ok(())
    });
    w.set_grad(array![f64::NAN])?;
    assert!(opt.step().is_err()); // nothing changed
    assert_eq!(w.value()[0], 1.0);
    // ANCHOR_END: abort
    Ok(())
}
