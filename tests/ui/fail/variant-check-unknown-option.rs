use optimizers::{Adam, Optimizer};

#[derive(Clone, Debug, Optimizer)]
#[optimizer(
    update = elementwise,
    defaults(weight_decay = 1e-2),
    check(!nesterov, "AdamL2 has no Nesterov momentum")
)]
pub struct AdamL2(Adam);

fn main() {}
