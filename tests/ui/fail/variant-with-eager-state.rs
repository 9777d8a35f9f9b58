use optimizers::{Adam, Optimizer};

#[derive(Clone, Debug, Optimizer)]
#[optimizer(update = elementwise, eager_state, defaults(weight_decay = 1e-2))]
pub struct AdamL2(Adam);

fn main() {}
