use optimizers::Optimizer;

#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Lion {
    #[hyper(default = std::collections::BTreeMap::new())]
    pub betas: std::collections::BTreeMap<String, f64>,
}

impl optimizers::PerTensor for Lion {
    fn update<A: optimizers::Float>(
        &self,
        _: optimizers::ndarray::ArrayViewMutD<'_, A>,
        _: optimizers::ndarray::ArrayViewD<'_, A>,
        _: &mut (),
        _: optimizers::isa::Isa,
    ) {
    }
}

fn main() {}
