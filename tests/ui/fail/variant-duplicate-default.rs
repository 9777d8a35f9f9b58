use optimizers::{Adam, Optimizer};

#[derive(Clone, Debug, Optimizer)]
#[optimizer(update = elementwise, defaults(weight_decay = 1e-2, weight_decay = 1e-3))]
pub struct AdamL2(Adam);

fn main() {}
