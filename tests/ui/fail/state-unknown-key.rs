use optimizers::ndarray::ArrayD;
use optimizers::{Float, State};

#[derive(State)]
pub struct AdamState<A: Float> {
    #[state(renamed = "m")]
    pub exp_avg: ArrayD<A>,
}

fn main() {}
