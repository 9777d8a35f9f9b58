use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub enum Lion {
    Fast,
    Slow,
}

fn main() {}
