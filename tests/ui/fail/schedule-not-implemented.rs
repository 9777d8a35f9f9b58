use optimizers::lr_scheduler::Schedule;

#[derive(Clone, Debug, PartialEq, Schedule)]
pub struct Halving {
    #[hyper(default = 10)]
    pub every: u64,
}

fn main() {}
