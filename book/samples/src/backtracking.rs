//! Gradient descent with a backtracking line search (Armijo's rule): a rule that must
//! re-evaluate the loss at trial points, so it is written over the whole problem with a
//! closure, as LBFGS is.

// ANCHOR: options
use optimizers::{ClosureRule, Float, Optimizer, Problem, Result, State};

/// Gradient descent with a backtracking line search.
///
/// All parameters are one flat vector `x` with gradient `g`. One `step_with(closure)`:
///
/// ```text
/// f₀, g ← closure()
/// t ← lr
/// repeat at most max_backtracks times:
///     x ← x₀ − t g;  f ← closure()
///     if f ≤ f₀ − c · t · ‖g‖²: accept (the parameters stay at x), stop
///     t ← shrink · t
/// if no trial was accepted: x ← x₀
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1 | > 0 (the first trial step) |
/// | `shrink` | 0.5 | in (0, 1) |
/// | `c` | 1e-4 | in (0, 1) |
/// | `max_backtracks` | 30 | ≥ 1 |
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "backtracking", state = BacktrackingState, update = closure)]
pub struct Backtracking {
    /// The first trial step.
    #[hyper(default = 1.0, check(lr > 0.0, "invalid learning rate: {lr}"))]
    pub lr: f64,
    /// The factor each rejected trial step is multiplied by.
    #[hyper(default = 0.5, check(0.0 < shrink && shrink < 1.0))]
    pub shrink: f64,
    /// The sufficient-decrease constant of Armijo's rule.
    #[hyper(default = 1e-4, check(0.0 < c && c < 1.0))]
    pub c: f64,
    /// The most trial steps per step.
    #[hyper(default = 30, check(max_backtracks >= 1))]
    pub max_backtracks: usize,
}

/// The state: counters and the last accepted step saved, working buffers skipped.
#[derive(State)]
pub struct BacktrackingState<A: Float> {
    /// Loss evaluations so far.
    pub func_evals: u64,
    /// The last accepted step length, once a step has been accepted.
    pub t: Option<f64>,
    /// The gradient at the start of the step (working buffer, not saved).
    #[state(skip)]
    pub grad: Vec<A>,
    /// The parameters at the start of the step (working buffer, not saved).
    #[state(skip)]
    pub start: Vec<A>,
    /// The gradient at a trial point (working buffer, not saved).
    #[state(skip)]
    pub trial_grad: Vec<A>,
}
// ANCHOR_END: options

// ANCHOR: step
impl ClosureRule for Backtracking {
    fn step<A: Float>(&self, state: &mut BacktrackingState<A>, problem: &mut Problem<'_, A>) -> Result<f64> {
        let n = problem.len();
        for buffer in [&mut state.grad, &mut state.start, &mut state.trial_grad] {
            buffer.resize(n, A::zero()); // allocates at the first step only
        }
        let f0 = problem.evaluate(&mut state.grad);
        state.func_evals += 1;
        problem.read_params(&mut state.start);
        let descent: f64 = state.grad.iter().map(|g| g.as_f64() * g.as_f64()).sum();
        // The search direction is −g: negate the gradient in place.
        state.grad.iter_mut().for_each(|g| *g = -*g);
        let mut t = self.lr;
        for _ in 0..self.max_backtracks {
            problem.add_scaled(t, &state.grad); // x = x₀ − t g
            let f = problem.evaluate(&mut state.trial_grad);
            state.func_evals += 1;
            if f <= f0 - self.c * t * descent {
                state.t = Some(t);
                return Ok(f0);
            }
            problem.write_params(&state.start);
            t *= self.shrink;
        }
        Ok(f0)
    }
}
// ANCHOR_END: step
