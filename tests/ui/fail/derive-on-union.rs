use optimizers::Optimizer;

#[derive(Optimizer)]
#[optimizer(state = (), update = elementwise)]
pub union Lion {
    lr: f64,
    momentum: f32,
}

fn main() {}
