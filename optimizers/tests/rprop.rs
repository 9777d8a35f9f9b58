//! `Rprop` as a user sees it: `lr` only seeds the step sizes of new state, sign flips
//! shrink the step and skip the move, step sizes stay within their bounds, and torch's
//! checks.

use optimizers::ndarray::array;
use optimizers::{Error, Param, Rprop, RpropOptions};

type Result<T = ()> = std::result::Result<T, Error>;

#[test]
fn lr_affects_only_parameters_whose_state_is_created_after_it() -> Result {
    let early = Param::new(array![1.0f64]);
    let late = Param::new(array![1.0f64]);
    let mut opt = Rprop::new([early.clone(), late.clone()], RpropOptions::new().lr(0.1))?;
    early.set_grad(array![1.0])?; // `late` has no gradient: no state yet
    opt.step()?;
    opt.set_option(0, "lr", 0.5)?;
    early.set_grad(array![1.0])?;
    late.set_grad(array![1.0])?;
    opt.step()?;
    let step_size = |p: &Param<f64>| opt.state(p).map(|s| s.step_size[0]);
    // `early` kept its step size from lr 0.1 (grown once by etaplus); `late` started at 0.5.
    assert_eq!(step_size(&early), Some(0.1 * 1.2));
    assert_eq!(step_size(&late), Some(0.5));
    assert_eq!(early.value()[0], 1.0 - 0.1 - 0.1 * 1.2);
    assert_eq!(late.value()[0], 1.0 - 0.5);
    Ok(())
}

#[test]
fn a_sign_flip_shrinks_the_step_size_and_skips_the_move() -> Result {
    let p = Param::new(array![0.0f64]);
    let mut opt = Rprop::new([p.clone()], RpropOptions::new().lr(0.1).etas((0.5, 2.0)))?;
    let mut trace = Vec::new();
    for g in [1.0, -1.0, -1.0, 0.0] {
        p.set_grad(array![g])?;
        opt.step()?;
        let state = opt.state(&p).expect("stepped");
        trace.push((p.value()[0], state.step_size[0], state.prev[0]));
    }
    assert_eq!(
        trace,
        [
            (-0.1, 0.1, 1.0),    // prev 0: factor 1, move against the gradient
            (-0.1, 0.05, 0.0),   // flip: the step halves, no move, prev zeroed
            (-0.05, 0.05, -1.0), // prev 0 again: factor 1
            (-0.05, 0.05, 0.0),  // zero gradient: factor 1, no move
        ]
    );
    Ok(())
}

#[test]
fn step_sizes_stay_within_their_bounds() -> Result {
    let p = Param::new(array![0.0f32, 0.0]);
    let options = RpropOptions::new().lr(0.1).etas((0.1, 3.0)).step_sizes((0.02, 0.25));
    let mut opt = Rprop::new([p.clone()], options)?;
    for g in [[1.0, 1.0], [1.0, -1.0], [1.0, -1.0]] {
        p.set_grad(array![g[0], g[1]])?;
        opt.step()?;
    }
    let state = opt.state(&p).expect("stepped");
    // Element 0 grew threefold at each repeated sign, clamped to 0.25 (0.3, then 0.75);
    // element 1 shrank tenfold at the flip, clamped to 0.02, then stayed (after a flip its
    // prev is 0, so the factor is 1).
    assert_eq!(state.step_size.iter().copied().collect::<Vec<_>>(), [0.25, 0.02]);
    Ok(())
}

#[test]
fn options_are_checked_with_torchs_messages() {
    let p = || Param::new(array![1.0f32]);
    let message = |options: RpropOptions| Rprop::new([p()], options).map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        message(RpropOptions::new().lr(-0.5)),
        "defaults: invalid learning rate: -0.5"
    );
    assert_eq!(
        message(RpropOptions::new().etas((1.0, 1.2))),
        "defaults: invalid eta values: 1.0, 1.2"
    );
    assert_eq!(
        message(RpropOptions::new().etas((0.5, 1.0))),
        "defaults: invalid eta values: 0.5, 1.0"
    );
    // Unlike torch, NaN and infinities are refused, in the step sizes too.
    assert_eq!(
        message(RpropOptions::new().etas((0.5, f64::INFINITY))),
        "defaults: invalid eta values: 0.5, inf"
    );
    assert_eq!(
        message(RpropOptions::new().step_sizes((f64::NAN, 50.0))),
        "defaults: invalid step_sizes[0]: NaN (must be finite)"
    );
}
