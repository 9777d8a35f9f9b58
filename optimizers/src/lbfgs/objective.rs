//! What the algorithm sees of the problem: optim-core's [`Problem`], minimized as `−f` when
//! `maximize` is set.

use optim_core::{Float, Problem};

/// The problem as the algorithm minimizes it: the loss and the gathered gradient are
/// negated (exactly) before the algorithm sees them when `maximize` is set.
///
/// Contract the step relies on (kept by [`Problem`]):
/// - `len` stays the same for the life of a state;
/// - `evaluate` writes **every** element of `grad` (no accumulation);
/// - `read_params` / `write_params` copy the parameters bit-exactly (the step restores
///   them after each line-search evaluation and after a non-finite one);
/// - `add_scaled` performs `params[i] += A::from_f64(alpha) * dir[i]` deterministically
///   (the line search evaluates at `x + t d` and later moves to `x + t d` again, expecting
///   the same point).
pub(crate) struct Objective<'p, 'a, A: Float> {
    pub problem: &'p mut Problem<'a, A>,
    pub maximize: bool,
}

impl<A: Float> Objective<'_, '_, A> {
    /// The number of scalar parameters.
    pub fn len(&self) -> usize {
        self.problem.len()
    }

    /// Re-evaluates the loss at the current parameters; the flat gradient goes to `grad`.
    pub fn evaluate(&mut self, grad: &mut [A]) -> f64 {
        let loss = self.problem.evaluate(grad);
        if self.maximize {
            grad.iter_mut().for_each(|g| *g = -*g);
            -loss
        } else {
            loss
        }
    }

    /// `params += alpha * dir`, with `alpha` rounded to `A` once.
    pub fn add_scaled(&mut self, alpha: f64, dir: &[A]) {
        self.problem.add_scaled(alpha, dir);
    }

    /// Copies the parameters into `out`.
    pub fn read_params(&self, out: &mut [A]) {
        self.problem.read_params(out);
    }

    /// Overwrites the parameters with `x`.
    pub fn write_params(&mut self, x: &[A]) {
        self.problem.write_params(x);
    }
}
