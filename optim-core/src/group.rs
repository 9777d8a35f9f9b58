//! Parameter groups: a list of parameters and the options that apply to them.

use crate::float::Float;
use crate::param::Param;
use crate::rule::Rule;

/// A group to add to an optimizer: parameters plus the options the group sets (torch's
/// `{"params": [...], "lr": 1e-3}`). Options the group does not set come from the
/// optimizer's defaults.
///
/// `O` is the optimizer's options type (`AdamOptions`, `SgdOptions`, ...): every option
/// optional.
#[derive(Clone, Debug)]
pub struct ParamGroup<O, A: Float> {
    /// The group's parameters.
    pub params: Vec<Param<A>>,
    /// The options it sets.
    pub options: O,
}

impl<O: Default, A: Float> ParamGroup<O, A> {
    /// A group of these parameters that sets no option.
    pub fn new(params: impl IntoIterator<Item = Param<A>>) -> Self {
        ParamGroup {
            params: params.into_iter().collect(),
            options: O::default(),
        }
    }

    /// Sets the group's options.
    pub fn options(mut self, options: O) -> Self {
        self.options = options;
        self
    }
}

/// A group inside an optimizer: its hyperparameters (the resolved options), parameters, and
/// each parameter's state (kept beside its parameter, so that a step finds it without a
/// look-up). Seen only by the drivers.
pub struct Group<R: Rule, A: Float> {
    pub(crate) hyper: R,
    pub(crate) params: Vec<Param<A>>,
    pub(crate) states: Vec<Option<R::State<A>>>,
    /// The group's total element count (parameters' shapes never change).
    pub(crate) numel: usize,
}

impl<R: Rule, A: Float> Group<R, A> {
    pub(crate) fn new(hyper: R, params: Vec<Param<A>>) -> Self {
        let states = params.iter().map(|_| None).collect();
        let numel = params.iter().map(Param::numel).sum();
        Group {
            hyper,
            params,
            states,
            numel,
        }
    }

    /// The group's parameters.
    pub fn params(&self) -> &[Param<A>] {
        &self.params
    }
}
