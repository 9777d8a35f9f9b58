use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise, defaults(lr = 0.01))]
pub struct Lion {
    #[hyper(default = 0.1)]
    pub lr: f64,
}

fn main() {}
