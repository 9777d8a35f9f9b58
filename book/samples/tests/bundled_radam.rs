//! The sample of the book's RAdam section: RAdamW, whose first steps are plain momentum
//! steps (`lr · m̂`), before the rectified adaptive ones.

use optimizers::ndarray::array;
use optimizers::{Param, RAdam, RAdamOptions};

#[test]
fn radam_starts_with_momentum_steps() -> Result<(), optimizers::Error> {
    // ANCHOR: example
    // torch.optim.RAdam([w], lr=0.05, weight_decay=1e-2, decoupled_weight_decay=True)
    let w = Param::named("w", array![0.0f64, 0.0, 0.0]);
    let target = array![1.0, -2.0, 3.0];
    let options = RAdamOptions::new()
        .lr(0.05)
        .weight_decay(1e-2)
        .decoupled_weight_decay(true);
    let mut opt = RAdam::new([w.clone()], options)?;
    for step in 1..=2000 {
        let grad = &*w.value() - &target; // the gradient of ½‖w − target‖²
        w.set_grad(grad)?;
        opt.step()?;
        if step == 1 {
            // Not adaptive yet: the first step is lr · m̂ = lr · g, here 0.05 · target.
            let first = &*w.value() - &(0.05 * &target);
            assert!(first.iter().all(|d| d.abs() < 1e-15));
        }
    }
    // ANCHOR_END: example
    let error = (&*w.value() - &target).mapv(f64::abs);
    assert!(error.iter().all(|&e| e < 0.05), "{error}");
    Ok(())
}
