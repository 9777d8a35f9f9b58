//! Quickstart: logistic regression on the Wisconsin breast-cancer data (569 biopsies, 30
//! features; `examples/data/README.md`) with Adam, two parameter groups (a larger learning
//! rate for the bias, as torch users give per-layer rates), a warmup-then-cosine schedule
//! of the learning rates, a checkpoint of the optimizer and the schedule saved and
//! reloaded, and the test accuracy at the end.
//!
//! Run it with `cargo run --release --example quickstart`.

use std::error::Error;
use std::time::Instant;

use optimizers::ndarray::{Array1, Array2, Axis};
// ANCHOR: imports
use optimizers::lr_scheduler::{CosineAnnealingLR, CosineAnnealingLROptions, LinearLR, LinearLROptions, SequentialLR};
use optimizers::{Adam, AdamOptions, DictValue, Map, Optimizer, Param, ParamGroup, StateDict, checkpoint};
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
/// The epochs of the whole run: 200 of training, then 50 after the checkpoint.
const EPOCHS: u64 = 250;

/// A logistic-regression model: its parameters, their optimizer and its schedule.
struct Model {
    weight: Param<f32>,
    bias: Param<f32>,
    opt: Optimizer<Adam, f32>,
    sched: SequentialLR,
}

impl Model {
    /// The parameters; Adam with two groups, the weights with weight decay, the bias with a
    /// 5x learning rate; and a schedule of both learning rates: a linear warmup over 10
    /// epochs from a tenth of each, then a cosine down to 2e-4 over the other epochs.
    fn new(weight: Array1<f32>, bias: Array1<f32>) -> Result<Self, Box<dyn Error>> {
        let weight = Param::named("linear.weight", weight);
        let bias = Param::named("linear.bias", bias);
        let mut opt = Adam::with_groups(
            [
                ParamGroup::new([weight.clone()]).options(AdamOptions::new().weight_decay(1e-3)),
                ParamGroup::new([bias.clone()]).options(AdamOptions::new().lr(0.25)),
            ],
            AdamOptions::new().lr(0.05),
        )?;
        let warmup = LinearLR::builder(LinearLROptions::new().start_factor(0.1).total_iters(10));
        let cosine = CosineAnnealingLR::builder(CosineAnnealingLROptions::new().t_max(EPOCHS - 10).eta_min(2e-4));
        let sched = SequentialLR::new(&mut opt, vec![warmup.into(), cosine.into()], [10])?;
        Ok(Model {
            weight,
            bias,
            opt,
            sched,
        })
    }
    // ANCHOR_END: model

    fn weights(&self) -> Result<Array1<f32>, Box<dyn Error>> {
        Ok(self.weight.to_array().into_dimensionality()?)
    }

    // ANCHOR: train_epoch
    /// One epoch: forward, backward (by hand), step, and the schedule's step.
    fn train_epoch(&mut self, x: &Array2<f32>, y: &Array1<f32>) -> Result<f32, Box<dyn Error>> {
        let (loss, grad_w, grad_b) = loss_and_grads(x, y, &self.weights()?, self.bias.value()[0]);
        self.weight.set_grad(grad_w)?;
        self.bias.set_grad(Array1::from(vec![grad_b]))?;
        self.opt.step()?;
        self.sched.step(&mut self.opt)?;
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
        let lr = model.sched.get_last_lr()[0]; // the weights' learning rate at this epoch
        let loss = model.train_epoch(&x_train, &y_train)?;
        if epoch % 25 == 0 {
            println!("epoch {epoch:>3}  loss {loss:.4}  lr {lr:.2e}");
        }
    }
    // ANCHOR_END: training

    // ANCHOR: checkpoint
    // Checkpoint: save the optimizer's state and the schedule's in one file, reload them
    // into a fresh model over copies of the parameters, and check that both continue
    // identically.
    let path = std::env::temp_dir().join(format!("optim-quickstart-{}.json", std::process::id()));
    let optimizer_state = model.opt.state_dict(); // borrows the state: no copy of the tensors
    let mut saved = Map::new();
    saved.insert("optimizer", optimizer_state.to_tree());
    saved.insert("scheduler", model.sched.state_dict());
    checkpoint::save_tree(&path, &DictValue::Map(saved))?;

    let mut resumed = Model::new(model.weights()?, model.bias.to_array().into_dimensionality()?)?;
    let file = checkpoint::load(&path)?;
    let DictValue::Map(saved) = file.tree() else {
        return Err("a checkpoint is a map".into());
    };
    let optimizer = saved.get("optimizer").ok_or("no optimizer in the checkpoint")?;
    resumed.opt.load_state_dict(&StateDict::from_tree(optimizer.clone())?)?;
    resumed
        .sched
        .load_state_dict(saved.get("scheduler").ok_or("no schedule in the checkpoint")?)?;
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
