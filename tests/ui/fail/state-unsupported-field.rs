use optimizers::ndarray::ArrayD;
use optimizers::{Float, State};

#[derive(State)]
pub struct NoteState<A: Float> {
    pub exp_avg: ArrayD<A>,
    pub note: String,
}

fn main() {}
