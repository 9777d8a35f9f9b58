//! What the algorithm sees of the problem, and its adapter over optim-core's [`Problem`].

use optim_core::{Float, Problem};

/// A flat vector of parameters the algorithm can move, and a loss it can evaluate there.
///
/// Contract the step relies on:
/// - `len` stays the same for the life of a state;
/// - `evaluate` writes **every** element of `grad` (no accumulation);
/// - `read_params` / `write_params` copy the parameters bit-exactly (the step restores
///   them after each line-search evaluation and after a non-finite one);
/// - `add_scaled` performs `params[i] += A::from_f64(alpha) * dir[i]` deterministically
///   (the line search evaluates at `x + t d` and later moves to `x + t d` again, expecting
///   the same point).
///
/// Slices passed to the methods always have exactly `len()` elements.
pub(crate) trait Objective<A: Float> {
    /// The number of scalar parameters.
    fn len(&self) -> usize;
    /// Re-evaluates the loss at the current parameters; the flat gradient goes to `grad`.
    fn evaluate(&mut self, grad: &mut [A]) -> f64;
    /// `params += alpha * dir`, with `alpha` rounded to `A` once.
    fn add_scaled(&mut self, alpha: f64, dir: &[A]);
    /// Copies the parameters into `out`.
    fn read_params(&self, out: &mut [A]);
    /// Overwrites the parameters with `x`.
    fn write_params(&mut self, x: &[A]);
}

/// The optimizer's [`Problem`] as an [`Objective`], minimizing `−f` when `maximize` is set:
/// the loss and the gathered gradient are negated (exactly) before the algorithm sees them.
pub(crate) struct ProblemObjective<'p, 'a, A: Float> {
    pub problem: &'p mut Problem<'a, A>,
    pub maximize: bool,
}

impl<A: Float> Objective<A> for ProblemObjective<'_, '_, A> {
    fn len(&self) -> usize {
        self.problem.len()
    }

    fn evaluate(&mut self, grad: &mut [A]) -> f64 {
        let loss = self.problem.evaluate(grad);
        if self.maximize {
            grad.iter_mut().for_each(|g| *g = -*g);
            -loss
        } else {
            loss
        }
    }

    fn add_scaled(&mut self, alpha: f64, dir: &[A]) {
        self.problem.add_scaled(alpha, dir);
    }

    fn read_params(&self, out: &mut [A]) {
        self.problem.read_params(out);
    }

    fn write_params(&mut self, x: &[A]) {
        self.problem.write_params(x);
    }
}

/// An objective owning its parameters, for the unit tests of the algorithm.
#[cfg(test)]
pub(crate) struct VecObjective<A, F> {
    pub x: Vec<A>,
    pub f: F,
}

#[cfg(test)]
impl<A: Float, F: FnMut(&[A], &mut [A]) -> f64> Objective<A> for VecObjective<A, F> {
    fn len(&self) -> usize {
        self.x.len()
    }
    fn evaluate(&mut self, grad: &mut [A]) -> f64 {
        (self.f)(&self.x, grad)
    }
    fn add_scaled(&mut self, alpha: f64, dir: &[A]) {
        let a = A::from_f64(alpha);
        for (p, &d) in self.x.iter_mut().zip(dir) {
            *p += a * d;
        }
    }
    fn read_params(&self, out: &mut [A]) {
        out.copy_from_slice(&self.x);
    }
    fn write_params(&mut self, x: &[A]) {
        self.x.copy_from_slice(x);
    }
}
