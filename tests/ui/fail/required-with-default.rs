use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub struct Lion {
    #[hyper(required, default = 1e-3)]
    pub lr: f64,
}

fn main() {}
