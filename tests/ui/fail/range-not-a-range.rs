use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub struct Lion {
    #[hyper(default = 0.1, range = 0.0)]
    pub lr: f64,
}

fn main() {}
