//! Replays every Muon trajectory `muon__*.json` in `$OPTIM_FIXTURES/optimizers` (default
//! `shared/fixtures/torch/optimizers`) through the Newton–Schulz orthogonalisation and
//! requires torch's recorded `ns_update` bit for bit.
//!
//! Muon's input `u` is rebuilt from the recorded gradients as torch 2.15 does, in the file's
//! dtype: the momentum buffer starts at zeros at a parameter's first gradient,
//! `buf = lerp(buf, g, 1 - momentum)`, and `u = lerp(g, buf, momentum)` with nesterov, else
//! `buf`; `lerp` is torch's CPU formula (fused multiply-add, two branches on the weight).
//! The options come from torch's class defaults, the file's `defaults`, the group's
//! `options`, `add_group` and `set_options`, read at every step. The final buffers and
//! group options are checked against the file's `state_dict` too, so that a wrong `u` shows
//! as such. Anything the replay does not understand fails it.
//!
//! Runs as its own program (`harness = false`) so that the closing line always shows:
//! `checked N newton-schulz updates`.

use std::collections::BTreeMap;
use std::ops::Sub;
use std::path::Path;

use optim_tests::fixture::{fixture_files, fixtures_dir};
use optimizers::ndarray::{Array2, ArrayView2};
use optimizers::newton_schulz::{NewtonSchulz, NsScratch};
use serde_json::{Map, Value as Json};

/// The options of a Muon group, as torch holds them (string-keyed, JSON values).
type Options = Map<String, Json>;

/// `torch.optim.Muon`'s class defaults.
fn class_defaults() -> Options {
    let json = serde_json::json!({
        "lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": true,
        "ns_coefficients": [3.4445, -4.775, 2.0315], "eps": 1e-7, "ns_steps": 5,
        "adjust_lr_fn": null,
    });
    match json {
        Json::Object(map) => map,
        _ => unreachable!("a literal object"),
    }
}

/// Assigns `updates` over `options`, refusing an option Muon does not have.
fn assign(options: &mut Options, updates: &Json, at: &str) -> Result<(), String> {
    let updates = updates
        .as_object()
        .ok_or_else(|| format!("{at}: options are not an object"))?;
    for (key, value) in updates {
        if !options.contains_key(key) {
            return Err(format!("{at}: unknown muon option `{key}`"));
        }
        options.insert(key.clone(), value.clone());
    }
    Ok(())
}

/// What the replay reads from a group at a step.
struct Resolved {
    momentum: f64,
    nesterov: bool,
    ns: NewtonSchulz,
}

fn resolve(options: &Options, at: &str) -> Result<Resolved, String> {
    let num = |key: &str| {
        options[key]
            .as_f64()
            .ok_or_else(|| format!("{at}: `{key}` is not a number: {}", options[key]))
    };
    let nesterov = options["nesterov"]
        .as_bool()
        .ok_or_else(|| format!("{at}: `nesterov` is not a boolean"))?;
    let steps = options["ns_steps"]
        .as_u64()
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| format!("{at}: `ns_steps` is not a count: {}", options["ns_steps"]))?;
    let coefficients: Vec<f64> = options["ns_coefficients"]
        .as_array()
        .map(|list| list.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default();
    let coefficients: [f64; 3] = coefficients.try_into().map_err(|_| {
        format!(
            "{at}: `ns_coefficients` is not 3 numbers: {}",
            options["ns_coefficients"]
        )
    })?;
    Ok(Resolved {
        momentum: num("momentum")?,
        nesterov,
        ns: NewtonSchulz {
            coefficients,
            steps,
            eps: num("eps")?,
        },
    })
}

/// The parameter dtype's arithmetic that the momentum update needs.
trait Real: Copy + Into<f64> + Sub<Output = Self> + PartialEq {
    const ONE: Self;
    /// A Python float meeting a tensor of this dtype.
    fn of(x: f64) -> Self;
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn abs(self) -> Self;
    fn to_bits64(self) -> u64;
}

impl Real for f32 {
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x as f32
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
    fn abs(self) -> Self {
        f32::abs(self)
    }
    fn to_bits64(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Real for f64 {
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
    fn to_bits64(self) -> u64 {
        self.to_bits()
    }
}

/// torch's CPU `a.lerp_(b, w)`: `fma(w, b - a, a)` when `|w| < 0.5`, else
/// `fma(w - 1, b - a, b)`, in the tensor's dtype.
fn lerp<T: Real>(a: T, b: T, w: T) -> T {
    if w.abs().into() < 0.5 {
        w.mul_add(b - a, a)
    } else {
        (w - T::ONE).mul_add(b - a, b)
    }
}

/// A fixture tensor value in the file's dtype, refusing one that is not exact in it.
fn value<T: Real>(v: &Json, at: &str) -> Result<T, String> {
    let x = v
        .as_f64()
        .ok_or_else(|| format!("{at}: expected a number, found {v}"))?;
    let t = T::of(x);
    if t.into() != x {
        return Err(format!("{at}: {x} is not exact in the file's dtype"));
    }
    Ok(t)
}

fn list<'a>(v: &'a Json, at: &str) -> Result<&'a Vec<Json>, String> {
    v.as_array().ok_or_else(|| format!("{at}: expected a list, found {v}"))
}

fn index(v: &Json, at: &str) -> Result<usize, String> {
    v.as_u64()
        .and_then(|u| usize::try_from(u).ok())
        .ok_or_else(|| format!("{at}: expected an index, found {v}"))
}

fn object<'a>(v: &'a Json, keys: &[&str], at: &str) -> Result<&'a Map<String, Json>, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object, found {v}"))?;
    if let Some(k) = o.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!("{at}: unknown key `{k}`"));
    }
    Ok(o)
}

fn field<'a>(o: &'a Map<String, Json>, key: &str, at: &str) -> Result<&'a Json, String> {
    o.get(key).ok_or_else(|| format!("{at}: missing `{key}`"))
}

/// `add_param_group`: a group of `defaults` (class defaults under the constructor's) with
/// its own options over them.
fn add_group(
    g: &Json,
    defaults: &Options,
    params: usize,
    groups: &mut Vec<Options>,
    group_of: &mut BTreeMap<usize, usize>,
    at: &str,
) -> Result<(), String> {
    let g = object(g, &["params", "options"], at)?;
    let mut options = defaults.clone();
    assign(&mut options, field(g, "options", at)?, at)?;
    for p in list(field(g, "params", at)?, at)? {
        let p = index(p, at)?;
        if p >= params || group_of.insert(p, groups.len()).is_some() {
            return Err(format!("{at}: parameter {p} is unknown or already in a group"));
        }
    }
    groups.push(options);
    Ok(())
}

/// Replays one file; returns the number of `ns_update` matrices and values it checked.
fn replay<T: Real>(file: &Map<String, Json>, at: &str) -> Result<(usize, usize), String> {
    let mut shapes = Vec::new();
    for (i, p) in list(field(file, "params", at)?, at)?.iter().enumerate() {
        let p = object(p, &["shape", "data"], at)?;
        let shape: Vec<usize> = list(field(p, "shape", at)?, at)?
            .iter()
            .map(|d| index(d, at))
            .collect::<Result<_, _>>()?;
        let [rows, cols] = shape[..] else {
            return Err(format!(
                "{at}: parameter {i} has shape {shape:?}: muon needs 2-D parameters"
            ));
        };
        shapes.push((rows, cols));
    }

    let mut defaults = class_defaults();
    assign(&mut defaults, field(file, "defaults", at)?, &format!("{at}: defaults"))?;
    let mut groups: Vec<Options> = Vec::new();
    let mut group_of: BTreeMap<usize, usize> = BTreeMap::new();
    for g in list(field(file, "groups", at)?, at)? {
        add_group(
            g,
            &defaults,
            shapes.len(),
            &mut groups,
            &mut group_of,
            &format!("{at}: groups"),
        )?;
    }

    let mut buffers: Vec<Option<Vec<T>>> = vec![None; shapes.len()];
    let mut scratch = NsScratch::new();
    let (mut matrices, mut values) = (0, 0);
    for (s, step) in list(field(file, "steps", at)?, at)?.iter().enumerate() {
        let at = &format!("{at}: step {s}");
        let step = object(step, &["add_group", "set_options", "grads", "params", "ns_update"], at)?;
        if let Some(g) = step.get("add_group") {
            add_group(g, &defaults, shapes.len(), &mut groups, &mut group_of, at)?;
        }
        if let Some(sets) = step.get("set_options") {
            for set in list(sets, at)? {
                let set = object(set, &["group", "options"], at)?;
                let g = index(field(set, "group", at)?, at)?;
                let options = groups.get_mut(g).ok_or_else(|| format!("{at}: no group {g}"))?;
                assign(options, field(set, "options", at)?, at)?;
            }
        }
        let grads = list(field(step, "grads", at)?, at)?;
        let updates = list(field(step, "ns_update", at)?, at)?;
        if grads.len() != shapes.len() || updates.len() != shapes.len() {
            return Err(format!(
                "{at}: {} grads and {} updates for {} parameters",
                grads.len(),
                updates.len(),
                shapes.len()
            ));
        }
        for (p, (grad, expected)) in grads.iter().zip(updates).enumerate() {
            let at = &format!("{at}, parameter {p}");
            let (grad, expected) = match (grad, expected) {
                (Json::Null, Json::Null) => continue,
                (Json::Null, _) | (_, Json::Null) => return Err(format!("{at}: a gradient without an update or back")),
                (g, e) => (list(g, at)?, list(e, at)?),
            };
            let group = group_of
                .get(&p)
                .ok_or_else(|| format!("{at}: a gradient for a parameter in no group"))?;
            let options = resolve(&groups[*group], at)?;
            let (rows, cols) = shapes[p];
            if grad.len() != rows * cols || expected.len() != rows * cols {
                return Err(format!(
                    "{at}: {} gradient and {} update values for shape [{rows}, {cols}]",
                    grad.len(),
                    expected.len()
                ));
            }
            let g: Vec<T> = grad.iter().map(|v| value(v, at)).collect::<Result<_, _>>()?;

            // Muon's momentum, in the parameter's dtype (Python-float weights rounded to it).
            let buf = buffers[p].get_or_insert_with(|| vec![T::of(0.0); g.len()]);
            let (w_buf, w_u) = (T::of(1.0 - options.momentum), T::of(options.momentum));
            for (b, &g) in buf.iter_mut().zip(&g) {
                *b = lerp(*b, g, w_buf);
            }
            let u: Vec<T> = if options.nesterov {
                g.iter().zip(buf.iter()).map(|(&g, &b)| lerp(g, b, w_u)).collect()
            } else {
                buf.clone()
            };

            let u = ArrayView2::from_shape((rows, cols), &u[..]).map_err(|e| format!("{at}: {e}"))?;
            let mut out = Array2::<f32>::zeros((rows, cols));
            options
                .ns
                .orthogonalize(u, out.view_mut(), &mut scratch)
                .map_err(|e| format!("{at}: {e}"))?;
            for (i, (got, want)) in out.iter().zip(expected).enumerate() {
                let want: f32 = value(want, at)?;
                if want.to_bits() & 0xFFFF != 0 {
                    return Err(format!("{at}: recorded value {want} is not a bfloat16 value"));
                }
                if got.to_bits() != want.to_bits() {
                    return Err(format!(
                        "{at}: element {i} (row {}, column {}) is {got:e} ({:#010x}), torch's is {want:e} ({:#010x})",
                        i / cols,
                        i % cols,
                        got.to_bits(),
                        want.to_bits()
                    ));
                }
            }
            matrices += 1;
            values += expected.len();
        }
    }

    check_final_state(file, &groups, &buffers, at)?;
    Ok((matrices, values))
}

/// The replayed group options and momentum buffers are torch's final ones, bit for bit.
fn check_final_state<T: Real>(
    file: &Map<String, Json>,
    groups: &[Options],
    buffers: &[Option<Vec<T>>],
    at: &str,
) -> Result<(), String> {
    let at = &format!("{at}: state_dict");
    let sd = object(field(file, "state_dict", at)?, &["param_groups", "state"], at)?;
    let torch_groups = list(field(sd, "param_groups", at)?, at)?;
    if torch_groups.len() != groups.len() {
        return Err(format!(
            "{at}: {} groups, replayed {}",
            torch_groups.len(),
            groups.len()
        ));
    }
    for (g, (torch, ours)) in torch_groups.iter().zip(groups).enumerate() {
        let mut torch = torch
            .as_object()
            .cloned()
            .ok_or_else(|| format!("{at}: group {g} is not an object"))?;
        torch.remove("params");
        if &torch != ours {
            return Err(format!("{at}: group {g} is {torch:?}, replayed {ours:?}"));
        }
    }
    let state = field(sd, "state", at)?
        .as_object()
        .ok_or_else(|| format!("{at}: `state` is not an object"))?;
    let with_state: Vec<usize> = (0..buffers.len()).filter(|&p| buffers[p].is_some()).collect();
    let keys: Vec<usize> = state
        .keys()
        .map(|k| k.parse().map_err(|_| format!("{at}: key {k}")))
        .collect::<Result<_, _>>()?;
    if keys.iter().copied().collect::<std::collections::BTreeSet<_>>() != with_state.iter().copied().collect() {
        return Err(format!("{at}: state for parameters {keys:?}, replayed {with_state:?}"));
    }
    for (key, entry) in state {
        let p: usize = key.parse().map_err(|_| format!("{at}: key {key}"))?;
        let entry = object(entry, &["momentum_buffer"], at)?;
        let tensor = object(field(entry, "momentum_buffer", at)?, &["shape", "data"], at)?;
        let data = list(field(tensor, "data", at)?, at)?;
        let ours = buffers[p].as_ref().ok_or_else(|| format!("{at}: no buffer for {p}"))?;
        if data.len() != ours.len() {
            return Err(format!(
                "{at}: buffer {p} has {} values, replayed {}",
                data.len(),
                ours.len()
            ));
        }
        for (i, (want, got)) in data.iter().zip(ours).enumerate() {
            let want: T = value(want, at)?;
            if want.to_bits64() != got.to_bits64() {
                return Err(format!(
                    "{at}: momentum_buffer of parameter {p}, element {i}: torch {}, replayed {}",
                    want.into(),
                    (*got).into()
                ));
            }
        }
    }
    Ok(())
}

fn replay_file(path: &Path) -> Result<(usize, usize), String> {
    let at = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
    let json: Json = serde_json::from_str(&text).map_err(|e| format!("{at}: {e}"))?;
    let keys = [
        "schema",
        "name",
        "source",
        "optimizer",
        "dtype",
        "defaults",
        "groups",
        "params",
        "mode",
        "problem",
        "steps",
        "state_dict",
    ];
    let file = object(&json, &keys, &at)?;
    for (key, want) in [
        ("schema", Json::from(1)),
        ("optimizer", "muon".into()),
        ("mode", "grads".into()),
        ("problem", Json::Null),
    ] {
        let found = field(file, key, &at)?;
        if found != &want {
            return Err(format!("{at}: `{key}` is {found}, expected {want}"));
        }
    }
    match field(file, "dtype", &at)?.as_str() {
        Some("float64") => replay::<f64>(file, &at),
        Some("float32") => replay::<f32>(file, &at),
        other => Err(format!("{at}: unknown dtype {other:?}")),
    }
}

fn main() {
    let dir = fixtures_dir().join("optimizers");
    let files: Vec<_> = match fixture_files(&dir) {
        Ok(files) => files
            .into_iter()
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("muon__"))
            })
            .collect(),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let (mut matrices, mut values, mut failed) = (0, 0, Vec::new());
    for file in &files {
        match replay_file(file) {
            Ok((m, v)) => {
                matrices += m;
                values += v;
            }
            Err(e) => {
                eprintln!("FAILED {e}");
                failed.push(file.display().to_string());
            }
        }
    }
    if files.is_empty() {
        eprintln!("no muon__*.json fixtures in {}", dir.display());
        std::process::exit(1);
    }
    println!(
        "checked {matrices} newton-schulz updates ({values} values) in {} of {} files, bit for bit",
        files.len() - failed.len(),
        files.len()
    );
    if !failed.is_empty() {
        eprintln!("{} of {} files failed", failed.len(), files.len());
        std::process::exit(1);
    }
}
