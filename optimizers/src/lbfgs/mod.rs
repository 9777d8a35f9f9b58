//! L-BFGS, as `torch.optim.LBFGS` (torch 2.15): [`Lbfgs`], its state [`LbfgsState`] and
//! its line-search option [`LineSearch`].
//!
//! The module is the torch algorithm on one flat vector, one concept per file:
//! - `options`: the options ([`Lbfgs`], derived with `#[derive(Optimizer)]`);
//! - `state`: the persistent state, with the curvature history saved as torch's three lists;
//! - `ring`: the fixed-capacity ring the history lives in (no shifting, no allocation once full);
//! - `objective`: what the algorithm sees of optim-core's `Problem` (negated with `maximize`);
//! - `ops`: vector kernels (dot products in `f64`, in a fixed lane order, fused with the updates);
//! - `two_loop`: the two-loop recursion;
//! - `line_search`: cubic interpolation and the strong-Wolfe search;
//! - `step`: one `step(closure)`, torch's loop branch for branch, run through optim-core's one
//!   instruction-set dispatcher (the optimizer's `Isa`, as every rule form), with the same
//!   bits on every instruction set.

mod line_search;
mod objective;
mod ops;
mod options;
mod ring;
mod state;
mod step;
mod two_loop;

use optim_core::{ClosureRule, Error, Float, Problem, Result};

pub use options::{Lbfgs, LbfgsOptions, LineSearch};
pub use state::{CurvatureHistory, CurvaturePair, LbfgsState};

use objective::Objective;

impl ClosureRule for Lbfgs {
    /// One torch `LBFGS.step(closure)` over the group's parameters as one flat vector;
    /// returns the closure's first loss. See [`Lbfgs`] for the algorithm, the closure's
    /// contract and what a non-finite evaluation leaves behind.
    fn step<A: Float>(&self, state: &mut LbfgsState<A>, problem: &mut Problem<'_, A>) -> Result<f64> {
        let mut objective = Objective {
            problem,
            maximize: self.maximize,
        };
        match step::step(self, state, &mut objective) {
            // With `maximize` the algorithm saw `-f`: give back the closure's own values
            // (negation is exact, so this is the closure's loss bit for bit).
            Ok(loss) if self.maximize => Ok(-loss),
            Err(Error::NonFiniteClosure {
                kind,
                evaluation,
                what,
                value,
            }) if self.maximize => Err(Error::NonFiniteClosure {
                kind,
                evaluation,
                what,
                value: -value,
            }),
            other => other,
        }
    }
}
