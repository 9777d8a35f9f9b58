use optimizers::OptionValue;

#[derive(Clone, Debug, PartialEq, OptionValue)]
pub struct Schedule {
    pub warmup: bool,
}

fn main() {}
