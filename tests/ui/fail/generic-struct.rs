use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion<T> {
    #[hyper(required)]
    pub lr: T,
}

fn main() {}
