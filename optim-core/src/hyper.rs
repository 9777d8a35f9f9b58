//! Hyperparameters: an optimizer's options, their defaults, `required` options, per-group
//! overrides and validation. `#[derive(Optimizer)]` implements [`Hyperparameters`] from a
//! struct's fields; the functions here are the parts every implementation shares.

use std::fmt::Debug;

use crate::dict::{DictValue, Map};
use crate::error::{Error, Result, Scope};

/// An optimizer's options, as a struct of resolved values (`Self`) and a struct of
/// optional per-group overrides ([`Hyperparameters::Options`]).
///
/// This mirrors torch's `defaults` dict and `param_groups`: the optimizer's defaults are the
/// class defaults with the constructor's options laid over them; a group's options are the
/// defaults with the group's overrides laid over them (torch's `setdefault`). A *required*
/// option (torch's `required` sentinel) has no class default: the defaults may lack it, but
/// then every group must set it.
///
/// Implemented by `#[derive(Optimizer)]`; writing it by hand is possible but rarely useful.
pub trait Hyperparameters: Clone + Debug + Send + Sync + Sized + 'static {
    /// One `Option<T>` per option, with builder methods: the type of the constructor's
    /// options and of a group's overrides. `Default` is "no overrides".
    type Options: Clone + Debug + Default + PartialEq + Send + Sync + 'static;

    /// The optimizer's name in state dicts (`"adam"`), checked on load.
    const KIND: &'static str;
    /// The newest state-dict format version this optimizer writes and reads.
    const VERSION: u32;
    /// The option names, in the order state dicts list them.
    const OPTION_NAMES: &'static [&'static str];

    /// The class defaults with `given` laid over them. Options without a class default
    /// (required ones) stay absent unless `given` sets them.
    fn defaults(given: &Self::Options) -> Self::Options;

    /// Lays every option present in `top` over `base`.
    fn overlay(base: &mut Self::Options, top: &Self::Options);

    /// The resolved options, or the name of the first option that is absent.
    fn complete(options: &Self::Options) -> Result<Self, &'static str>;

    /// All options, as overrides (every field present).
    fn to_options(&self) -> Self::Options;

    /// Runs every check: each option's own, then those relating several options.
    fn validate(&self, scope: Scope) -> Result<()>;

    /// Runs the checks of single options on the options that are present (the defaults,
    /// which may lack required options).
    fn validate_present(options: &Self::Options, scope: Scope) -> Result<()>;

    /// The options as a state dict's string-keyed map (keys renamed where torch's differ).
    fn to_map(&self) -> Map<'static>;

    /// Reads overrides from a string-keyed map: every key must be an option of this
    /// optimizer and every value of the option's type.
    fn options_from_map(map: &Map<'_>, scope: Scope) -> Result<Self::Options>;
}

/// Resolves a group's options: its overrides over the optimizer's defaults, every required
/// option present, every check passed.
pub fn resolve<H: Hyperparameters>(group: &H::Options, defaults: &H::Options, index: usize) -> Result<H> {
    let mut merged = defaults.clone();
    H::overlay(&mut merged, group);
    let resolved = H::complete(&merged).map_err(|option| Error::MissingRequiredOption { group: index, option })?;
    resolved.validate(Scope::Group(index))?;
    Ok(resolved)
}

/// One option read by name (`"lr"`), as a state dict holds it.
pub fn get_option<H: Hyperparameters>(options: &H, name: &str, scope: Scope) -> Result<DictValue<'static>> {
    options
        .to_map()
        .get(name)
        .cloned()
        .ok_or_else(|| unknown_option::<H>(name, scope))
}

/// The error for an option name the optimizer does not have.
pub fn unknown_option<H: Hyperparameters>(name: &str, scope: Scope) -> Error {
    Error::UnknownOption {
        scope,
        kind: H::KIND,
        option: name.to_string(),
        known: H::OPTION_NAMES.join(", "),
    }
}

/// Checks that every key of `map` is an option of `H` (used by derived `options_from_map`).
pub fn check_option_keys<H: Hyperparameters>(map: &Map<'_>, scope: Scope) -> Result<()> {
    match map.keys().find(|k| !H::OPTION_NAMES.contains(k)) {
        Some(unknown) => Err(unknown_option::<H>(unknown, scope)),
        None => Ok(()),
    }
}

/// The error for an option value of the wrong type (used by derived `options_from_map`).
pub fn option_type_error(scope: Scope, option: &str, expected: String, found: &DictValue<'_>) -> Error {
    Error::OptionType {
        scope,
        option: option.to_string(),
        expected,
        found: found.describe(),
    }
}

/// A value as torch's messages print it (`str()` of the Python value): a string without
/// quotes, a number as written; anything else described. For `#[hyper(invalid(".. {value}"))]`.
pub fn value_text(value: &DictValue<'_>) -> String {
    match value {
        DictValue::Str(s) => s.clone(),
        DictValue::Int(i) => i.to_string(),
        DictValue::Float(x) => format!("{x:?}"),
        DictValue::Bool(true) => "True".into(),
        DictValue::Bool(false) => "False".into(),
        DictValue::Null => "None".into(),
        other => other.describe(),
    }
}

/// The numbers of an option, for the derive's `range` and `finite` checks: a number, or a
/// tuple or `Option` of numbers (`None` has none).
#[diagnostic::on_unimplemented(
    message = "`range` and `finite` apply to numbers, and to tuples and `Option`s of numbers, not to `{Self}`",
    label = "not a number",
    note = "write the condition as a `check(..)` instead"
)]
pub trait Numbers {
    /// The first number for which `ok` is false: its position in a tuple (`None` for a
    /// single number) and the number as written in messages.
    fn first_outside(&self, ok: &dyn Fn(f64) -> bool) -> Option<(Option<usize>, String)>;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Numbers for $t {
            fn first_outside(&self, ok: &dyn Fn(f64) -> bool) -> Option<(Option<usize>, String)> {
                (!ok(*self as f64)).then(|| (None, format!("{self:?}")))
            }
        }
    )*};
}
numbers!(f64, f32, u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl<T: Numbers> Numbers for Option<T> {
    fn first_outside(&self, ok: &dyn Fn(f64) -> bool) -> Option<(Option<usize>, String)> {
        self.as_ref()?.first_outside(ok)
    }
}

macro_rules! tuple_numbers {
    ($($t:ident $i:tt),*) => {
        impl<$($t: Numbers),*> Numbers for ($($t,)*) {
            fn first_outside(&self, ok: &dyn Fn(f64) -> bool) -> Option<(Option<usize>, String)> {
                $(
                    if let Some((_, value)) = self.$i.first_outside(ok) {
                        return Some((Some($i), value));
                    }
                )*
                None
            }
        }
    };
}
tuple_numbers!(T0 0, T1 1);
tuple_numbers!(T0 0, T1 1, T2 2);
tuple_numbers!(T0 0, T1 1, T2 2, T3 3);

#[cfg(test)]
mod tests {
    use super::Numbers;

    #[test]
    fn finds_the_first_number_outside() {
        let unit = |x: f64| (0.0..1.0).contains(&x);
        assert_eq!(0.5f64.first_outside(&unit), None);
        assert_eq!(1.5f64.first_outside(&unit), Some((None, "1.5".into())));
        assert_eq!((0.9, 1.0).first_outside(&unit), Some((Some(1), "1.0".into())));
        assert_eq!((None::<f64>, 2.0).first_outside(&unit), Some((Some(1), "2.0".into())));
        assert_eq!(3usize.first_outside(&|x| x >= 4.0), Some((None, "3".into())));
        assert_eq!(f64::NAN.first_outside(&|x| x.is_finite()), Some((None, "NaN".into())));
    }
}
