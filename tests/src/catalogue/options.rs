//! Options by name at run time: `set_option`, `option`, typed by their `DictValue`.

use optimizers::{DictValue, Error, ErrorKind};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "options",
    title: "Options by name at run time",
    intro: "`set_option` and `option` take an option's name, and `set_option` a `DictValue`, as a \
            learning-rate schedule or a configuration file gives them: the name and the type are \
            checked when the call is made. A rejected option leaves the old value.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "set-option-unknown-name",
            cause: "`set_option` with a misspelt option name (`lrr`; torch silently adds it)",
            fix: "use one of the option names the message lists",
            kind: ErrorKind::UnknownOption,
            fragment: "group 0: adam has no option `lrr` (its options are: lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)",
            expect: |e| matches!(e, Error::UnknownOption { kind: "adam", option, .. } if option == "lrr"),
            run: || trial(adam().0, |o| o.set_option(0, "lrr", 0.1)),
        },
        Case {
            id: "option-unknown-name",
            cause: "reading an option the optimizer does not have (`momentum` of Adam)",
            fix: "read one of the options the message lists (Adam's momentum is `betas`)",
            kind: ErrorKind::UnknownOption,
            fragment: "group 0: adam has no option `momentum`",
            expect: |e| matches!(e, Error::UnknownOption { option, .. } if option == "momentum"),
            run: || trial(adam().0, |o| o.option(0, "momentum").map(drop)),
        },
        Case {
            id: "set-option-wrong-type",
            cause: "`set_option` with a value of the wrong type (the string \"0.1\" for `lr`)",
            fix: "pass a value of the type the message names",
            kind: ErrorKind::OptionType,
            fragment: "group 0: option `lr` must be a number, found a string (\"0.1\")",
            expect: |e| matches!(e, Error::OptionType { option, .. } if option == "lr"),
            run: || trial(adam().0, |o| o.set_option(0, "lr", "0.1")),
        },
        Case {
            id: "set-option-betas-length",
            cause: "`set_option` of `betas` with one number instead of two",
            fix: "pass a list of two numbers: `[0.9, 0.999]`",
            kind: ErrorKind::OptionType,
            fragment: "group 0: option `betas` must be a list of 2 items (a number, a number), found a list of 1 item(s)",
            expect: |e| matches!(e, Error::OptionType { option, .. } if option == "betas"),
            run: || {
                trial(adam().0, |o| {
                    o.set_option(0, "betas", DictValue::List(vec![0.9.into()]))
                })
            },
        },
        Case {
            id: "set-option-number-for-boolean",
            cause: "`set_option` of a boolean option with a number (`amsgrad` = 1.0, as a config file might write it)",
            fix: "pass `true` or `false`",
            kind: ErrorKind::OptionType,
            fragment: "group 0: option `amsgrad` must be a boolean, found a number (1.0)",
            expect: |e| matches!(e, Error::OptionType { option, .. } if option == "amsgrad"),
            run: || trial(adam().0, |o| o.set_option(0, "amsgrad", 1.0)),
        },
        Case {
            id: "set-option-unknown-line-search",
            cause: "`set_option` of LBFGS's `line_search_fn` with a name it does not know (`\"wolfe\"`)",
            fix: "use `\"strong_wolfe\"`, or null for no line search (`LineSearch::StrongWolfe`, `LineSearch::None` when typed)",
            kind: ErrorKind::OptionType,
            fragment: "group 0: option `line_search_fn` must be null or \"strong_wolfe\", found a string (\"wolfe\")",
            expect: |e| matches!(e, Error::OptionType { option, .. } if option == "line_search_fn"),
            run: || trial(lbfgs().0, |o| o.set_option(0, "line_search_fn", "wolfe")),
        },
        Case {
            id: "set-option-no-such-group",
            cause: "`set_option` on a group index the optimizer does not have",
            fix: "use an index below `num_groups()`",
            kind: ErrorKind::NoSuchGroup,
            fragment: "group 5 does not exist: the optimizer has 2 group(s)",
            expect: |e| matches!(e, Error::NoSuchGroup { group: 5, groups: 2 }),
            run: || trial(adam().0, |o| o.set_option(5, "lr", 0.1)),
        },
    ]
}
