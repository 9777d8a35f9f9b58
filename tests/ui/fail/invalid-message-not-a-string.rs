use optimizers::lr_scheduler::Schedule;

#[derive(Clone, Debug, Schedule)]
pub struct Halving {
    #[hyper(default = 10, invalid(every))]
    pub every: u64,
}

fn main() {}
