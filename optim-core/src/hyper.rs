//! Hyperparameters: an optimizer's options, their defaults, `required` options, per-group
//! overrides and validation. `#[derive(Optimizer)]` implements [`Hyperparameters`] from a
//! struct's fields; the functions here are the parts every implementation shares.

use std::fmt::Debug;

use crate::error::{Error, Result, Scope};
use crate::option_value::OptionValue;
use crate::value::{Map, Value};

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
    fn to_map(&self) -> Map;

    /// Reads overrides from a string-keyed map: every key must be an option of this
    /// optimizer and every value of the option's type.
    fn options_from_map(map: &Map, scope: Scope) -> Result<Self::Options>;
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

/// Group `group`'s `options` with `overrides` laid over them, checked; `options` itself is
/// not touched.
pub fn with_overrides<H: Hyperparameters>(options: &H, overrides: &H::Options, group: usize) -> Result<H> {
    let mut merged = options.to_options();
    H::overlay(&mut merged, overrides);
    // `to_options` fills every field, so nothing can be missing; the error path only
    // guards a hand-written `Hyperparameters` that breaks that contract.
    let updated = H::complete(&merged).map_err(|option| Error::MissingRequiredOption { group, option })?;
    updated.validate(Scope::Group(group))?;
    Ok(updated)
}

/// One option read by name (`"lr"`), as a state dict holds it.
pub fn get_option<H: Hyperparameters>(options: &H, name: &str, scope: Scope) -> Result<Value> {
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
pub fn check_option_keys<H: Hyperparameters>(map: &Map, scope: Scope) -> Result<()> {
    match map.keys().find(|k| !H::OPTION_NAMES.contains(k)) {
        Some(unknown) => Err(unknown_option::<H>(unknown, scope)),
        None => Ok(()),
    }
}

/// Reads one option from a string-keyed map: `None` when absent, an error naming the
/// option when present with the wrong type.
pub fn read_option<T: OptionValue>(map: &Map, key: &str, scope: Scope) -> Result<Option<T>> {
    match map.get(key) {
        None => Ok(None),
        Some(value) => T::from_value(value)
            .map(Some)
            .ok_or_else(|| option_type_error(scope, key, T::expected(), value)),
    }
}

/// The error for an option value of the wrong type (used by derived `options_from_map`).
pub fn option_type_error(scope: Scope, option: &str, expected: String, found: &Value) -> Error {
    Error::OptionType {
        scope,
        option: option.to_string(),
        expected,
        found: found.describe(),
    }
}
