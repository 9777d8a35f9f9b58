//! `Rmsprop` as a user sees it: steps by hand, buffers that exist only if their option
//! was on when a parameter's state was created, an option turned on later, and torch's
//! checks in torch's order.

use optimizers::ndarray::array;
use optimizers::{Error, Optimizer, Param, Rmsprop, RmspropOptions};

type Result<T = ()> = std::result::Result<T, Error>;

fn state_keys(opt: &Optimizer<Rmsprop, f64>) -> Vec<String> {
    opt.state_dict().state[&0].keys().map(String::from).collect()
}

/// lr 0.1, α 0.5, eps 0, momentum 0.5; one element, p = 1; one step with g = 2:
/// `v = 0.5 · 4 = 2`, `b = 2 / √2`, `p = 1 − 0.1 b`. Returns the optimizer, p and b.
fn one_step_with_momentum() -> Result<(Optimizer<Rmsprop, f64>, Param<f64>, f64)> {
    let p = Param::new(array![1.0f64]);
    let options = RmspropOptions::new().lr(0.1).alpha(0.5).eps(0.0).momentum(0.5);
    let mut opt = Rmsprop::new([p.clone()], options)?;
    p.set_grad(array![2.0])?;
    opt.step()?;
    Ok((opt, p, 2.0 / 2f64.sqrt()))
}

#[test]
fn steps_match_values_computed_by_hand() -> Result {
    // Then step 2, g = -2: v = 1 + 0.5 · 4 = 3, b = 0.5 b − 2 / √3, p = p − 0.1 b.
    let (mut opt, p, b1) = one_step_with_momentum()?;
    assert_eq!(p.value()[0], 1.0 - 0.1 * b1);
    p.set_grad(array![-2.0])?;
    opt.step()?;
    let b2 = b1 * 0.5 + -2.0 / 3f64.sqrt();
    assert_eq!(p.value()[0], 1.0 - 0.1 * b1 - 0.1 * b2);
    let state = opt.state(&p).expect("stepped");
    assert_eq!(state.step.get(), 2.0);
    assert_eq!(state.square_avg[0], 3.0);
    assert_eq!(state.momentum_buffer.as_ref().map(|b| b[0]), Some(b2));
    assert!(state.grad_avg.is_none());
    Ok(())
}

#[test]
fn buffers_exist_only_if_their_option_was_on_when_the_state_was_created() -> Result {
    let p = Param::new(array![1.0f64, -1.0]);
    let mut opt = Rmsprop::new([p.clone()], RmspropOptions::new())?;
    p.set_grad(array![0.5, 0.25])?;
    opt.step()?;
    assert_eq!(state_keys(&opt), ["step", "square_avg"]);

    let q = Param::new(array![1.0f64, -1.0]);
    let mut opt = Rmsprop::new([q.clone()], RmspropOptions::new().momentum(0.9).centered(true))?;
    q.set_grad(array![0.5, 0.25])?;
    opt.step()?;
    assert_eq!(state_keys(&opt), ["step", "square_avg", "momentum_buffer", "grad_avg"]);
    Ok(())
}

#[test]
fn turning_momentum_off_leaves_its_buffer_unused_in_the_state() -> Result {
    // Then momentum 0 and step 2, g = -2: v = 3, p = p + (−0.1 · −2) / √3; b kept.
    let (mut opt, p, b1) = one_step_with_momentum()?;
    opt.set_option(0, "momentum", 0.0)?;
    p.set_grad(array![-2.0])?;
    opt.step()?;
    assert_eq!(p.value()[0], 1.0 - 0.1 * b1 + (-0.1 * -2.0) / 3f64.sqrt());
    let state = opt.state(&p).expect("stepped");
    assert_eq!(state.momentum_buffer.as_ref().map(|b| b[0]), Some(b1));
    assert_eq!(state_keys(&opt), ["step", "square_avg", "momentum_buffer"]);
    Ok(())
}

#[test]
fn turning_centered_on_later_starts_grad_avg_at_zero_instead_of_failing() -> Result {
    // torch raises KeyError: 'grad_avg' at the next step. Here the average starts at that
    // step, as it does for a parameter whose state is created centered.
    // lr 0.1, α 0.5, eps 0; p = 1.
    // step 1, g = 2 (not centered): v = 2,                       p = 1 − 0.1 · 2 / √2
    // step 2, g = 2 (centered):     v = 3, m = 0.5 · 2 = 1,      p = p − 0.1 · 2 / √(3 − 1)
    let p = Param::new(array![1.0f64]);
    let mut opt = Rmsprop::new([p.clone()], RmspropOptions::new().lr(0.1).alpha(0.5).eps(0.0))?;
    p.set_grad(array![2.0])?;
    opt.step()?;
    assert!(opt.state(&p).expect("stepped").grad_avg.is_none());
    opt.set_options(0, &RmspropOptions::new().centered(true))?;
    opt.step()?;
    let state = opt.state(&p).expect("stepped");
    assert_eq!(state.grad_avg.as_ref().map(|m| m[0]), Some(1.0));
    let step = 0.1 * 2.0 / 2f64.sqrt();
    assert_eq!(p.value()[0], 1.0 - step - step);
    Ok(())
}

#[test]
fn options_are_checked_in_torchs_order_with_its_messages() {
    let p = || Param::new(array![1.0f32]);
    let message = |options: RmspropOptions| Rmsprop::new([p()], options).map(|_| ()).unwrap_err().to_string();
    // Every option invalid: torch reports the learning rate first, then eps, momentum,
    // weight_decay and alpha.
    let all_bad = || {
        RmspropOptions::new()
            .lr(-1.0)
            .eps(-1.0)
            .momentum(-1.0)
            .weight_decay(-1.0)
            .alpha(-1.0)
    };
    assert_eq!(message(all_bad()), "defaults: invalid learning rate: -1.0");
    assert_eq!(message(all_bad().lr(0.1)), "defaults: invalid epsilon value: -1.0");
    assert_eq!(
        message(all_bad().lr(0.1).eps(0.0)),
        "defaults: invalid momentum value: -1.0"
    );
    assert_eq!(
        message(all_bad().lr(0.1).eps(0.0).momentum(0.0)),
        "defaults: invalid weight_decay value: -1.0"
    );
    assert_eq!(
        message(all_bad().lr(0.1).eps(0.0).momentum(0.0).weight_decay(0.0)),
        "defaults: invalid alpha value: -1.0"
    );
    // Unlike torch, NaN and infinities are refused.
    assert_eq!(
        message(RmspropOptions::new().lr(f64::INFINITY)),
        "defaults: invalid learning rate: inf"
    );
    assert_eq!(
        message(RmspropOptions::new().alpha(f64::NAN)),
        "defaults: invalid alpha value: NaN"
    );
    // alpha above 1 passes, as in torch.
    assert!(Rmsprop::new([p()], RmspropOptions::new().alpha(1.5)).is_ok());
}
