//! Between `.pt` objects and the state dict's trees.
//!
//! Reading: dicts become maps (int keys, torch's parameter indices, become their decimal
//! strings), tuples and lists become lists, float32 and float64 tensors become tensors
//! borrowing the file. Writing: maps become dicts; a map laid out as an optimizer's state
//! dict (`state` of parameter indices, `param_groups` of maps with `params`) is written as
//! torch writes one, so that `optimizer.load_state_dict(torch.load(path))` takes it as it
//! is: int state keys and `params`, and the groups' list-valued options (`betas`, `etas`,
//! `step_sizes`, ...) as tuples.

use optim_core::{DictTensor, DictValue, Map};

use super::{DType, Dict, Key, Object, Tensor};
use crate::file::Mapping;
use crate::tree::{Node, TensorNode};
use crate::{Error, Result};

// ----- reading -------------------------------------------------------------------------------

/// The tree of `object`, read from the `.pt` file mapped as `files[file]`.
pub(crate) fn node(object: &Object<'_>, files: &[Mapping], file: usize, path: &mut Vec<String>) -> Result<Node> {
    Ok(match object {
        Object::None => Node::Leaf(DictValue::Null),
        Object::Bool(b) => Node::Leaf(DictValue::Bool(*b)),
        Object::Int(i) => Node::Leaf(DictValue::Int(*i)),
        Object::Float(x) => Node::Leaf(DictValue::Float(*x)),
        Object::Str(s) => Node::Leaf(DictValue::Str(s.to_string())),
        Object::Tuple(items) | Object::List(items) => Node::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| within(path, i.to_string(), |path| node(item, files, file, path)))
                .collect::<Result<_>>()?,
        ),
        Object::Dict(dict) => {
            let mut entries: Vec<(String, Node)> = Vec::with_capacity(dict.len());
            let mut seen = std::collections::HashSet::with_capacity(dict.len());
            for (key, value) in dict.iter() {
                let key = match key {
                    Key::Str(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    other => {
                        return Err(Error::UnsupportedKey {
                            path: dotted(path),
                            found: format!("{other:?}"),
                        });
                    }
                };
                if !seen.insert(key.clone()) {
                    return Err(Error::DuplicateKey {
                        path: dotted(path),
                        key,
                    });
                }
                let value = within(path, key.clone(), |path| node(value, files, file, path))?;
                entries.push((key, value));
            }
            Node::Map(entries)
        }
        Object::Tensor(t) => Node::Tensor(tensor(t, files, file, path)?),
    })
}

fn tensor(t: &Tensor<'_>, files: &[Mapping], file: usize, path: &[String]) -> Result<TensorNode> {
    let dtype = match t.dtype() {
        DType::Float32 => optim_core::DType::F32,
        DType::Float64 => optim_core::DType::F64,
        other => {
            return Err(Error::UnsupportedDType {
                tensor: dotted(path),
                dtype: other.name().to_string(),
            });
        }
    };
    let shape = t.shape().to_vec();
    // In place in the file when contiguous (always, for tensors torch saves as state);
    // a strided view is gathered once.
    let mapped = t
        .contiguous_bytes()
        .and_then(|bytes| files.get(file)?.range_of(bytes))
        .and_then(|range| TensorNode::mapped(files, file, range, shape.clone(), dtype));
    if let Some(mapped) = mapped {
        return Ok(mapped);
    }
    let owned = match dtype {
        optim_core::DType::F32 => DictTensor::owned(&shape, &t.to_vec::<f32>()?),
        optim_core::DType::F64 => DictTensor::owned(&shape, &t.to_vec::<f64>()?),
    };
    // `to_vec` gives exactly the view's element count.
    Ok(TensorNode::Owned(owned.expect("a view's elements fill its shape")))
}

fn within<T>(path: &mut Vec<String>, key: String, f: impl FnOnce(&mut Vec<String>) -> Result<T>) -> Result<T> {
    path.push(key);
    let out = f(path);
    path.pop();
    out
}

/// `state.0.exp_avg`; `(root)` for the root.
pub(crate) fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        "(root)".to_string()
    } else {
        path.join(".")
    }
}

// ----- writing -------------------------------------------------------------------------------

/// The `.pt` object of a tree, borrowing its tensors' bytes.
pub(crate) fn object<'a>(value: &'a DictValue<'_>) -> Result<Object<'a>> {
    Ok(match value {
        DictValue::Null => Object::None,
        DictValue::Bool(b) => Object::Bool(*b),
        DictValue::Int(i) => Object::Int(*i),
        DictValue::Float(x) => Object::Float(*x),
        DictValue::Str(s) => Object::from(s.as_str()),
        DictValue::List(items) => Object::List(items.iter().map(object).collect::<Result<_>>()?),
        DictValue::Map(map) if is_state_dict(map) => state_dict(map)?,
        DictValue::Map(map) => {
            let mut dict = Dict::new();
            for (k, v) in map.iter() {
                dict.insert(k, object(v)?);
            }
            Object::Dict(dict)
        }
        DictValue::Tensor(t) => Object::Tensor(pt_tensor(t)?),
    })
}

fn pt_tensor<'a>(t: &'a DictTensor<'_>) -> Result<Tensor<'a>> {
    let dtype = match t.dtype() {
        optim_core::DType::F32 => DType::Float32,
        optim_core::DType::F64 => DType::Float64,
    };
    Tensor::from_bytes(dtype, t.shape(), t.le_bytes())
}

/// Whether `map` is laid out as an optimizer's state dict: `state`, a map of parameter
/// indices, and `param_groups`, a list of maps that each have `params`.
fn is_state_dict(map: &Map<'_>) -> bool {
    let state = matches!(map.get("state"), Some(DictValue::Map(s)) if s.keys().all(|k| index(k).is_some()));
    let groups = matches!(map.get("param_groups"), Some(DictValue::List(groups))
        if groups.iter().all(|g| matches!(g, DictValue::Map(g) if g.contains_key("params"))));
    state && groups
}

/// A parameter index written as a canonical decimal.
fn index(key: &str) -> Option<i64> {
    let i: i64 = key.parse().ok()?;
    (i >= 0 && i.to_string() == key).then_some(i)
}

/// An optimizer's state dict as torch writes it: int state keys, int `params`, the groups'
/// list-valued options as tuples (state lists stay lists).
fn state_dict<'a>(map: &'a Map<'_>) -> Result<Object<'a>> {
    let mut dict = Dict::new();
    for (key, value) in map.iter() {
        let converted = match (key, value) {
            ("state", DictValue::Map(state)) => {
                let mut out = Dict::new();
                for (k, entry) in state.iter() {
                    // Every key is an index: checked by `is_state_dict`.
                    let i = index(k).unwrap_or_default();
                    out.insert(i, object(entry)?);
                }
                Object::Dict(out)
            }
            ("param_groups", DictValue::List(groups)) => Object::List(groups.iter().map(group).collect::<Result<_>>()?),
            _ => object(value)?,
        };
        dict.insert(key, converted);
    }
    Ok(Object::Dict(dict))
}

fn group<'a>(value: &'a DictValue<'_>) -> Result<Object<'a>> {
    let DictValue::Map(map) = value else {
        return object(value);
    };
    let mut dict = Dict::new();
    for (key, value) in map.iter() {
        let converted = match value {
            // `params` and `param_names` are lists in torch; options that are sequences
            // are tuples (`betas=(0.9, 0.999)`).
            DictValue::List(items) if key != "params" && key != "param_names" => {
                Object::Tuple(items.iter().map(object).collect::<Result<_>>()?)
            }
            _ => object(value)?,
        };
        dict.insert(key, converted);
    }
    Ok(Object::Dict(dict))
}
