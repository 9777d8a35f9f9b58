use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub struct Lion {
    #[hyper(defualt = 0.1)]
    pub lr: f64,
}

fn main() {}
