use optimizers::Optimizer;

// An optimizer's options must be `Clone` and `Debug` (each group keeps a copy).
#[derive(Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion {
    #[hyper(default = 0.1)]
    pub lr: f64,
}

impl optimizers::PerTensor for Lion {
    fn update<A: optimizers::Float>(
        &self,
        _: optimizers::ndarray::ArrayViewMutD<'_, A>,
        _: optimizers::ndarray::ArrayViewD<'_, A>,
        _: &mut (),
    ) {
    }
}

fn main() {}
