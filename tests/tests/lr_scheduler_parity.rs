//! Replays every PyTorch learning-rate scheduler run in `$OPTIM_FIXTURES/lr_scheduler` (else
//! `../shared/fixtures/torch/lr_scheduler`), as its README describes: builds the optimizer
//! and the scheduler the file names (children first for SequentialLR and ChainedScheduler,
//! lambdas from their three named families), then for every step sets the lrs the file sets
//! by hand, adds the groups it adds, steps, and compares `get_last_lr()`, every group's `lr`
//! and `momentum` or `betas`, and the scheduler's state dict where the file has one, with
//! torch's, within rtol 1e-12 and atol 0. At the end it compares the param groups (the
//! optimizer's options, and what the scheduler keeps per group for what torch writes into
//! them: `initial_lr`, `max_lr`, ...) and the final state dict.
//!
//! State dicts are compared key by key where this library keeps the quantity torch keeps
//! (by the same name, or by the name in `ALIASES`); the keys of torch's that it does not keep
//! are listed in `NOT_KEPT`, each with the reason. Any other key, of either side, fails.
//!
//! Every run is also interrupted at its mid-run state dict (or half-way): the optimizer's and
//! the scheduler's state dicts go through JSON text into a fresh optimizer and scheduler,
//! and the resumed pair must then give bit-identical values to the uninterrupted one.
//!
//! A file it cannot interpret (an unknown class, keyword, function or event) fails the run:
//! nothing is skipped. It ends with `replayed N schedules`.

use std::path::{Path, PathBuf};

use optim_tests::fixture::{fixture_files, fixtures_dir};
use optim_tests::mismatches::Mismatches;
use optimizers::dict::{tree_from_json, tree_to_json};
use optimizers::lr_scheduler::{
    Build, BuildSchedule, ChainedScheduler, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR,
    DynSchedule, ExponentialLR, Lambda, LambdaLR, LinearLR, MetricScheduler, MultiStepLR, MultiplicativeLR, OneCycleLR,
    PerGroup, PolynomialLR, ReduceLROnPlateau, ScheduleRule, Scheduler, SequentialLR, StepLR, Swalr,
};
use optimizers::ndarray::array;
use optimizers::{DictValue, DynOptimizer, Map, Param, StateDict, registry};

/// A value of a fixture file, read by the library's own JSON reader, which keeps the order
/// of keys (MultiStepLR's Counter is in insertion order) and integers as integers.
type Json = DictValue<'static>;

const RTOL: f64 = 1e-12;

/// torch's state-dict entries this library does not keep, and why.
const NOT_KEPT: &[(&str, &str)] = &[
    (
        "_is_initial",
        "a flag set only during the constructor's step; false between calls",
    ),
    (
        "_get_lr_called_within_step",
        "a flag set only during a step; false between calls",
    ),
    (
        "lr_lambdas",
        "functions: torch saves None for them, this library does not save them",
    ),
    ("_scale_fn_custom", "a function, as lr_lambdas"),
    ("mode_worse", "derived from `mode`"),
    (
        "default_min_lr",
        "`min_lr` as given (a number or a list) is kept instead",
    ),
    ("min_lrs", "`min_lr` expanded to the groups; `min_lr` is kept instead"),
    ("max_lrs", "`max_lr` expanded to the groups; `max_lr` is kept instead"),
    ("base_momentums", "`base_momentum` expanded to the groups"),
    ("max_momentums", "`max_momentum` expanded to the groups"),
    ("total_size", "derived from `step_size_up` and `step_size_down`"),
    ("step_ratio", "derived from `step_size_up` and `step_size_down`"),
    (
        "_schedule_phases",
        "derived from `total_steps`, `pct_start` and `three_phase`",
    ),
];

/// torch's names of quantities this library keeps under another name.
const ALIASES: &[(&str, &str)] = &[
    ("_anneal_strategy", "anneal_strategy"),
    ("_anneal_func_type", "anneal_strategy"),
];

/// Collects mismatches of one file.
struct Report {
    mismatches: Mismatches,
    /// The largest relative difference seen.
    worst: f64,
    /// The number of values compared.
    compared: usize,
}

impl Report {
    fn new() -> Self {
        Report {
            mismatches: Mismatches::default(),
            worst: 0.0,
            compared: 0,
        }
    }

    fn fail(&mut self, message: String) {
        self.mismatches.push(message);
    }

    fn close(&mut self, at: &str, actual: f64, expected: f64) {
        self.compared += 1;
        if actual == expected || (actual.is_nan() && expected.is_nan()) {
            return;
        }
        let diff = (actual - expected).abs();
        let rel = diff / expected.abs();
        if rel.is_finite() {
            self.worst = self.worst.max(rel);
        }
        if diff.is_nan() || diff > RTOL * expected.abs() {
            self.fail(format!(
                "{at}: {actual:e} vs torch {expected:e} (relative difference {rel:e})"
            ));
        }
    }

    /// Compares our value with torch's, recursively: numbers by value (torch writes some
    /// floats as Python ints, `"dampening": 0`), integers exactly, floats within rtol.
    fn value(&mut self, at: &str, ours: &DictValue<'_>, torch: &Json) {
        match (ours, torch) {
            (DictValue::Int(a), DictValue::Int(e)) => {
                self.compared += 1;
                if a != e {
                    self.fail(format!("{at}: {a} vs torch {e}"));
                }
            }
            (ours, DictValue::Int(_) | DictValue::Float(_)) => match (ours.as_f64(), torch.as_f64()) {
                (Some(a), Some(e)) => self.close(at, a, e),
                _ => self.fail(format!("{at}: {} vs torch's {}", ours.describe(), torch.describe())),
            },
            (DictValue::Float(a), DictValue::Str(s)) if ["inf", "-inf", "nan"].contains(&s.as_str()) => {
                let e = match s.as_str() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    _ => f64::NAN,
                };
                self.close(at, *a, e);
            }
            (DictValue::Str(a), DictValue::Str(e)) => {
                self.compared += 1;
                if a != e {
                    self.fail(format!("{at}: {a:?} vs torch {e:?}"));
                }
            }
            (DictValue::Bool(a), DictValue::Bool(e)) => {
                self.compared += 1;
                if a != e {
                    self.fail(format!("{at}: {a} vs torch {e}"));
                }
            }
            (DictValue::Null, DictValue::Null) => self.compared += 1,
            (DictValue::List(a), DictValue::List(e)) => {
                if a.len() != e.len() {
                    self.fail(format!("{at}: {} items vs torch's {}", a.len(), e.len()));
                    return;
                }
                for (i, (a, e)) in a.iter().zip(e).enumerate() {
                    self.value(&format!("{at}[{i}]"), a, e);
                }
            }
            (ours, torch) => self.fail(format!("{at}: {} vs torch's {}", ours.describe(), torch.describe())),
        }
    }

    /// Compares a scheduler's state dict with torch's, key by key.
    fn state_dict(&mut self, at: &str, ours: &DictValue<'_>, torch: &Json) {
        let (DictValue::Map(ours), DictValue::Map(torch)) = (ours, torch) else {
            self.fail(format!("{at}: a state dict is a map"));
            return;
        };
        for (key, expected) in torch.iter() {
            let at = format!("{at}.{key}");
            if NOT_KEPT.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let name = ALIASES.iter().find(|(k, _)| *k == key).map_or(key, |(_, ours)| ours);
            let Some(actual) = ours.get(name) else {
                self.fail(format!(
                    "{at}: torch keeps it, this library does not (and NOT_KEPT does not say why)"
                ));
                continue;
            };
            match (key, expected) {
                ("_schedulers", DictValue::List(children)) => match actual {
                    DictValue::List(ours) if ours.len() == children.len() => {
                        for (i, (a, e)) in ours.iter().zip(children).enumerate() {
                            self.state_dict(&format!("{at}[{i}]"), a, e);
                        }
                    }
                    other => self.fail(format!(
                        "{at}: {} vs torch's {} schedulers",
                        other.describe(),
                        children.len()
                    )),
                },
                // MultiStepLR's Counter: `{"20": 1, "8": 2}`, in order of first appearance.
                ("milestones", DictValue::Map(counter)) => {
                    let ours: Vec<i64> = match actual {
                        DictValue::List(items) => items.iter().filter_map(|v| v.as_f64()).map(|x| x as i64).collect(),
                        _ => Vec::new(),
                    };
                    let mut counted: Vec<(i64, i64)> = Vec::new();
                    for m in &ours {
                        match counted.iter_mut().find(|(k, _)| k == m) {
                            Some((_, c)) => *c += 1,
                            None => counted.push((*m, 1)),
                        }
                    }
                    let theirs: Vec<(i64, i64)> = counter
                        .iter()
                        .map(|(k, v)| (k.parse().unwrap_or(-1), v.as_f64().map_or(-1, |c| c as i64)))
                        .collect();
                    self.compared += 1;
                    if counted != theirs {
                        self.fail(format!("{at}: {counted:?} vs torch's Counter {theirs:?}"));
                    }
                }
                _ => self.value(&at, actual, expected),
            }
        }
    }
}

// ----- reading a file --------------------------------------------------------------------------

fn field<'j>(v: &'j Json, key: &str) -> Result<&'j Json, String> {
    match v {
        DictValue::Map(map) => map.get(key).ok_or_else(|| format!("no `{key}`")),
        other => Err(format!("`{key}` of {}", other.describe())),
    }
}

fn object(v: &Json) -> Result<&Map<'static>, String> {
    match v {
        DictValue::Map(map) => Ok(map),
        other => Err(format!("not a map: {}", other.describe())),
    }
}

/// Fails on a key of `v` that is not in `known`: a file with something this replay does
/// not interpret fails.
fn only(v: &Json, what: &str, known: &[&str]) -> Result<(), String> {
    match object(v)?.keys().find(|k| !known.contains(k)) {
        Some(key) => Err(format!("{what} has `{key}`, which this replay does not interpret")),
        None => Ok(()),
    }
}

/// A scheduler spec's keyword arguments.
fn kwargs(spec: &Json) -> Result<Map<'static>, String> {
    object(field(spec, "kwargs")?).cloned()
}

fn list(v: &Json) -> Result<&[Json], String> {
    match v {
        DictValue::List(items) => Ok(items),
        other => Err(format!("not a list: {}", other.describe())),
    }
}

fn text(v: &Json) -> Option<&str> {
    match v {
        DictValue::Str(s) => Some(s),
        _ => None,
    }
}

/// One of the README's three families of functions.
fn lambda(spec: &Json) -> Result<Lambda, String> {
    let params: &[&str] = match text(field(spec, "fn")?) {
        Some("const") => &["fn", "value"],
        Some("pow") => &["fn", "base"],
        _ => &["fn", "steps"],
    };
    only(spec, "a function spec", params)?;
    let number = |key| field(spec, key)?.as_f64().ok_or_else(|| format!("`{key}` of {spec:?}"));
    match text(field(spec, "fn")?) {
        Some("const") => {
            let v = number("value")?;
            Ok(Lambda::new(move |_| v))
        }
        // Python's `b ** epoch` is C `pow(b, (double)epoch)`.
        Some("pow") => {
            let b = number("base")?;
            Ok(Lambda::new(move |e| b.powf(e as f64)))
        }
        Some("warmup_linear") => {
            let n = field(spec, "steps")?.as_u64().ok_or("`steps`")?;
            Ok(Lambda::new(move |e| 1f64.min((e + 1) as f64 / n as f64)))
        }
        _ => Err(format!("unknown function family: {spec:?}")),
    }
}

fn lambdas(spec: &Json) -> Result<PerGroup<Lambda>, String> {
    match spec {
        DictValue::List(items) => Ok(PerGroup::Each(items.iter().map(lambda).collect::<Result<_, _>>()?)),
        one => Ok(PerGroup::All(lambda(one)?)),
    }
}

/// A scheduler's keyword arguments as its options: the functions taken out and set by `set`.
fn options<S: ScheduleRule>(
    kwargs: &Map<'static>,
    set: impl FnOnce(&mut S::Options) -> Result<(), String>,
) -> Result<S::Options, String> {
    let mut options =
        S::options_from_map(kwargs, optimizers::error::Scope::Schedule(S::KIND)).map_err(|e| e.to_string())?;
    set(&mut options)?;
    Ok(options)
}

/// The kwargs without the function arguments, and those.
fn split_functions(spec: &Json, names: &[&str]) -> Result<(Map<'static>, Vec<Option<Json>>), String> {
    let mut kw_left = kwargs(spec)?;
    let kw = object(field(spec, "kwargs")?)?;
    let functions = names
        .iter()
        .map(|n| {
            kw_left.remove(n);
            kw.get(n).cloned()
        })
        .collect();
    Ok((kw_left, functions))
}

/// A scheduler spec as something a composite (or the top) builds.
fn builder(spec: &Json) -> Result<Box<dyn BuildSchedule>, String> {
    only(spec, "a scheduler spec", &["class", "kwargs", "schedulers"])?;
    let class = text(field(spec, "class")?).ok_or("`class` is not a string")?;
    let plain = || kwargs(spec);
    let children = || -> Result<Vec<Box<dyn BuildSchedule>>, String> {
        list(field(spec, "schedulers")?)?.iter().map(builder).collect()
    };
    Ok(match class {
        "LambdaLR" | "MultiplicativeLR" => {
            let (kwargs, f) = split_functions(spec, &["lr_lambda"])?;
            let f = lambdas(f[0].as_ref().ok_or("no `lr_lambda`")?)?;
            if class == "LambdaLR" {
                LambdaLR::builder(options::<LambdaLR>(&kwargs, |o| {
                    o.lr_lambda = Some(f);
                    Ok(())
                })?)
                .into()
            } else {
                MultiplicativeLR::builder(options::<MultiplicativeLR>(&kwargs, |o| {
                    o.lr_lambda = Some(f);
                    Ok(())
                })?)
                .into()
            }
        }
        "StepLR" => StepLR::builder(options::<StepLR>(&plain()?, |_| Ok(()))?).into(),
        "MultiStepLR" => MultiStepLR::builder(options::<MultiStepLR>(&plain()?, |_| Ok(()))?).into(),
        "ConstantLR" => ConstantLR::builder(options::<ConstantLR>(&plain()?, |_| Ok(()))?).into(),
        "LinearLR" => LinearLR::builder(options::<LinearLR>(&plain()?, |_| Ok(()))?).into(),
        "ExponentialLR" => ExponentialLR::builder(options::<ExponentialLR>(&plain()?, |_| Ok(()))?).into(),
        "PolynomialLR" => PolynomialLR::builder(options::<PolynomialLR>(&plain()?, |_| Ok(()))?).into(),
        "CosineAnnealingLR" => CosineAnnealingLR::builder(options::<CosineAnnealingLR>(&plain()?, |_| Ok(()))?).into(),
        "CosineAnnealingWarmRestarts" => {
            CosineAnnealingWarmRestarts::builder(options::<CosineAnnealingWarmRestarts>(&plain()?, |_| Ok(()))?).into()
        }
        "CyclicLR" => {
            let (kwargs, f) = split_functions(spec, &["scale_fn"])?;
            CyclicLR::builder(options::<CyclicLR>(&kwargs, |o| {
                if let Some(f) = &f[0] {
                    o.scale_fn = Some(lambda(f)?);
                }
                Ok(())
            })?)
            .into()
        }
        "OneCycleLR" => OneCycleLR::builder(options::<OneCycleLR>(&plain()?, |_| Ok(()))?).into(),
        "SWALR" => Swalr::builder(options::<Swalr>(&plain()?, |_| Ok(()))?).into(),
        "SequentialLR" => {
            let kwargs = plain()?;
            let milestones = match kwargs.get("milestones") {
                Some(DictValue::List(items)) => items
                    .iter()
                    .map(|m| m.as_u64().ok_or_else(|| format!("milestone {m:?}")))
                    .collect::<Result<Vec<u64>, _>>()?,
                _ => return Err("SequentialLR without `milestones`".into()),
            };
            if kwargs.len() != 1 {
                return Err(format!("SequentialLR kwargs {kwargs:?}"));
            }
            SequentialLR::builder(children()?, milestones).into()
        }
        "ChainedScheduler" => {
            if !plain()?.is_empty() {
                return Err("ChainedScheduler kwargs".into());
            }
            ChainedScheduler::builder(children()?).into()
        }
        other => return Err(format!("unknown scheduler class {other}")),
    })
}

/// The scheduler under test, by how it is stepped.
enum Sched {
    Steps(Box<dyn DynSchedule>),
    Metric(MetricScheduler<ReduceLROnPlateau>),
    Epochs(Scheduler<CosineAnnealingWarmRestarts>),
}

impl Sched {
    fn build(spec: &Json, opt: &mut dyn DynOptimizer<f64>) -> Result<Self, String> {
        let e = |e: optimizers::Error| e.to_string();
        match text(field(spec, "class")?) {
            Some("ReduceLROnPlateau") => Ok(Sched::Metric(
                ReduceLROnPlateau::new(opt, options::<ReduceLROnPlateau>(&kwargs(spec)?, |_| Ok(()))?).map_err(e)?,
            )),
            Some("CosineAnnealingWarmRestarts") => Ok(Sched::Epochs(
                CosineAnnealingWarmRestarts::new(
                    opt,
                    options::<CosineAnnealingWarmRestarts>(&kwargs(spec)?, |_| Ok(()))?,
                )
                .map_err(e)?,
            )),
            _ => {
                let b = builder(spec)?;
                let mut opt = opt;
                Ok(Sched::Steps(Build::run(&mut opt, |cx| cx.build(b)).map_err(e)?))
            }
        }
    }

    fn get_last_lr(&self) -> &[f64] {
        match self {
            Sched::Steps(s) => s.get_last_lr(),
            Sched::Metric(s) => s.get_last_lr(),
            Sched::Epochs(s) => s.get_last_lr(),
        }
    }

    fn state_dict(&self) -> DictValue<'static> {
        match self {
            Sched::Steps(s) => s.state_dict(),
            Sched::Metric(s) => s.state_dict(),
            Sched::Epochs(s) => s.state_dict(),
        }
    }

    fn load_state_dict(&mut self, dict: &DictValue<'_>) -> optimizers::Result<()> {
        match self {
            Sched::Steps(s) => s.load_state_dict(dict),
            Sched::Metric(s) => s.load_state_dict(dict),
            Sched::Epochs(s) => s.load_state_dict(dict),
        }
    }

    fn group_entries(&self, group: usize) -> Map<'static> {
        match self {
            Sched::Steps(s) => s.group_entries(group),
            Sched::Metric(s) => s.group_entries(group),
            Sched::Epochs(s) => s.group_entries(group),
        }
    }

    /// One step of the file: with its metric or explicit epoch if it has one.
    fn step(&mut self, opt: &mut dyn DynOptimizer<f64>, step: &Json) -> Result<(), String> {
        let e = |e: optimizers::Error| e.to_string();
        let step_map = object(step)?;
        let number = |key: &str| {
            step_map
                .get(key)
                .map(|v| v.as_f64().ok_or_else(|| format!("`{key}`: {v:?}")))
        };
        match (self, number("metric").transpose()?, number("step_arg").transpose()?) {
            (Sched::Metric(s), Some(metric), None) => s.step(opt, metric).map_err(e),
            (Sched::Epochs(s), None, Some(epoch)) => s.step_at(opt, epoch).map_err(e),
            (Sched::Epochs(s), None, None) => s.step(opt).map_err(e),
            (Sched::Steps(s), None, None) => s.step(&mut &mut *opt).map_err(e),
            _ => Err(format!("a step this scheduler cannot take: {step:?}")),
        }
    }
}

// ----- the optimizer ---------------------------------------------------------------------------

/// The optimizer's kind and constructor options.
struct OptSpec {
    kind: &'static str,
    defaults: Map<'static>,
    groups: Vec<Map<'static>>,
}

impl OptSpec {
    fn read(fx: &Json) -> Result<Self, String> {
        let spec = field(fx, "optimizer")?;
        only(spec, "the optimizer", &["class", "defaults", "groups"])?;
        let kind = match text(field(spec, "class")?) {
            Some("SGD") => "sgd",
            Some("Adam") => "adam",
            other => return Err(format!("unknown optimizer {other:?}")),
        };
        let groups = list(field(spec, "groups")?)?
            .iter()
            .map(|g| object(g).cloned())
            .collect::<Result<_, _>>()?;
        Ok(OptSpec {
            kind,
            defaults: object(field(spec, "defaults")?)?.clone(),
            groups,
        })
    }

    /// A fresh optimizer: one tiny parameter per group (they never get gradients).
    fn build(&self) -> Result<Box<dyn DynOptimizer<f64>>, String> {
        let groups = self
            .groups
            .iter()
            .map(|g| (vec![Param::new(array![0.0f64])], g.clone()))
            .collect();
        registry::build::<f64>(self.kind, groups, &self.defaults).map_err(|e| e.to_string())
    }
}

/// Applies a step's `set_lr` and `add_group` (before the optimizer's and the scheduler's step).
fn events(opt: &mut dyn DynOptimizer<f64>, step: &Json) -> Result<(), String> {
    let step = object(step)?;
    if let Some(sets) = step.get("set_lr") {
        for set in list(sets)? {
            let g = field(set, "group")?.as_u64().ok_or("`group`")? as usize;
            let lr = field(set, "lr")?.as_f64().ok_or("`lr`")?;
            opt.set_lr(g, lr).map_err(|e| e.to_string())?;
        }
    }
    if let Some(options) = step.get("add_group") {
        opt.add_param_group_map(vec![Param::new(array![0.0f64])], object(options)?)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Checks a step's `last_lr` and `groups`.
fn compare_step(
    report: &mut Report,
    at: &str,
    opt: &dyn DynOptimizer<f64>,
    sched: &Sched,
    step: &Json,
) -> Result<(), String> {
    let last = list(field(step, "last_lr")?)?;
    if last.len() != sched.get_last_lr().len() {
        report.fail(format!(
            "{at}: {} last lrs vs torch's {}",
            sched.get_last_lr().len(),
            last.len()
        ));
    }
    for (i, (a, e)) in sched.get_last_lr().iter().zip(last).enumerate() {
        report.close(&format!("{at}.last_lr[{i}]"), *a, e.as_f64().ok_or("a last lr")?);
    }
    let groups = list(field(step, "groups")?)?;
    if groups.len() != opt.num_groups() {
        report.fail(format!("{at}: {} groups vs torch's {}", opt.num_groups(), groups.len()));
    }
    for (g, group) in groups.iter().enumerate() {
        for (key, expected) in object(group)?.iter() {
            let actual = opt.option(g, key).map_err(|e| e.to_string())?;
            report.value(&format!("{at}.groups[{g}].{key}"), &actual, expected);
        }
    }
    Ok(())
}

/// Checks torch's `param_groups` (the optimizer's options, and what torch's scheduler wrote
/// into them, which the scheduler keeps here) against the optimizer and the scheduler.
fn compare_param_groups(
    report: &mut Report,
    at: &str,
    opt: &dyn DynOptimizer<f64>,
    sched: &Sched,
    torch: &Json,
) -> Result<(), String> {
    let groups = list(torch)?;
    if groups.len() != opt.num_groups() {
        report.fail(format!("{at}: {} groups vs torch's {}", opt.num_groups(), groups.len()));
    }
    for (g, group) in groups.iter().enumerate() {
        let group = object(group)?;
        let entries = sched.group_entries(g);
        for (key, expected) in group.iter() {
            let at = format!("{at}[{g}].{key}");
            match (opt.option(g, key), entries.get(key)) {
                (Ok(actual), _) => report.value(&at, &actual, expected),
                (Err(_), Some(actual)) => report.value(&at, actual, expected),
                (Err(_), None) => report.fail(format!("{at}: neither the optimizer nor the scheduler has it")),
            }
        }
        for (key, _) in entries.iter() {
            if !group.contains_key(key) {
                report.fail(format!(
                    "{at}[{g}].{key}: the scheduler has it, torch's param group does not"
                ));
            }
        }
    }
    Ok(())
}

// ----- a run -----------------------------------------------------------------------------------

/// The values a step leaves: last lrs and every group's options, for the resume check.
fn snapshot(opt: &dyn DynOptimizer<f64>, sched: &Sched) -> (Vec<f64>, String) {
    (
        sched.get_last_lr().to_vec(),
        opt.state_dict().to_json() + &tree_to_json(&sched.state_dict()),
    )
}

fn replay(fx: &Json, report: &mut Report) -> Result<(), String> {
    if field(fx, "schema")?.as_u64() != Some(1) {
        return Err("unknown schema".into());
    }
    only(
        fx,
        "the file",
        &[
            "schema",
            "name",
            "source",
            "optimizer",
            "scheduler",
            "initial",
            "steps",
            "final",
        ],
    )?;
    let spec = field(fx, "scheduler")?;
    let opt_spec = OptSpec::read(fx)?;
    let mut opt = opt_spec.build()?;
    let mut sched = Sched::build(spec, &mut *opt)?;

    let initial = field(fx, "initial")?;
    only(
        initial,
        "`initial`",
        &["last_lr", "groups", "param_groups", "state_dict"],
    )?;
    compare_step(report, "initial", &*opt, &sched, initial)?;
    compare_param_groups(
        report,
        "initial.param_groups",
        &*opt,
        &sched,
        field(initial, "param_groups")?,
    )?;
    report.state_dict("initial.state_dict", &sched.state_dict(), field(initial, "state_dict")?);

    let steps = list(field(fx, "steps")?)?;
    // Where to interrupt: at the mid-run state dict, else half-way.
    let stop = steps
        .iter()
        .position(|s| field(s, "state_dict").is_ok())
        .unwrap_or(steps.len() / 2);
    let mut resumed: Option<(Box<dyn DynOptimizer<f64>>, Sched)> = None;
    let mut added: Vec<&Json> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let known = [
            "epoch",
            "set_lr",
            "add_group",
            "metric",
            "step_arg",
            "last_lr",
            "groups",
            "state_dict",
        ];
        only(step, "a step", &known)?;
        let epoch = field(step, "epoch")?.as_u64().ok_or("`epoch`")?;
        if epoch != i as u64 + 1 {
            return Err(format!("step {i} has epoch {epoch}: the steps are not in order"));
        }
        let at = format!("epoch {epoch}");
        if let Ok(options) = field(step, "add_group") {
            added.push(options);
        }
        events(&mut *opt, step)?;
        opt.step().map_err(|e| e.to_string())?;
        sched.step(&mut *opt, step)?;
        compare_step(report, &at, &*opt, &sched, step)?;
        if let Ok(torch) = field(step, "state_dict") {
            report.state_dict(&format!("{at}.state_dict"), &sched.state_dict(), torch);
        }
        if let Some((ropt, rsched)) = &mut resumed {
            events(&mut **ropt, step)?;
            ropt.step().map_err(|e| e.to_string())?;
            rsched.step(&mut **ropt, step)?;
            if snapshot(&**ropt, rsched) != snapshot(&*opt, &sched) {
                report.fail(format!(
                    "{at}: the run resumed from a checkpoint differs from the uninterrupted one"
                ));
            }
        }
        if i == stop {
            resumed = Some(resume(&opt_spec, spec, &added, &*opt, &sched)?);
        }
    }
    let last = field(fx, "final")?;
    only(last, "`final`", &["param_groups", "state_dict"])?;
    compare_param_groups(
        report,
        "final.param_groups",
        &*opt,
        &sched,
        field(last, "param_groups")?,
    )?;
    report.state_dict("final.state_dict", &sched.state_dict(), field(last, "state_dict")?);
    Ok(())
}

/// A fresh optimizer and scheduler, built as the run's were (groups added after), with the
/// run's state dicts loaded from JSON text.
fn resume(
    opt_spec: &OptSpec,
    spec: &Json,
    added: &[&Json],
    opt: &dyn DynOptimizer<f64>,
    sched: &Sched,
) -> Result<(Box<dyn DynOptimizer<f64>>, Sched), String> {
    let opt_json = opt.state_dict().to_json();
    let sched_json = tree_to_json(&sched.state_dict());
    let mut fresh = opt_spec.build()?;
    let mut fresh_sched = Sched::build(spec, &mut *fresh)?;
    for options in added {
        fresh
            .add_param_group_map(vec![Param::new(array![0.0f64])], object(options)?)
            .map_err(|e| e.to_string())?;
    }
    let e = |e: optimizers::Error| format!("resuming: {e}");
    fresh
        .load_state_dict(&StateDict::from_json(&opt_json).map_err(e)?)
        .map_err(e)?;
    fresh_sched
        .load_state_dict(&tree_from_json(&sched_json).map_err(e)?)
        .map_err(e)?;
    if snapshot(&*fresh, &fresh_sched) != snapshot(opt, sched) {
        return Err("the state dicts loaded do not give the state saved".into());
    }
    Ok((fresh, fresh_sched))
}

fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let files = fixture_files(dir)?;
    if files.is_empty() {
        return Err(format!("no *.json runs in {}", dir.display()));
    }
    Ok(files)
}

fn main() {
    let dir = fixtures_dir().join("lr_scheduler");
    let files = match files(&dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut failed = Vec::new();
    let (mut worst, mut worst_file, mut compared) = (0.0f64, String::new(), 0);
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut report = Report::new();
        let outcome = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| tree_from_json(&text).map_err(|e| e.to_string()))
            .and_then(|fx| replay(&fx, &mut report));
        match outcome {
            Err(e) => {
                println!("FAIL {name}: cannot replay: {e}");
                failed.push(name);
            }
            Ok(()) if report.mismatches.count() > 0 => {
                report.mismatches.print(&name);
                failed.push(name);
            }
            Ok(()) => {
                println!(
                    "ok   {name} ({} values, worst relative difference {:.1e})",
                    report.compared, report.worst
                );
                compared += report.compared;
                if report.worst > worst || worst_file.is_empty() {
                    (worst, worst_file) = (report.worst, name);
                }
            }
        }
    }
    println!("{compared} values compared; worst relative difference {worst:.1e} ({worst_file})");
    println!("replayed {} schedules", files.len() - failed.len());
    if !failed.is_empty() {
        println!("{} of {} runs failed: {}", failed.len(), files.len(), failed.join(", "));
        std::process::exit(1);
    }
}
