use optimizers::Optimizer;

#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion {
    #[hyper(default = vec![0.9, 0.99])]
    pub betas: Vec<f64>,
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
