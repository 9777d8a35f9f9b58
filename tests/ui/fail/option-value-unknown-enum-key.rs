use optimizers::OptionValue;

#[derive(Clone, Debug, PartialEq, OptionValue)]
#[option(rename_all = "kebab-case")]
pub enum LineSearch {
    None,
    StrongWolfe,
}

fn main() {}
