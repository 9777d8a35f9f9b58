use optimizers::{Elementwise, Float, Optimizer};

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub struct Lion {
    #[hyper(default = 0.1, range = 0.0..)]
    pub lr: f64,
    #[hyper(default = false, range = 0.0..1.0)]
    pub nesterov: bool,
}

impl Elementwise for Lion {
    type Scalars<A: Float> = A;
    fn prepare<A: Float>(&self, _: &mut (), _: &[usize]) -> A {
        A::from_f64(self.lr)
    }
    fn element<A: Float>(lr: &A, p: &mut A, g: A, _: ()) {
        *p = *p - *lr * g;
    }
}

fn main() {}
