//! The samples of the section "Muon" (`book/src/bundled/muon.md`): Muon for the weight
//! matrices next to AdamW for the rest, the parameters Muon refuses, and `adjust_lr_fn`.

use std::error::Error as StdError;

use optimizers::ndarray::{Array1, Array2};
use optimizers::{AdamW, AdamWOptions, AdjustLr, Error, Muon, MuonOptions, Param};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

/// Deterministic entries of a full-rank matrix, between -0.5 and 0.5.
fn init((i, j): (usize, usize)) -> f32 {
    0.5 * (((i + 1) * (j + 3)) as f32 * 0.37).sin()
}

#[test]
fn muon_trains_the_matrices_and_adamw_the_rest() -> Result {
    // ANCHOR: train
    // torch.optim.Muon([fc.weight], lr=0.02) and torch.optim.AdamW([fc.bias], lr=3e-4)
    let weight = Param::named("fc.weight", Array2::from_shape_fn((64, 32), init));
    let bias = Param::named("fc.bias", Array1::<f32>::from_elem(64, 0.25));
    let mut muon = Muon::new([weight.clone()], MuonOptions::new().lr(0.02))?;
    let mut adamw = AdamW::new([bias.clone()], AdamWOptions::new().lr(3e-4))?;
    let norm = |p: &Param<f32>| p.value().iter().map(|x| x * x).sum::<f32>().sqrt();
    let start = norm(&weight);
    for _ in 0..100 {
        weight.set_grad(weight.value().mapv(|x| 2.0 * x))?; // the gradient of |W|²
        bias.set_grad(bias.value().mapv(|x| 2.0 * x))?;
        muon.step()?;
        adamw.step()?;
    }
    assert!(norm(&weight) < 0.5 * start); // steps of about lr' per direction, whatever |g|
    let state = muon.state(&weight).ok_or("stepped")?;
    assert_eq!(state.momentum_buffer.shape(), &[64, 32]); // one buffer, as SGD's momentum
    // ANCHOR_END: train
    Ok(())
}

#[test]
fn muon_refuses_what_is_not_a_matrix() -> Result {
    // ANCHOR: matrices
    let weight = Param::named("fc.weight", Array2::<f32>::zeros((64, 32)));
    let bias = Param::named("fc.bias", Array1::<f32>::zeros(64));
    let error = Muon::new([weight, bias], MuonOptions::new()).err().ok_or("refused")?;
    assert!(matches!(&error, Error::InvalidParam { param, .. } if param.index == 1));
    assert_eq!(
        error.to_string(),
        "parameter 1 of group 0 (\"fc.bias\") cannot be optimized by muon: \
         muon only supports 2D parameters whereas we found a parameter with size: [64]"
    );
    // ANCHOR_END: matrices
    Ok(())
}

#[test]
fn match_rms_adamw_gives_an_update_of_about_a_fifth_of_lr() -> Result {
    // ANCHOR: adjust
    // AdamW's learning rate, and an update of AdamW's typical RMS, 0.2 · lr
    let lr = 3e-4;
    let options = MuonOptions::new()
        .lr(lr)
        .weight_decay(0.0)
        .adjust_lr_fn(AdjustLr::MatchRmsAdamw);
    let weight = Param::new(Array2::from_shape_fn((64, 256), init));
    let before = weight.value().to_owned();
    let mut muon = Muon::new([weight.clone()], options)?;
    weight.set_grad(weight.value().mapv(|x| 2.0 * x))?;
    muon.step()?;
    let change = &weight.value().to_owned() - &before;
    let rms = (change.iter().map(|x| x * x).sum::<f32>() / change.len() as f32).sqrt();
    assert!((0.1 * lr..0.3 * lr).contains(&f64::from(rms)), "{rms}");
    // ANCHOR_END: adjust
    Ok(())
}
