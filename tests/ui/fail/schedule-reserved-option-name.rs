use optimizers::lr_scheduler::Schedule;

#[derive(Clone, Debug, Schedule)]
pub struct Warmup {
    /// Clashes with torch's counter in every schedule's state dict.
    #[hyper(default = 0)]
    pub last_epoch: u64,
}

fn main() {}
