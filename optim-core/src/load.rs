//! `load_state_dict`, in two phases: *plan* builds every new option and state from the
//! dict without touching the optimizer, running every check; *commit* swaps them in and
//! cannot fail. So a load that fails leaves the optimizer exactly as it was.

use std::collections::{HashMap, HashSet};

use crate::dict::{DictGroup, Map, StateDict};
use crate::drive::Driver;
use crate::error::{Error, Result, Scope};
use crate::float::Float;
use crate::hyper;
use crate::optimizer::Optimizer;
use crate::param::Param;
use crate::rule::Rule;
use crate::state::{FieldError, ShapeCtx, State, StateError};

/// Everything a load replaces, built before anything is replaced.
struct LoadPlan<R: Rule, A: Float> {
    hyper: Vec<R>,
    states: Vec<Vec<Option<R::State<A>>>>,
}

/// Where each index of the state dict lands in the optimizer, and what did not match.
struct IndexMap {
    locate: HashMap<usize, (usize, usize)>,
    /// Indices whose names the optimizer does not have (reported in `problems`).
    unmatched: HashSet<usize>,
    /// Name mismatches, reported together.
    problems: Vec<String>,
    /// Whether any group was matched by name.
    by_name: bool,
}

impl<R: Rule, A: Float> Optimizer<R, A> {
    /// Replaces the options and state with those of `dict`, as torch's `load_state_dict`.
    ///
    /// Checks, all before anything changes: the optimizer kind and format version (when
    /// the dict records them), the number of groups and the size of each, option names,
    /// types and validity, that state refers only to parameters of the dict's groups, and
    /// that every state entry is known, present when required, of the right type, and of
    /// its parameter's shape. Tensors are cast to the parameters' dtype. When both the
    /// dict and the optimizer have parameter names, parameters are matched by name and
    /// every missing, unexpected or mis-shaped entry is reported in one error; otherwise by
    /// position. Saved options replace the current ones; options the dict lacks come from
    /// the optimizer's defaults. In a dict written by torch (no `kind`), the group entries
    /// that say how torch ran the step rather than what it computed (`foreach`, `fused`,
    /// `capturable`, `differentiable`, and a scheduler's `initial_lr`) are ignored; any
    /// other unknown name is an error.
    pub fn load_state_dict(&mut self, dict: &StateDict<'_>) -> Result<()> {
        let plan = self.plan_load(dict)?;
        for ((group, hyper), states) in self.groups.iter_mut().zip(plan.hyper).zip(plan.states) {
            group.hyper = hyper;
            group.states = states;
        }
        crate::hooks::run(self, |h| &mut h.load_post)
    }

    fn plan_load(&self, dict: &StateDict<'_>) -> Result<LoadPlan<R, A>> {
        if let Some(kind) = dict.kind.as_ref().filter(|k| *k != R::KIND) {
            return Err(Error::WrongOptimizer {
                expected: R::KIND,
                found: kind.clone(),
            });
        }
        if let Some(version) = dict.version.filter(|&v| v > R::VERSION) {
            return Err(Error::UnsupportedVersion {
                kind: R::KIND,
                found: version,
                supported: R::VERSION,
            });
        }
        if dict.param_groups.len() != self.groups.len() {
            return Err(Error::GroupCount {
                expected: self.groups.len(),
                found: dict.param_groups.len(),
            });
        }
        for (g, (saved, group)) in dict.param_groups.iter().zip(&self.groups).enumerate() {
            if saved.params.len() != group.params.len() {
                return Err(Error::GroupSize {
                    group: g,
                    expected: group.params.len(),
                    found: saved.params.len(),
                });
            }
        }
        let mut index = self.map_indices(&dict.param_groups)?;

        let hyper = dict
            .param_groups
            .iter()
            .enumerate()
            .map(|(g, saved)| {
                let saved = if dict.kind.is_none() {
                    without_torch_flags::<R>(&saved.options)
                } else {
                    saved.options.clone()
                };
                let overrides = R::options_from_map(&saved, Scope::Group(g))?;
                hyper::resolve::<R>(&overrides, &self.defaults, g)
            })
            .collect::<Result<Vec<R>>>()?;

        let mut states: Vec<Vec<Option<R::State<A>>>> = self
            .groups
            .iter()
            .map(|g| g.params.iter().map(|_| None).collect())
            .collect();
        let flat = <R::Driver as Driver<R>>::FLAT_STATE;
        let total: usize = self.all_params().map(Param::numel).sum();
        let flat_shape = [total];
        for (&i, entry) in &dict.state {
            let Some(&(g, p)) = index.locate.get(&i) else {
                if index.unmatched.contains(&i) {
                    continue;
                }
                return Err(Error::UnknownStateIndex { index: i });
            };
            if flat && (g, p) != (0, 0) {
                return Err(Error::MisplacedState {
                    kind: R::KIND,
                    index: i,
                });
            }
            let param = &self.groups[g].params[p];
            let ctx = if flat {
                ShapeCtx {
                    shape: &flat_shape,
                    numel: total,
                }
            } else {
                ShapeCtx::of(param.shape())
            };
            match R::State::<A>::unpack(entry, &ctx) {
                Ok(state) => states[g][p] = Some(state),
                Err(e) => {
                    let err = state_error::<R, A>(i, e);
                    match (&err, index.by_name, param.name()) {
                        (Error::StateShape { .. }, true, Some(name)) => {
                            index.problems.push(format!("parameter \"{name}\": {err}"))
                        }
                        _ => return Err(err),
                    }
                }
            }
        }
        if !index.problems.is_empty() {
            return Err(Error::ParamNames {
                problems: index.problems,
            });
        }
        Ok(LoadPlan { hyper, states })
    }

    /// Maps the dict's parameter indices to (group, position): by name where both sides
    /// name their parameters, else by position (torch's behaviour).
    fn map_indices(&self, saved_groups: &[DictGroup<'_>]) -> Result<IndexMap> {
        let mut map = IndexMap {
            locate: HashMap::new(),
            unmatched: HashSet::new(),
            problems: Vec::new(),
            by_name: false,
        };
        let mut seen = HashSet::new();
        for (g, (saved, group)) in saved_groups.iter().zip(&self.groups).enumerate() {
            for &i in &saved.params {
                if !seen.insert(i) {
                    return Err(Error::DuplicateStateIndex { index: i, group: g });
                }
            }
            let current: Option<Vec<&str>> = group.params.iter().map(Param::name).collect();
            match (&saved.param_names, current) {
                (Some(names), Some(current)) => {
                    if names.len() != saved.params.len() {
                        return Err(Error::Format {
                            message: format!(
                                "group {g} lists {} parameter(s) but {} name(s)",
                                saved.params.len(),
                                names.len()
                            ),
                        });
                    }
                    map.by_name = true;
                    let mut by_name: HashMap<&str, usize> = HashMap::new();
                    for (name, &i) in names.iter().zip(&saved.params) {
                        if by_name.insert(name, i).is_some() {
                            map.problems
                                .push(format!("group {g}: the state dict names two parameters \"{name}\""));
                        }
                    }
                    for (p, name) in current.iter().enumerate() {
                        match by_name.remove(name) {
                            Some(i) => {
                                map.locate.insert(i, (g, p));
                            }
                            None => map.problems.push(format!(
                                "group {g}: parameter \"{name}\" is missing from the state dict"
                            )),
                        }
                    }
                    let mut unexpected: Vec<(&str, usize)> = by_name.into_iter().collect();
                    unexpected.sort_by_key(|&(_, i)| i);
                    for (name, i) in unexpected {
                        map.unmatched.insert(i);
                        map.problems.push(format!(
                            "group {g}: the state dict has parameter \"{name}\", which the optimizer does not have"
                        ));
                    }
                }
                _ => {
                    for (p, &i) in saved.params.iter().enumerate() {
                        map.locate.insert(i, (g, p));
                    }
                }
            }
        }
        Ok(map)
    }
}

/// Group entries torch writes that are not options of the algorithm: how torch runs it
/// (`foreach`, `fused`, `capturable`, `differentiable`) and what a learning-rate scheduler
/// left behind (`initial_lr`).
pub(crate) const TORCH_GROUP_FLAGS: &[&str] = &["foreach", "fused", "capturable", "differentiable", "initial_lr"];

/// A torch-written group's options without [`TORCH_GROUP_FLAGS`] (unless the optimizer has
/// an option of that name), so that a dict exported from torch as it is loads here.
fn without_torch_flags<'a, R: Rule>(options: &Map<'a>) -> Map<'a> {
    options
        .iter()
        .filter(|(k, _)| !TORCH_GROUP_FLAGS.contains(k) || R::OPTION_NAMES.contains(k))
        .map(|(k, v)| (k, v.clone()))
        .collect()
}

/// The crate error for a state entry that could not be read.
fn state_error<R: Rule, A: Float>(index: usize, e: StateError) -> Error {
    let StateError { key, error } = e;
    match error {
        FieldError::Missing => Error::MissingStateKey { index, key },
        FieldError::Unknown => Error::UnknownStateKey {
            index,
            kind: R::KIND,
            key,
            known: <R::State<A> as State<A>>::keys().join(", "),
        },
        FieldError::Type { expected, found } => Error::StateType {
            index,
            key,
            expected,
            found,
        },
        FieldError::Shape { expected, found } => Error::StateShape {
            index,
            key,
            expected,
            found,
        },
        FieldError::Value(message) => Error::StateValue { index, key, message },
    }
}
