use optimizers::{Optimizer, Param};

// `state` must name a type with #[derive(State)].
pub struct NotAState;

#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = NotAState, update = per_tensor)]
pub struct Lion {
    #[hyper(default = 0.1)]
    pub lr: f64,
}

impl optimizers::PerTensor for Lion {
    fn update<A: optimizers::Float>(
        &self,
        _: optimizers::ndarray::ArrayViewMutD<'_, A>,
        _: optimizers::ndarray::ArrayViewD<'_, A>,
        _: &mut NotAState,
    ) {
    }
}

fn main() {
    let _ = Lion::new([Param::new(optimizers::ndarray::array![1.0f32])], LionOptions::new());
}
