//! L-BFGS on the 1000-dimensional Rosenbrock function, from the classic start
//! (-1.2, 1, -1.2, 1, ...), with a history of 10 pairs, the strong-Wolfe line search and
//! at most 100 iterations in one `step_with`. Prints the evaluations, iterations, final
//! loss, and the wall time of the step (median of several fresh runs after a warm-up).
//!
//! Run it with `cargo run --release -p optimizers --example lbfgs_rosenbrock`.

use std::error::Error;
use std::time::{Duration, Instant};

use optim_tests::problems::Rosenbrock;
use optimizers::ndarray::Array1;
use optimizers::{Lbfgs, LbfgsOptions, LineSearch, Param};

const N: usize = 1000;
const WARM_UP: usize = 5;
const RUNS: usize = 31;

/// What one run reports.
struct Run {
    elapsed: Duration,
    first_loss: f64,
    final_loss: f64,
    func_evals: u64,
    n_iter: u64,
}

/// One fresh run: a new parameter and optimizer, one timed `step_with`.
fn run() -> Result<Run, Box<dyn Error>> {
    let x = Param::new(Array1::from(Rosenbrock::start::<f64>(N)));
    let options = LbfgsOptions::new()
        .history_size(10)
        .line_search_fn(LineSearch::StrongWolfe)
        .max_iter(100);
    let mut opt = Lbfgs::new([x.clone()], options)?;
    // The closure's gradient buffer is allocated once; each call reads the parameter's
    // value, computes the loss and gradient, and stores the gradient in the parameter.
    let mut grad = vec![0.0; N];
    let mut closure = || {
        let loss = {
            let value = x.value();
            Rosenbrock.eval(value.as_slice().expect("parameters are contiguous"), &mut grad)
        };
        x.set_grad_from_slice(&grad)
            .expect("the gradient has the parameter's length");
        loss
    };

    let start = Instant::now();
    let first_loss = opt.step_with(&mut closure)?;
    let elapsed = start.elapsed();

    let final_loss = closure();
    let state = opt.state(&x).ok_or("the optimizer has stepped")?;
    Ok(Run {
        elapsed,
        first_loss,
        final_loss,
        func_evals: state.func_evals,
        n_iter: state.n_iter,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    for _ in 0..WARM_UP {
        run()?;
    }
    let mut runs = (0..RUNS).map(|_| run()).collect::<Result<Vec<_>, _>>()?;
    runs.sort_by_key(|r| r.elapsed);
    let median = &runs[RUNS / 2];
    let (min, max) = (runs[0].elapsed, runs[RUNS - 1].elapsed);

    println!("L-BFGS, Rosenbrock n = {N}, history 10, strong Wolfe, max_iter 100, one step_with");
    println!("  evaluations: {}", median.func_evals);
    println!("  iterations:  {}", median.n_iter);
    println!("  loss:        {} -> {}", median.first_loss, median.final_loss);
    println!(
        "  wall time:   {:.3} ms median of {RUNS} runs after {WARM_UP} warm-up runs (min {:.3} ms, max {:.3} ms)",
        median.elapsed.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    Ok(())
}
