//! The JSON codec of state dicts and trees: all serde code of the crate.
//!
//! A tree is written as plain JSON; a tensor as `{"shape": [...], "dtype": "float32",
//! "data": [...]}` (torch's fixtures write the same without `dtype`, which reads as
//! float64). JSON has no non-finite numbers: NaN and the infinities are written as the
//! strings `"NaN"`, `"Infinity"` and `"-Infinity"`, and exactly these strings read back
//! as floats wherever a value is read (so a string option whose value is one of them does
//! not survive JSON; no option of the library has such a value).
//!
//! An object of exactly `shape`, `data` (a list of numbers) and optionally `dtype`, in any
//! key order, is read as a tensor; any other object is a map.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dict::{DictTensor, DictValue, Map, StateDict};
use crate::error::{Error, Result, Shared};
use crate::float::DType;

impl StateDict<'_> {
    /// Compact JSON of the state dict's tree (see [`StateDict::to_tree`]).
    pub fn to_json(&self) -> String {
        // Serializing a tree cannot fail: every map key is a string, and non-finite floats
        // are written as strings.
        serde_json::to_string(&self.to_tree()).expect("a state dict's tree always serializes to JSON")
    }

    /// Indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_tree()).expect("a state dict's tree always serializes to JSON")
    }

    /// Reads a state dict from JSON: ours, or torch's as the fixtures write it.
    pub fn from_json(text: &str) -> Result<StateDict<'static>> {
        StateDict::from_tree(tree_from_json(text)?)
    }
}

/// Reads a tree from JSON text.
pub fn tree_from_json(text: &str) -> Result<DictValue<'static>> {
    serde_json::from_str(text).map_err(|e| Error::Json { source: Shared::new(e) })
}

/// Writes a tree as compact JSON.
pub fn tree_to_json(tree: &DictValue<'_>) -> String {
    serde_json::to_string(tree).expect("a tree always serializes to JSON")
}

/// Writes a tree as compact JSON to `out` as it goes, without the whole text in memory
/// (what a checkpoint file of JSON is written with).
pub fn write_tree_json(tree: &DictValue<'_>, out: impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer(out, tree).map_err(std::io::Error::from)
}

const NAN: &str = "NaN";
const INFINITY: &str = "Infinity";
const NEG_INFINITY: &str = "-Infinity";

fn special_float(s: &str) -> Option<f64> {
    match s {
        NAN => Some(f64::NAN),
        INFINITY => Some(f64::INFINITY),
        NEG_INFINITY => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

// ----- writing -------------------------------------------------------------------------------

/// A float as a JSON number, or as one of the three strings for non-finite values.
struct JsonFloat(f64);

impl Serialize for JsonFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str(NAN)
        } else if x > 0.0 {
            s.serialize_str(INFINITY)
        } else {
            s.serialize_str(NEG_INFINITY)
        }
    }
}

/// A tensor's elements as a JSON list. float32 elements are written as the f64 of the same
/// value, as torch's fixtures do: reading them back as f64 and rounding to f32 is exact.
struct TensorData<'t, 'a>(&'t DictTensor<'a>);

impl Serialize for TensorData<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut seq = s.serialize_seq(Some(t.len()))?;
        match t.dtype() {
            DType::F32 => {
                for b in t.le_bytes().chunks_exact(4) {
                    seq.serialize_element(&JsonFloat(f32::from_le_bytes([b[0], b[1], b[2], b[3]]).into()))?;
                }
            }
            DType::F64 => {
                for b in t.le_bytes().chunks_exact(8) {
                    let x = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    seq.serialize_element(&JsonFloat(x))?;
                }
            }
        }
        seq.end()
    }
}

impl Serialize for DictTensor<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("shape", self.shape())?;
        map.serialize_entry("dtype", self.dtype().name())?;
        map.serialize_entry("data", &TensorData(self))?;
        map.end()
    }
}

impl Serialize for DictValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DictValue::Null => s.serialize_unit(),
            DictValue::Bool(b) => s.serialize_bool(*b),
            DictValue::Int(i) => s.serialize_i64(*i),
            DictValue::Float(x) => JsonFloat(*x).serialize(s),
            DictValue::Str(v) => s.serialize_str(v),
            DictValue::List(items) => items.serialize(s),
            DictValue::Map(map) => map.serialize(s),
            DictValue::Tensor(t) => t.serialize(s),
        }
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

// ----- reading -------------------------------------------------------------------------------

impl<'de> Deserialize<'de> for DictValue<'static> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = DictValue<'static>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, boolean, string, null, list, map or tensor")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(DictValue::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Self::Value, E> {
        Ok(DictValue::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(u).map_or(DictValue::Float(u as f64), DictValue::Int))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Self::Value, E> {
        Ok(DictValue::Float(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(special_float(s).map_or_else(|| DictValue::Str(s.to_string()), DictValue::Float))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(special_float(&s).map_or(DictValue::Str(s), DictValue::Float))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(DictValue::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(DictValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        DictValue::deserialize(d)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(DictValue::List(items))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<Self::Value, M::Error> {
        // A tensor is an object of `shape`, `data` and optionally `dtype`, in any key order
        // (producers that sort keys write `data` first); its `data` is read straight into
        // floats.
        let mut map = Map::new();
        let mut data: Option<Elements> = None;
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) || (key == "data" && data.is_some()) {
                return Err(de::Error::custom(format!("key `{key}` appears twice")));
            }
            if key == "data" {
                data = Some(access.next_value_seed(ElementsSeed)?);
            } else {
                let value: DictValue<'static> = access.next_value()?;
                map.push_new(key, value);
            }
        }
        let is_tensor = map.contains_key("shape")
            && data.as_ref().is_some_and(|d| matches!(d, Elements::Numbers(_)))
            && map.keys().all(|k| k == "shape" || k == "dtype");
        match data {
            Some(Elements::Numbers(numbers)) if is_tensor => tensor_from(map, numbers).map(DictValue::Tensor),
            Some(data) => {
                map.push_new("data".to_string(), data.into_value());
                Ok(DictValue::Map(map))
            }
            None => Ok(DictValue::Map(map)),
        }
    }
}

/// A list read as numbers for as long as it holds only numbers (a tensor's `data`, without
/// a value per element), as values otherwise.
enum Elements {
    Numbers(Vec<f64>),
    Values(Vec<DictValue<'static>>),
    /// Not a list at all.
    Other(DictValue<'static>),
}

impl Elements {
    fn into_value(self) -> DictValue<'static> {
        match self {
            Elements::Numbers(v) => DictValue::List(v.into_iter().map(DictValue::Float).collect()),
            Elements::Values(v) => DictValue::List(v),
            Elements::Other(v) => v,
        }
    }
}

struct ElementsSeed;

impl<'de> DeserializeSeed<'de> for ElementsSeed {
    type Value = Elements;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Elements, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ElementsSeed {
    type Value = Elements;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Elements, S::Error> {
        let mut numbers = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(item) = seq.next_element::<DictValue<'static>>()? {
            match item {
                DictValue::Float(x) => numbers.push(x),
                DictValue::Int(i) => numbers.push(i as f64),
                other => {
                    let mut values: Vec<DictValue<'static>> = numbers.into_iter().map(DictValue::Float).collect();
                    values.push(other);
                    while let Some(item) = seq.next_element()? {
                        values.push(item);
                    }
                    return Ok(Elements::Values(values));
                }
            }
        }
        Ok(Elements::Numbers(numbers))
    }
    // `data` that is not a list is not a tensor's: keep it as the value it is.
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Elements, E> {
        ValueVisitor.visit_bool(b).map(Elements::Other)
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Elements, E> {
        ValueVisitor.visit_i64(i).map(Elements::Other)
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Elements, E> {
        ValueVisitor.visit_u64(u).map(Elements::Other)
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Elements, E> {
        ValueVisitor.visit_f64(x).map(Elements::Other)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Elements, E> {
        ValueVisitor.visit_str(v).map(Elements::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Elements, E> {
        ValueVisitor.visit_unit().map(Elements::Other)
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Elements, M::Error> {
        ValueVisitor.visit_map(map).map(Elements::Other)
    }
}

/// A tensor from its `shape` (and `dtype`) entries and its numbers.
fn tensor_from<E: de::Error>(map: Map<'static>, data: Vec<f64>) -> Result<DictTensor<'static>, E> {
    let shape = match map.get("shape") {
        Some(DictValue::List(dims)) => dims
            .iter()
            .map(|d| match d {
                DictValue::Int(i) => usize::try_from(*i).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>(),
        _ => None,
    }
    .ok_or_else(|| E::custom("a tensor's `shape` is a list of non-negative integers"))?;
    let dtype = match map.get("dtype") {
        None => DType::F64,
        Some(DictValue::Str(name)) => DType::from_name(name).ok_or_else(|| {
            E::custom(format!(
                "unknown tensor dtype {name:?} (expected \"float32\" or \"float64\")"
            ))
        })?,
        Some(other) => {
            return Err(E::custom(format!(
                "a tensor's `dtype` is a string, found {}",
                other.describe()
            )));
        }
    };
    let len = data.len();
    let shape_text = format!("{shape:?}");
    let tensor = match dtype {
        DType::F32 => {
            let values: Vec<f32> = data.into_iter().map(|x| x as f32).collect();
            DictTensor::owned(&shape, &values)
        }
        DType::F64 => DictTensor::from_le_bytes(
            shape,
            DType::F64,
            Cow::Owned(data.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ),
    };
    tensor.ok_or_else(|| E::custom(format!("tensor of shape {shape_text} cannot hold {len} element(s)")))
}

impl<'de> Deserialize<'de> for Map<'static> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match DictValue::deserialize(d)? {
            DictValue::Map(map) => Ok(map),
            other => Err(de::Error::custom(format!("expected a map, found {}", other.describe()))),
        }
    }
}

impl<'de> Deserialize<'de> for StateDict<'static> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StateDict::from_tree(DictValue::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl Serialize for StateDict<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_tree().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DictValue<'static> {
        tree_from_json(text).expect(text)
    }

    #[test]
    fn tensors_round_trip_in_both_precisions() {
        let t32 = DictTensor::owned(&[3], &[0.1f32, -2.5, 1e-30]).expect("fits");
        let t64 = DictTensor::owned(&[], &[0.1f64]).expect("fits");
        for t in [t32, t64] {
            let text = tree_to_json(&DictValue::Tensor(t.clone()));
            assert_eq!(parse(&text), DictValue::Tensor(t));
        }
    }

    #[test]
    fn a_torch_tensor_without_dtype_reads_as_f64() {
        let DictValue::Tensor(t) = parse(r#"{"shape": [2], "data": [1, 0.5]}"#) else {
            panic!("not a tensor")
        };
        assert_eq!((t.dtype(), t.to_vec::<f64>()), (DType::F64, vec![1.0, 0.5]));
    }

    #[test]
    fn non_finite_floats_survive_json() {
        let v = DictValue::List(vec![
            DictValue::Float(f64::NAN),
            DictValue::Float(f64::INFINITY),
            DictValue::Float(f64::NEG_INFINITY),
        ]);
        let text = tree_to_json(&v);
        assert_eq!(text, r#"["NaN","Infinity","-Infinity"]"#);
        let DictValue::List(items) = parse(&text) else {
            panic!("not a list")
        };
        assert!(items[0].as_f64().expect("a number").is_nan());
        assert_eq!(items[1].as_f64(), Some(f64::INFINITY));
        assert_eq!(items[2].as_f64(), Some(f64::NEG_INFINITY));
        let t = DictTensor::owned(&[1], &[f32::NAN]).expect("fits");
        let DictValue::Tensor(back) = parse(&tree_to_json(&DictValue::Tensor(t))) else {
            panic!("not a tensor")
        };
        assert!(back.to_vec::<f32>()[0].is_nan());
    }

    #[test]
    fn other_strings_stay_strings() {
        assert_eq!(parse(r#""inf""#), DictValue::Str("inf".into()));
        assert_eq!(parse(r#""0.1""#), DictValue::Str("0.1".into()));
    }

    #[test]
    fn malformed_tensors_are_rejected_with_a_reason() {
        for (text, needle) in [
            (r#"{"shape": [3], "data": [1, 2]}"#, "cannot hold 2"),
            (
                r#"{"shape": [1], "dtype": "float16", "data": [1]}"#,
                "unknown tensor dtype",
            ),
            (r#"{"shape": [-1], "data": [1]}"#, "non-negative integers"),
        ] {
            let err = tree_from_json(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn tensors_read_in_any_key_order_and_other_maps_stay_maps() {
        let sorted = parse(r#"{"data": [1.5, 2], "dtype": "float32", "shape": [2]}"#);
        assert_eq!(
            sorted,
            DictValue::Tensor(DictTensor::owned(&[2], &[1.5f32, 2.0]).expect("fits"))
        );
        for text in [
            r#"{"shape": [1], "data": [1], "extra": 1}"#,
            r#"{"shape": [1]}"#,
            r#"{"shape": [1], "data": ["x"]}"#,
            r#"{"data": [1, 2]}"#,
            r#"{"data": 1, "shape": [1]}"#,
            r#"{"data": {"a": null}}"#,
        ] {
            assert!(matches!(parse(text), DictValue::Map(_)), "{text}");
        }
    }

    #[test]
    fn maps_keep_order_and_reject_duplicate_keys() {
        let DictValue::Map(m) = parse(r#"{"b": 1, "a": {"c": null}}"#) else {
            panic!("not a map")
        };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert!(tree_from_json(r#"{"lr": 1, "lr": 2}"#).is_err());
    }
}
