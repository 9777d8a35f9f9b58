//! The samples of the section "Rprop" (`book/src/bundled/rprop.md`): full-batch training,
//! and a learning rate that only new state sees.

use std::error::Error as StdError;

use optimizers::ndarray::array;
use optimizers::{Param, Rprop, RpropOptions};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn rprop_on_a_badly_scaled_quadratic() -> Result {
    // ANCHOR: train
    // torch.optim.Rprop(params, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 1.0))
    // f(w) = 1e-4 · w₀² + 1e4 · w₁²: gradients ten million times apart in size.
    let w = Param::new(array![3.0f64, -2.0]);
    let options = RpropOptions::new().lr(0.01).step_sizes((1e-6, 1.0));
    let mut opt = Rprop::new([w.clone()], options)?;
    for _ in 0..200 {
        let g = array![2e-4 * w.value()[0], 2e4 * w.value()[1]];
        w.set_grad(g)?;
        opt.step()?;
    }
    // Only the signs count, so both coordinates converge at the same pace.
    assert!(w.value().iter().all(|x| x.abs() < 1e-3));
    // ANCHOR_END: train
    Ok(())
}

#[test]
fn lr_seeds_only_new_state() -> Result {
    // ANCHOR: lr
    let (a, b) = (Param::new(array![1.0f64]), Param::new(array![1.0f64]));
    let mut opt = Rprop::new([a.clone(), b.clone()], RpropOptions::new().lr(0.1))?;
    a.set_grad(array![1.0])?; // `b` has no gradient yet, so no state
    opt.step()?;
    opt.set_option(0, "lr", 0.5)?; // reaches `b` only: `a`'s step size is its own now
    a.set_grad(array![1.0])?;
    b.set_grad(array![1.0])?;
    opt.step()?;
    let step_size = |p: &Param<f64>| opt.state(p).map(|s| s.step_size[0]);
    assert_eq!(step_size(&a), Some(0.1 * 1.2));
    assert_eq!(step_size(&b), Some(0.5));
    // ANCHOR_END: lr
    Ok(())
}
