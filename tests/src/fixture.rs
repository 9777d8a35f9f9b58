//! Reading PyTorch reference trajectories (`shared/fixtures/torch/README.md` gives the
//! schema). Parsing is strict: a key, event, dtype, mode or problem this reader does not
//! know is an error naming it, never something silently ignored, so that a replay cannot
//! pass by skipping what it did not understand.

use std::path::{Path, PathBuf};

use optimizers::{DType, DictValue, Map};
use serde_json::Value as Json;

use crate::problems::{Logistic, Problem, Quadratic, Rosenbrock};

/// The directory of reference trajectories: `$OPTIM_FIXTURES` if set, else
/// `../shared/fixtures/torch` relative to the workspace root.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("OPTIM_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/torch"),
    }
}

/// The optimizer trajectories of a fixture tree: every `*.json` at its top level and in
/// its `optimizers/` folder (which must exist), sorted by path.
pub fn trajectory_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = fixture_files(root)?;
    files.extend(fixture_files(&root.join("optimizers"))?);
    Ok(files)
}

/// Every `*.json` file in `dir`, sorted by name.
pub fn fixture_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    files_with_extension(dir, "json")
}

/// Every file in `dir` whose extension is `extension` (`"pt"`), sorted by name; a
/// directory that cannot be read is an error, not an empty list.
pub fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read fixture directory {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == extension) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A tensor as the fixtures write it.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    /// Its shape (`[]` for 0-d).
    pub shape: Vec<usize>,
    /// Row-major values, as f64 (exact f32 values in float32 files).
    pub data: Vec<f64>,
}

/// A parameter group: indices into the fixture's `params` and per-group options.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    /// Indices into [`Fixture::params`].
    pub params: Vec<usize>,
    /// Per-group overrides, named as in torch.
    pub options: Map<'static>,
}

/// How gradients are produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Given per step.
    Grads,
    /// Computed by a closure over a problem (evaluated in the fixture's dtype: see
    /// [`Problem::cast`]).
    Closure(Problem<f64>),
}

/// One `optimizer.step()` and the events before it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StepSpec {
    /// `add_param_group` before the step.
    pub add_group: Option<GroupSpec>,
    /// `param_groups[g][k] = v` before the step.
    pub set_options: Vec<(usize, Map<'static>)>,
    /// One gradient per parameter (`None`: `p.grad = None`), in `grads` mode.
    pub grads: Option<Vec<Option<Vec<f64>>>>,
    /// Every parameter after the step.
    pub params: Vec<Vec<f64>>,
    /// What `step(closure)` returned, in `closure` mode.
    pub loss: Option<f64>,
    /// `state["func_evals"]` after the step, in `closure` mode.
    pub func_evals: Option<u64>,
    /// `state["n_iter"]` after the step, in `closure` mode.
    pub n_iter: Option<u64>,
    /// Muon: torch's Newton–Schulz output per parameter at this step (`None` where the
    /// parameter had no gradient), flat row-major.
    pub ns_update: Option<Vec<Option<Vec<f64>>>>,
}

/// One reference trajectory.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The file it came from.
    pub path: PathBuf,
    /// The case name (`"sgd/nesterov"`).
    pub name: String,
    /// The optimizer's state-dict name (`"adam"`).
    pub optimizer: String,
    /// The dtype of every tensor.
    pub dtype: DType,
    /// The constructor's keyword arguments.
    pub defaults: Map<'static>,
    /// The initial groups.
    pub groups: Vec<GroupSpec>,
    /// Initial values of every parameter the case uses.
    pub params: Vec<TensorSpec>,
    /// Where gradients come from.
    pub mode: Mode,
    /// The steps.
    pub steps: Vec<StepSpec>,
    /// torch's `state_dict()` after the last step, as JSON.
    pub state_dict: Json,
}

/// A JSON object whose keys are consumed one by one; `finish` fails on any left over.
struct Obj<'a> {
    map: serde_json::Map<String, Json>,
    at: &'a str,
}

impl<'a> Obj<'a> {
    fn new(value: Json, at: &'a str) -> Result<Self, String> {
        match value {
            Json::Object(map) => Ok(Obj { map, at }),
            other => Err(format!("{at}: expected an object, found {other}")),
        }
    }
    fn take(&mut self, key: &str) -> Result<Json, String> {
        self.map
            .remove(key)
            .ok_or_else(|| format!("{}: missing `{key}`", self.at))
    }
    fn take_opt(&mut self, key: &str) -> Option<Json> {
        self.map.remove(key)
    }
    fn finish(self) -> Result<(), String> {
        match self.map.keys().next() {
            Some(k) => Err(format!("{}: unknown key `{k}`", self.at)),
            None => Ok(()),
        }
    }
}

fn as_str(v: Json, at: &str) -> Result<String, String> {
    match v {
        Json::String(s) => Ok(s),
        other => Err(format!("{at}: expected a string, found {other}")),
    }
}

fn as_usize(v: &Json, at: &str) -> Result<usize, String> {
    v.as_u64()
        .and_then(|u| usize::try_from(u).ok())
        .ok_or_else(|| format!("{at}: expected an index, found {v}"))
}

fn as_list(v: Json, at: &str) -> Result<Vec<Json>, String> {
    match v {
        Json::Array(items) => Ok(items),
        other => Err(format!("{at}: expected a list, found {other}")),
    }
}

fn as_f64(v: &Json, at: &str) -> Result<f64, String> {
    v.as_f64().ok_or_else(|| format!("{at}: expected a number, found {v}"))
}

fn floats(v: Json, at: &str) -> Result<Vec<f64>, String> {
    as_list(v, at)?.iter().map(|x| as_f64(x, at)).collect()
}

fn indices(v: Json, at: &str) -> Result<Vec<usize>, String> {
    as_list(v, at)?.iter().map(|x| as_usize(x, at)).collect()
}

fn options(v: Json, at: &str) -> Result<Map<'static>, String> {
    serde_json::from_value::<Map<'static>>(v).map_err(|e| format!("{at}: {e}"))
}

fn tensor(v: Json, at: &str) -> Result<TensorSpec, String> {
    let mut o = Obj::new(v, at)?;
    let shape = indices(o.take("shape")?, at)?;
    let data = floats(o.take("data")?, at)?;
    o.finish()?;
    if shape.iter().product::<usize>() != data.len() {
        return Err(format!("{at}: shape {shape:?} does not fit {} values", data.len()));
    }
    Ok(TensorSpec { shape, data })
}

fn group(v: Json, at: &str) -> Result<GroupSpec, String> {
    let mut o = Obj::new(v, at)?;
    let params = indices(o.take("params")?, at)?;
    let options = options(o.take("options")?, at)?;
    o.finish()?;
    Ok(GroupSpec { params, options })
}

fn problem(v: Json, at: &str) -> Result<Problem<f64>, String> {
    let mut o = Obj::new(v, at)?;
    let kind = as_str(o.take("kind")?, at)?;
    let spec = match kind.as_str() {
        "rosenbrock" => Problem::Rosenbrock(Rosenbrock),
        "quadratic" => {
            let n = as_usize(&o.take("n")?, at)?;
            let (a, b) = (floats(o.take("a")?, at)?, floats(o.take("b")?, at)?);
            if a.len() != n * n || b.len() != n {
                return Err(format!(
                    "{at}: quadratic of size {n} with {} and {} values",
                    a.len(),
                    b.len()
                ));
            }
            Problem::Quadratic(Quadratic { n, a, b })
        }
        "logistic" => {
            let (n, d) = (as_usize(&o.take("n")?, at)?, as_usize(&o.take("d")?, at)?);
            let (x, y) = (floats(o.take("x")?, at)?, floats(o.take("y")?, at)?);
            let l2 = as_f64(&o.take("l2")?, at)?;
            if x.len() != n * d || y.len() != n {
                return Err(format!(
                    "{at}: logistic {n}x{d} with {} and {} values",
                    x.len(),
                    y.len()
                ));
            }
            Problem::Logistic(Logistic { n, d, x, y, l2 })
        }
        other => return Err(format!("{at}: unknown problem kind `{other}`")),
    };
    o.finish()?;
    Ok(spec)
}

fn step(v: Json, at: &str, closure: bool) -> Result<StepSpec, String> {
    let mut o = Obj::new(v, at)?;
    let mut s = StepSpec {
        add_group: o
            .take_opt("add_group")
            .map(|g| group(g, &format!("{at}.add_group")))
            .transpose()?,
        ..StepSpec::default()
    };
    if let Some(list) = o.take_opt("set_options") {
        for item in as_list(list, at)? {
            let mut e = Obj::new(item, at)?;
            let g = as_usize(&e.take("group")?, at)?;
            let opts = options(e.take("options")?, at)?;
            e.finish()?;
            s.set_options.push((g, opts));
        }
    }
    s.params = as_list(o.take("params")?, at)?
        .into_iter()
        .map(|p| floats(p, at))
        .collect::<Result<_, _>>()?;
    if closure {
        s.loss = Some(as_f64(&o.take("loss")?, at)?);
        s.func_evals = Some(as_usize(&o.take("func_evals")?, at)? as u64);
        s.n_iter = Some(as_usize(&o.take("n_iter")?, at)? as u64);
    } else {
        let grads = as_list(o.take("grads")?, at)?
            .into_iter()
            .map(|g| match g {
                Json::Null => Ok(None),
                g => floats(g, at).map(Some),
            })
            .collect::<Result<_, _>>()?;
        s.grads = Some(grads);
    }
    if let Some(list) = o.take_opt("ns_update") {
        let updates = as_list(list, at)?
            .into_iter()
            .map(|u| match u {
                Json::Null => Ok(None),
                u => floats(u, at).map(Some),
            })
            .collect::<Result<_, _>>()?;
        s.ns_update = Some(updates);
    }
    o.finish()?;
    Ok(s)
}

impl Fixture {
    /// Reads and checks one fixture file.
    pub fn load(path: &Path) -> Result<Fixture, String> {
        let at = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
        let json: Json = serde_json::from_str(&text).map_err(|e| format!("{at}: {e}"))?;
        let mut o = Obj::new(json, &at)?;
        let schema = o.take("schema")?;
        if schema != 1 {
            return Err(format!("{at}: unknown schema {schema}"));
        }
        let name = as_str(o.take("name")?, &at)?;
        as_str(o.take("source")?, &at)?;
        let optimizer = as_str(o.take("optimizer")?, &at)?;
        let dtype_name = as_str(o.take("dtype")?, &at)?;
        let dtype = DType::from_name(&dtype_name).ok_or_else(|| format!("{at}: unknown dtype `{dtype_name}`"))?;
        let defaults = options(o.take("defaults")?, &at)?;
        let groups = as_list(o.take("groups")?, &at)?
            .into_iter()
            .map(|g| group(g, &at))
            .collect::<Result<_, _>>()?;
        let params = as_list(o.take("params")?, &at)?
            .into_iter()
            .map(|p| tensor(p, &at))
            .collect::<Result<_, _>>()?;
        let mode_name = as_str(o.take("mode")?, &at)?;
        let problem_json = o.take("problem")?;
        let mode = match (mode_name.as_str(), problem_json) {
            ("grads", Json::Null) => Mode::Grads,
            ("closure", p @ Json::Object(_)) => Mode::Closure(problem(p, &format!("{at}.problem"))?),
            (m, p) => return Err(format!("{at}: unknown mode `{m}` with problem {p}")),
        };
        let closure = matches!(mode, Mode::Closure(_));
        let steps = as_list(o.take("steps")?, &at)?
            .into_iter()
            .enumerate()
            .map(|(i, s)| step(s, &format!("{at}: step {i}"), closure))
            .collect::<Result<_, _>>()?;
        let state_dict = o.take("state_dict")?;
        o.finish()?;
        Ok(Fixture {
            path: path.to_path_buf(),
            name,
            optimizer,
            dtype,
            defaults,
            groups,
            params,
            mode,
            steps,
            state_dict,
        })
    }
}

/// A state-dict value as this crate's `DictValue`, for comparisons.
pub fn to_value(json: &Json) -> Result<DictValue<'static>, String> {
    serde_json::from_value(json.clone()).map_err(|e| e.to_string())
}
