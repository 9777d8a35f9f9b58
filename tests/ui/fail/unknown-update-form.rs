use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = fused)]
pub struct Lion {
    #[hyper(default = 0.1)]
    pub lr: f64,
}

fn main() {}
