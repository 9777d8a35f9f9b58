use optimizers::State;

#[derive(State)]
pub enum MomentumState {
    Empty,
    Buffer(Vec<f64>),
}

fn main() {}
