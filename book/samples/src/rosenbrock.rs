//! Rosenbrock's function in two dimensions: a long, curved, flat-bottomed valley that
//! first-order methods crawl along, the classic test of an optimizer.

use optimizers::ndarray::arr1;
use optimizers::{Error, Param};

/// The classic starting point, (-1.5, 2), where the loss is 12.5.
pub const START: [f64; 2] = [-1.5, 2.0];

/// `f(x, y) = (1 − x)² + 100 (y − x²)²` and its gradient; the minimum is 0, at (1, 1).
pub fn rosenbrock(x: f64, y: f64) -> (f64, [f64; 2]) {
    let (a, b) = (1.0 - x, y - x * x);
    (a * a + 100.0 * b * b, [-2.0 * a - 400.0 * x * b, 200.0 * b])
}

// ANCHOR: evaluate
/// Evaluates the loss at `p`'s current value (two elements, `x` and `y`) and writes its
/// gradient into `p`: the body of the closure that `step_with` calls.
pub fn evaluate(p: &Param<f64>) -> Result<f64, Error> {
    // Read the value inside a block, so that the read guard is dropped before
    // `set_grad` (and before the optimizer, which will write the value, runs again).
    let (x, y) = {
        let v = p.value();
        (v[0], v[1])
    };
    let (loss, grad) = rosenbrock(x, y);
    p.set_grad(arr1(&grad))?;
    Ok(loss)
}
// ANCHOR_END: evaluate

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_derivative() {
        let (x, y, h) = (-0.7, 1.3, 1e-6);
        let (_, g) = rosenbrock(x, y);
        let dx = (rosenbrock(x + h, y).0 - rosenbrock(x - h, y).0) / (2.0 * h);
        let dy = (rosenbrock(x, y + h).0 - rosenbrock(x, y - h).0) / (2.0 * h);
        assert!((g[0] - dx).abs() < 1e-5 && (g[1] - dy).abs() < 1e-5);
        assert_eq!(rosenbrock(1.0, 1.0), (0.0, [0.0, 0.0]));
        assert_eq!(rosenbrock(START[0], START[1]).0, 12.5);
    }
}
