//! The sample of the book's Adadelta section: its default learning rate of 1 on a small
//! least-squares problem, and the state it keeps.

use optimizers::ndarray::array;
use optimizers::{Adadelta, AdadeltaOptions, Param};

#[test]
fn adadelta_with_torchs_defaults() -> Result<(), optimizers::Error> {
    // ANCHOR: example
    // torch.optim.Adadelta([w], rho=0.95, weight_decay=1e-4)
    let w = Param::named("w", array![0.0f64, 0.0, 0.0]);
    let target = array![1.0, -2.0, 3.0];
    let mut opt = Adadelta::new([w.clone()], AdadeltaOptions::new().rho(0.95).weight_decay(1e-4))?;
    for _ in 0..3000 {
        let grad = &*w.value() - &target; // the gradient of ½‖w − target‖²
        w.set_grad(grad)?;
        opt.step()?;
    }
    let state = opt.state(&w).expect("created by the first step");
    assert_eq!(state.step.get(), 3000.0);
    assert!(state.acc_delta.iter().all(|&u| u > 0.0)); // the running average of squared steps
    // ANCHOR_END: example
    let error = (&*w.value() - &target).mapv(f64::abs);
    assert!(error.iter().all(|&e| e < 1e-2), "{error}");
    Ok(())
}
