//! Draws the pictures of the chapter "The bundled optimizers": SGD, SGD with momentum,
//! Adam and L-BFGS on Rosenbrock's function from (-1.5, 2), as the loss against gradient
//! evaluations (`book/src/images/loss.svg`) and as paths over the function's level curves
//! (`book/src/images/paths.svg`).
//!
//! Run it with `cargo run --release -p optim-book --example plot_optimizers`. The runs and
//! the pictures are deterministic: running it again rewrites the same files.

use std::error::Error;
use std::ops::Range;

use optim_book::rosenbrock::{self, START};
use optimizers::ndarray::arr1;
use optimizers::{Adam, AdamOptions, DynOptimizer, Lbfgs, LbfgsOptions, LineSearch, Param, Sgd, SgdOptions};
use plotters::prelude::*;

/// Gradient evaluations per run.
const EVALUATIONS: usize = 1000;
/// Losses below this are drawn at the bottom of the loss picture.
const FLOOR: f64 = 1e-12;
/// The region the paths picture shows.
const X: Range<f64> = -2.0..2.0;
const Y: Range<f64> = -1.0..3.0;

/// One optimizer's run: the point and the loss at each gradient evaluation.
struct Run {
    label: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    losses: Vec<f64>,
}

/// A first-order optimizer: one evaluation and one step per iteration.
fn first_order(
    label: &'static str,
    color: RGBColor,
    make: impl FnOnce(Param<f64>) -> Result<Box<dyn DynOptimizer<f64>>, optimizers::Error>,
) -> Result<Run, Box<dyn Error>> {
    let xy = Param::new(arr1(&START));
    let mut opt = make(xy.clone())?;
    let mut run = Run {
        label,
        color,
        points: Vec::new(),
        losses: Vec::new(),
    };
    for _ in 0..EVALUATIONS {
        run.points.push((xy.value()[0], xy.value()[1]));
        run.losses.push(rosenbrock::evaluate(&xy)?);
        opt.step()?;
    }
    Ok(run)
}

/// L-BFGS: one `step_with`, the closure recording every evaluation (line-search trials too).
fn lbfgs(color: RGBColor) -> Result<Run, Box<dyn Error>> {
    let xy = Param::new(arr1(&START));
    let options = LbfgsOptions::new()
        .line_search_fn(LineSearch::StrongWolfe)
        .max_iter(EVALUATIONS);
    let mut opt = Lbfgs::new([xy.clone()], options)?;
    let (mut points, mut losses) = (Vec::new(), Vec::new());
    opt.step_with(|| {
        points.push((xy.value()[0], xy.value()[1]));
        let loss = rosenbrock::evaluate(&xy).expect("the gradient has the parameter's shape");
        losses.push(loss);
        loss
    })?;
    Ok(Run {
        label: "L-BFGS (strong Wolfe)",
        color,
        points,
        losses,
    })
}

/// L-BFGS's iterates: one iteration per `step_with` (`max_iter` 1), the point after each.
fn lbfgs_iterates(color: RGBColor) -> Result<Run, Box<dyn Error>> {
    let xy = Param::new(arr1(&START));
    let options = LbfgsOptions::new()
        .line_search_fn(LineSearch::StrongWolfe)
        .max_iter(1)
        .max_eval(25); // the default, max_iter · 5 / 4 = 1, would leave the line search no evaluation
    let mut opt = Lbfgs::new([xy.clone()], options)?;
    let mut run = Run {
        label: "L-BFGS (strong Wolfe), iterates",
        color,
        points: vec![(START[0], START[1])],
        losses: Vec::new(),
    };
    for _ in 0..EVALUATIONS {
        let loss = opt.step_with(|| rosenbrock::evaluate(&xy).expect("the gradient has the parameter's shape"))?;
        run.losses.push(loss);
        let point = (xy.value()[0], xy.value()[1]);
        if run.points.last() == Some(&point) {
            break; // converged: the step no longer moves
        }
        run.points.push(point);
    }
    Ok(run)
}

fn runs() -> Result<Vec<Run>, Box<dyn Error>> {
    Ok(vec![
        first_order("SGD, lr 1e-3", RGBColor(0x1f, 0x77, 0xb4), |p| {
            Ok(Box::new(Sgd::new([p], SgdOptions::new().lr(1e-3))?))
        })?,
        first_order("SGD, lr 1e-3, momentum 0.9", RGBColor(0xff, 0x7f, 0x0e), |p| {
            Ok(Box::new(Sgd::new([p], SgdOptions::new().lr(1e-3).momentum(0.9))?))
        })?,
        first_order("Adam, lr 0.05", RGBColor(0x2c, 0xa0, 0x2c), |p| {
            Ok(Box::new(Adam::new([p], AdamOptions::new().lr(0.05))?))
        })?,
        lbfgs(RGBColor(0xd6, 0x27, 0x28))?,
    ])
}

/// A legend entry's mark: a short line in the run's color.
fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
}

fn draw_losses(runs: &[Run], path: &str) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (760, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Rosenbrock's function from (-1.5, 2)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0usize..EVALUATIONS, (FLOOR..1e3).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("gradient evaluations")
        .y_desc("loss")
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    for run in runs {
        let points = run.losses.iter().enumerate().map(|(k, &l)| (k + 1, l.max(FLOOR)));
        chart
            .draw_series(LineSeries::new(points, run.color.stroke_width(2)))?
            .label(run.label)
            .legend(legend_line(run.color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The level curve `f(x, y) = c`: `x = 1 + √c cos θ`, `y = x² + (√c / 10) sin θ`.
fn level_curve(c: f64) -> Vec<(f64, f64)> {
    let n = 4000;
    (0..=n)
        .map(|i| {
            let theta = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            let x = 1.0 + c.sqrt() * theta.cos();
            (x, x * x + c.sqrt() / 10.0 * theta.sin())
        })
        .collect()
}

/// The pieces of a polyline that lie inside the picture, without points closer than
/// about a pixel to the previous one (which would only make the file larger).
fn inside(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let near = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 0.01 && (a.1 - b.1).abs() < 0.01;
    let mut pieces: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        if X.contains(&x) && Y.contains(&y) {
            if let Some(piece) = pieces.last_mut()
                && !piece.last().is_some_and(|&last| near(last, (x, y)))
            {
                piece.push((x, y));
            }
        } else if pieces.last().is_some_and(|piece| !piece.is_empty()) {
            pieces.push(Vec::new());
        }
    }
    pieces.retain(|piece| piece.len() > 1);
    pieces
}

fn draw_paths(runs: &[Run], path: &str) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (760, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled("Paths from (-1.5, 2) to the minimum at (1, 1)", ("sans-serif", 20))?;
    let grey = RGBColor(0xbb, 0xbb, 0xbb);
    for (run, panel) in runs.iter().zip(root.split_evenly((2, 2))) {
        let mut chart = ChartBuilder::on(&panel)
            .caption(run.label, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(36)
            .build_cartesian_2d(X, Y)?;
        chart.configure_mesh().disable_mesh().x_labels(5).y_labels(5).draw()?;
        for c in [0.25, 1.0, 4.0, 16.0, 64.0, 256.0] {
            for piece in inside(&level_curve(c)) {
                chart.draw_series(LineSeries::new(piece, grey.stroke_width(1)))?;
            }
        }
        for piece in inside(&run.points) {
            chart.draw_series(LineSeries::new(piece, run.color.stroke_width(2)))?;
        }
        chart.draw_series([Circle::new((1.0, 1.0), 3, BLACK.filled())])?;
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let runs = runs()?;
    for run in &runs {
        let last = run.losses.last().copied().unwrap_or(f64::NAN);
        println!(
            "{:<28} {:>5} evaluations, final loss {last:.3e}",
            run.label,
            run.losses.len()
        );
    }
    let images = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/images");
    std::fs::create_dir_all(images)?;
    draw_losses(&runs, &format!("{images}/loss.svg"))?;
    let mut paths: Vec<Run> = runs.into_iter().take(3).collect();
    paths.push(lbfgs_iterates(RGBColor(0xd6, 0x27, 0x28))?);
    println!("L-BFGS: {} iterates", paths[3].points.len() - 1);
    draw_paths(&paths, &format!("{images}/paths.svg"))?;
    println!("wrote {images}/loss.svg and {images}/paths.svg");
    Ok(())
}
