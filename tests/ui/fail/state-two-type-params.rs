use optimizers::ndarray::ArrayD;
use optimizers::State;

#[derive(State)]
pub struct MixedState<A, B> {
    pub exp_avg: ArrayD<A>,
    pub other: ArrayD<B>,
}

fn main() {}
