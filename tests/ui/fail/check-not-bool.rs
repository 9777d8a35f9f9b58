use optimizers::Optimizer;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion {
    #[hyper(default = 0.1, check = lr + 1.0)]
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
