//! LARS, a per-tensor rule: steps against values computed by hand, the layer-wise scaling
//! that makes it per-tensor, the default computed from another option, and the check that
//! relates two options.

use std::error::Error as StdError;

use optim_book::lars::{Lars, LarsOptions};
use optimizers::ndarray::array;
use optimizers::{Param, ParamGroup, StateDict};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

// ANCHOR: by_hand
#[test]
fn lars_steps_match_values_computed_by_hand() -> Result {
    // lr 1, η 0.1, momentum 0.9, eps 0; p = (3, 4), so ‖p‖ = 5; g = (0.6, 0.8), ‖g‖ = 1.
    // step 1: trust = 0.1 · 5 / 1 = 0.5      d = (0.3, 0.4)    b = d
    //         p = (3 − 0.3, 4 − 0.4) = (2.7, 3.6), ‖p‖ = 4.5
    // step 2: trust = 0.1 · 4.5 / 1 = 0.45   d = (0.27, 0.36)  b = 0.9 · (0.3, 0.4) + d = (0.54, 0.72)
    //         p = (2.7 − 0.54, 3.6 − 0.72) = (2.16, 2.88)
    let p = Param::new(array![3.0f64, 4.0]);
    let options = LarsOptions::new().lr(1.0).trust_coefficient(0.1).eps(0.0);
    let mut opt = Lars::new([p.clone()], options)?;
    for expected in [[2.7, 3.6], [2.16, 2.88]] {
        p.set_grad(array![0.6, 0.8])?;
        opt.step()?;
        let v = p.to_array();
        assert!(
            (v[0] - expected[0]).abs() < 1e-12 && (v[1] - expected[1]).abs() < 1e-12,
            "{v}"
        );
    }
    let state = opt.state(&p).ok_or("stepped")?;
    assert!((state.trust_ratio - 0.45).abs() < 1e-12);
    Ok(())
}
// ANCHOR_END: by_hand

#[test]
fn every_tensor_moves_by_the_same_fraction_of_its_norm() -> Result {
    // ANCHOR: layerwise
    // Two "layers" with the same gradient, one a hundred times larger than the other:
    // SGD would move both by the same amount; LARS moves each by the same fraction.
    let small = Param::new(array![3.0f64, 4.0]);
    let large = Param::new(array![300.0f64, 400.0]);
    let options = LarsOptions::new().lr(1.0).momentum(0.0).trust_coefficient(0.1).eps(0.0);
    let mut opt = Lars::new([small.clone(), large.clone()], options)?;
    small.set_grad(array![0.6, 0.8])?;
    large.set_grad(array![0.6, 0.8])?;
    opt.step()?;
    assert!((small.value()[0] - 3.0 * 0.9).abs() < 1e-12); // 10% of each
    assert!((large.value()[0] - 300.0 * 0.9).abs() < 1e-9);
    // ANCHOR_END: layerwise
    Ok(())
}

#[test]
fn the_learning_rate_defaults_to_the_linear_scaling_rule() -> Result {
    // ANCHOR: computed_default
    let p = || Param::new(array![1.0f32]);
    let opt = Lars::new([p()], LarsOptions::new())?;
    assert_eq!(
        (opt.hyperparameters(0)?.batch_size, opt.hyperparameters(0)?.lr),
        (256, 0.1)
    );
    let opt = Lars::new([p()], LarsOptions::new().batch_size(4096))?;
    assert_eq!(opt.hyperparameters(0)?.lr, 1.6); // 0.1 · 4096 / 256
    let opt = Lars::new([p()], LarsOptions::new().batch_size(4096).lr(3.0))?;
    assert_eq!(opt.hyperparameters(0)?.lr, 3.0); // a given value wins

    // Defaults are computed once, from the constructor's options: a group that sets only
    // `batch_size` takes `lr` from the optimizer's defaults, as it takes any other option.
    let opt = Lars::with_groups(
        [
            ParamGroup::new([p()]),
            ParamGroup::new([p()]).options(LarsOptions::new().batch_size(1024)),
        ],
        LarsOptions::new(),
    )?;
    assert_eq!(opt.hyperparameters(1)?.lr, 0.1); // not 0.4: set both when a group needs both
    // ANCHOR_END: computed_default
    Ok(())
}

#[test]
fn nesterov_needs_momentum() -> Result {
    // ANCHOR: cross_check
    let p = Param::new(array![1.0f32]);
    let err = Lars::new([p.clone()], LarsOptions::new().momentum(0.0).nesterov(true)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: nesterov momentum needs a momentum: set momentum above 0 or turn nesterov off"
    );
    let mut opt = Lars::new([p], LarsOptions::new().nesterov(true))?; // momentum 0.9: fine
    let err = opt.set_option(0, "momentum", 0.0).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("group 0: nesterov momentum needs a momentum")
    );
    // ANCHOR_END: cross_check
    Ok(())
}

#[test]
fn lars_state_round_trips() -> Result {
    let p = Param::new(array![[1.0f32, -2.0], [0.5, 0.25]]);
    let mut opt = Lars::new([p.clone()], LarsOptions::new().lr(0.5))?;
    p.set_grad(array![[0.1f32, 0.2], [0.3, 0.4]])?;
    opt.step()?;
    let dict = opt.state_dict().into_owned();
    let keys: Vec<&str> = dict.state[&0].keys().collect();
    assert_eq!(keys, ["momentum_buffer", "trust_ratio"]);
    let p2 = Param::new(p.to_array());
    let mut resumed = Lars::new([p2.clone()], LarsOptions::new())?;
    resumed.load_state_dict(&StateDict::from_json(&dict.to_json())?)?;
    assert_eq!(resumed.hyperparameters(0)?.lr, 0.5);
    for _ in 0..3 {
        p.set_grad(array![[0.1f32, 0.2], [0.3, 0.4]])?;
        p2.set_grad(array![[0.1f32, 0.2], [0.3, 0.4]])?;
        opt.step()?;
        resumed.step()?;
    }
    assert_eq!(p.to_array(), p2.to_array());
    Ok(())
}
