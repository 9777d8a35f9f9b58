use optimizers::ndarray::ArrayD;
use optimizers::{Float, State};

#[derive(State)]
pub struct WideState<A: Float> {
    pub a: Option<ArrayD<A>>,
    pub b: Option<ArrayD<A>>,
    pub c: Option<ArrayD<A>>,
    pub d: Option<ArrayD<A>>,
}

fn main() {}
