//! Property tests over random scripts: parameter shapes (0-d and empty ones included),
//! groups with their own options (one of them possibly added after some steps), learning
//! rates changed between steps, and gradient sequences with missing gradients.
//!
//! - SGD, Adam and AdamW agree with `optim_tests::reference`, a plain-loop implementation of
//!   torch's formulas, on parameters and on every state entry (which parameters have state,
//!   which entries, and their values) within 1e-12 relative.
//! - A state dict's JSON reads back as the same state dict, and loading it into a fresh
//!   optimizer over the same parameters gives the same state dict again (f32 and f64).
//! - Saving, loading into a fresh optimizer and continuing is bit-identical to an
//!   uninterrupted run (f32 and f64). For LBFGS the last two on random quadratics.

use std::collections::BTreeMap;
use std::ops::Range;

use optim_tests::problems::Quadratic;
use optim_tests::reference::{AdamRef, AdamRefState, SgdRef, adam_step, sgd_step};
use optim_tests::rng::SplitMix64;
use optimizers::error::Scope;
use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{
    Adam, AdamW, DictTensor, DictValue, DynOptimizer, Float, Lbfgs, Map, Optimizer, Param, ParamGroup, Rule, Sgd,
    StateDict,
};
use proptest::prelude::*;

// ----- scripts -------------------------------------------------------------------------------

/// Which optimizer a script drives.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Sgd,
    Adam,
    AdamW,
}

/// One step: which parameters get a gradient, and an optional learning-rate change
/// (`param_groups[g]["lr"] = lr`) before it.
#[derive(Clone, Debug)]
struct StepScript {
    present: Vec<bool>,
    lr: Option<(usize, f64)>,
}

/// A random training run.
#[derive(Clone, Debug)]
struct Script {
    shapes: Vec<Vec<usize>>,
    named: bool,
    /// Initial values and gradients come from this seed.
    seed: u64,
    /// Parameter indices of each group, in order; every parameter in exactly one.
    groups: Vec<Vec<usize>>,
    /// Each group's overrides (every option set).
    options: Vec<Map<'static>>,
    defaults: Map<'static>,
    /// The last group is added (`add_param_group`) before this step, when set.
    deferred: Option<usize>,
    steps: Vec<StepScript>,
}

fn map(entries: Vec<(&str, DictValue<'static>)>) -> Map<'static> {
    entries.into_iter().collect()
}

fn sgd_options() -> impl Strategy<Value = Map<'static>> {
    (
        0.0..0.5f64,
        prop_oneof![Just(0.0), 0.0..0.99f64],
        prop_oneof![Just(0.0), 0.0..0.5f64],
        any::<bool>(),
        prop_oneof![Just(0.0), 0.0..0.1f64],
        any::<bool>(),
    )
        .prop_map(|(lr, momentum, dampening, nesterov, weight_decay, maximize)| {
            let nesterov = nesterov && momentum > 0.0 && dampening == 0.0;
            map(vec![
                ("lr", lr.into()),
                ("momentum", momentum.into()),
                ("dampening", dampening.into()),
                ("weight_decay", weight_decay.into()),
                ("nesterov", nesterov.into()),
                ("maximize", maximize.into()),
            ])
        })
}

fn adam_options(kind: Kind) -> impl Strategy<Value = Map<'static>> {
    (
        0.0..0.1f64,
        0.0..0.99f64,
        0.0..0.999f64,
        -10.0..-3.0f64,
        prop_oneof![Just(0.0), 0.0..0.1f64],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(lr, beta1, beta2, log_eps, weight_decay, amsgrad, maximize, decoupled)| {
                map(vec![
                    ("lr", lr.into()),
                    ("betas", DictValue::List(vec![beta1.into(), beta2.into()])),
                    ("eps", 10f64.powf(log_eps).into()),
                    ("weight_decay", weight_decay.into()),
                    ("amsgrad", amsgrad.into()),
                    ("maximize", maximize.into()),
                    ("decoupled_weight_decay", (decoupled || kind == Kind::AdamW).into()),
                ])
            },
        )
}

fn options(kind: Kind) -> BoxedStrategy<Map<'static>> {
    match kind {
        Kind::Sgd => sgd_options().boxed(),
        Kind::Adam | Kind::AdamW => adam_options(kind).boxed(),
    }
}

fn script(kind: Kind) -> impl Strategy<Value = Script> {
    let shapes = prop::collection::vec(prop::collection::vec(0usize..4, 0..=3), 1..=4);
    (shapes, any::<bool>(), any::<u64>()).prop_flat_map(move |(shapes, named, seed)| {
        let n = shapes.len();
        let step = (
            prop::collection::vec(prop::bool::weighted(0.8), n),
            prop::option::weighted(0.2, (0usize..3, 0.0..0.2f64)),
        )
            .prop_map(|(present, lr)| StepScript { present, lr });
        (
            prop::collection::vec(0usize..3, n),
            prop::collection::vec(options(kind), 3),
            options(kind),
            prop::option::of(0usize..6),
            prop::collection::vec(step, 1..=6),
        )
            .prop_map(move |(assign, options, defaults, deferred, steps)| {
                let mut groups = Vec::new();
                let mut group_options = Vec::new();
                for (g, o) in options.into_iter().enumerate() {
                    let members: Vec<usize> = (0..n).filter(|&k| assign[k] == g).collect();
                    if !members.is_empty() {
                        groups.push(members);
                        group_options.push(o);
                    }
                }
                let deferred = deferred.filter(|_| groups.len() > 1).map(|s| s.min(steps.len() - 1));
                Script {
                    shapes: shapes.clone(),
                    named,
                    seed,
                    groups,
                    options: group_options,
                    defaults,
                    deferred,
                    steps,
                }
            })
    })
}

impl Script {
    fn numel(&self, k: usize) -> usize {
        self.shapes[k].iter().product()
    }

    /// Initial values.
    fn initial(&self, k: usize) -> Vec<f64> {
        let mut rng = SplitMix64::new(self.seed ^ (k as u64 + 1).wrapping_mul(0x51_7CC1_B727_220A));
        (0..self.numel(k)).map(|_| rng.range(-1.0, 1.0)).collect()
    }

    /// Parameter `k`'s gradient at step `s`, if it has one.
    fn grad(&self, s: usize, k: usize) -> Option<Vec<f64>> {
        if !self.steps[s].present[k] {
            return None;
        }
        let mut rng = SplitMix64::new(self.seed.wrapping_add((s * 64 + k) as u64 + 1).rotate_left(17));
        Some(
            (0..self.numel(k))
                .map(|_| if rng.chance(0.05) { 0.0 } else { rng.range(-2.0, 2.0) })
                .collect(),
        )
    }

    /// The groups in the optimizer before step `s` (or at the end, for `s = steps.len()`).
    fn groups_at(&self, s: usize) -> usize {
        match self.deferred {
            Some(d) if s <= d => self.groups.len() - 1,
            _ => self.groups.len(),
        }
    }

    /// Parameters `A`-typed, named when the script says so.
    fn params<A: Float>(&self, values: &[Vec<f64>]) -> Vec<Param<A>> {
        values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let data = v.iter().map(|&x| A::from_f64(x)).collect();
                let array = ArrayD::from_shape_vec(IxDyn(&self.shapes[k]), data).expect("numel");
                if self.named {
                    Param::named(format!("p{k}"), array)
                } else {
                    Param::new(array)
                }
            })
            .collect()
    }

    fn fresh_params<A: Float>(&self) -> Vec<Param<A>> {
        let values: Vec<Vec<f64>> = (0..self.shapes.len()).map(|k| self.initial(k)).collect();
        self.params(&values)
    }
}

// ----- running the library ------------------------------------------------------------------------

fn group_params<A: Float>(params: &[Param<A>], members: &[usize]) -> Vec<Param<A>> {
    members.iter().map(|&k| params[k].clone()).collect()
}

/// The optimizer as built before step `s`: the groups present then, with `overrides` of
/// each group (its options, or none).
fn build<R: Rule, A: Float>(script: &Script, params: &[Param<A>], s: usize, with_options: bool) -> Optimizer<R, A> {
    let groups = (0..script.groups_at(s))
        .map(|g| {
            let o = if with_options {
                script.options[g].clone()
            } else {
                Map::new()
            };
            (group_params(params, &script.groups[g]), o)
        })
        .collect::<Vec<_>>();
    Optimizer::<R, A>::from_maps(groups, &script.defaults).expect("valid options")
}

/// Runs steps `range` of the script.
fn run<R: Rule, A: Float>(script: &Script, opt: &mut Optimizer<R, A>, params: &[Param<A>], range: Range<usize>) {
    for s in range {
        if script.deferred == Some(s) {
            let g = script.groups.len() - 1;
            let options = R::options_from_map(&script.options[g], Scope::Group(g)).expect("valid");
            opt.add_param_group(ParamGroup {
                params: group_params(params, &script.groups[g]),
                options,
            })
            .expect("a valid group");
        }
        if let Some((g, lr)) = script.steps[s].lr.filter(|&(g, _)| g < opt.num_groups()) {
            opt.set_option(g, "lr", lr).expect("a valid lr");
        }
        for (k, p) in params.iter().enumerate() {
            match script.grad(s, k) {
                Some(g) => {
                    let g: Vec<A> = g.iter().map(|&x| A::from_f64(x)).collect();
                    p.set_grad_from_slice(&g).expect("length")
                }
                None => p.zero_grad(true),
            }
        }
        opt.step().expect("a step");
    }
}

fn values<A: Float>(params: &[Param<A>]) -> Vec<Vec<f64>> {
    params
        .iter()
        .map(|p| p.value().iter().map(|x| x.as_f64()).collect())
        .collect()
}

fn bits<A: Float>(params: &[Param<A>]) -> Vec<Vec<u64>> {
    params
        .iter()
        .map(|p| p.value().iter().map(|x| x.as_f64().to_bits()).collect())
        .collect()
}

// ----- the reference ----------------------------------------------------------------------------

enum RefState {
    Sgd(Option<Vec<f64>>),
    Adam(Option<AdamRefState>),
}

fn f(m: &Map, key: &str) -> f64 {
    m.get(key).and_then(DictValue::as_f64).expect("a number")
}

fn b(m: &Map, key: &str) -> bool {
    matches!(m.get(key), Some(DictValue::Bool(true)))
}

fn sgd_ref(m: &Map) -> SgdRef {
    SgdRef {
        lr: f(m, "lr"),
        momentum: f(m, "momentum"),
        dampening: f(m, "dampening"),
        weight_decay: f(m, "weight_decay"),
        nesterov: b(m, "nesterov"),
        maximize: b(m, "maximize"),
    }
}

fn adam_ref(m: &Map) -> AdamRef {
    let Some(DictValue::List(betas)) = m.get("betas") else {
        panic!("betas")
    };
    AdamRef {
        lr: f(m, "lr"),
        beta1: betas[0].as_f64().expect("beta1"),
        beta2: betas[1].as_f64().expect("beta2"),
        eps: f(m, "eps"),
        weight_decay: f(m, "weight_decay"),
        amsgrad: b(m, "amsgrad"),
        maximize: b(m, "maximize"),
        decoupled: b(m, "decoupled_weight_decay"),
    }
}

fn tensor(shape: &[usize], v: &[f64]) -> DictValue<'static> {
    DictValue::Tensor(DictTensor::owned(shape, v).expect("fits"))
}

/// The script run by the reference: final values and the state each parameter's index
/// (numbered as the state dict numbers them) should have.
fn reference(kind: Kind, script: &Script) -> (Vec<Vec<f64>>, BTreeMap<usize, Map<'static>>) {
    let n = script.shapes.len();
    let mut p: Vec<Vec<f64>> = (0..n).map(|k| script.initial(k)).collect();
    let mut state: Vec<RefState> = (0..n)
        .map(|_| match kind {
            Kind::Sgd => RefState::Sgd(None),
            _ => RefState::Adam(None),
        })
        .collect();
    let mut options = script.options.clone();
    let mut group_of = vec![usize::MAX; n];
    for (g, members) in script.groups.iter().enumerate() {
        for &k in members {
            group_of[k] = g;
        }
    }
    for s in 0..script.steps.len() {
        // the groups in the optimizer during step s (a deferred group is added at its start)
        let live = script.groups_at(s + 1);
        if let Some((g, lr)) = script.steps[s].lr.filter(|&(g, _)| g < live) {
            options[g].insert("lr", lr);
        }
        for k in 0..n {
            let Some(grad) = script.grad(s, k) else { continue };
            if group_of[k] >= live {
                continue;
            }
            let o = &options[group_of[k]];
            match &mut state[k] {
                RefState::Sgd(buf) => sgd_step(&sgd_ref(o), &mut p[k], &grad, buf),
                RefState::Adam(st) => adam_step(&adam_ref(o), &mut p[k], &grad, st),
            }
        }
    }
    let mut dict = BTreeMap::new();
    let order: Vec<usize> = script.groups.iter().flatten().copied().collect();
    for (index, &k) in order.iter().enumerate() {
        let shape = &script.shapes[k];
        let entry = match &state[k] {
            RefState::Sgd(Some(buf)) => map(vec![("momentum_buffer", tensor(shape, buf))]),
            RefState::Adam(Some(st)) => {
                let mut m = map(vec![
                    ("step", DictValue::Tensor(DictTensor::scalar(st.step as f32))), // torch: a 0-d float32 tensor
                    ("exp_avg", tensor(shape, &st.exp_avg)),
                    ("exp_avg_sq", tensor(shape, &st.exp_avg_sq)),
                ]);
                if let Some(max) = &st.max_exp_avg_sq {
                    m.insert("max_exp_avg_sq", tensor(shape, max));
                }
                m
            }
            _ => continue,
        };
        dict.insert(index, entry);
    }
    (p, dict)
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-14 + 1e-12 * b.abs()
}

fn close_values(a: &DictValue<'_>, b: &DictValue<'_>) -> bool {
    match (a, b) {
        (DictValue::Tensor(x), DictValue::Tensor(y)) => {
            x.shape() == y.shape()
                && x.to_vec::<f64>()
                    .iter()
                    .zip(y.to_vec::<f64>())
                    .all(|(&p, q)| close(p, q))
        }
        (x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => close(p, q),
            _ => x == y,
        },
    }
}

/// Runs the script in f64 and compares with the reference.
fn agrees_with_reference<R: Rule>(kind: Kind, script: &Script) -> Result<(), TestCaseError> {
    let params = script.fresh_params::<f64>();
    let mut opt = build::<R, f64>(script, &params, 0, true);
    run(script, &mut opt, &params, 0..script.steps.len());
    let (expected, expected_state) = reference(kind, script);
    let actual = values(&params);
    for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
        prop_assert!(
            a.iter().zip(e).all(|(&x, &y)| close(x, y)),
            "parameter {k}: {a:?}, reference {e:?}"
        );
    }
    let state = opt.state_dict().state;
    prop_assert_eq!(
        state.keys().collect::<Vec<_>>(),
        expected_state.keys().collect::<Vec<_>>(),
        "which parameters have state"
    );
    for (index, entry) in &state {
        let reference = &expected_state[index];
        prop_assert_eq!(entry.keys().collect::<Vec<_>>(), reference.keys().collect::<Vec<_>>());
        for (key, value) in entry.iter() {
            let other = reference.get(key).expect("same keys");
            prop_assert!(
                close_values(value, other),
                "state {index} `{key}`: {value:?}, reference {other:?}"
            );
        }
    }
    Ok(())
}

// ----- state dicts -----------------------------------------------------------------------------------

/// The JSON round trip is the identity, and loading into a fresh optimizer gives the same
/// state dict again.
fn round_trips<R: Rule, A: Float>(script: &Script) -> Result<(), TestCaseError> {
    let params = script.fresh_params::<A>();
    let mut opt = build::<R, A>(script, &params, 0, true);
    let end = script.steps.len();
    run(script, &mut opt, &params, 0..end);
    let dict = opt.state_dict().into_owned();
    let back = StateDict::from_json(&dict.to_json()).expect("our JSON reads");
    prop_assert_eq!(&back, &dict);
    let copies = script.params::<A>(&values(&params));
    let mut fresh = build::<R, A>(script, &copies, end, false);
    fresh.load_state_dict(&back).expect("loads");
    prop_assert_eq!(fresh.state_dict(), dict);
    Ok(())
}

/// Saving after `split` steps, loading into a fresh optimizer (default options, parameters
/// copied) and running the rest gives the uninterrupted run's bits.
fn resumes_exactly<R: Rule, A: Float>(script: &Script, split: usize) -> Result<(), TestCaseError> {
    let end = script.steps.len();
    let split = split.min(end);
    let whole = script.fresh_params::<A>();
    let mut uninterrupted = build::<R, A>(script, &whole, 0, true);
    run(script, &mut uninterrupted, &whole, 0..end);

    let first = script.fresh_params::<A>();
    let mut before = build::<R, A>(script, &first, 0, true);
    run(script, &mut before, &first, 0..split);
    let json = before.state_dict().to_json();
    drop(before);
    let second = script.params::<A>(&values(&first));
    let mut resumed = build::<R, A>(script, &second, split, false);
    resumed
        .load_state_dict(&StateDict::from_json(&json).expect("reads"))
        .expect("loads");
    run(script, &mut resumed, &second, split..end);

    prop_assert_eq!(bits(&second), bits(&whole));
    prop_assert_eq!(resumed.state_dict().to_json(), uninterrupted.state_dict().to_json());
    Ok(())
}

/// `cases` cases, or `$PROPTEST_CASES` (to search longer: `PROPTEST_CASES=5000`).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn sgd_agrees_with_the_reference(s in script(Kind::Sgd)) {
        agrees_with_reference::<Sgd>(Kind::Sgd, &s)?;
    }

    #[test]
    fn adam_agrees_with_the_reference(s in script(Kind::Adam)) {
        agrees_with_reference::<Adam>(Kind::Adam, &s)?;
    }

    #[test]
    fn adamw_agrees_with_the_reference(s in script(Kind::AdamW)) {
        agrees_with_reference::<AdamW>(Kind::AdamW, &s)?;
    }
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn elementwise_state_dicts_round_trip(s in script(Kind::Sgd), t in script(Kind::Adam), u in script(Kind::AdamW)) {
        round_trips::<Sgd, f64>(&s)?;
        round_trips::<Sgd, f32>(&s)?;
        round_trips::<Adam, f64>(&t)?;
        round_trips::<Adam, f32>(&t)?;
        round_trips::<AdamW, f64>(&u)?;
        round_trips::<AdamW, f32>(&u)?;
    }

    #[test]
    fn elementwise_save_load_continue_is_bit_identical(
        s in script(Kind::Sgd), t in script(Kind::Adam), u in script(Kind::AdamW), split in 0usize..7,
    ) {
        resumes_exactly::<Sgd, f64>(&s, split)?;
        resumes_exactly::<Sgd, f32>(&s, split)?;
        resumes_exactly::<Adam, f64>(&t, split)?;
        resumes_exactly::<Adam, f32>(&t, split)?;
        resumes_exactly::<AdamW, f64>(&u, split)?;
        resumes_exactly::<AdamW, f32>(&u, split)?;
    }
}

// ----- LBFGS -------------------------------------------------------------------------------------

/// A random quadratic problem over random shapes, LBFGS options and a number of steps.
#[derive(Clone, Debug)]
struct LbfgsScript {
    shapes: Vec<Vec<usize>>,
    named: bool,
    seed: u64,
    options: Map<'static>,
    steps: usize,
}

fn lbfgs_script() -> impl Strategy<Value = LbfgsScript> {
    (
        prop::collection::vec(prop::collection::vec(1usize..3, 0..=2), 1..=3),
        any::<bool>(),
        any::<u64>(),
        (1usize..6, 1usize..6, any::<bool>(), prop_oneof![Just(1.0), 0.1..1.0f64]),
        1usize..5,
    )
        .prop_map(
            |(shapes, named, seed, (history_size, max_iter, strong_wolfe, lr), steps)| {
                let line_search = if strong_wolfe {
                    DictValue::from("strong_wolfe")
                } else {
                    DictValue::Null
                };
                LbfgsScript {
                    shapes,
                    named,
                    seed,
                    options: map(vec![
                        ("lr", lr.into()),
                        ("history_size", DictValue::Int(history_size as i64)),
                        ("max_iter", DictValue::Int(max_iter as i64)),
                        ("line_search_fn", line_search),
                    ]),
                    steps,
                }
            },
        )
}

impl LbfgsScript {
    fn n(&self) -> usize {
        self.shapes.iter().map(|s| s.iter().product::<usize>()).sum()
    }

    /// `½ xᵀAx − bᵀx` with `A = BBᵀ + I` (symmetric positive definite) from the seed.
    fn problem<A: Float>(&self) -> Quadratic<A> {
        let n = self.n();
        let mut rng = SplitMix64::new(self.seed);
        let bm: Vec<f64> = (0..n * n).map(|_| rng.range(-1.0, 1.0)).collect();
        let mut a = vec![A::zero(); n * n];
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = (0..n).map(|k| bm[i * n + k] * bm[j * n + k]).sum();
                a[i * n + j] = A::from_f64(dot + if i == j { 1.0 } else { 0.0 });
            }
        }
        let b = (0..n).map(|_| A::from_f64(rng.range(-1.0, 1.0))).collect();
        Quadratic { n, a, b }
    }

    fn params<A: Float>(&self, flat: &[f64]) -> Vec<Param<A>> {
        let mut offset = 0;
        self.shapes
            .iter()
            .enumerate()
            .map(|(k, shape)| {
                let n: usize = shape.iter().product();
                let data = flat[offset..offset + n].iter().map(|&x| A::from_f64(x)).collect();
                offset += n;
                let array = ArrayD::from_shape_vec(IxDyn(shape), data).expect("numel");
                if self.named {
                    Param::named(format!("x{k}"), array)
                } else {
                    Param::new(array)
                }
            })
            .collect()
    }

    fn fresh<A: Float>(&self) -> Vec<Param<A>> {
        let mut rng = SplitMix64::new(self.seed ^ 0xABCD);
        let x: Vec<f64> = (0..self.n()).map(|_| rng.range(-2.0, 2.0)).collect();
        self.params(&x)
    }
}

fn flat<A: Float>(params: &[Param<A>]) -> Vec<f64> {
    params
        .iter()
        .flat_map(|p| p.value().iter().map(|x| x.as_f64()).collect::<Vec<_>>())
        .collect()
}

/// `steps` steps of LBFGS on the script's problem; returns the losses.
fn lbfgs_steps<A: Float>(
    script: &LbfgsScript,
    opt: &mut dyn DynOptimizer<A>,
    params: &[Param<A>],
    steps: Range<usize>,
) -> Vec<u64> {
    let problem = script.problem::<A>();
    let n = problem.n;
    steps
        .map(|_| {
            let mut closure = || {
                let x: Vec<A> = params
                    .iter()
                    .flat_map(|p| p.value().iter().copied().collect::<Vec<_>>())
                    .collect();
                let mut g = vec![A::zero(); n];
                let loss = problem.eval(&x, &mut g);
                let mut offset = 0;
                for p in params {
                    p.set_grad_from_slice(&g[offset..offset + p.numel()]).expect("length");
                    offset += p.numel();
                }
                loss.as_f64()
            };
            opt.step_with(&mut closure).expect("a finite quadratic").to_bits()
        })
        .collect()
}

fn lbfgs_properties<A: Float>(script: &LbfgsScript, split: usize) -> Result<(), TestCaseError> {
    let build = |params: Vec<Param<A>>, options: &Map| {
        Optimizer::<Lbfgs, A>::from_maps([(params, Map::new())], options).expect("valid")
    };
    let split = split.min(script.steps);
    let whole = script.fresh::<A>();
    let mut uninterrupted = build(whole.clone(), &script.options);
    let all_losses = lbfgs_steps(script, &mut uninterrupted, &whole, 0..script.steps);

    // the round trip
    let dict = uninterrupted.state_dict().into_owned();
    let back = StateDict::from_json(&dict.to_json()).expect("reads");
    prop_assert_eq!(&back, &dict);
    let mut fresh = build(script.params::<A>(&flat(&whole)), &Map::new());
    fresh.load_state_dict(&back).expect("loads");
    prop_assert_eq!(fresh.state_dict(), dict);

    // save, load, continue
    let first = script.fresh::<A>();
    let mut before = build(first.clone(), &script.options);
    let mut losses = lbfgs_steps(script, &mut before, &first, 0..split);
    let json = before.state_dict().to_json();
    let second = script.params::<A>(&flat(&first));
    let mut resumed = build(second.clone(), &Map::new());
    resumed
        .load_state_dict(&StateDict::from_json(&json).expect("reads"))
        .expect("loads");
    losses.extend(lbfgs_steps(script, &mut resumed, &second, split..script.steps));
    prop_assert_eq!(losses, all_losses);
    prop_assert_eq!(
        flat(&second).iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        flat(&whole).iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    prop_assert_eq!(resumed.state(&second[0]), uninterrupted.state(&whole[0]));
    prop_assert_eq!(resumed.state_dict().to_json(), uninterrupted.state_dict().to_json());
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn lbfgs_state_dicts_round_trip_and_resume_exactly(s in lbfgs_script(), split in 0usize..5) {
        lbfgs_properties::<f64>(&s, split)?;
        lbfgs_properties::<f32>(&s, split)?;
    }
}
