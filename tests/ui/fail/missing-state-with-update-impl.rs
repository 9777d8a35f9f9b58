use optimizers::ndarray::ArrayD;
use optimizers::{Elementwise, Float, Optimizer, State};

// The state is declared and used by the update, but `#[optimizer]` does not name it.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(update = elementwise)]
pub struct Lion {
    #[hyper(default = 1e-4)]
    pub lr: f64,
}

#[derive(State)]
pub struct LionState<A: Float> {
    pub exp_avg: ArrayD<A>,
}

impl Elementwise for Lion {
    type Scalars<A: Float> = A;

    fn prepare<A: Float>(&self, _: &mut LionState<A>, _: &[usize]) -> A {
        A::from_f64(self.lr)
    }

    fn element<A: Float>(lr: &A, p: &mut A, g: A, state: LionStateElem<'_, A>) {
        *state.exp_avg = g;
        *p = *p - *lr * g.signum();
    }
}

fn main() {
    let p = optimizers::Param::new(optimizers::ndarray::array![1.0f32]);
    let _ = Lion::new([p], LionOptions::new());
}
