//! The values a state dict holds: numbers, booleans, strings, lists, tensors and `null`.
//!
//! They serialize with serde to exactly the JSON of torch's state dicts as the fixtures
//! write them: tensors are `{"shape": [...], "data": [...]}` (plus an optional `"dtype"`),
//! everything else is plain JSON. Non-finite floats, which JSON cannot hold, are written
//! as the strings `"NaN"`, `"Infinity"` and `"-Infinity"` and read back from them.

use std::fmt::{self, Display};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::float::{DType, Float};

/// One value in a state dict: an option of a group, or an entry of a parameter's state.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Python's `None`, JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (torch writes some defaults as Python ints: `"momentum": 0`).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (`"strong_wolfe"`).
    Str(String),
    /// A list (`betas`, LBFGS's `ro`, `al`, `old_dirs`).
    List(Vec<Value>),
    /// A tensor.
    Tensor(Tensor),
}

impl Value {
    /// The value as a float, if it is a number (an integer converts). The strings `"NaN"`,
    /// `"Infinity"` and `"-Infinity"` also read as floats, as this crate writes them so.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            Value::Str(s) => special_float(s),
            _ => None,
        }
    }

    /// The value as a non-negative integer. A float converts only when it is a whole number
    /// below 2⁶⁴: counts above `i64::MAX` are written as floats (an [`Value::Int`] cannot hold
    /// them), and must read back.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::Float(x) if x.fract() == 0.0 && *x >= 0.0 && *x < 2f64.powi(64) => Some(*x as u64),
            _ => None,
        }
    }

    /// A short description for error messages: `a number (0.1)`, `a string ("sgd")`, `a tensor of shape [4, 3]`.
    pub fn describe(&self) -> String {
        fn clip(s: String) -> String {
            if s.chars().count() > 40 {
                format!("{}…", s.chars().take(40).collect::<String>())
            } else {
                s
            }
        }
        match self {
            Value::Null => "null".to_string(),
            Value::Bool(b) => format!("a boolean ({b})"),
            Value::Int(i) => format!("an integer ({i})"),
            Value::Float(x) => format!("a number ({x})"),
            Value::Str(s) => clip(format!("a string ({s:?})")),
            Value::List(items) => format!("a list of {} item(s)", items.len()),
            Value::Tensor(t) => format!("a tensor of shape {:?}", t.shape()),
        }
    }
}

fn special_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn special_name(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<f32> for Value {
    fn from(x: f32) -> Self {
        Value::Float(x as f64)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<Tensor> for Value {
    fn from(t: Tensor) -> Self {
        Value::Tensor(t)
    }
}

/// The elements of a [`Tensor`], in the precision they were saved in.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// `float32` elements.
    F32(Vec<f32>),
    /// `float64` elements (also what JSON without a `dtype` is read as).
    F64(Vec<f64>),
}

impl TensorData {
    fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
        }
    }
}

/// A dense row-major tensor in a state dict. Its data always has as many elements as its
/// shape says (the constructor checks it), so code reading one never indexes out of bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

impl Tensor {
    /// A tensor of the given shape and row-major data; `None` when the data's length is not
    /// the product of the shape (or that product overflows).
    pub fn new(shape: Vec<usize>, data: TensorData) -> Option<Self> {
        let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
        (numel == data.len()).then_some(Tensor { shape, data })
    }

    /// A tensor holding a copy of `values`, in their own precision.
    pub fn from_slice<A: Float>(shape: &[usize], values: &[A]) -> Option<Self> {
        let data = match A::DTYPE {
            DType::F32 => TensorData::F32(values.iter().map(|x| x.as_f64() as f32).collect()),
            DType::F64 => TensorData::F64(values.iter().map(|x| x.as_f64()).collect()),
        };
        Tensor::new(shape.to_vec(), data)
    }

    /// The shape (`[]` for a 0-d tensor).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The precision the data is held in.
    pub fn dtype(&self) -> DType {
        match self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
        }
    }

    /// Copies the elements into `out`, cast to `A` (torch casts state to its parameter's
    /// dtype on load). `out` must have [`Tensor::len`] elements; extra elements are left as they are.
    pub fn cast_into<A: Float>(&self, out: &mut [A]) {
        match &self.data {
            TensorData::F32(v) => out.iter_mut().zip(v).for_each(|(o, &x)| *o = A::from_f64(x as f64)),
            TensorData::F64(v) => out.iter_mut().zip(v).for_each(|(o, &x)| *o = A::from_f64(x)),
        }
    }

    /// The elements cast to `A`.
    pub fn to_vec<A: Float>(&self) -> Vec<A> {
        let mut out = vec![A::zero(); self.len()];
        self.cast_into(&mut out);
        out
    }
}

/// An ordered string-keyed map: a group's options or a parameter's state entries, in the
/// order the optimizer declares them (so that saved JSON reads like torch's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an existing entry in place or appending a new one.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes and returns the value under `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl Display for Value {
    /// JSON text of the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

// ----- serialization ---------------------------------------------------------------------

/// Writes a float as a JSON number, or as `"NaN"` / `"Infinity"` / `"-Infinity"`.
pub(crate) struct JsonFloat(pub f64);

impl Serialize for JsonFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str(special_name(self.0))
        }
    }
}

struct FloatSlice<'a, T>(&'a [T]);

impl<T: Copy + Into<f64>> Serialize for FloatSlice<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for &x in self.0 {
            // f32 elements are written as the f64 of the same value, as the torch fixtures
            // do: reading them back as f64 and casting to f32 is then exact.
            seq.serialize_element(&JsonFloat(x.into()))?;
        }
        seq.end()
    }
}

impl Serialize for Tensor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("shape", &self.shape)?;
        map.serialize_entry("dtype", self.dtype().name())?;
        match &self.data {
            TensorData::F32(v) => map.serialize_entry("data", &FloatSlice(v))?,
            TensorData::F64(v) => map.serialize_entry("data", &FloatSlice(v))?,
        }
        map.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) => JsonFloat(*x).serialize(s),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => items.serialize(s),
            Value::Tensor(t) => t.serialize(s),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

// ----- deserialization -------------------------------------------------------------------

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, boolean, string, null, list or tensor")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Value, S::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Value, M::Error> {
        TensorVisitor.visit_map(map).map(Value::Tensor)
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TensorVisitor)
    }
}

struct TensorVisitor;

impl<'de> Visitor<'de> for TensorVisitor {
    type Value = Tensor;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor {\"shape\": [...], \"data\": [...]}")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Tensor, M::Error> {
        let mut shape: Option<Vec<usize>> = None;
        let mut data: Option<Vec<f64>> = None;
        let mut dtype: Option<DType> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "shape" if shape.is_none() => shape = Some(map.next_value()?),
                "data" if data.is_none() => data = Some(map.next_value_seed(FloatsSeed)?),
                "dtype" if dtype.is_none() => {
                    let name: String = map.next_value()?;
                    dtype = Some(DType::from_name(&name).ok_or_else(|| {
                        de::Error::custom(format!(
                            "unknown tensor dtype {name:?} (expected \"float32\" or \"float64\")"
                        ))
                    })?);
                }
                "shape" | "data" | "dtype" => {
                    return Err(de::Error::custom(format!("tensor has `{key}` twice")));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{other}` in a tensor (a tensor is {{\"shape\": [...], \"data\": [...]}})"
                    )));
                }
            }
        }
        let shape = shape.ok_or_else(|| de::Error::custom("tensor without `shape`"))?;
        let data = data.ok_or_else(|| de::Error::custom("tensor without `data`"))?;
        let data = match dtype {
            Some(DType::F32) => TensorData::F32(data.into_iter().map(|x| x as f32).collect()),
            _ => TensorData::F64(data),
        };
        let len = data.len();
        let shape_text = format!("{shape:?}");
        Tensor::new(shape, data)
            .ok_or_else(|| de::Error::custom(format!("tensor of shape {shape_text} cannot hold {len} element(s)")))
    }
}

/// Reads a list of floats straight into a `Vec<f64>`, without a `Value` per element.
struct FloatsSeed;

impl<'de> DeserializeSeed<'de> for FloatsSeed {
    type Value = Vec<f64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<f64>, D::Error> {
        d.deserialize_seq(FloatsSeed)
    }
}

impl<'de> Visitor<'de> for FloatsSeed {
    type Value = Vec<f64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of numbers")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<f64>, S::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(x) = seq.next_element::<JsonNumber>()? {
            out.push(x.0);
        }
        Ok(out)
    }
}

/// A float read from a JSON number or from `"NaN"` / `"Infinity"` / `"-Infinity"`.
pub(crate) struct JsonNumber(pub f64);

impl<'de> Deserialize<'de> for JsonNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JsonNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, x: f64) -> Result<JsonNumber, E> {
                Ok(JsonNumber(x))
            }
            fn visit_i64<E>(self, i: i64) -> Result<JsonNumber, E> {
                Ok(JsonNumber(i as f64))
            }
            fn visit_u64<E>(self, u: u64) -> Result<JsonNumber, E> {
                Ok(JsonNumber(u as f64))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<JsonNumber, E> {
                special_float(s)
                    .map(JsonNumber)
                    .ok_or_else(|| E::custom(format!("expected a number, found the string {s:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Map;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<Map, M::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(de::Error::custom(format!("key `{key}` appears twice")));
                    }
                    let value: Value = access.next_value()?;
                    map.entries.push((key, value));
                }
                Ok(map)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_rejects_data_of_the_wrong_length() {
        assert!(Tensor::new(vec![2, 3], TensorData::F64(vec![0.0; 5])).is_none());
        assert!(Tensor::new(vec![usize::MAX, 3], TensorData::F64(vec![])).is_none());
        assert!(Tensor::new(vec![], TensorData::F64(vec![1.0])).is_some());
    }

    #[test]
    fn json_tensor_round_trips_in_both_precisions() {
        let t32 = Tensor::from_slice(&[3], &[0.1f32, -2.5, 1e-30]).expect("shape fits");
        let t64 = Tensor::from_slice(&[], &[0.1f64]).expect("shape fits");
        for t in [t32, t64] {
            let text = serde_json::to_string(&Value::Tensor(t.clone())).expect("serializes");
            let back: Value = serde_json::from_str(&text).expect("parses");
            assert_eq!(back, Value::Tensor(t));
        }
    }

    #[test]
    fn torch_tensor_without_dtype_reads_as_f64() {
        let v: Value = serde_json::from_str(r#"{"shape": [2], "data": [1, 0.5]}"#).expect("parses");
        let Value::Tensor(t) = v else {
            panic!("not a tensor: {v:?}")
        };
        assert_eq!(t.data(), &TensorData::F64(vec![1.0, 0.5]));
    }

    #[test]
    fn non_finite_floats_survive_json() {
        let v = Value::List(vec![
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
        ]);
        let text = serde_json::to_string(&v).expect("serializes");
        assert_eq!(text, r#"["NaN","Infinity","-Infinity"]"#);
        let back: Value = serde_json::from_str(&text).expect("parses");
        let Value::List(items) = back else { panic!("not a list") };
        assert!(items[0].as_f64().expect("number").is_nan());
        assert_eq!(items[1].as_f64(), Some(f64::INFINITY));
        let t = Tensor::from_slice(&[1], &[f32::NAN]).expect("shape fits");
        let back: Tensor = serde_json::from_str(&serde_json::to_string(&t).expect("ser")).expect("de");
        assert!(back.to_vec::<f32>()[0].is_nan());
    }

    #[test]
    fn malformed_tensors_are_rejected_with_a_reason() {
        for (text, needle) in [
            (r#"{"shape": [3], "data": [1, 2]}"#, "cannot hold 2"),
            (r#"{"shape": [1], "data": [1], "extra": 1}"#, "unexpected key `extra`"),
            (r#"{"data": [1]}"#, "without `shape`"),
            (r#"{"shape": [1], "data": ["x"]}"#, "expected a number"),
            (
                r#"{"shape": [1], "dtype": "float16", "data": [1]}"#,
                "unknown tensor dtype",
            ),
        ] {
            let err = serde_json::from_str::<Value>(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn map_keeps_insertion_order_and_rejects_duplicate_keys() {
        let mut m = Map::new();
        m.insert("lr", 0.1);
        m.insert("momentum", 0.9);
        m.insert("lr", 0.2);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["lr", "momentum"]);
        assert_eq!(serde_json::to_string(&m).expect("ser"), r#"{"lr":0.2,"momentum":0.9}"#);
        assert!(serde_json::from_str::<Map>(r#"{"lr": 1, "lr": 2}"#).is_err());
    }

    #[test]
    fn whole_floats_read_as_counts() {
        assert_eq!(Value::Float(7.0).as_u64(), Some(7));
        assert_eq!(Value::Float(7.5).as_u64(), None);
        assert_eq!(Value::Int(-1).as_u64(), None);
        assert_eq!(Value::Float(f64::NAN).as_u64(), None);
        // A count past i64::MAX is packed as a float; it must read back (found by the
        // mutation fuzzer: LBFGS's `func_evals` saved after a step from i64::MAX).
        assert_eq!(Value::Float(2f64.powi(63)).as_u64(), Some(1 << 63));
        assert_eq!(Value::Float(2f64.powi(64)).as_u64(), None);
        assert_eq!(Value::Float(f64::INFINITY).as_u64(), None);
    }
}
