use optimizers::lr_scheduler::Schedule;

#[derive(Clone, Debug, Schedule)]
pub enum Halving {
    Every(u64),
}

fn main() {}
