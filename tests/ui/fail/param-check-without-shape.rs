use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise, param_check(lr > 0.0, "needs a learning rate"))]
pub struct Muon {
    #[hyper(default = 0.02)]
    pub lr: f64,
}

fn main() {}
