//! The sample of the book's ASGD section: averaging from step `t0`, and reading the
//! averaged parameters from the state.

use optimizers::ndarray::array;
use optimizers::{Asgd, AsgdOptions, Param};

#[test]
fn asgd_averages_the_iterates_after_t0() -> Result<(), optimizers::Error> {
    // ANCHOR: example
    // torch.optim.ASGD([w], lr=0.1, t0=100)
    let w = Param::named("w", array![0.0f64, 0.0]);
    let target = array![1.0, -2.0];
    let mut opt = Asgd::new([w.clone()], AsgdOptions::new().lr(0.1).t0(100.0))?;
    for step in 0..1000 {
        // A noisy gradient of ½‖w − target‖²: ±0.5 on alternate steps.
        let noise = if step % 2 == 0 { 0.5 } else { -0.5 };
        let grad = (&*w.value() - &target).mapv(|g| g + noise);
        w.set_grad(grad)?;
        opt.step()?;
    }
    // The iterates jitter around the target; their average `ax` (torch's
    // optimizer.state[w]["ax"]) is much closer to it.
    let state = opt.state(&w).expect("created by the first step");
    let averaged = &state.ax - &target;
    let last = &*w.value() - &target;
    assert!(averaged.iter().zip(&last).all(|(a, l)| a.abs() < l.abs() / 10.0));
    // ANCHOR_END: example
    Ok(())
}
