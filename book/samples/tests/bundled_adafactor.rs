//! The samples of the section "Adafactor" (`book/src/bundled/adafactor.md`): training a
//! matrix and a bias, and the size of the state.

use std::error::Error as StdError;

use optimizers::ndarray::{Array1, Array2};
use optimizers::{Adafactor, AdafactorOptions, Param};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn adafactor_keeps_a_row_and_a_column_per_matrix() -> Result {
    // ANCHOR: train
    // torch.optim.Adafactor(params, lr=1e-2, weight_decay=1e-4)
    let init = |(i, j): (usize, usize)| ((i * 7 + j) % 13) as f32 / 13.0 - 0.5;
    let weight = Param::new(Array2::from_shape_fn((256, 128), init));
    let bias = Param::new(Array1::<f32>::from_elem(128, 0.25));
    let options = AdafactorOptions::new().lr(1e-2).weight_decay(1e-4);
    let mut opt = Adafactor::new([weight.clone(), bias.clone()], options)?;
    for _ in 0..50 {
        weight.set_grad(weight.value().mapv(|x| 2.0 * x))?; // the gradient of |W|²
        bias.set_grad(bias.value().mapv(|x| 2.0 * x))?;
        opt.step()?;
    }
    let state = opt.state(&weight).ok_or("stepped")?;
    let rows = state.row_var.as_ref().ok_or("2-d")?;
    let cols = state.col_var.as_ref().ok_or("2-d")?;
    assert_eq!((rows.shape(), cols.shape()), (&[256, 1][..], &[1, 128][..])); // 384 values, not 32 768
    let state = opt.state(&bias).ok_or("stepped")?;
    assert_eq!(state.variance.as_ref().ok_or("1-d")?.shape(), &[128]); // a vector is not factored
    // ANCHOR_END: train
    Ok(())
}
