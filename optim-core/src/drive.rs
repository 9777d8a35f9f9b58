//! Drivers: the loop over groups and parameters, written once for each form of rule.
//!
//! A driver skips parameters without a gradient (their state untouched), creates state
//! lazily on a parameter's first step with a gradient, and holds each parameter's locks
//! only while updating that parameter.
//!
//! With the `rayon` feature (on by default) and [`StepConfig::parallel`] set, an
//! elementwise step runs in parallel across parameters and across chunks of large ones,
//! and a per-tensor step across parameters. Every element is computed by the same
//! instructions whichever thread computes it, and per-parameter scalars are computed
//! once per parameter, so a parallel step is bit-identical to a single-threaded one.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::group::Group;
use crate::isa::{ElementwisePass, Isa};
use crate::param::Param;
use crate::problem::Problem;
use crate::rule::{ClosureRule, Elementwise, PerTensor, Rule};
use crate::state::{ShapeCtx, State};

/// How an optimizer runs its steps: the instruction set of its passes and whether to use
/// several threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepConfig {
    /// The instruction set of elementwise passes and closure rules (the best the CPU
    /// supports by default).
    pub isa: Isa,
    /// Whether steps may use several threads (with the `rayon` feature; on by default).
    pub parallel: bool,
}

impl Default for StepConfig {
    fn default() -> Self {
        StepConfig {
            isa: Isa::best(),
            parallel: cfg!(feature = "rayon"),
        }
    }
}

/// Below this many elements to update, a step stays on one thread: handing work to other
/// threads costs microseconds, more than a pass over this much memory takes.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// The size from which a tensor's update hides the time to start loading the next tensor's
/// data (see [`for_each_param`]); below it, prefetching costs more than it saves.
const PREFETCH_MIN_ELEMENTS: usize = 64;

/// The size of the chunks a large tensor is split into for a parallel elementwise step.
pub const PARALLEL_CHUNK: usize = 1 << 15;

/// How an optimizer's steps run; chosen by `#[optimizer(update = ...)]`.
pub trait Driver<R: Rule>: 'static {
    /// The most groups the optimizer accepts (`None`: no limit).
    const MAX_GROUPS: Option<usize>;
    /// Whether all state lives under the first parameter and sees the parameters as one
    /// flat vector (torch's LBFGS).
    const FLAT_STATE: bool;

    /// The state of a parameter when it is created, as the rule's form says.
    fn init_state<A: Float>(rule: &R, defaults: &R::Options, ctx: &ShapeCtx<'_>) -> R::State<A>;

    /// Runs one step from the current gradients.
    fn step<A: Float>(groups: &mut [Group<R, A>], run: &Run<'_, R>) -> Result<()>;

    /// Runs one step with a closure that re-evaluates the loss; returns the loss of its
    /// first call.
    fn step_with<A: Float>(
        groups: &mut [Group<R, A>],
        closure: &mut dyn FnMut() -> f64,
        run: &Run<'_, R>,
    ) -> Result<f64>;
}

/// What a step needs besides the groups: how to run, and the optimizer's defaults (from
/// which some rules create state).
pub struct Run<'a, R: Rule> {
    /// The instruction set and threading.
    pub config: StepConfig,
    /// The optimizer's defaults.
    pub defaults: &'a R::Options,
}

/// Runs [`Elementwise`] rules: one fused pass per parameter.
pub struct ElementwiseDriver;

/// Runs [`PerTensor`] rules.
pub struct PerTensorDriver;

/// Runs [`ClosureRule`]s over the flat problem.
pub struct ClosureDriver;

/// Calls `update` for `param` if it has a gradient, with its value and gradient as
/// contiguous slices and its state (created on first use).
#[inline]
fn update_param<R: Rule, A: Float>(
    rule: &R,
    defaults: &R::Options,
    param: &Param<A>,
    slot: &mut Option<R::State<A>>,
    update: impl FnOnce(&R, &Param<A>, &mut [A], &[A], &mut R::State<A>),
) {
    let Some(mut guards) = param.lock_for_update() else {
        return;
    };
    let (p, g) = guards.slices();
    let state = slot.get_or_insert_with(|| R::Driver::init_state(rule, defaults, &ShapeCtx::of(param.shape())));
    update(rule, param, p, g, state);
}

/// Calls `update` with every parameter of every group and its state slot: on several
/// threads when the optimizer allows it and the step is large enough to gain from it
/// ([`PARALLEL_MIN_ELEMENTS`]), else in order on this thread. `update`'s last argument says
/// whether it may split its own work over threads too.
fn for_each_param<R: Rule, A: Float>(
    groups: &mut [Group<R, A>],
    config: &StepConfig,
    update: impl Fn(&R, &Param<A>, &mut Option<R::State<A>>, bool) + Sync,
) {
    let parallel = config.parallel && groups.iter().map(|g| g.numel).sum::<usize>() >= PARALLEL_MIN_ELEMENTS;
    #[cfg(feature = "rayon")]
    if parallel {
        use rayon::prelude::*;
        for group in groups.iter_mut() {
            let rule = &group.hyper;
            group
                .params
                .par_chunks(16)
                .zip(group.states.par_chunks_mut(16))
                .for_each(|(params, states)| in_order(rule, params, states, &|r, p, s| update(r, p, s, true)));
        }
        return;
    }
    // Without rayon, `parallel` is always false (`set_parallel` keeps it so).
    let split = parallel && cfg!(feature = "rayon");
    for group in groups.iter_mut() {
        in_order(&group.hyper, &group.params, &mut group.states, &|r, p, s| {
            update(r, p, s, split)
        });
    }
}

/// Calls `update` for each parameter in order, first asking the CPU to load the next
/// parameter's value, gradient and state tensors: with many small tensors, the wait for
/// each tensor's first cache lines would otherwise add up (a third of a step over 65 536
/// tensors of 256 elements).
#[inline(always)]
fn in_order<R: Rule, A: Float>(
    rule: &R,
    params: &[Param<A>],
    states: &mut [Option<R::State<A>>],
    update: &impl Fn(&R, &Param<A>, &mut Option<R::State<A>>),
) {
    assert_eq!(params.len(), states.len(), "a group keeps one state slot per parameter");
    for i in 0..params.len() {
        // Finding the next tensor's data is itself a cache miss: worth it only when this
        // tensor's update is long enough to hide it.
        if params[i].numel() >= PREFETCH_MIN_ELEMENTS {
            if let Some(next) = params.get(i + 1) {
                next.prefetch();
            }
            if let Some(Some(next)) = states.get(i + 1) {
                next.prefetch();
            }
        }
        update(rule, &params[i], &mut states[i]);
    }
}

/// One elementwise update of one parameter, its pass split into chunks run in parallel
/// when `parallel` and the tensor is large.
#[inline]
fn elementwise_param<R: Elementwise, A: Float>(
    rule: &R,
    defaults: &R::Options,
    param: &Param<A>,
    slot: &mut Option<R::State<A>>,
    isa: Isa,
    parallel: bool,
) {
    update_param(rule, defaults, param, slot, |rule, param, p, g, state| {
        let scalars = rule.prepare(state, param.shape());
        let slices = state.slices();
        if parallel {
            #[cfg(feature = "rayon")]
            return parallel_pass::<R, A>(isa, scalars, slices, p, g);
        }
        isa.run(ElementwisePass::<R, A> {
            scalars,
            state: slices,
            param: p,
            grad: g,
        });
    });
}

/// The pass over one tensor, split in halves at multiples of 64 elements (whole cache
/// lines and vectors) down to [`PARALLEL_CHUNK`], the halves run by `rayon::join`.
#[cfg(feature = "rayon")]
fn parallel_pass<'a, R: Elementwise, A: Float>(
    isa: Isa,
    scalars: R::Scalars<A>,
    slices: <R::State<A> as State<A>>::Slices<'a>,
    p: &'a mut [A],
    g: &'a [A],
) {
    use crate::state::Slices as _;
    if p.len() <= PARALLEL_CHUNK {
        return isa.run(ElementwisePass::<R, A> {
            scalars,
            state: slices,
            param: p,
            grad: g,
        });
    }
    let mid = (p.len() / 2).next_multiple_of(64).min(p.len());
    let (s0, s1) = slices.split_at(mid);
    let (p0, p1) = p.split_at_mut(mid);
    let (g0, g1) = g.split_at(mid);
    rayon::join(
        || parallel_pass::<R, A>(isa, scalars, s0, p0, g0),
        || parallel_pass::<R, A>(isa, scalars, s1, p1, g1),
    );
}

impl<R: Elementwise> Driver<R> for ElementwiseDriver {
    const MAX_GROUPS: Option<usize> = None;
    const FLAT_STATE: bool = false;

    fn init_state<A: Float>(rule: &R, defaults: &R::Options, ctx: &ShapeCtx<'_>) -> R::State<A> {
        rule.init_state(defaults, ctx)
    }

    fn step<A: Float>(groups: &mut [Group<R, A>], run: &Run<'_, R>) -> Result<()> {
        let (isa, defaults) = (run.config.isa, run.defaults);
        for_each_param(groups, &run.config, |rule, param, slot, parallel| {
            elementwise_param(rule, defaults, param, slot, isa, parallel)
        });
        Ok(())
    }

    fn step_with<A: Float>(
        groups: &mut [Group<R, A>],
        closure: &mut dyn FnMut() -> f64,
        run: &Run<'_, R>,
    ) -> Result<f64> {
        let loss = closure();
        Self::step(groups, run)?;
        Ok(loss)
    }
}

/// One per-tensor update of one parameter.
fn per_tensor_param<R: PerTensor, A: Float>(
    rule: &R,
    defaults: &R::Options,
    param: &Param<A>,
    slot: &mut Option<R::State<A>>,
    isa: Isa,
) {
    update_param(rule, defaults, param, slot, |rule, param, p, g, state| {
        let shape = ndarray::IxDyn(param.shape());
        let pv = ndarray::ArrayViewMutD::from_shape(shape.clone(), p).expect("a parameter's elements fit its shape");
        let gv = ndarray::ArrayViewD::from_shape(shape, g).expect("a gradient has its parameter's shape");
        rule.update(pv, gv, state, isa);
    });
}

impl<R: PerTensor> Driver<R> for PerTensorDriver {
    const MAX_GROUPS: Option<usize> = None;
    const FLAT_STATE: bool = false;

    fn init_state<A: Float>(rule: &R, defaults: &R::Options, ctx: &ShapeCtx<'_>) -> R::State<A> {
        rule.init_state(defaults, ctx)
    }

    fn step<A: Float>(groups: &mut [Group<R, A>], run: &Run<'_, R>) -> Result<()> {
        let (defaults, isa) = (run.defaults, run.config.isa);
        for_each_param(groups, &run.config, |rule, param, slot, _| {
            per_tensor_param(rule, defaults, param, slot, isa)
        });
        Ok(())
    }

    fn step_with<A: Float>(
        groups: &mut [Group<R, A>],
        closure: &mut dyn FnMut() -> f64,
        run: &Run<'_, R>,
    ) -> Result<f64> {
        let loss = closure();
        Self::step(groups, run)?;
        Ok(loss)
    }
}

impl<R: ClosureRule> Driver<R> for ClosureDriver {
    const MAX_GROUPS: Option<usize> = Some(1);
    const FLAT_STATE: bool = true;

    fn init_state<A: Float>(_: &R, _: &R::Options, ctx: &ShapeCtx<'_>) -> R::State<A> {
        State::init(ctx)
    }

    fn step<A: Float>(_: &mut [Group<R, A>], _: &Run<'_, R>) -> Result<()> {
        Err(Error::ClosureRequired { kind: R::KIND })
    }

    fn step_with<A: Float>(
        groups: &mut [Group<R, A>],
        closure: &mut dyn FnMut() -> f64,
        run: &Run<'_, R>,
    ) -> Result<f64> {
        let [group] = groups else {
            unreachable!("a closure rule's optimizer has exactly one group (MAX_GROUPS and the constructor keep it so)")
        };
        let numel = group.numel;
        let slot = group
            .states
            .first_mut()
            .expect("a group has at least one parameter, so at least one state slot");
        let state = slot.get_or_insert_with(|| R::State::<A>::init(&ShapeCtx { shape: &[numel], numel }));
        let mut problem = Problem::new(&group.params, closure, run.config.isa);
        group.hyper.step(state, &mut problem)
    }
}

/// The driver `#[derive(Optimizer)]` names when its input has errors: it lets the expansion
/// type-check so that the user sees the mistakes reported, not a cascade of errors. Code
/// that compiles never uses it.
pub struct FallbackDriver;

impl<R: Rule> Driver<R> for FallbackDriver {
    const MAX_GROUPS: Option<usize> = None;
    const FLAT_STATE: bool = false;

    fn init_state<A: Float>(_: &R, _: &R::Options, _: &ShapeCtx<'_>) -> R::State<A> {
        unreachable!("the fallback driver belongs to inputs that do not compile")
    }

    fn step<A: Float>(_: &mut [Group<R, A>], _: &Run<'_, R>) -> Result<()> {
        unreachable!("the fallback driver belongs to inputs that do not compile")
    }

    fn step_with<A: Float>(_: &mut [Group<R, A>], _: &mut dyn FnMut() -> f64, _: &Run<'_, R>) -> Result<f64> {
        unreachable!("the fallback driver belongs to inputs that do not compile")
    }
}
