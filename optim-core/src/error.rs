//! The one error type of the crate.
//!
//! Every variant carries what its message names (group, parameter index or name, option,
//! value, expected and found shapes), so that a caller can act on it without parsing text.
//! Messages are lowercase, without trailing punctuation, and say what to do when that is
//! not obvious.

use std::fmt::{self, Display};
use std::ops::Deref;
use std::sync::Arc;

/// Where an option was found: in the optimizer's defaults, in one of its groups, or in a
/// learning-rate schedule's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The optimizer's defaults (the constructor's options over the class defaults).
    Defaults,
    /// Parameter group `n`, counted from 0 in the order groups were added.
    Group(usize),
    /// The options of a schedule, by its kind (`"steplr"`).
    Schedule(&'static str),
}

impl Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Defaults => f.write_str("defaults"),
            Scope::Group(g) => write!(f, "group {g}"),
            Scope::Schedule(kind) => write!(f, "schedule `{kind}`"),
        }
    }
}

/// Names a parameter in a message: `parameter 2 of group 0 ("fc.weight")`. Functions over
/// a sequence of parameters (clipping, averaging) name one by its position in the sequence,
/// as group 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParamRef {
    /// The group the parameter is in.
    pub group: usize,
    /// Its position within the group.
    pub index: usize,
    /// Its name, when it has one.
    pub name: Option<String>,
}

impl Display for ParamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter {} of group {}", self.index, self.group)?;
        if let Some(name) = &self.name {
            write!(f, " (\"{name}\")")?;
        }
        Ok(())
    }
}

/// Formats a shape as `[4, 3]` (and a 0-d shape as `[]`).
pub(crate) struct ShapeDisplay<'a>(pub &'a [usize]);

impl Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn shape(s: &[usize]) -> ShapeDisplay<'_> {
    ShapeDisplay(s)
}

fn list(items: &[String]) -> String {
    items.join("; ")
}

/// Everything that can go wrong in `optim-core`. No user input makes the crate panic: it
/// returns one of these instead, and an operation that fails changes nothing.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- building groups -------------------------------------------------------------
    /// A group with no parameters (torch: "optimizer got an empty parameter list").
    #[error("group {group} has an empty parameter list: give every group at least one parameter")]
    EmptyParamList {
        /// The group's index.
        group: usize,
    },

    /// A required option (torch's `required` sentinel) is set neither by the group nor by
    /// the defaults.
    #[error(
        "group {group} does not set the required option `{option}` and the optimizer has no default for it: set it in the group or in the optimizer's options"
    )]
    MissingRequiredOption {
        /// The group's index.
        group: usize,
        /// The option's name.
        option: &'static str,
    },

    /// The same parameter (the same handle, not an equal value) twice in one group.
    #[error("{param} is the same parameter as parameter {first} of that group: a parameter may appear only once")]
    DuplicateParam {
        /// The second occurrence.
        param: ParamRef,
        /// Position of the first occurrence in the same group.
        first: usize,
    },

    /// A parameter that already belongs to another group of this optimizer.
    #[error(
        "{param} is already in group {other_group} (as its parameter {other_index}): a parameter may belong to one group only"
    )]
    ParamInOtherGroup {
        /// The parameter being added.
        param: ParamRef,
        /// The group that already holds it.
        other_group: usize,
        /// Its position there.
        other_index: usize,
    },

    /// A non-trainable parameter (a derived value, torch's non-leaf tensor).
    #[error(
        "{param} is not trainable (a derived value, torch's non-leaf tensor): only trainable parameters can be optimized"
    )]
    NonTrainableParam {
        /// The parameter.
        param: ParamRef,
    },

    /// A parameter the optimizer cannot take (Muon: a parameter that is not a matrix).
    #[error("{param} cannot be optimized by {kind}: {message}")]
    InvalidParam {
        /// The optimizer's kind.
        kind: &'static str,
        /// The parameter.
        param: ParamRef,
        /// The optimizer's own message.
        message: String,
    },

    /// Some parameters of the optimizer have names and others do not.
    #[error(
        "{param} {problem}: name every parameter of an optimizer or none, so that checkpoints can be matched by name"
    )]
    MixedParamNames {
        /// The first parameter that breaks the rule.
        param: ParamRef,
        /// `"has no name but other parameters do"` or the converse.
        problem: &'static str,
    },

    /// Two parameters of one optimizer share a name, which would make loading by name ambiguous.
    #[error(
        "{param} has the name \"{name}\", which another parameter of this optimizer already has: names must be unique"
    )]
    DuplicateParamName {
        /// The second parameter with the name.
        param: ParamRef,
        /// The shared name.
        name: String,
    },

    /// An option value that fails the optimizer's own check (torch: "Invalid learning rate: -0.1").
    #[error("{scope}: {message}")]
    InvalidOption {
        /// Where the option was set.
        scope: Scope,
        /// The option's name.
        option: &'static str,
        /// The check's message, naming the value.
        message: String,
    },

    /// Options that fail a check relating several of them (SGD: nesterov needs momentum > 0
    /// and dampening = 0).
    #[error("{scope}: {message}")]
    InvalidOptions {
        /// Where the options were set.
        scope: Scope,
        /// The check's message.
        message: String,
    },

    /// More parameter groups than the optimizer supports (LBFGS: one).
    #[error(
        "{kind} supports only {max} parameter group(s) and cannot take group {group}: put all parameters in one group"
    )]
    TooManyGroups {
        /// The optimizer's kind.
        kind: &'static str,
        /// The most groups it supports.
        max: usize,
        /// The index the rejected group would have had.
        group: usize,
    },

    /// An option name the optimizer does not have (torch silently keeps a typo such as `lrr`).
    #[error("{scope}: {kind} has no option `{option}` (its options are: {known})")]
    UnknownOption {
        /// Where the name was found.
        scope: Scope,
        /// The optimizer's kind.
        kind: &'static str,
        /// The unknown name.
        option: String,
        /// The options the optimizer has, comma-separated.
        known: String,
    },

    /// An option value of the wrong type.
    #[error("{scope}: option `{option}` must be {expected}, found {found}")]
    OptionType {
        /// Where the value was found.
        scope: Scope,
        /// The option's name.
        option: String,
        /// What the option accepts.
        expected: String,
        /// What was found instead.
        found: String,
    },

    /// An optimizer name that no constructor knows.
    #[error("unknown optimizer `{kind}` (known: {known})")]
    UnknownOptimizer {
        /// The name asked for.
        kind: String,
        /// The names known, comma-separated.
        known: String,
    },

    /// A group index that does not exist.
    #[error("group {group} does not exist: the optimizer has {groups} group(s)")]
    NoSuchGroup {
        /// The requested index.
        group: usize,
        /// How many groups there are.
        groups: usize,
    },

    // ----- parameters and steps ----------------------------------------------------------
    /// A gradient or value whose shape differs from the parameter's.
    #[error("{what} of shape {} does not match the parameter{}'s shape {}", shape(found), name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default(), shape(expected))]
    ShapeMismatch {
        /// `"gradient"` or `"value"`.
        what: &'static str,
        /// The parameter's name, if any.
        name: Option<String>,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The rejected array's shape.
        found: Vec<usize>,
    },

    /// A gradient holding NaN or an infinity, found by `check_finite`.
    #[error(
        "{param} has a non-finite gradient ({value} at flat index {position}): skip this step or lower the learning rate"
    )]
    NonFiniteGrad {
        /// The parameter.
        param: ParamRef,
        /// Row-major position of the first non-finite element.
        position: usize,
        /// That element.
        value: f64,
    },

    /// The gradients' total norm is NaN or infinite, with `error_if_nonfinite` (torch's
    /// `clip_grad_norm_`): nothing was clipped.
    #[error(
        "the total norm of order {norm_type} of the gradients is non-finite ({total:?}), so they cannot be clipped: {param}'s gradient has norm {grad_norm:?} (to scale by the non-finite norm anyway, pass error_if_nonfinite = false)"
    )]
    NonFiniteNorm {
        /// The norm's order (`inf` for the largest absolute value).
        norm_type: f64,
        /// The total norm.
        total: f64,
        /// The first parameter whose gradient's own norm is not finite (position in the
        /// sequence given, as group 0).
        param: ParamRef,
        /// That gradient's norm.
        grad_norm: f64,
    },

    /// An argument of a function (not an option of an optimizer) out of its range.
    #[error("{function}: `{argument}` {message}")]
    InvalidArgument {
        /// The function called.
        function: &'static str,
        /// The argument.
        argument: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// `step()` on an optimizer that must re-evaluate the loss (LBFGS).
    #[error("{kind} re-evaluates the loss several times per step: call `step_with(closure)` instead of `step()`")]
    ClosureRequired {
        /// The optimizer's kind.
        kind: &'static str,
    },

    /// The closure returned a non-finite loss or wrote a non-finite gradient.
    #[error(
        "{kind}: evaluation {evaluation} of the closure gave a non-finite {what} ({value}); the step stopped and the parameters were restored to the last finite point"
    )]
    NonFiniteClosure {
        /// The optimizer's kind.
        kind: &'static str,
        /// The evaluation count (`func_evals`) at which it happened.
        evaluation: u64,
        /// `"loss"` or `"gradient"`.
        what: &'static str,
        /// The offending value.
        value: f64,
    },

    // ----- state dicts ---------------------------------------------------------------------
    /// A state dict saved by another kind of optimizer (Adam's state into SGD).
    #[error(
        "the state dict comes from `{found}` and cannot be loaded into `{expected}`: load it into the optimizer that saved it"
    )]
    WrongOptimizer {
        /// The kind of the optimizer loading.
        expected: &'static str,
        /// The kind recorded in the state dict.
        found: String,
    },

    /// A state dict written by a newer format than this build reads.
    #[error(
        "the state dict has format version {found} but this `{kind}` reads versions up to {supported}: upgrade optim"
    )]
    UnsupportedVersion {
        /// The optimizer's kind.
        kind: &'static str,
        /// The version in the state dict.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// The state dict has a different number of groups (torch: "loaded state dict has a
    /// different number of parameter groups").
    #[error("loaded state dict has {found} parameter group(s) but the optimizer has {expected}")]
    GroupCount {
        /// The optimizer's group count.
        expected: usize,
        /// The state dict's.
        found: usize,
    },

    /// A group of the state dict has a different number of parameters (torch: "loaded state
    /// dict contains a parameter group that doesn't match the size of optimizer's group").
    #[error(
        "group {group} of the loaded state dict has {found} parameter(s) but the optimizer's group {group} has {expected}"
    )]
    GroupSize {
        /// The group's index.
        group: usize,
        /// The optimizer's parameter count in that group.
        expected: usize,
        /// The state dict's.
        found: usize,
    },

    /// A parameter index listed twice in the state dict's groups.
    #[error("parameter index {index} is listed twice in the state dict's groups (group {group})")]
    DuplicateStateIndex {
        /// The repeated index.
        index: usize,
        /// The group of its second listing.
        group: usize,
    },

    /// State for a parameter index that none of the state dict's groups lists.
    #[error("the state dict has state for parameter index {index}, which none of its groups lists")]
    UnknownStateIndex {
        /// The index.
        index: usize,
    },

    /// State under an index where this optimizer keeps none (LBFGS keeps all state under
    /// parameter 0, as torch does).
    #[error(
        "{kind} keeps all of its state under parameter 0, but the state dict has state for parameter index {index}"
    )]
    MisplacedState {
        /// The optimizer's kind.
        kind: &'static str,
        /// The index.
        index: usize,
    },

    /// A state entry with a key the optimizer does not know.
    #[error("state of parameter {index}: {kind} has no state entry `{key}` (its entries are: {known})")]
    UnknownStateKey {
        /// The parameter's index in the state dict.
        index: usize,
        /// The optimizer's kind.
        kind: &'static str,
        /// The unknown key.
        key: String,
        /// The keys it has, comma-separated.
        known: String,
    },

    /// A state entry that must be present is missing.
    #[error("state of parameter {index}: the entry `{key}` is missing")]
    MissingStateKey {
        /// The parameter's index in the state dict.
        index: usize,
        /// The missing key.
        key: String,
    },

    /// A state tensor whose shape differs from its parameter's.
    #[error(
        "state of parameter {index}: `{key}` has shape {} but the parameter needs {}",
        shape(found),
        shape(expected)
    )]
    StateShape {
        /// The parameter's index in the state dict.
        index: usize,
        /// The entry.
        key: String,
        /// The shape the parameter needs.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },

    /// A state entry of the wrong type (a string where a tensor belongs, ...).
    #[error("state of parameter {index}: `{key}` must be {expected}, found {found}")]
    StateType {
        /// The parameter's index in the state dict.
        index: usize,
        /// The entry.
        key: String,
        /// What the entry must be.
        expected: String,
        /// What was found.
        found: String,
    },

    /// A state entry of the right type but an impossible value (a negative count).
    #[error("state of parameter {index}: `{key}` {message}")]
    StateValue {
        /// The parameter's index in the state dict.
        index: usize,
        /// The entry.
        key: String,
        /// What is wrong with it.
        message: String,
    },

    /// Loading by parameter names found names missing, unexpected or with mis-shaped state;
    /// every problem is listed.
    #[error(
        "the state dict does not match the optimizer's parameters by name: {}",
        list(problems)
    )]
    ParamNames {
        /// One line per problem.
        problems: Vec<String>,
    },

    /// A state dict that is structurally wrong (not the layout of a state dict).
    #[error("malformed state dict: {message}")]
    Format {
        /// What is wrong.
        message: String,
    },

    /// Text that is not valid JSON, or JSON that is not a state dict.
    #[error("cannot read the state dict as JSON: {source}")]
    Json {
        /// serde_json's error, with line and column.
        #[source]
        source: Shared<serde_json::Error>,
    },

    /// Reading or writing a checkpoint file failed. `source.kind()` tells "no checkpoint
    /// yet" ([`std::io::ErrorKind::NotFound`]) from "permission denied".
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: String,
        /// The operating system's error.
        #[source]
        source: Shared<std::io::Error>,
    },

    /// A checkpoint file that cannot be read or written: not a valid file of its format,
    /// or one this library refuses (a `.pt` file calling a global outside the allowlist).
    /// `source` is the format's own typed error (`optim_checkpoint::Error`: downcast it
    /// with `source.downcast_ref()` to match on it).
    #[error("checkpoint {path}: {source}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong with it.
        #[source]
        source: Shared<AnyError>,
    },

    // ----- schedules -------------------------------------------------------------------------
    /// A schedule option without a default that the schedule's options do not set
    /// (`StepLR`'s `step_size`).
    #[error("schedule `{kind}` needs the option `{option}`, which has no default: set it in the schedule's options")]
    MissingScheduleOption {
        /// The schedule's kind.
        kind: &'static str,
        /// The option's name.
        option: &'static str,
    },

    /// A parameter group the schedule cannot set: added to the optimizer after the schedule
    /// was built, by a schedule that keeps something per group (its base value, a function,
    /// a bound) and so has nothing for it. torch fails here too (a `zip` length mismatch or
    /// a `KeyError`).
    #[error(
        "schedule `{kind}` was built for {groups} parameter group(s) and has nothing for group {group}, added after it: build the schedule after adding every group"
    )]
    UnscheduledGroup {
        /// The schedule's kind.
        kind: &'static str,
        /// The first group it cannot set.
        group: usize,
        /// The groups it was built for.
        groups: usize,
    },

    /// A step past the end of a schedule that has one (torch's OneCycleLR: "Tried to step
    /// {step} times. The specified number of total steps is {total}").
    #[error("schedule `{kind}`: tried to step {step} times. The specified number of total steps is {total}")]
    ScheduleFinished {
        /// The schedule's kind.
        kind: &'static str,
        /// The step that was asked for (torch's `last_epoch` after the increment).
        step: i64,
        /// The schedule's total number of steps.
        total: u64,
    },

    /// An explicit epoch a schedule cannot go to (torch's CosineAnnealingWarmRestarts:
    /// "Expected non-negative epoch, but got {epoch}").
    #[error("schedule `{kind}`: expected non-negative epoch, but got {epoch}")]
    InvalidEpoch {
        /// The schedule's kind.
        kind: &'static str,
        /// The epoch given.
        epoch: f64,
    },

    /// A schedule's state dict loaded into a schedule of another kind.
    #[error(
        "the state dict comes from the schedule `{found}` and cannot be loaded into `{expected}`: load it into the schedule that saved it"
    )]
    WrongSchedule {
        /// The kind of the schedule loading.
        expected: &'static str,
        /// The kind recorded in the state dict.
        found: String,
    },

    /// A schedule's state dict with an entry missing, unknown, of the wrong type or
    /// inconsistent with the rest (checked before anything is loaded).
    #[error("the state dict of schedule `{kind}`: `{entry}` {problem}")]
    ScheduleStateDict {
        /// The schedule's kind.
        kind: &'static str,
        /// The entry at fault.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A step or `zero_grad` needs a parameter whose value or gradient this thread holds a
    /// guard of (from [`Param::value`](crate::Param::value), `value_mut`, `grad` or
    /// `grad_mut`): waiting for it would wait forever.
    #[error(
        "{operation} needs {param}, but this thread holds its {guard} guard: drop the guard before calling {operation}"
    )]
    GuardHeld {
        /// What was called: `"step"`, `"step_with"`, `"zero_grad"`.
        operation: &'static str,
        /// The parameter.
        param: ParamRef,
        /// The guard this thread holds.
        guard: GuardKind,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which guard of a parameter a thread holds (see [`Error::GuardHeld`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuardKind {
    /// [`Param::value`](crate::Param::value).
    Value,
    /// [`Param::value_mut`](crate::Param::value_mut).
    ValueMut,
    /// [`Param::grad`](crate::Param::grad).
    Grad,
    /// [`Param::grad_mut`](crate::Param::grad_mut).
    GradMut,
}

impl Display for GuardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuardKind::Value => "`value()`",
            GuardKind::ValueMut => "`value_mut()`",
            GuardKind::Grad => "`grad()`",
            GuardKind::GradMut => "`grad_mut()`",
        })
    }
}

/// An error from below (I/O, JSON) kept whole inside [`Error`]: shared, so that `Error`
/// stays `Clone`, and dereferencing to the original (`source.kind()` of an I/O error).
/// Two are equal when they are the same error or print the same message.
#[derive(Debug)]
pub struct Shared<E: ?Sized>(Arc<E>);

impl<E> Shared<E> {
    /// Wraps an error.
    pub fn new(error: E) -> Self {
        Shared(Arc::new(error))
    }
}

/// An error of another crate's, for [`Error::Checkpoint`].
pub type AnyError = dyn std::error::Error + Send + Sync + 'static;

impl Shared<AnyError> {
    /// Wraps an error of any type (downcast it back with `source.downcast_ref::<T>()`).
    pub fn any(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Shared(Arc::new(error))
    }
}

impl<E> From<E> for Shared<E> {
    fn from(error: E) -> Self {
        Shared::new(error)
    }
}

impl<E: ?Sized> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<E: ?Sized> Deref for Shared<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.0
    }
}

impl<E: Display + ?Sized> PartialEq for Shared<E> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl<E: Display + ?Sized> Display for Shared<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::error::Error + ?Sized> std::error::Error for Shared<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Defines [`ErrorKind`] with one variant per [`Error`] variant, and [`Error::kind`]; the
/// match in `kind` is exhaustive, so a new `Error` variant that is not listed here does not
/// compile.
macro_rules! error_kinds {
    ($($name:ident),* $(,)?) => {
        /// Which [`Error`] variant an error is, without its fields: for matching on the kind
        /// of failure, counting, and catalogues.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $(
                #[doc = concat!("[`Error::", stringify!($name), "`].")]
                $name,
            )*
        }

        impl ErrorKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$name),*];

            /// The variant's name (`"MissingRequiredOption"`).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$name => stringify!($name),)*
                }
            }
        }

        impl Error {
            /// Which variant this is.
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $(Error::$name { .. } => ErrorKind::$name,)*
                }
            }
        }
    };
}

error_kinds!(
    EmptyParamList,
    MissingRequiredOption,
    DuplicateParam,
    ParamInOtherGroup,
    NonTrainableParam,
    InvalidParam,
    MixedParamNames,
    DuplicateParamName,
    InvalidOption,
    InvalidOptions,
    TooManyGroups,
    UnknownOption,
    OptionType,
    UnknownOptimizer,
    NoSuchGroup,
    ShapeMismatch,
    NonFiniteGrad,
    NonFiniteNorm,
    InvalidArgument,
    ClosureRequired,
    NonFiniteClosure,
    GuardHeld,
    MissingScheduleOption,
    UnscheduledGroup,
    ScheduleFinished,
    InvalidEpoch,
    WrongSchedule,
    ScheduleStateDict,
    WrongOptimizer,
    UnsupportedVersion,
    GroupCount,
    GroupSize,
    DuplicateStateIndex,
    UnknownStateIndex,
    MisplacedState,
    UnknownStateKey,
    MissingStateKey,
    StateShape,
    StateType,
    StateValue,
    ParamNames,
    Format,
    Json,
    Io,
    Checkpoint,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_after_their_variants() {
        let err = Error::NoSuchGroup { group: 3, groups: 1 };
        assert_eq!(err.kind(), ErrorKind::NoSuchGroup);
        assert_eq!(err.kind().name(), "NoSuchGroup");
        assert!(format!("{err:?}").starts_with(err.kind().name()));
        assert!(ErrorKind::ALL.contains(&ErrorKind::Io));
    }

    #[test]
    fn io_errors_keep_their_source() {
        let err = Error::Io {
            action: "read",
            path: "ckpt.json".into(),
            source: Shared::new(std::io::Error::from(std::io::ErrorKind::NotFound)),
        };
        let Error::Io { source, .. } = &err else { unreachable!() };
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(err.clone(), err);
    }
}
