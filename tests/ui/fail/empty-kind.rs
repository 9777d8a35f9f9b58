use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(kind = "", state = (), update = elementwise)]
pub struct Lion {
    #[hyper(default = 0.1)]
    pub lr: f64,
}

fn main() {}
