use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion {
    #[hyper(default = 0.1)]
    pub lr: f64,
    #[hyper(default = 0.2, rename = "lr")]
    pub learning_rate: f64,
}

fn main() {}
