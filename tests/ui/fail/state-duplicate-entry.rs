use optimizers::ndarray::ArrayD;
use optimizers::{Float, State};

#[derive(State)]
pub struct AdamState<A: Float> {
    pub exp_avg: ArrayD<A>,
    #[state(rename = "exp_avg")]
    pub second_moment: ArrayD<A>,
}

fn main() {}
