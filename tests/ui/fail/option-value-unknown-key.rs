use optimizers::OptionValue;

#[derive(Clone, Debug, PartialEq, OptionValue)]
pub enum LineSearch {
    #[option(none)]
    None,
    #[option(name = "wolfe")]
    StrongWolfe,
}

fn main() {}
