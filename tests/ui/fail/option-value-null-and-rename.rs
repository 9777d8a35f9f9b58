use optimizers::OptionValue;

#[derive(Clone, Debug, PartialEq, OptionValue)]
pub enum LineSearch {
    #[option(null, rename = "none")]
    None,
    StrongWolfe,
}

fn main() {}
