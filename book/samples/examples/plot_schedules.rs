//! Draws the picture of the chapter "Learning-rate schedules": the lr of every bundled
//! schedule, and of the two of `src/schedules.rs`, over 100 steps of SGD with an initial lr
//! of 0.1 (`book/src/images/schedules.svg`).
//!
//! Run it with `cargo run --release -p optim-book --example plot_schedules`. The schedules
//! are deterministic: running it again rewrites the same file.

use std::error::Error;

use optim_book::schedules::{InverseSqrt, InverseSqrtOptions, WarmupStableDecay, WarmupStableDecayOptions};
use optimizers::lr_scheduler::{
    BuildSchedule, ChainedScheduler, ConstantLR, ConstantLROptions, CosineAnnealingLR, CosineAnnealingLROptions,
    CosineAnnealingWarmRestarts, CosineAnnealingWarmRestartsOptions, CyclicLR, CyclicLROptions, DynSchedule,
    ExponentialLR, ExponentialLROptions, Lambda, LambdaLR, LambdaLROptions, LinearLR, LinearLROptions, MultiStepLR,
    MultiStepLROptions, MultiplicativeLR, MultiplicativeLROptions, OneCycleLR, OneCycleLROptions, PolynomialLR,
    PolynomialLROptions, ReduceLROnPlateau, ReduceLROnPlateauOptions, SequentialLR, StepLR, StepLROptions, Swalr,
    SwalrOptions,
};
use optimizers::ndarray::array;
use optimizers::{Optimizer, Param, Sgd, SgdOptions};
use plotters::prelude::*;

/// Steps drawn (after the construction step).
const STEPS: usize = 100;
const LR: f64 = 0.1;

/// One panel: a name and the lr after construction and after each step.
struct Curve {
    name: &'static str,
    lrs: Vec<f64>,
}

fn sgd() -> Result<Optimizer<Sgd, f64>, optimizers::Error> {
    Sgd::new([Param::new(array![0.0f64])], SgdOptions::new().lr(LR).momentum(0.9))
}

/// The lr of a schedule stepped without a metric.
fn curve(name: &'static str, child: impl Into<Box<dyn BuildSchedule>>) -> Result<Curve, Box<dyn Error>> {
    let mut opt = sgd()?;
    let mut sched: Box<dyn DynSchedule> = optimizers::lr_scheduler::Build::run(&mut opt, |cx| cx.build(child.into()))?;
    let mut lrs = vec![sched.get_last_lr()[0]];
    for _ in 0..STEPS {
        sched.step(&mut opt)?;
        lrs.push(sched.get_last_lr()[0]);
    }
    Ok(Curve { name, lrs })
}

/// ReduceLROnPlateau on a validation loss that improves, then stalls, then improves again.
fn plateau() -> Result<Curve, Box<dyn Error>> {
    let mut opt = sgd()?;
    let options = ReduceLROnPlateauOptions::new().patience(5).factor(0.5).cooldown(5);
    let mut sched = ReduceLROnPlateau::new(&mut opt, options)?;
    let mut lrs = vec![sched.get_last_lr()[0]];
    for step in 0..STEPS {
        let loss = if (30..60).contains(&step) {
            0.5
        } else {
            1.0 / (1.0 + step as f64 / 10.0)
        };
        sched.step(&mut opt, loss)?;
        lrs.push(sched.get_last_lr()[0]);
    }
    Ok(Curve {
        name: "ReduceLROnPlateau (patience 5, cooldown 5)",
        lrs,
    })
}

fn curves() -> Result<Vec<Curve>, Box<dyn Error>> {
    let warmup = || Lambda::new(|e| ((e + 1) as f64 / 20.0).min(1.0));
    let curves = vec![
        curve(
            "LambdaLR (linear warmup, 20)",
            LambdaLR::builder(LambdaLROptions::new().lr_lambda(warmup())),
        )?,
        curve(
            "MultiplicativeLR (× 0.97)",
            MultiplicativeLR::builder(MultiplicativeLROptions::new().lr_lambda(Lambda::new(|_| 0.97))),
        )?,
        curve(
            "StepLR (30, 0.5)",
            StepLR::builder(StepLROptions::new().step_size(30).gamma(0.5)),
        )?,
        curve(
            "MultiStepLR ([25, 50, 50, 80])",
            MultiStepLR::builder(MultiStepLROptions::new().milestones(vec![25, 50, 50, 80]).gamma(0.5)),
        )?,
        curve(
            "ConstantLR (1/3 until 20)",
            ConstantLR::builder(ConstantLROptions::new().total_iters(20)),
        )?,
        curve(
            "LinearLR (0.1 → 1 over 30)",
            LinearLR::builder(LinearLROptions::new().start_factor(0.1).total_iters(30)),
        )?,
        curve(
            "ExponentialLR (0.97)",
            ExponentialLR::builder(ExponentialLROptions::new().gamma(0.97)),
        )?,
        curve(
            "PolynomialLR (80, power 2)",
            PolynomialLR::builder(PolynomialLROptions::new().total_iters(80).power(2.0)),
        )?,
        curve(
            "CosineAnnealingLR (T_max 40)",
            CosineAnnealingLR::builder(CosineAnnealingLROptions::new().t_max(40).eta_min(1e-3)),
        )?,
        curve(
            "CosineAnnealingWarmRestarts (10, ×2)",
            CosineAnnealingWarmRestarts::builder(CosineAnnealingWarmRestartsOptions::new().t_0(10).t_mult(2)),
        )?,
        curve(
            "CyclicLR (triangular2, 10 up, 15 down)",
            CyclicLR::builder(
                CyclicLROptions::new()
                    .base_lr(0.01)
                    .max_lr(LR)
                    .step_size_up(10)
                    .step_size_down(15)
                    .mode(optimizers::lr_scheduler::CyclicMode::Triangular2),
            ),
        )?,
        curve(
            "OneCycleLR (100 steps)",
            OneCycleLR::builder(OneCycleLROptions::new().max_lr(LR).total_steps(STEPS as u64)),
        )?,
        curve(
            "SWALR (to 0.02 over 30)",
            Swalr::builder(SwalrOptions::new().swa_lr(0.02).anneal_epochs(30)),
        )?,
        plateau()?,
        curve(
            "SequentialLR (LinearLR 10, then cosine)",
            SequentialLR::builder(
                vec![
                    LinearLR::builder(LinearLROptions::new().start_factor(0.01).total_iters(10)).into(),
                    CosineAnnealingLR::builder(CosineAnnealingLROptions::new().t_max(90)).into(),
                ],
                [10],
            ),
        )?,
        curve(
            "ChainedScheduler (ConstantLR × ExponentialLR)",
            ChainedScheduler::builder(vec![
                ConstantLR::builder(ConstantLROptions::new().factor(0.5).total_iters(30)).into(),
                ExponentialLR::builder(ExponentialLROptions::new().gamma(0.98)).into(),
            ]),
        )?,
        curve(
            "yours: warmup-stable-decay (10, 60, 30)",
            WarmupStableDecay::builder(WarmupStableDecayOptions::new().warmup(10).stable(60).decay(30)),
        )?,
        curve(
            "yours: inverse square root (warmup 10)",
            InverseSqrt::builder(InverseSqrtOptions::new().warmup_steps(10)),
        )?,
    ];
    Ok(curves)
}

fn draw(curves: &[Curve], path: &str) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (960, 1140)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "The lr over 100 steps (initial lr 0.1): torch's schedulers, and two of yours",
        ("sans-serif", 20),
    )?;
    let blue = RGBColor(0x1f, 0x77, 0xb4);
    let orange = RGBColor(0xff, 0x7f, 0x0e);
    for (curve, panel) in curves.iter().zip(root.split_evenly((6, 3))) {
        let color = if curve.name.starts_with("yours") { orange } else { blue };
        let top = curve.lrs.iter().copied().fold(0.0f64, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&panel)
            .caption(curve.name, ("sans-serif", 13))
            .margin(6)
            .x_label_area_size(18)
            .y_label_area_size(38)
            .build_cartesian_2d(0..STEPS, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(5)
            .y_labels(4)
            .label_style(("sans-serif", 10))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .draw()?;
        chart.draw_series(LineSeries::new(
            curve.lrs.iter().copied().enumerate(),
            color.stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let curves = curves()?;
    for c in &curves {
        let (min, max) = c
            .lrs
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        println!(
            "{:<46} lr from {:.3e} to {:.3e}, last {:.3e}",
            c.name, min, max, c.lrs[STEPS]
        );
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/images/schedules.svg");
    draw(&curves, path)?;
    println!("wrote {path}");
    Ok(())
}
