use optimizers::{ClosureRule, Float, Optimizer, Problem};

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = closure, eager_state)]
pub struct Descent {
    #[hyper(default = 0.1)]
    pub lr: f64,
}

impl ClosureRule for Descent {
    fn step<A: Float>(&self, _: &mut (), problem: &mut Problem<'_, A>) -> optimizers::Result<f64> {
        let mut grad = vec![A::zero(); problem.len()];
        let loss = problem.evaluate(&mut grad);
        problem.add_scaled(-self.lr, &grad);
        Ok(loss)
    }
}

fn main() {}
