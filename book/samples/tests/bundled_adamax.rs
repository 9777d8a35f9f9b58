//! The sample of the book's Adamax section: torch's options, and steps whose size the
//! learning rate bounds whatever the gradient's scale.

use optimizers::ndarray::array;
use optimizers::{Adamax, AdamaxOptions, Param};

#[test]
fn adamax_steps_are_bounded_by_the_learning_rate() -> Result<(), optimizers::Error> {
    // ANCHOR: example
    // torch.optim.Adamax([w], lr=0.01, betas=(0.9, 0.99))
    let w = Param::named("w", array![0.0f32, 0.0]);
    let mut opt = Adamax::new([w.clone()], AdamaxOptions::new().lr(0.01).betas((0.9, 0.99)))?;
    // Gradients of very different scales give the first step the same size, lr · sign(g).
    w.set_grad(array![1e6f32, -1e-3])?;
    opt.step()?;
    let moved = w.value().mapv(f32::abs);
    assert!(moved.iter().all(|&m| (m - 0.01).abs() < 1e-6), "{moved}");
    // ANCHOR_END: example
    Ok(())
}
