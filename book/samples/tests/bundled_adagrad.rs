//! The sample of the book's Adagrad section: torch's constructor options, and the state it
//! creates in the constructor, for a parameter that never gets a gradient too.

use optimizers::ndarray::array;
use optimizers::{Adagrad, AdagradOptions, Param};

#[test]
fn adagrad_creates_its_state_in_the_constructor() -> Result<(), optimizers::Error> {
    // ANCHOR: example
    // torch.optim.Adagrad([w, frozen], lr=0.5, lr_decay=1e-3, initial_accumulator_value=0.1)
    let w = Param::named("w", array![0.0f64, 0.0, 0.0]);
    let frozen = Param::named("frozen", array![5.0f64]);
    let options = AdagradOptions::new()
        .lr(0.5)
        .lr_decay(1e-3)
        .initial_accumulator_value(0.1);
    let mut opt = Adagrad::new([w.clone(), frozen.clone()], options)?;
    // Both parameters have their state already: `sum` starts at initial_accumulator_value.
    assert_eq!(opt.state(&frozen).expect("eager").sum, array![0.1].into_dyn());

    let target = array![1.0, -2.0, 3.0];
    for _ in 0..500 {
        let grad = &*w.value() - &target; // the gradient of ½‖w − target‖²
        w.set_grad(grad)?;
        opt.step()?; // `frozen` has no gradient: skipped, its step count stays 0
    }
    assert_eq!(opt.state(&w).expect("eager").step.get(), 500.0);
    assert_eq!(opt.state(&frozen).expect("eager").step.get(), 0.0);
    // ANCHOR_END: example
    let error = (&*w.value() - &target).mapv(f64::abs);
    assert!(error.iter().all(|&e| e < 1e-3), "{error}");
    Ok(())
}
