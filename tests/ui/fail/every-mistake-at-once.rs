use optimizers::Optimizer;

// Every mistake is reported in one compilation, not one per attempt.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(update = elementwise, kinde = "lion")]
pub struct Lion {
    #[hyper(required, default = 1e-4)]
    pub lr: f64,
    pub momentum: f64,
    #[hyper(default = 0.0, rename = "lr")]
    pub weight_decay: f64,
}

fn main() {}
