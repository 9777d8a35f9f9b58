//! The generic optimizer: groups, steps, options access. Written once for every rule.

use std::collections::{HashMap, HashSet};

use crate::dict::{DictValue, Map, StateDict};
use crate::drive::{Driver, Run, StepConfig};
use crate::error::{Error, ParamRef, Result, Scope};
use crate::float::Float;
use crate::group::{Group, ParamGroup};
use crate::held;
use crate::hooks::{self, HookHandle, Hooks, StateDictHook, StepHook};
use crate::hyper;
use crate::isa::Isa;
use crate::param::{Param, ParamId};
use crate::rule::Rule;

/// An optimizer: the rule `R` applied to parameters of element type `A` (`f32` or `f64`),
/// organised in groups with per-group options. This is torch's `torch.optim.Optimizer`:
///
/// | torch | here |
/// |---|---|
/// | `Adam(params, lr=1e-3)` | `Adam::new(params, AdamOptions::new().lr(1e-3))` |
/// | `Adam([{"params": a}, {"params": b, "lr": 1e-2}])` | `Adam::with_groups([ParamGroup::new(a), ParamGroup::new(b).options(AdamOptions::new().lr(1e-2))], AdamOptions::new())` |
/// | `opt.param_groups[0]["lr"]` | `opt.hyperparameters(0)?.lr` or `opt.option(0, "lr")?` |
/// | `opt.param_groups[0]["lr"] = 0.1` | `opt.set_options(0, &AdamOptions::new().lr(0.1))` or `opt.set_option(0, "lr", 0.1)` |
/// | `opt.zero_grad()` / `zero_grad(set_to_none=False)` | `opt.zero_grad()?` / `opt.zero_grad_in_place()?` |
/// | `opt.step()` / `opt.step(closure)` | `opt.step()` / `opt.step_with(closure)` |
/// | `opt.add_param_group({...})` | `opt.add_param_group(ParamGroup::new(...))` |
/// | `opt.state_dict()` / `load_state_dict(sd)` | `opt.state_dict()` / `opt.load_state_dict(&sd)` |
///
/// Words: a group's *options* are what it sets (the options type, `AdamOptions`, has every
/// option optional: the constructor's options and a group's are of this type); its
/// *hyperparameters* are the resolved values a step reads (the rule's own struct, `Adam`,
/// every option present: the group's options laid over the optimizer's defaults).
///
/// Every operation that can fail returns an [`Error`] naming the group, parameter or
/// option at fault, and changes nothing when it fails.
pub struct Optimizer<R: Rule, A: Float> {
    pub(crate) defaults: R::Options,
    pub(crate) groups: Vec<Group<R, A>>,
    pub(crate) config: StepConfig,
    pub(crate) hooks: Hooks<R, A>,
}

impl<R: Rule, A: Float> std::fmt::Debug for Optimizer<R, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Optimizer");
        d.field("kind", &R::KIND).field("defaults", &self.defaults);
        for (i, g) in self.groups.iter().enumerate() {
            d.field(&format!("group {i}"), &(&g.hyper, g.params.len()));
        }
        d.field("hooks", &self.hooks.count());
        d.finish()
    }
}

impl<R: Rule, A: Float> Optimizer<R, A> {
    /// An optimizer over one group of `params`, with `options` over the rule's class
    /// defaults (torch: `SGD(params, lr=0.1)`).
    pub fn new(params: impl IntoIterator<Item = Param<A>>, options: R::Options) -> Result<Self> {
        Self::with_groups([ParamGroup::new(params)], options)
    }

    /// An optimizer over several groups, each with its own overrides of `options`
    /// (torch: `SGD([{"params": ...}, {"params": ..., "lr": 1e-3}], lr=1e-2)`).
    pub fn with_groups(
        groups: impl IntoIterator<Item = ParamGroup<R::Options, A>>,
        options: R::Options,
    ) -> Result<Self> {
        let defaults = R::defaults(&options);
        R::validate_present(&defaults, Scope::Defaults)?;
        let mut optimizer = Optimizer {
            defaults,
            groups: Vec::new(),
            config: StepConfig::default(),
            hooks: Hooks::default(),
        };
        for group in groups {
            optimizer.add_param_group(group)?;
        }
        if optimizer.groups.is_empty() {
            return Err(Error::EmptyParamList { group: 0 });
        }
        if R::EAGER_STATE {
            // torch's Adagrad creates the state of the constructor's parameters in its
            // constructor; parameters added later get theirs at their first gradient.
            let defaults = &optimizer.defaults;
            for group in &mut optimizer.groups {
                for (param, slot) in group.params.iter().zip(&mut group.states) {
                    let ctx = crate::state::ShapeCtx::of(param.shape());
                    *slot = Some(<R::Driver as Driver<R>>::init_state(&group.hyper, defaults, &ctx));
                }
            }
        }
        Ok(optimizer)
    }

    /// An optimizer built from string-keyed options, as a state dict or a config file holds
    /// them: `defaults` over the class defaults, and each group's overrides over those.
    /// Unknown option names and values of the wrong type are errors.
    pub fn from_maps(
        groups: impl IntoIterator<Item = (Vec<Param<A>>, Map<'static>)>,
        defaults: &Map<'_>,
    ) -> Result<Self> {
        let options = R::options_from_map(defaults, Scope::Defaults)?;
        let groups = groups
            .into_iter()
            .enumerate()
            .map(|(g, (params, overrides))| {
                Ok(ParamGroup {
                    params,
                    options: R::options_from_map(&overrides, Scope::Group(g))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::with_groups(groups, options)
    }

    /// Adds a group, at any time (also after steps), as torch's `add_param_group`: options
    /// it does not set come from the optimizer's defaults. Rejects an empty group, a
    /// missing required option, a parameter twice in the group or already in another
    /// group, a non-trainable parameter, names on some parameters but not others, and
    /// option values that fail the optimizer's checks. Nothing changes on error.
    pub fn add_param_group(&mut self, group: ParamGroup<R::Options, A>) -> Result<()> {
        let index = self.groups.len();
        if let Some(max) = <R::Driver as Driver<R>>::MAX_GROUPS.filter(|&max| index >= max) {
            return Err(Error::TooManyGroups {
                kind: R::KIND,
                max,
                group: index,
            });
        }
        self.check_new_params(index, &group.params)?;
        let hyper = hyper::resolve::<R>(&group.options, &self.defaults, index)?;
        self.groups.push(Group::new(hyper, group.params));
        Ok(())
    }

    fn check_new_params(&self, group: usize, params: &[Param<A>]) -> Result<()> {
        if params.is_empty() {
            return Err(Error::EmptyParamList { group });
        }
        let at = |index: usize| ParamRef {
            group,
            index,
            name: params[index].name().map(str::to_string),
        };
        let mut existing: HashMap<ParamId, (usize, usize)> = HashMap::new();
        let mut names: HashSet<&str> = HashSet::new();
        for (g, grp) in self.groups.iter().enumerate() {
            for (i, p) in grp.params.iter().enumerate() {
                existing.insert(p.id(), (g, i));
                names.extend(p.name());
            }
        }
        // Names are all-or-none across the optimizer; the first parameter ever added sets
        // which.
        let named = match self.groups.first().and_then(|g| g.params.first()) {
            Some(p) => p.name().is_some(),
            None => params[0].name().is_some(),
        };
        let mut seen: HashMap<ParamId, usize> = HashMap::new();
        for (i, p) in params.iter().enumerate() {
            if !p.is_trainable() {
                return Err(Error::NonTrainableParam { param: at(i) });
            }
            if let Err(message) = R::check_param(p.shape()) {
                return Err(Error::InvalidParam {
                    kind: R::KIND,
                    param: at(i),
                    message,
                });
            }
            if let Some(&first) = seen.get(&p.id()) {
                return Err(Error::DuplicateParam { param: at(i), first });
            }
            seen.insert(p.id(), i);
            if let Some(&(other_group, other_index)) = existing.get(&p.id()) {
                return Err(Error::ParamInOtherGroup {
                    param: at(i),
                    other_group,
                    other_index,
                });
            }
            match (p.name(), named) {
                (None, true) => {
                    return Err(Error::MixedParamNames {
                        param: at(i),
                        problem: "has no name but other parameters do",
                    });
                }
                (Some(_), false) => {
                    return Err(Error::MixedParamNames {
                        param: at(i),
                        problem: "has a name but other parameters do not",
                    });
                }
                (Some(name), true) => {
                    if !names.insert(name) {
                        return Err(Error::DuplicateParamName {
                            param: at(i),
                            name: name.to_string(),
                        });
                    }
                }
                (None, false) => {}
            }
        }
        Ok(())
    }

    /// The optimizer's kind (`"adam"`).
    pub fn kind(&self) -> &'static str {
        R::KIND
    }

    /// The optimizer's defaults: the class defaults with the constructor's options over
    /// them. Groups added later take what they do not set from here.
    pub fn defaults(&self) -> &R::Options {
        &self.defaults
    }

    /// The number of groups.
    pub fn num_groups(&self) -> usize {
        self.groups.len()
    }

    fn group(&self, group: usize) -> Result<&Group<R, A>> {
        self.groups.get(group).ok_or(Error::NoSuchGroup {
            group,
            groups: self.groups.len(),
        })
    }

    /// Group `group`'s hyperparameters: every option resolved, typed (`opt.hyperparameters(0)?.lr`).
    pub fn hyperparameters(&self, group: usize) -> Result<&R> {
        self.group(group).map(|g| &g.hyper)
    }

    /// Group `group`'s parameters.
    pub fn params(&self, group: usize) -> Result<&[Param<A>]> {
        self.group(group).map(|g| g.params.as_slice())
    }

    /// Every parameter, group after group (the order state dicts number them in).
    pub fn all_params(&self) -> impl Iterator<Item = &Param<A>> {
        self.groups.iter().flat_map(|g| g.params.iter())
    }

    /// Sets the options present in `options` in group `group`, keeping the others (by hand,
    /// as a schedule does: `opt.set_options(0, &AdamOptions::new().lr(0.01))`). Checked;
    /// nothing changes on error.
    pub fn set_options(&mut self, group: usize, options: &R::Options) -> Result<()> {
        let current = self.hyperparameters(group)?.to_options();
        // `to_options` has every option, so the merge resolves against no defaults at all.
        let updated = hyper::resolve::<R>(options, &current, group)?;
        self.groups[group].hyper = updated;
        Ok(())
    }

    /// Changes group `group`'s options through a closure on a copy, then checks the result
    /// (`opt.update_hyperparameters(0, |o| o.lr *= 0.1)`). Nothing changes on error.
    pub fn update_hyperparameters(&mut self, group: usize, change: impl FnOnce(&mut R)) -> Result<()> {
        let mut updated = self.hyperparameters(group)?.clone();
        change(&mut updated);
        updated.validate(Scope::Group(group))?;
        self.groups[group].hyper = updated;
        Ok(())
    }

    /// One option of group `group` by its state-dict name (`"lr"`).
    pub fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>> {
        hyper::get_option(self.hyperparameters(group)?, name, Scope::Group(group))
    }

    /// Sets one option of group `group` by its state-dict name: what a scheduler written
    /// against [`DynOptimizer`](crate::DynOptimizer) does. Type-checked and validated.
    pub fn set_option(&mut self, group: usize, name: &str, value: impl Into<DictValue<'static>>) -> Result<()> {
        self.hyperparameters(group)?;
        let scope = Scope::Group(group);
        let map: Map<'static> = [(name, value.into())].into_iter().collect();
        let options = R::options_from_map(&map, scope)?;
        self.set_options(group, &options)
    }

    /// The state of `param`, if it is in this optimizer and has taken a step.
    pub fn state(&self, param: &Param<A>) -> Option<&R::State<A>> {
        self.groups.iter().find_map(|g| {
            let i = g.params.iter().position(|p| p == param)?;
            g.states[i].as_ref()
        })
    }

    /// Fails with [`Error::GuardHeld`] when the calling thread holds a guard of one of the
    /// optimizer's parameters: `operation` would otherwise wait for it forever (or, run on
    /// other threads, never see it). One thread-local read when it holds none.
    fn check_no_guard_held(&self, operation: &'static str) -> Result<()> {
        let params = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(g, grp)| grp.params.iter().enumerate().map(move |(i, p)| (g, i, p)));
        match held::check(params) {
            None => Ok(()),
            Some((group, index, guard)) => Err(Error::GuardHeld {
                operation,
                param: ParamRef {
                    group,
                    index,
                    name: self.groups[group].params[index].name().map(str::to_string),
                },
                guard,
            }),
        }
    }

    /// Drops every gradient (torch 2.x's `zero_grad()`, `set_to_none=True`). Fails, changing
    /// nothing, when this thread holds a guard of one of the parameters
    /// ([`Error::GuardHeld`]).
    pub fn zero_grad(&self) -> Result<()> {
        self.check_no_guard_held("zero_grad")?;
        self.all_params().for_each(|p| p.clear_grad(true));
        Ok(())
    }

    /// Fills every gradient with zeros, keeping its allocation (torch's
    /// `zero_grad(set_to_none=False)`). Fails as [`zero_grad`](Optimizer::zero_grad) does.
    pub fn zero_grad_in_place(&self) -> Result<()> {
        self.check_no_guard_held("zero_grad")?;
        self.all_params().for_each(|p| p.clear_grad(false));
        Ok(())
    }

    /// Updates every parameter that has a gradient. Parameters without one are skipped and
    /// their state left as it is. An optimizer that must re-evaluate the loss (LBFGS)
    /// returns [`Error::ClosureRequired`]. Fails, changing nothing, when this thread holds a
    /// guard of one of the parameters ([`Error::GuardHeld`]: drop it before stepping).
    ///
    /// Pre-hooks run first, in registration order: an error from one aborts the step with
    /// the parameters and state unchanged, and reaches the caller. Post-hooks run after the
    /// update; an error from one reaches the caller (the update has happened).
    pub fn step(&mut self) -> Result<()> {
        self.check_no_guard_held("step")?;
        hooks::run(self, |h| &mut h.step_pre)?;
        let run = Run {
            config: self.config,
            defaults: &self.defaults,
        };
        <R::Driver as Driver<R>>::step(&mut self.groups, &run)?;
        hooks::run(self, |h| &mut h.step_post)
    }

    /// A step with a closure that recomputes the loss and the gradients and returns the
    /// loss; returns the loss (for LBFGS, that of the closure's first call). The closure
    /// may read parameter values and write gradients: the optimizer holds no lock while it
    /// runs. Fails as [`step`](Optimizer::step) does when a guard is held.
    pub fn step_with(&mut self, mut closure: impl FnMut() -> f64) -> Result<f64> {
        self.step_with_dyn(&mut closure)
    }

    pub(crate) fn step_with_dyn(&mut self, closure: &mut dyn FnMut() -> f64) -> Result<f64> {
        self.check_no_guard_held("step_with")?;
        hooks::run(self, |h| &mut h.step_pre)?;
        let run = Run {
            config: self.config,
            defaults: &self.defaults,
        };
        let loss = <R::Driver as Driver<R>>::step_with(&mut self.groups, closure, &run)?;
        hooks::run(self, |h| &mut h.step_post)?;
        Ok(loss)
    }

    /// Registers a function to run before every step (`step` and `step_with`), after the
    /// hooks registered before it (torch's `register_step_pre_hook`). It sees the optimizer
    /// (its parameters: a pre-hook that clips gradients is the usual one); an error aborts
    /// the step before anything changes. Returns the handle that removes it.
    pub fn register_step_pre_hook(
        &mut self,
        hook: impl FnMut(&Optimizer<R, A>) -> Result<()> + Send + Sync + 'static,
    ) -> HookHandle {
        self.hooks.step_pre.add(Box::new(hook) as StepHook<R, A>)
    }

    /// Registers a function to run after every step, after the hooks registered before it
    /// (torch's `register_step_post_hook`): updating a moving average of the weights is the
    /// usual one. Returns the handle that removes it.
    pub fn register_step_post_hook(
        &mut self,
        hook: impl FnMut(&Optimizer<R, A>) -> Result<()> + Send + Sync + 'static,
    ) -> HookHandle {
        self.hooks.step_post.add(Box::new(hook) as StepHook<R, A>)
    }

    /// Registers a function that sees, and may change, every state dict before
    /// [`state_dict`](Optimizer::state_dict) returns it (torch's
    /// `register_state_dict_post_hook`). Returns the handle that removes it.
    pub fn register_state_dict_post_hook(
        &mut self,
        hook: impl for<'a> Fn(&mut StateDict<'a>) + Send + Sync + 'static,
    ) -> HookHandle {
        self.hooks.state_dict_post.add(Box::new(hook) as StateDictHook)
    }

    /// Registers a function to run after every successful
    /// [`load_state_dict`](Optimizer::load_state_dict) (torch's
    /// `register_load_state_dict_post_hook`); an error from it reaches the caller (the
    /// load has happened). Returns the handle that removes it.
    pub fn register_load_state_dict_post_hook(
        &mut self,
        hook: impl FnMut(&Optimizer<R, A>) -> Result<()> + Send + Sync + 'static,
    ) -> HookHandle {
        self.hooks.load_post.add(Box::new(hook) as StepHook<R, A>)
    }

    /// Whether steps may use several threads (the `rayon` feature, on by default). A
    /// parallel step is bit-identical to a single-threaded one; it uses rayon's current
    /// pool, so run `step` inside `ThreadPool::install` to choose the number of threads.
    pub fn set_parallel(&mut self, parallel: bool) {
        self.config.parallel = parallel && cfg!(feature = "rayon");
    }

    /// Whether steps may use several threads.
    pub fn parallel(&self) -> bool {
        self.config.parallel
    }

    /// The instruction set steps run with: by default the best this CPU supports.
    pub fn isa(&self) -> Isa {
        self.config.isa
    }

    /// Chooses the instruction set steps run with, for benchmarks and for tests that
    /// compare paths (every one gives bit-identical results). An [`Isa`] always names one
    /// this CPU supports: see [`Isa::available`].
    pub fn set_isa(&mut self, isa: Isa) {
        self.config.isa = isa;
    }

    /// Checks every gradient for NaN and infinities, naming the first parameter that has
    /// one. One read pass over the gradients: cheap next to a step, and the way to catch a
    /// diverging run before it corrupts parameters and state (torch propagates NaN silently).
    pub fn check_finite(&self) -> Result<()> {
        for (group, g) in self.groups.iter().enumerate() {
            for (index, p) in g.params.iter().enumerate() {
                let Some(grad) = p.grad() else { continue };
                if let Some((position, &value)) = grad.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                    return Err(Error::NonFiniteGrad {
                        param: ParamRef {
                            group,
                            index,
                            name: p.name().map(str::to_string),
                        },
                        position,
                        value: value.as_f64(),
                    });
                }
            }
        }
        Ok(())
    }
}
