//! The torch checkpoint fixtures (`checkpoints/*.pt` beside a JSON description): the
//! description, and the optimizer it describes, built over its parameters.

use std::path::Path;

use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{DType, DynOptimizer, Float, Map, Param, StateDict, registry};
use serde_json::Value as Json;

/// torch's group entries that say how it ran, not what it computed (the loader ignores them
/// in dicts written by torch).
pub const TORCH_FLAGS: &[&str] = &["foreach", "fused", "capturable", "differentiable", "initial_lr"];

/// The JSON beside a checkpoint fixture.
pub struct CheckpointFixture {
    /// torch's class name in lowercase (`adam`), the optimizer's kind here.
    pub optimizer: String,
    /// Where the state dict sits in the file (`None`: it is the whole file).
    pub key: Option<String>,
    /// The parameters' dtype.
    pub dtype: DType,
    /// The parameters after the last step: `{"shape", "dtype", "data"}`.
    pub params: Vec<Json>,
    /// Everything `torch.load` returns, as JSON.
    pub contents: Json,
}

impl CheckpointFixture {
    /// Reads the JSON beside `pt`.
    pub fn load(pt: &Path) -> Result<CheckpointFixture, String> {
        let path = pt.with_extension("json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let json: Json = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let field = |key: &str| json.get(key).ok_or_else(|| format!("{}: no `{key}`", path.display()));
        let params = field("params")?.as_array().ok_or("`params` is not a list")?.clone();
        let dtype = match params.first().and_then(|p| p.get("dtype")).and_then(Json::as_str) {
            Some("float32") => DType::F32,
            Some("float64") => DType::F64,
            other => return Err(format!("parameters of dtype {other:?}")),
        };
        Ok(CheckpointFixture {
            optimizer: field("optimizer")?
                .as_str()
                .ok_or("`optimizer` is not a string")?
                .to_string(),
            key: field("optimizer_key")?.as_str().map(str::to_string),
            dtype,
            params,
            contents: field("contents")?.clone(),
        })
    }

    /// The optimizer the fixture names, over its parameters (named when `dict` names
    /// them), in `dict`'s groups with `dict`'s options (so that required ones are set).
    pub fn build<A: Float>(&self, dict: &StateDict<'_>) -> Result<Box<dyn DynOptimizer<A>>, String> {
        let mut made: Vec<Option<Param<A>>> = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            let shape: Vec<usize> = p
                .get("shape")
                .and_then(Json::as_array)
                .and_then(|s| s.iter().map(|x| x.as_u64().map(|x| x as usize)).collect())
                .ok_or_else(|| format!("params[{i}] has no shape"))?;
            let data: Vec<A> = p
                .get("data")
                .and_then(Json::as_array)
                .and_then(|d| d.iter().map(|x| x.as_f64().map(A::from_f64)).collect())
                .ok_or_else(|| format!("params[{i}] has no data"))?;
            let value = ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| format!("params[{i}]: {e}"))?;
            let name = dict.param_groups.iter().find_map(|g| {
                let at = g.params.iter().position(|&j| j == i)?;
                g.param_names.as_ref().map(|names| names[at].clone())
            });
            made.push(Some(match name {
                Some(name) => Param::named(name, value),
                None => Param::new(value),
            }));
        }
        let groups = dict
            .param_groups
            .iter()
            .map(|g| {
                let params = g
                    .params
                    .iter()
                    .map(|&i| made.get_mut(i).and_then(Option::take).ok_or(format!("parameter {i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                let options: Map<'static> = g
                    .options
                    .iter()
                    .filter(|(k, _)| !TORCH_FLAGS.contains(k))
                    .map(|(k, v)| (k, v.clone().into_owned()))
                    .collect();
                Ok((params, options))
            })
            .collect::<Result<Vec<_>, String>>()?;
        registry::build::<A>(&self.optimizer, groups, &Map::new())
            .map_err(|e| format!("building `{}`: {e}", self.optimizer))
    }
}
