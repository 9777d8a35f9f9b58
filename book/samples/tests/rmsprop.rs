//! RMSprop, derived in a crate that depends on `optimizers` alone: steps against values
//! computed by hand, its checks and messages, the renamed option, optional state tensors
//! that follow their options, and the state dict round trip.

use std::error::Error as StdError;

use optim_book::rmsprop::{Rmsprop, RmspropOptions};
use optimizers::ndarray::array;
use optimizers::{DictValue, Param, StateDict};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

// ANCHOR: by_hand
#[test]
fn rmsprop_steps_match_values_computed_by_hand() -> Result {
    // lr 0.1, α 0.75, eps 0; one element, p = 1.
    // step 1, g = 2:  v = 0.25 · 4 = 1            p = 1 − 0.1 · 2 / √1 = 0.8
    // step 2, g = −1: v = 0.75 · 1 + 0.25 · 1 = 1  p = 0.8 + 0.1 · 1 / √1 = 0.9
    let p = Param::new(array![1.0f64]);
    let q = Param::new(array![1.0f32]); // the same in f32
    let options = || RmspropOptions::new().lr(0.1).smoothing(0.75).eps(0.0);
    let mut opt = Rmsprop::new([p.clone()], options())?;
    let mut opt32 = Rmsprop::new([q.clone()], options())?;
    for (g, expected) in [(2.0, 0.8), (-1.0, 0.9)] {
        p.set_grad(array![g])?;
        q.set_grad(array![g as f32])?;
        opt.step()?;
        opt32.step()?;
        assert!((p.value()[0] - expected).abs() < 1e-15, "{}", p.value()[0]);
        assert!((q.value()[0] as f64 - expected).abs() < 1e-6, "{}", q.value()[0]);
    }
    let state = opt.state(&p).ok_or("stepped")?;
    assert_eq!((state.step, state.square_avg[0]), (2, 1.0));
    assert!(state.momentum_buffer.is_none() && state.grad_avg.is_none());
    Ok(())
}

#[test]
fn centered_rmsprop_with_momentum_by_hand() -> Result {
    // lr 0.1, α 0.5, momentum 0.5, eps 0, centered; p = 1.
    // step 1, g = 2:    v = 0.5 · 4 = 2,   m = 0.5 · 2 = 1,      d = √(2 − 1) = 1
    //                   b = 2 / 1 = 2,                            p = 1 − 0.1 · 2 = 0.8
    // step 2, g = 2.75: v = 1 + 0.5 · 7.5625 = 4.78125,  m = 0.5 + 1.375 = 1.875
    //                   d = √(4.78125 − 3.515625) = √1.265625 = 1.125
    //                   b = 0.5 · 2 + 2.75 / 1.125,               p = 0.8 − 0.1 · b
    let p = Param::new(array![1.0f64]);
    let options = RmspropOptions::new()
        .lr(0.1)
        .smoothing(0.5)
        .momentum(0.5)
        .eps(0.0)
        .centered(true);
    let mut opt = Rmsprop::new([p.clone()], options)?;
    p.set_grad(array![2.0])?;
    opt.step()?;
    assert!((p.value()[0] - 0.8).abs() < 1e-15);
    p.set_grad(array![2.75])?;
    opt.step()?;
    let b = 0.5 * 2.0 + 2.75 / 1.125;
    assert!((p.value()[0] - (0.8 - 0.1 * b)).abs() < 1e-15);
    let state = opt.state(&p).ok_or("stepped")?;
    assert_eq!(state.grad_avg.as_ref().ok_or("centered")?[0], 1.875);
    Ok(())
}
// ANCHOR_END: by_hand

#[test]
fn rmsprop_checks_its_options_with_its_own_messages() -> Result {
    // ANCHOR: checks
    let p = Param::new(array![1.0f32]);
    let err = Rmsprop::new([p.clone()], RmspropOptions::new().smoothing(1.0)).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid alpha value: 1 (must be in [0, 1))");
    // A check without a message gets one that names the option, its value and the rule.
    let err = Rmsprop::new([p.clone()], RmspropOptions::new().weight_decay(-1.0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: invalid weight_decay: -1.0 (must satisfy `weight_decay >= 0.0`)"
    );
    // A check fails on NaN as well: `NaN >= 0.0` is false.
    let err = Rmsprop::new([p], RmspropOptions::new().lr(f64::NAN)).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid learning rate: NaN");
    // ANCHOR_END: checks
    Ok(())
}

#[test]
fn the_renamed_option_is_alpha_everywhere_but_in_rust() -> Result {
    // ANCHOR: rename
    let p = Param::new(array![1.0f32]);
    let mut opt = Rmsprop::new([p], RmspropOptions::new().smoothing(0.9))?;
    assert_eq!(opt.hyperparameters(0)?.smoothing, 0.9); // typed: the field's name
    assert_eq!(opt.option(0, "alpha")?, DictValue::Float(0.9)); // by name: the key
    opt.set_option(0, "alpha", 0.95)?;
    let dict = opt.state_dict().into_owned();
    assert_eq!(dict.param_groups[0].options.get("alpha"), Some(&DictValue::Float(0.95)));
    assert!(opt.option(0, "smoothing").is_err());
    // ANCHOR_END: rename
    Ok(())
}

#[test]
fn optional_state_follows_the_options_and_round_trips() -> Result {
    let grad = |k: usize| array![[0.3f32, -0.2], [0.1, 0.4]].mapv(|g| g * (k as f32 + 1.0).sin());
    let make = || -> Result<_> {
        let p = Param::new(array![[1.0f32, -2.0], [0.5, 0.25]]);
        let options = RmspropOptions::new().lr(0.01).momentum(0.9).centered(true);
        Ok((Rmsprop::new([p.clone()], options)?, p))
    };
    // ANCHOR: round_trip
    let (mut opt, p) = make()?;
    for k in 0..3 {
        p.set_grad(grad(k))?;
        opt.step()?;
    }
    let json = opt.state_dict().to_json();
    let keys: Vec<String> = opt.state_dict().state[&0].keys().map(String::from).collect();
    assert_eq!(keys, ["step", "square_avg", "momentum_buffer", "grad_avg"]);

    // A fresh optimizer over a copy of the parameter, loaded from the JSON, continues
    // exactly as the original does.
    let (mut resumed, p2) = make()?;
    p2.set_value(p.to_array())?;
    resumed.load_state_dict(&StateDict::from_json(&json)?)?;
    for k in 3..6 {
        p.set_grad(grad(k))?;
        p2.set_grad(grad(k))?;
        opt.step()?;
        resumed.step()?;
    }
    assert_eq!(p.to_array(), p2.to_array());

    // Turning momentum off drops the buffer at the next step, and from the state dict.
    opt.set_options(0, &RmspropOptions::new().momentum(0.0))?;
    opt.step()?;
    assert!(opt.state(&p).ok_or("stepped")?.momentum_buffer.is_none());
    assert!(!opt.state_dict().state[&0].contains_key("momentum_buffer"));
    // ANCHOR_END: round_trip
    Ok(())
}
