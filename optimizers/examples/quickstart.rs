//! Quickstart: logistic regression on the Wisconsin breast-cancer data (569 biopsies, 30
//! features; `examples/data/README.md`) with Adam, two parameter groups (a larger learning
//! rate for the bias, as torch users give per-layer rates), a checkpoint saved and
//! reloaded, and the test accuracy at the end.
//!
//! Run it with `cargo run --release --example quickstart`.

use std::error::Error;
use std::time::Instant;

use optimizers::ndarray::{Array1, Array2, Axis};
// ANCHOR: imports
use optimizers::{Adam, AdamOptions, Optimizer, Param, ParamGroup, checkpoint};
// ANCHOR_END: imports

/// The data, shipped with the repository (and compiled in, so the example runs from anywhere).
const DATA: &str = include_str!("data/wdbc.csv");

/// Features (one row per biopsy) and labels (1 = benign).
fn load() -> Result<(Array2<f32>, Array1<f32>), Box<dyn Error>> {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for line in DATA.lines().skip(1) {
        let values: Vec<f32> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
        let (label, features) = values.split_last().ok_or("empty line")?;
        rows.extend_from_slice(features);
        labels.push(*label);
    }
    let n = labels.len();
    Ok((Array2::from_shape_vec((n, rows.len() / n), rows)?, Array1::from(labels)))
}

// ANCHOR: loss
/// Mean binary cross-entropy of `sigmoid(x·w + b)` against `y`, and its gradients.
fn loss_and_grads(x: &Array2<f32>, y: &Array1<f32>, w: &Array1<f32>, b: f32) -> (f32, Array1<f32>, f32) {
    let z = x.dot(w) + b;
    let p = z.mapv(|z| 1.0 / (1.0 + (-z).exp()));
    let loss = z
        .iter()
        .zip(y)
        .map(|(&z, &y)| z.max(0.0) - y * z + (-z.abs()).exp().ln_1p())
        .sum::<f32>()
        / y.len() as f32;
    let r = (&p - y) / y.len() as f32;
    (loss, x.t().dot(&r), r.sum())
}
// ANCHOR_END: loss

// ANCHOR: model
/// A logistic-regression model: its parameters and their optimizer.
struct Model {
    weight: Param<f32>,
    bias: Param<f32>,
    opt: Optimizer<Adam, f32>,
}

impl Model {
    /// The parameters, and Adam with two groups: the weights with weight decay, the bias
    /// with a 5x learning rate.
    fn new(weight: Array1<f32>, bias: Array1<f32>) -> Result<Self, Box<dyn Error>> {
        let weight = Param::named("linear.weight", weight);
        let bias = Param::named("linear.bias", bias);
        let opt = Adam::with_groups(
            [
                ParamGroup::new([weight.clone()]).options(AdamOptions::new().weight_decay(1e-3)),
                ParamGroup::new([bias.clone()]).options(AdamOptions::new().lr(0.1)),
            ],
            AdamOptions::new().lr(0.02),
        )?;
        Ok(Model { weight, bias, opt })
    }
    // ANCHOR_END: model

    fn weights(&self) -> Result<Array1<f32>, Box<dyn Error>> {
        Ok(self.weight.to_array().into_dimensionality()?)
    }

    // ANCHOR: train_epoch
    /// One epoch: forward, backward (by hand), step.
    fn train_epoch(&mut self, x: &Array2<f32>, y: &Array1<f32>) -> Result<f32, Box<dyn Error>> {
        let (loss, grad_w, grad_b) = loss_and_grads(x, y, &self.weights()?, self.bias.value()[0]);
        self.weight.set_grad(grad_w)?;
        self.bias.set_grad(Array1::from(vec![grad_b]))?;
        self.opt.step()?;
        Ok(loss)
    }
    // ANCHOR_END: train_epoch
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let (x, y) = load()?;
    // Every fifth biopsy is held out for testing; features are standardised with the
    // training rows' statistics.
    let test: Vec<usize> = (0..y.len()).filter(|i| i % 5 == 0).collect();
    let train: Vec<usize> = (0..y.len()).filter(|i| i % 5 != 0).collect();
    let (x_train, y_train) = (x.select(Axis(0), &train), y.select(Axis(0), &train));
    let mean = x_train.mean_axis(Axis(0)).ok_or("no rows")?;
    let std = x_train.std_axis(Axis(0), 0.0).mapv(|s| s.max(1e-6));
    let standardise = |m: &Array2<f32>| (m - &mean) / &std;
    let (x_train, x_test, y_test) = (
        standardise(&x_train),
        standardise(&x.select(Axis(0), &test)),
        y.select(Axis(0), &test),
    );
    println!(
        "{} training and {} test biopsies, {} features",
        train.len(),
        test.len(),
        x.ncols()
    );

    // ANCHOR: training
    let mut model = Model::new(Array1::zeros(x.ncols()), Array1::zeros(1))?;
    for epoch in 0..=200 {
        let loss = model.train_epoch(&x_train, &y_train)?;
        if epoch % 25 == 0 {
            println!("epoch {epoch:>3}  loss {loss:.4}");
        }
    }
    // ANCHOR_END: training

    // ANCHOR: checkpoint
    // Checkpoint: save the optimizer's state, reload it into a fresh optimizer over copies
    // of the parameters, and check that both continue identically.
    let path = std::env::temp_dir().join(format!("optim-quickstart-{}.json", std::process::id()));
    checkpoint::save(&path, &model.opt.state_dict())?;
    let mut resumed = Model::new(model.weights()?, model.bias.to_array().into_dimensionality()?)?;
    resumed.opt.load_state_dict(&checkpoint::load(&path)?.state_dict()?)?;
    std::fs::remove_file(&path)?;
    for _ in 0..50 {
        model.train_epoch(&x_train, &y_train)?;
        resumed.train_epoch(&x_train, &y_train)?;
    }
    let same = model.weight.to_array() == resumed.weight.to_array() && model.bias.to_array() == resumed.bias.to_array();
    // ANCHOR_END: checkpoint
    println!(
        "checkpoint saved, reloaded and continued for 50 epochs: {}",
        if same {
            "identical to the original run"
        } else {
            "DIFFERENT"
        }
    );

    let (test_loss, ..) = loss_and_grads(&x_test, &y_test, &model.weights()?, model.bias.value()[0]);
    let z = x_test.dot(&model.weights()?) + model.bias.value()[0];
    let correct = z.iter().zip(&y_test).filter(|&(&z, &y)| (z > 0.0) == (y > 0.5)).count();
    println!(
        "test loss {test_loss:.4}, test accuracy {:.1}% ({correct}/{}), in {:.0} ms",
        100.0 * correct as f32 / y_test.len() as f32,
        y_test.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    if !same {
        return Err("the reloaded optimizer diverged from the original".into());
    }
    Ok(())
}
