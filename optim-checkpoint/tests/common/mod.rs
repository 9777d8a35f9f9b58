//! Helpers shared by the integration tests: where the fixtures are, the fixtures' JSON
//! convention, and a strict comparison of trees.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use optim_checkpoint::pt::{DType, Key, Object, Tensor};
use serde_json::{Map, Number, Value};

/// The root of the fixture tree: `$OPTIM_FIXTURES`, or `shared/fixtures/torch` beside the repo.
pub fn fixture_root() -> PathBuf {
    match std::env::var_os("OPTIM_FIXTURES") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/torch"),
    }
}

/// The `.pt` files directly in `dir`, sorted.
pub fn pt_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "pt"))
        .collect();
    files.sort();
    files
}

/// The tree as the fixtures write `torch.load`'s result in JSON: tensors as
/// `{"shape", "dtype", "data"}` with row-major values, tuples as lists, keys as strings
/// (as Python's `json` writes int, float, bool and None keys).
pub fn to_json(object: &Object<'_>) -> Result<Value, String> {
    Ok(match object {
        Object::None => Value::Null,
        Object::Bool(b) => Value::Bool(*b),
        Object::Int(i) => Value::from(*i),
        Object::Float(f) => float(*f)?,
        Object::Str(s) => Value::String(s.to_string()),
        Object::Tuple(items) | Object::List(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Object::Dict(dict) => {
            let mut map = Map::new();
            for (key, value) in dict.iter() {
                let name = key_string(key)?;
                if map.insert(name.clone(), to_json(value)?).is_some() {
                    return Err(format!("two keys are written {name:?} in JSON"));
                }
            }
            Value::Object(map)
        }
        Object::Tensor(t) => tensor_json(t)?,
    })
}

fn float(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} has no JSON form"))
}

fn key_string(key: &Key<'_>) -> Result<String, String> {
    Ok(match key {
        Key::Str(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Bool(b) => b.to_string(),
        Key::None => "null".into(),
        Key::Float(f) => format!("{f:?}"),
        Key::Tuple(_) => return Err("a tuple key has no JSON form".into()),
    })
}

fn tensor_json(t: &Tensor<'_>) -> Result<Value, String> {
    let err = |e: optim_checkpoint::Error| e.to_string();
    let data: Vec<Value> = match t.dtype() {
        DType::Float64 | DType::Float32 | DType::Float16 | DType::BFloat16 => t
            .to_vec::<f64>()
            .map_err(err)?
            .into_iter()
            .map(float)
            .collect::<Result<_, _>>()?,
        DType::Int64 | DType::Int32 | DType::Int16 | DType::Int8 | DType::UInt8 => {
            t.to_vec::<i64>().map_err(err)?.into_iter().map(Value::from).collect()
        }
        DType::Bool => t.to_vec::<bool>().map_err(err)?.into_iter().map(Value::Bool).collect(),
        other => return Err(format!("no JSON form for {other} tensors")),
    };
    let mut map = Map::new();
    map.insert("shape".into(), Value::from(t.shape().to_vec()));
    map.insert("dtype".into(), Value::from(t.dtype().name()));
    map.insert("data".into(), Value::Array(data));
    Ok(Value::Object(map))
}

/// The first place where two JSON values differ, as a path and the two values.
pub fn json_diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let child = format!("{path}.{key}");
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = json_diff(&child, p, q) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{child}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| json_diff(&format!("{path}[{i}]"), p, q)),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

/// Checks that two trees are the same objects, strictly: same variants (an int key is not
/// a bool key, 1 is not 1.0), floats bit for bit, dicts in the same order with the same
/// kind and attributes, tensors with the same view, flags and storage bytes.
pub fn identical(path: &str, a: &Object<'_>, b: &Object<'_>) -> Result<(), String> {
    let differ = |what: &str| Err(format!("{path}: {what} differ: {a:?} vs {b:?}"));
    match (a, b) {
        (Object::None, Object::None) => Ok(()),
        (Object::Bool(x), Object::Bool(y)) if x == y => Ok(()),
        (Object::Int(x), Object::Int(y)) if x == y => Ok(()),
        (Object::Float(x), Object::Float(y)) if x.to_bits() == y.to_bits() => Ok(()),
        (Object::Str(x), Object::Str(y)) if x == y => Ok(()),
        (Object::Tuple(x), Object::Tuple(y)) | (Object::List(x), Object::List(y)) => {
            if x.len() != y.len() {
                return differ("lengths");
            }
            x.iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (p, q))| identical(&format!("{path}[{i}]"), p, q))
        }
        (Object::Dict(x), Object::Dict(y)) => {
            if x.is_ordered() != y.is_ordered() || x.len() != y.len() || x.attributes().len() != y.attributes().len() {
                return differ("dict kinds or sizes");
            }
            for ((kx, vx), (ky, vy)) in x.iter().zip(y.iter()) {
                if !keys_identical(kx, ky) {
                    return Err(format!("{path}: keys differ: {kx:?} vs {ky:?}"));
                }
                identical(&format!("{path}[{kx:?}]"), vx, vy)?;
            }
            for ((nx, vx), (ny, vy)) in x.attributes().zip(y.attributes()) {
                if nx != ny {
                    return Err(format!("{path}: attributes differ: {nx} vs {ny}"));
                }
                identical(&format!("{path}.{nx}"), vx, vy)?;
            }
            Ok(())
        }
        (Object::Tensor(x), Object::Tensor(y)) => {
            let same = x.dtype() == y.dtype()
                && x.shape() == y.shape()
                && x.strides() == y.strides()
                && x.storage_offset() == y.storage_offset()
                && x.requires_grad() == y.requires_grad()
                && x.is_parameter() == y.is_parameter()
                && x.location() == y.location()
                && x.storage_bytes() == y.storage_bytes();
            if same { Ok(()) } else { differ("tensors") }
        }
        _ => differ("objects"),
    }
}

fn keys_identical(a: &Key<'_>, b: &Key<'_>) -> bool {
    match (a, b) {
        (Key::None, Key::None) => true,
        (Key::Bool(x), Key::Bool(y)) => x == y,
        (Key::Int(x), Key::Int(y)) => x == y,
        (Key::Float(x), Key::Float(y)) => x.to_bits() == y.to_bits(),
        (Key::Str(x), Key::Str(y)) => x == y,
        (Key::Tuple(x), Key::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| keys_identical(p, q)),
        _ => false,
    }
}
