use optimizers::OptionValue;

#[derive(Clone, Debug, PartialEq, OptionValue)]
pub enum Schedule {
    Constant,
    Linear(u64),
}

fn main() {}
