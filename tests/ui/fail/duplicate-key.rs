use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion {
    #[hyper(default = 0.1, default = 0.2)]
    pub lr: f64,
}

fn main() {}
