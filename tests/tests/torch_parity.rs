//! Replays every PyTorch reference trajectory in the fixture directory (`$OPTIM_FIXTURES`,
//! else `../shared/fixtures/torch`): builds the optimizer the file names from its options,
//! feeds it the same gradients (or the same loss through a closure), and compares the
//! parameters (and loss and counters) after every step and the final state dict with
//! torch's, within the tolerances of the fixtures' README. For every file it also saves
//! the state dict half-way in every checkpoint format (JSON, safetensors, `.pt`), loads
//! each into a fresh optimizer over fresh copies of the parameters, continues, and
//! requires bit-identical final parameters and state.
//!
//! Muon's files also record torch's orthogonalised update `O` per step (`ns_update`): it is
//! checked apart from the parameters, bit for bit. From our momentum buffer after the step
//! and the step's gradient, the Nesterov look-ahead (or the buffer) goes through
//! `optimizers::newton_schulz` with the group's options and must give torch's `O`; and the
//! parameter must be exactly `p · (1 − lr · weight_decay) − lr' · O` with torch's `O`.
//!
//! A file it cannot interpret (unknown optimizer, option, event, dtype, mode or problem)
//! fails the run: nothing is skipped.

use optim_tests::fixture::{Fixture, GroupSpec, Mode, StepSpec, fixtures_dir, trajectory_files};
use optim_tests::mismatches::Mismatches;
use optim_tests::trees::TempDir;
use optimizers::ndarray::{Array2, ArrayD, ArrayView2, IxDyn};
use optimizers::newton_schulz::NsScratch;
use optimizers::{AdjustLr, DType, DictValue, DynOptimizer, Float, Map, Muon, OptionValue, Param, StateDict};
use optimizers::{checkpoint, registry};
use serde_json::Value as Json;

/// `|actual − expected| ≤ atol + rtol · |expected|`.
#[derive(Clone, Copy, Debug)]
struct Tol {
    rtol: f64,
    atol: f64,
}

/// The README's tolerances: (per step, final state).
fn tolerances(optimizer: &str, dtype: DType) -> (Tol, Tol) {
    let t = |rtol, atol| Tol { rtol, atol };
    match (optimizer == "lbfgs", dtype) {
        (false, DType::F64) => (t(1e-9, 1e-12), t(1e-9, 1e-12)),
        (false, DType::F32) => (t(1e-5, 1e-6), t(1e-5, 1e-6)),
        (true, DType::F64) => (t(1e-7, 1e-10), t(1e-7, 1e-10)),
        (true, DType::F32) => (t(1e-4, 1e-5), t(1e-3, 1e-5)),
    }
}

/// Collects mismatches of one fixture (the first few are reported).
struct Report {
    mismatches: Mismatches,
    /// The largest fraction of the allowed error seen, `|a − e| / (atol + rtol·|e|)`.
    worst: f64,
    /// Muon: how many values of torch's `ns_update` were compared.
    ns_values: usize,
}

impl Report {
    fn new() -> Self {
        Report {
            mismatches: Mismatches::default(),
            worst: 0.0,
            ns_values: 0,
        }
    }
    fn fail(&mut self, message: String) {
        self.mismatches.push(message);
    }
    fn close(&mut self, at: &str, actual: f64, expected: f64, tol: Tol) {
        let used = (actual - expected).abs() / (tol.atol + tol.rtol * expected.abs());
        if used.is_finite() {
            self.worst = self.worst.max(used);
        }
        let ok =
            (actual - expected).abs() <= tol.atol + tol.rtol * expected.abs() || (actual.is_nan() && expected.is_nan());
        if !ok {
            self.fail(format!(
                "{at}: {actual:e} vs torch {expected:e} (diff {:e})",
                (actual - expected).abs()
            ));
        }
    }
}

fn new_params<A: Float>(specs: impl Iterator<Item = (Vec<usize>, Vec<f64>)>) -> Vec<Param<A>> {
    specs
        .map(|(shape, data)| {
            let data = data.into_iter().map(A::from_f64).collect();
            // Shapes and lengths were checked against each other when the file was read.
            Param::new(ArrayD::from_shape_vec(IxDyn(&shape), data).expect("shape checked when parsed"))
        })
        .collect()
}

fn group_params<A: Float>(params: &[Param<A>], group: &GroupSpec) -> Result<Vec<Param<A>>, String> {
    group
        .params
        .iter()
        .map(|&i| {
            params
                .get(i)
                .cloned()
                .ok_or_else(|| format!("group refers to parameter {i}, which does not exist"))
        })
        .collect()
}

fn build<A: Float>(
    fx: &Fixture,
    params: &[Param<A>],
    groups: &[GroupSpec],
) -> Result<Box<dyn DynOptimizer<A>>, String> {
    let groups = groups
        .iter()
        .map(|g| Ok((group_params(params, g)?, g.options.clone())))
        .collect::<Result<Vec<_>, String>>()?;
    registry::build::<A>(&fx.optimizer, groups, &fx.defaults).map_err(|e| format!("building `{}`: {e}", fx.optimizer))
}

/// The events before a step: `add_group`, `set_options`, gradients.
fn apply_events<A: Float>(opt: &mut dyn DynOptimizer<A>, params: &[Param<A>], step: &StepSpec) -> Result<(), String> {
    if let Some(group) = &step.add_group {
        opt.add_param_group_map(group_params(params, group)?, &group.options)
            .map_err(|e| format!("add_group: {e}"))?;
    }
    for (g, options) in &step.set_options {
        for (key, value) in options.iter() {
            opt.set_option(*g, key, value.clone())
                .map_err(|e| format!("set_options: {e}"))?;
        }
    }
    if let Some(grads) = &step.grads {
        if grads.len() != params.len() {
            return Err(format!("{} gradients for {} parameters", grads.len(), params.len()));
        }
        for (p, g) in params.iter().zip(grads) {
            match g {
                Some(g) => {
                    let g: Vec<A> = g.iter().map(|&x| A::from_f64(x)).collect();
                    p.set_grad_from_slice(&g).map_err(|e| e.to_string())?;
                }
                None => p.zero_grad(true),
            }
        }
    }
    Ok(())
}

/// One step: from the given gradients, or with a closure over the problem (whose `x` is
/// every parameter, flattened, in order).
fn run_step<A: Float>(opt: &mut dyn DynOptimizer<A>, params: &[Param<A>], mode: &Mode) -> Result<Option<f64>, String> {
    match mode {
        Mode::Grads => opt.step().map(|()| None).map_err(|e| e.to_string()),
        Mode::Closure(problem) => {
            let problem = problem.cast::<A>();
            let n: usize = params.iter().map(Param::numel).sum();
            let (mut x, mut g) = (vec![A::zero(); n], vec![A::zero(); n]);
            let mut closure = || {
                let mut at = 0;
                for p in params {
                    let k = p.numel();
                    x[at..at + k]
                        .iter_mut()
                        .zip(p.value().iter())
                        .for_each(|(x, &v)| *x = v);
                    at += k;
                }
                let loss = problem.eval(&x, &mut g);
                let mut at = 0;
                for p in params {
                    let k = p.numel();
                    // `g[at..at + k]` has exactly `numel` elements.
                    p.set_grad_from_slice(&g[at..at + k])
                        .expect("gradient of the parameter's length");
                    at += k;
                }
                loss.as_f64()
            };
            opt.step_with(&mut closure).map(Some).map_err(|e| e.to_string())
        }
    }
}

fn values<A: Float>(params: &[Param<A>]) -> Vec<Vec<A>> {
    params.iter().map(|p| p.value().iter().copied().collect()).collect()
}

/// A counter from the optimizer's state dict (`state["0"]["func_evals"]`).
fn counter(sd: &StateDict<'_>, key: &str) -> Option<u64> {
    sd.state.get(&0)?.get(key)?.as_u64()
}

/// Keys whose numbers must match exactly (the README's "Exact" list).
const EXACT_COUNTERS: &[&str] = &["step", "func_evals", "n_iter"];

/// Compares our state dict (as JSON) with torch's.
fn compare_json(report: &mut Report, at: &str, ours: &Json, torch: &Json, tol: Tol, exact: bool) {
    match (ours, torch) {
        (Json::Number(a), Json::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            if exact {
                if a != b {
                    report.fail(format!("{at}: {a} vs torch {b} (must match exactly)"));
                }
            } else {
                report.close(at, a, b, tol);
            }
        }
        (Json::String(s), Json::Number(b)) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
            report.fail(format!("{at}: {s} vs torch {b}"))
        }
        // torch keeps `step` (and other scalars) as 0-d float32 tensors, and the fixtures
        // write them as plain numbers: ours is the tensor, which must be float32 and equal.
        (Json::Object(t), Json::Number(_)) if t.get("shape") == Some(&Json::Array(vec![])) => {
            if t.get("dtype").and_then(Json::as_str) != Some("float32") {
                report.fail(format!("{at}: a {:?} tensor vs torch's float32 scalar", t.get("dtype")));
            }
            match t.get("data").and_then(Json::as_array).map(Vec::as_slice) {
                Some([x]) => compare_json(report, at, x, torch, tol, exact),
                _ => report.fail(format!("{at}: a malformed 0-d tensor {ours}")),
            }
        }
        (Json::Array(a), Json::Array(b)) => {
            if a.len() != b.len() {
                report.fail(format!("{at}: {} items vs torch {}", a.len(), b.len()));
                return;
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare_json(report, &format!("{at}[{i}]"), x, y, tol, exact);
            }
        }
        (Json::Object(a), Json::Object(b)) => {
            let ours_keys: Vec<&String> = a.keys().filter(|k| *k != "dtype").collect();
            let mut theirs_keys: Vec<&String> = b.keys().collect();
            let mut sorted = ours_keys.clone();
            sorted.sort();
            theirs_keys.sort();
            if sorted != theirs_keys {
                report.fail(format!("{at}: keys {sorted:?} vs torch {theirs_keys:?}"));
                return;
            }
            for key in ours_keys {
                let exact = exact || EXACT_COUNTERS.contains(&key.as_str()) || key == "shape";
                compare_json(report, &format!("{at}.{key}"), &a[key], &b[key], tol, exact);
            }
        }
        (a, b) if a == b => {}
        (a, b) => report.fail(format!("{at}: {a} vs torch {b}")),
    }
}

fn compare_state_dict(report: &mut Report, sd: &StateDict<'_>, torch: &Json, tol: Tol) -> Result<(), String> {
    let ours: Json = serde_json::from_str(&sd.to_json()).map_err(|e| e.to_string())?;
    let Json::Object(torch_map) = torch else {
        return Err("the fixture's state_dict is not an object".into());
    };
    let mut keys: Vec<&String> = torch_map.keys().collect();
    keys.sort();
    if keys != ["param_groups", "state"] {
        return Err(format!("the fixture's state_dict has keys {keys:?}"));
    }
    // Every param_groups entry is exact; state numbers within the state tolerance.
    compare_json(
        report,
        "state_dict.param_groups",
        &ours["param_groups"],
        &torch["param_groups"],
        tol,
        true,
    );
    compare_json(report, "state_dict.state", &ours["state"], &torch["state"], tol, false);
    Ok(())
}

/// Option `key` of a state-dict group, as type `T`.
fn group_option<T: OptionValue>(options: &Map<'_>, key: &str) -> Result<T, String> {
    let value = options.get(key).ok_or_else(|| format!("the group has no `{key}`"))?;
    T::from_value(value).ok_or_else(|| format!("the group's `{key}` is {}", value.describe()))
}

/// A Muon group's hyperparameters, read from its state-dict options.
fn muon_group(options: &Map<'_>) -> Result<Muon, String> {
    Ok(Muon {
        lr: group_option(options, "lr")?,
        weight_decay: group_option(options, "weight_decay")?,
        momentum: group_option(options, "momentum")?,
        nesterov: group_option(options, "nesterov")?,
        ns_coefficients: group_option(options, "ns_coefficients")?,
        eps: group_option(options, "eps")?,
        ns_steps: group_option(options, "ns_steps")?,
        adjust_lr_fn: group_option::<AdjustLr>(options, "adjust_lr_fn")?,
    })
}

/// torch's `a.lerp(b, w)` as the fixtures' README gives it, `w` rounded to `A`.
fn torch_lerp<A: Float>(a: A, b: A, w: f64) -> A {
    let w = A::from_f64(w);
    if w.abs() < A::from_f64(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (A::one() - w)
    }
}

/// Checks step `i` of a Muon run against torch's `ns_update` (see the crate docs): `sd` is
/// our state dict after the step, `before` the parameters' values before it.
fn check_ns_update<A: Float>(
    report: &mut Report,
    i: usize,
    step: &StepSpec,
    sd: &StateDict<'_>,
    before: &[Vec<A>],
    params: &[Param<A>],
) -> Result<(), String> {
    let recorded = step.ns_update.as_ref().ok_or("a Muon step without `ns_update`")?;
    let grads = step.grads.as_ref().ok_or("a Muon step without `grads`")?;
    if recorded.len() != params.len() {
        return Err(format!(
            "{} ns_update entries for {} parameters",
            recorded.len(),
            params.len()
        ));
    }
    let mut scratch = NsScratch::new();
    for group in &sd.param_groups {
        let muon = muon_group(&group.options)?;
        for &j in &group.params {
            let (torch_o, g) = match (&recorded[j], &grads[j]) {
                (Some(o), Some(g)) => (o, g),
                (None, None) => continue,
                (o, _) => {
                    return Err(format!(
                        "parameter {j}: an ns_update {} with a gradient {}",
                        if o.is_some() { "given" } else { "missing" },
                        if o.is_some() { "missing" } else { "given" }
                    ));
                }
            };
            let &[rows, cols] = params[j].shape() else {
                return Err(format!("parameter {j} of shape {:?} in a Muon run", params[j].shape()));
            };
            if torch_o.len() != rows * cols || g.len() != rows * cols {
                return Err(format!("parameter {j}: ns_update or gradient of the wrong length"));
            }
            let buf = match sd.state.get(&j).and_then(|s| s.get("momentum_buffer")) {
                Some(DictValue::Tensor(t)) if t.len() == rows * cols => t.to_vec::<A>(),
                other => {
                    report.fail(format!("step {i} param {j}: momentum_buffer {other:?} after a step"));
                    continue;
                }
            };
            // The orthogonalisation's input from our buffer, as torch forms it; in f32, as torch
            // converts an f64 input before rounding it to bfloat16.
            let u = g
                .iter()
                .zip(&buf)
                .map(|(&g, &b)| {
                    let g = A::from_f64(g);
                    let u = if muon.nesterov {
                        torch_lerp(g, b, muon.momentum)
                    } else {
                        b
                    };
                    u.as_f64() as f32
                })
                .collect::<Vec<f32>>();
            let u = ArrayView2::from_shape((rows, cols), &u).map_err(|e| e.to_string())?;
            let mut ours = Array2::<f32>::zeros((rows, cols));
            muon.newton_schulz()
                .orthogonalize(u, ours.view_mut(), &mut scratch)
                .map_err(|e| format!("step {i} param {j}: {e}"))?;
            report.ns_values += torch_o.len();
            for (k, (&o, &t)) in ours.iter().zip(torch_o).enumerate() {
                if f64::from(o).to_bits() != t.to_bits() {
                    report.fail(format!(
                        "step {i} ns_update {j}[{k}]: {o:e} vs torch {t:e} (must match exactly)"
                    ));
                }
            }
            // The step taken, with torch's O.
            let decay = A::from_f64(1.0 - muon.lr * muon.weight_decay);
            let scale = A::from_f64(-muon.adjusted_lr(rows, cols));
            for (k, ((&p, &old), &t)) in params[j].value().iter().zip(&before[j]).zip(torch_o).enumerate() {
                let expected = old * decay + scale * A::from_f64(t);
                if p.as_f64().to_bits() != expected.as_f64().to_bits() {
                    report.fail(format!(
                        "step {i} param {j}[{k}]: {:e}, not the step with torch's ns_update ({:e})",
                        p.as_f64(),
                        expected.as_f64()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Replays one fixture in element type `A`; `Err` when the file cannot be interpreted.
fn replay<A: Float>(fx: &Fixture, report: &mut Report) -> Result<(), String> {
    let (step_tol, state_tol) = tolerances(&fx.optimizer, fx.dtype);
    let params = new_params::<A>(fx.params.iter().map(|t| (t.shape.clone(), t.data.clone())));
    let mut opt = build(fx, &params, &fx.groups)?;
    let half = fx.steps.len() / 2;
    let mut groups = fx.groups.clone();
    let mut saved = None;
    let scratch = TempDir::new("optim-torch-parity");
    let binary = ["safetensors", "pt"].map(|ext| scratch.join(&format!("half.{ext}")));

    for (i, step) in fx.steps.iter().enumerate() {
        if i == half {
            let dict = opt.state_dict();
            for path in &binary {
                checkpoint::save(path, &dict).map_err(|e| format!("saving at step {half}: {e}"))?;
            }
            saved = Some((dict.to_json(), values(&params), groups.clone()));
        }
        apply_events(opt.as_mut(), &params, step).map_err(|e| format!("step {i}: {e}"))?;
        groups.extend(step.add_group.clone());
        let before = values(&params);
        let loss = run_step(opt.as_mut(), &params, &fx.mode).map_err(|e| format!("step {i}: {e}"))?;

        if step.params.len() != params.len() {
            return Err(format!(
                "step {i}: {} parameter lists for {} parameters",
                step.params.len(),
                params.len()
            ));
        }
        for (j, (p, expected)) in params.iter().zip(&step.params).enumerate() {
            if expected.len() != p.numel() {
                return Err(format!(
                    "step {i}: parameter {j} has {} values, expected {}",
                    expected.len(),
                    p.numel()
                ));
            }
            for (k, (&a, &e)) in p.value().iter().zip(expected).enumerate() {
                report.close(&format!("step {i} param {j}[{k}]"), a.as_f64(), e, step_tol);
            }
        }
        if let (Some(expected), Some(actual)) = (step.loss, loss) {
            report.close(&format!("step {i} loss"), actual, expected, step_tol);
        }
        let sd = opt.state_dict().into_owned();
        match (fx.optimizer.as_str(), &step.ns_update) {
            ("muon", _) => {
                check_ns_update(report, i, step, &sd, &before, &params).map_err(|e| format!("step {i}: {e}"))?
            }
            (_, Some(_)) => return Err(format!("step {i}: an ns_update in a `{}` run", fx.optimizer)),
            (_, None) => {}
        }
        for (key, expected) in [("func_evals", step.func_evals), ("n_iter", step.n_iter)] {
            if let Some(expected) = expected {
                let actual = counter(&sd, key);
                if actual != Some(expected) {
                    report.fail(format!("step {i} {key}: {actual:?} vs torch {expected}"));
                }
            }
        }
    }
    compare_state_dict(report, &opt.state_dict(), &fx.state_dict, state_tol)?;

    // Saved half-way in each format: load into a fresh optimizer over fresh copies, continue.
    let (json, saved_values, saved_groups) = saved.ok_or("a fixture without steps")?;
    let bits = |ps: &[Param<A>]| -> Vec<u64> {
        ps.iter()
            .flat_map(|p| p.value().iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>())
            .collect()
    };
    let files = binary
        .iter()
        .map(|path| checkpoint::load(path).map_err(|e| format!("reading the state dict saved half-way: {e}")))
        .collect::<Result<Vec<_>, String>>()?;
    let mut dicts = vec![(
        "JSON",
        StateDict::from_json(&json).map_err(|e| format!("reading the saved state dict: {e}"))?,
    )];
    for (file, format) in files.iter().zip(["safetensors", ".pt"]) {
        dicts.push((
            format,
            file.state_dict()
                .map_err(|e| format!("reading the {format} file: {e}"))?,
        ));
    }
    for (format, dict) in dicts {
        let copies = new_params::<A>(
            fx.params
                .iter()
                .zip(&saved_values)
                .map(|(t, v)| (t.shape.clone(), v.iter().map(|x| x.as_f64()).collect())),
        );
        let mut resumed = build(fx, &copies, &saved_groups)?;
        resumed
            .load_state_dict(&dict)
            .map_err(|e| format!("loading the {format} state dict: {e}"))?;
        for (i, step) in fx.steps.iter().enumerate().skip(half) {
            apply_events(resumed.as_mut(), &copies, step).map_err(|e| format!("resumed step {i}: {e}"))?;
            run_step(resumed.as_mut(), &copies, &fx.mode).map_err(|e| format!("resumed step {i}: {e}"))?;
        }
        if bits(&copies) != bits(&params) {
            report.fail(format!(
                "save at step {half} as {format}, load, continue: parameters differ from the uninterrupted run"
            ));
        }
        if resumed.state_dict().to_json() != opt.state_dict().to_json() {
            report.fail(format!(
                "save at step {half} as {format}, load, continue: state differs from the uninterrupted run"
            ));
        }
    }
    Ok(())
}

fn main() {
    let dir = fixtures_dir();
    let files = match trajectory_files(&dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            eprintln!("no *.json fixtures in {} or its optimizers/ folder", dir.display());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut failed = Vec::new();
    let mut ns_values = 0;
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut report = Report::new();
        let outcome = Fixture::load(path).and_then(|fx| match fx.dtype {
            DType::F64 => replay::<f64>(&fx, &mut report),
            DType::F32 => replay::<f32>(&fx, &mut report),
        });
        ns_values += report.ns_values;
        match outcome {
            Err(e) => {
                println!("FAIL {name}: cannot replay: {e}");
                failed.push(name);
            }
            Ok(()) if report.mismatches.count() > 0 => {
                report.mismatches.print(&name);
                failed.push(name);
            }
            Ok(()) => println!("ok   {name} (worst difference: {:.1e} of the tolerance)", report.worst),
        }
    }
    println!("compared {ns_values} values of Muon's ns_update bit for bit");
    println!("replayed {} fixtures", files.len() - failed.len());
    if !failed.is_empty() {
        println!(
            "{} of {} fixtures failed: {}",
            failed.len(),
            files.len(),
            failed.join(", ")
        );
        std::process::exit(1);
    }
}
