//! The sample of the book's NAdam section: NAdamW (decoupled weight decay), and the float32
//! `mu_product` it keeps whatever the parameters' type.

use optimizers::ndarray::array;
use optimizers::{NAdam, NAdamOptions, Param};

#[test]
fn nadam_with_decoupled_weight_decay() -> Result<(), optimizers::Error> {
    // ANCHOR: example
    // torch.optim.NAdam([w], lr=0.05, weight_decay=1e-2, decoupled_weight_decay=True)
    let w = Param::named("w", array![0.0f64, 0.0, 0.0]);
    let target = array![1.0, -2.0, 3.0];
    let options = NAdamOptions::new()
        .lr(0.05)
        .weight_decay(1e-2)
        .decoupled_weight_decay(true);
    let mut opt = NAdam::new([w.clone()], options)?;
    for _ in 0..500 {
        let grad = &*w.value() - &target; // the gradient of ½‖w − target‖²
        w.set_grad(grad)?;
        opt.step()?;
    }
    // μ₁ · … · μₜ is a float32 value, as torch keeps it: about 0.5ᵗ, it has underflowed
    // to 0 long before step 500 (in torch too), which leaves 1 − μ₁ · … · μₜ = 1.
    let mu_product: f32 = opt.state(&w).expect("created by the first step").mu_product;
    assert_eq!(mu_product, 0.0);
    // ANCHOR_END: example
    let error = (&*w.value() - &target).mapv(f64::abs);
    assert!(error.iter().all(|&e| e < 0.05), "{error}");
    Ok(())
}
