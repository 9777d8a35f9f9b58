use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = closure)]
pub struct Lbfgs {
    #[hyper(default = max_iter * 5 / 4)]
    pub max_eval: usize,
    #[hyper(default = 20)]
    pub max_iter: usize,
}

fn main() {}
