use optimizers::lr_scheduler::Schedule;

#[derive(Clone, Debug, Schedule)]
#[schedule(form = steps)]
pub struct Halving {
    #[hyper(default = 10)]
    pub every: u64,
}

fn main() {}
