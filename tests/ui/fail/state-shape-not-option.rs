use optimizers::ndarray::ArrayD;
use optimizers::{Float, State};

fn rows(shape: &[usize]) -> Option<Vec<usize>> {
    (shape.len() == 2).then(|| vec![shape[0]])
}

#[derive(State)]
pub struct FactoredState<A: Float> {
    #[state(shape = rows)]
    pub row_avg: ArrayD<A>,
}

fn main() {}
