use optimizers::OptionValue;

#[derive(Clone, Debug, PartialEq, OptionValue)]
pub enum LineSearch {
    StrongWolfe,
    #[option(rename = "strong_wolfe")]
    Wolfe,
}

fn main() {}
