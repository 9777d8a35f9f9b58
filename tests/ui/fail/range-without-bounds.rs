use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub struct Lion {
    #[hyper(default = 0.1, range(.., "invalid learning rate: {value}"))]
    pub lr: f64,
}

fn main() {}
