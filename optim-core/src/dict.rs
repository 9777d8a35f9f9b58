//! The state dict as plain data, independent of any file format: what an optimizer packs
//! its options and state into, and what every checkpoint codec (JSON here; safetensors and
//! PyTorch's `.pt` in `optim-checkpoint`) reads and writes.
//!
//! ```text
//! StateDict { kind: Some("sgd"), version: Some(1),
//!             state: {0: {"momentum_buffer": DictTensor [2] float64}},
//!             param_groups: [DictGroup { options: {"lr": 0.1, ...}, params: [0], param_names: Some(["w"]) }] }
//! ```
//!
//! Tensors borrow their data where they can: a state dict taken from an optimizer borrows
//! the optimizer's state tensors, and one read from a memory-mapped file borrows the file,
//! so that saving and loading copy each tensor once. [`StateDict::into_owned`] makes a
//! snapshot that outlives its source.
//!
//! Every value is also a *tree* ([`DictValue::Map`] of lists, numbers and tensors): a
//! state dict converts to and from one ([`StateDict::to_tree`], [`StateDict::from_tree`]),
//! which is what the format codecs see, so that they also carry the state dicts of
//! schedules and weight averages.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::error::{Error, Result};
use crate::float::{DType, Float};

/// An optimizer's options and state, in torch's layout, plus the optimizer's kind, its
/// format version and its parameters' names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateDict<'a> {
    /// The optimizer that wrote it (`"adam"`); absent in dicts written by torch.
    pub kind: Option<String>,
    /// The format version of that optimizer's state; absent in dicts written by torch.
    pub version: Option<u32>,
    /// Each parameter's state, by index (parameters numbered across groups in order).
    /// Parameters without state have no entry.
    pub state: BTreeMap<usize, Map<'a>>,
    /// The groups, in order.
    pub param_groups: Vec<DictGroup<'a>>,
}

/// One group of a [`StateDict`]: its options, its parameters' indices and, when every
/// parameter has a name, their names (torch's `param_groups[i]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DictGroup<'a> {
    /// Every option of the group, by its state-dict name.
    pub options: Map<'a>,
    /// The group's parameters, as indices numbered across groups in order.
    pub params: Vec<usize>,
    /// The parameters' names, in the order of `params` (torch 2.x's `param_names`).
    pub param_names: Option<Vec<String>>,
}

/// One value in a state dict: an option of a group, an entry of a parameter's state, or a
/// node of a tree.
#[derive(Clone, Debug, PartialEq)]
pub enum DictValue<'a> {
    /// Python's `None`, JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (torch writes some defaults as Python ints: `"momentum": 0`).
    Int(i64),
    /// A floating-point number (a Python float).
    Float(f64),
    /// A string (`"strong_wolfe"`).
    Str(String),
    /// A list (`betas`, LBFGS's `ro`, `al`, `old_dirs`).
    List(Vec<DictValue<'a>>),
    /// A string-keyed map (a tree's inner node: a group, a parameter's state).
    Map(Map<'a>),
    /// A tensor.
    Tensor(DictTensor<'a>),
}

impl<'a> DictValue<'a> {
    /// The value as a float, if it is a number: a float, or an integer (torch writes some
    /// options as Python ints). Nothing else reads as a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            DictValue::Float(x) => Some(*x),
            DictValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The value as a scalar: a number, or the element of a one-element tensor (torch keeps
    /// some scalars of state as 0-d tensors: Adam's `step`, L-BFGS's `ro` and `al`).
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            DictValue::Tensor(t) if t.len() == 1 => Some(t.to_vec::<f64>()[0]),
            v => v.as_f64(),
        }
    }

    /// The value as a non-negative integer. A float converts only when it is a whole number
    /// below 2⁶⁴: counts above `i64::MAX` are written as floats (a [`DictValue::Int`] cannot
    /// hold them), and must read back.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            DictValue::Int(i) => u64::try_from(*i).ok(),
            DictValue::Float(x) if x.fract() == 0.0 && *x >= 0.0 && *x < 2f64.powi(64) => Some(*x as u64),
            _ => None,
        }
    }

    /// A short description for error messages: `a number (0.1)`, `a string ("sgd")`, `a
    /// tensor of shape [4, 3]`.
    pub fn describe(&self) -> String {
        fn clip(s: String) -> String {
            if s.chars().count() > 40 {
                format!("{}…", s.chars().take(40).collect::<String>())
            } else {
                s
            }
        }
        match self {
            DictValue::Null => "null".to_string(),
            DictValue::Bool(b) => format!("a boolean ({b})"),
            DictValue::Int(i) => format!("an integer ({i})"),
            DictValue::Float(x) => format!("a number ({x:?})"),
            DictValue::Str(s) => clip(format!("a string ({s:?})")),
            DictValue::List(items) => format!("a list of {} item(s)", items.len()),
            DictValue::Map(map) => format!("a map of {} entr(ies)", map.len()),
            DictValue::Tensor(t) => format!("a {} tensor of shape {:?}", t.dtype(), t.shape()),
        }
    }

    /// A copy that owns all its data.
    pub fn into_owned(self) -> DictValue<'static> {
        match self {
            DictValue::Null => DictValue::Null,
            DictValue::Bool(b) => DictValue::Bool(b),
            DictValue::Int(i) => DictValue::Int(i),
            DictValue::Float(x) => DictValue::Float(x),
            DictValue::Str(s) => DictValue::Str(s),
            DictValue::List(items) => DictValue::List(items.into_iter().map(DictValue::into_owned).collect()),
            DictValue::Map(map) => DictValue::Map(map.into_owned()),
            DictValue::Tensor(t) => DictValue::Tensor(t.into_owned()),
        }
    }
}

impl From<f64> for DictValue<'_> {
    fn from(x: f64) -> Self {
        DictValue::Float(x)
    }
}
impl From<f32> for DictValue<'_> {
    fn from(x: f32) -> Self {
        DictValue::Float(x as f64)
    }
}
impl From<bool> for DictValue<'_> {
    fn from(b: bool) -> Self {
        DictValue::Bool(b)
    }
}
impl From<i64> for DictValue<'_> {
    fn from(i: i64) -> Self {
        DictValue::Int(i)
    }
}
impl From<&str> for DictValue<'_> {
    fn from(s: &str) -> Self {
        DictValue::Str(s.to_string())
    }
}
impl From<String> for DictValue<'_> {
    fn from(s: String) -> Self {
        DictValue::Str(s)
    }
}
impl<'a> From<DictTensor<'a>> for DictValue<'a> {
    fn from(t: DictTensor<'a>) -> Self {
        DictValue::Tensor(t)
    }
}
impl<'a> From<Map<'a>> for DictValue<'a> {
    fn from(m: Map<'a>) -> Self {
        DictValue::Map(m)
    }
}

/// A dense row-major tensor of a state dict: a shape, a dtype and the elements as
/// little-endian bytes. The bytes always hold exactly as many elements as the shape says
/// (every constructor checks it), so code reading one never indexes out of bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct DictTensor<'a> {
    shape: Vec<usize>,
    dtype: DType,
    bytes: Cow<'a, [u8]>,
    source: Source<'a>,
}

/// Where the bytes a tensor borrows come from, told about each copy out of them
/// ([`DictTensor::copy_into`]): a checkpoint mapped from a file prepares the destination
/// (large state tensors get transparent huge pages, which spares most of the page faults of
/// filling them) and drops the pages it has copied, so that loading never holds the whole
/// file and the optimizer's new state in memory at once.
///
/// Neither hook may change what any bytes read as: a released part may be read again (a
/// mapped file's page is then read back from the file), and a prepared destination is then
/// written whole.
pub trait BytesSource: Send + Sync {
    /// `out`, the memory of a destination not yet written, is about to receive a whole
    /// tensor's elements.
    fn prepare(&self, out: &mut [u8]) {
        let _ = out;
    }
    /// `bytes`, a part of a tensor's bytes, has just been read.
    fn release(&self, bytes: &[u8]) {
        let _ = bytes;
    }
}

/// The optional [`BytesSource`] of a tensor; not part of its value (equal tensors may
/// differ in it).
#[derive(Clone, Copy, Default)]
struct Source<'a>(Option<&'a dyn BytesSource>);

impl fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Source" } else { "None" })
    }
}

impl PartialEq for Source<'_> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The element count of `shape`, or `None` when it overflows.
fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

impl<'a> DictTensor<'a> {
    /// A tensor of this shape and dtype over little-endian `bytes`; `None` when the bytes do
    /// not hold exactly the shape's element count.
    pub fn from_le_bytes(shape: Vec<usize>, dtype: DType, bytes: Cow<'a, [u8]>) -> Option<Self> {
        let len = numel(&shape)?.checked_mul(dtype.size())?;
        (len == bytes.len()).then_some(DictTensor {
            shape,
            dtype,
            bytes,
            source: Source::default(),
        })
    }

    /// A tensor borrowing `values` (copied only on big-endian targets), in their own
    /// precision; `None` when their count is not the shape's.
    pub fn borrowed<A: Float>(shape: &[usize], values: &'a [A]) -> Option<Self> {
        DictTensor::from_le_bytes(shape.to_vec(), A::DTYPE, A::as_le_bytes(values))
    }

    /// A tensor owning a copy of `values`.
    pub fn owned<A: Float>(shape: &[usize], values: &[A]) -> Option<DictTensor<'static>> {
        DictTensor::borrowed(shape, values).map(DictTensor::into_owned)
    }

    /// A 0-d tensor holding `x` (torch keeps step counts as 0-d float32 tensors).
    pub fn scalar<A: Float>(x: A) -> DictTensor<'static> {
        DictTensor {
            shape: Vec::new(),
            dtype: A::DTYPE,
            bytes: Cow::Owned(A::as_le_bytes(&[x]).into_owned()),
            source: Source::default(),
        }
    }

    /// The same tensor, telling `source` about each copy out of its bytes (see
    /// [`BytesSource`]).
    pub fn with_source(mut self, source: &'a dyn BytesSource) -> Self {
        self.source = Source(Some(source));
        self
    }

    /// The shape (`[]` for a 0-d tensor).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The precision of the elements.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.dtype.size()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The elements as little-endian bytes.
    pub fn le_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Copies the elements into `out`, cast to `A` (torch casts state to its parameter's
    /// dtype on load): one pass, straight from the bytes, a block at a time, each block
    /// released once read (see [`with_source`](DictTensor::with_source)).
    ///
    /// # Panics
    /// If `out` does not have [`len`](DictTensor::len) elements: callers check shapes first.
    pub fn copy_into<A: Float>(&self, out: &mut [A]) {
        /// Elements per block: large enough that releasing costs nothing, small enough that
        /// a block's source stays in cache.
        const BLOCK: usize = 1 << 16;
        assert_eq!(
            out.len(),
            self.len(),
            "a tensor is copied into a buffer of its own length"
        );
        if let Some(source) = self.source.0 {
            source.prepare(crate::float::memory_bytes_mut(out));
        }
        let size = self.dtype.size();
        for (out, bytes) in out.chunks_mut(BLOCK).zip(self.bytes.chunks(BLOCK * size)) {
            convert(self.dtype, bytes, out);
            if let Some(source) = self.source.0 {
                source.release(bytes);
            }
        }
    }

    /// The elements cast to `A`.
    pub fn to_vec<A: Float>(&self) -> Vec<A> {
        let mut out = vec![A::zero(); self.len()];
        self.copy_into(&mut out);
        out
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> DictTensor<'static> {
        DictTensor {
            shape: self.shape,
            dtype: self.dtype,
            bytes: Cow::Owned(self.bytes.into_owned()),
            source: Source::default(),
        }
    }

    /// The same tensor, borrowing this one's bytes.
    pub fn borrow(&self) -> DictTensor<'_> {
        DictTensor {
            shape: self.shape.clone(),
            dtype: self.dtype,
            bytes: Cow::Borrowed(&self.bytes),
            source: self.source,
        }
    }
}

/// Little-endian `dtype` elements to `A`: a plain copy when the types agree (on
/// little-endian targets), else one conversion per element.
fn convert<A: Float>(dtype: DType, bytes: &[u8], out: &mut [A]) {
    if dtype == A::DTYPE && cfg!(target_endian = "little") {
        crate::float::memory_bytes_mut(out).copy_from_slice(bytes);
        return;
    }
    match dtype {
        DType::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                let b: [u8; 4] = [b[0], b[1], b[2], b[3]];
                *o = A::from_f64(f32::from_le_bytes(b) as f64);
            }
        }
        DType::F64 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                let b: [u8; 8] = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                *o = A::from_f64(f64::from_le_bytes(b));
            }
        }
    }
}

/// An ordered string-keyed map: a group's options, a parameter's state entries, a tree's
/// node, in the order they were inserted (so that saved files read like torch's).
///
/// Small maps are searched in order; from 32 entries on a map keeps an index
/// of its keys, so that the state of 65 536 parameters is built and read in linear time.
#[derive(Clone, Default)]
pub struct Map<'a> {
    entries: Vec<(String, DictValue<'a>)>,
    /// Each key's position, once the map has `INDEX_FROM` entries.
    index: Option<HashMap<String, usize>>,
}

/// The size from which a [`Map`] indexes its keys.
const INDEX_FROM: usize = 32;

impl PartialEq for Map<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl fmt::Debug for Map<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("entries", &self.entries).finish()
    }
}

impl<'a> Map<'a> {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    /// Appends an entry whose key is new, indexing it.
    fn push(&mut self, key: String, value: DictValue<'a>) {
        match &mut self.index {
            Some(index) => {
                index.insert(key.clone(), self.entries.len());
            }
            None if self.entries.len() + 1 >= INDEX_FROM => {
                let mut index: HashMap<String, usize> = self
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect();
                index.insert(key.clone(), self.entries.len());
                self.index = Some(index);
            }
            None => {}
        }
        self.entries.push((key, value));
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&DictValue<'a>> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// Sets `key` to `value`, replacing an existing entry in place or appending a new one.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<DictValue<'a>>) {
        let key = key.into();
        let value = value.into();
        match self.position(&key) {
            Some(i) => self.entries[i].1 = value,
            None => self.push(key, value),
        }
    }

    /// Appends an entry whose key the caller knows to be new (the readers check).
    pub(crate) fn push_new(&mut self, key: String, value: DictValue<'a>) {
        debug_assert!(!self.contains_key(&key));
        self.push(key, value);
    }

    /// Removes and returns the value under `key`.
    pub fn remove(&mut self, key: &str) -> Option<DictValue<'a>> {
        let pos = self.position(key)?;
        let (_, value) = self.entries.remove(pos);
        if let Some(index) = &mut self.index {
            index.remove(key);
            for i in index.values_mut().filter(|i| **i > pos) {
                *i -= 1;
            }
        }
        Some(value)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DictValue<'a>)> {
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

    /// A copy that owns all its data.
    pub fn into_owned(self) -> Map<'static> {
        Map {
            entries: self.entries.into_iter().map(|(k, v)| (k, v.into_owned())).collect(),
            index: self.index,
        }
    }
}

impl<'a> IntoIterator for Map<'a> {
    type Item = (String, DictValue<'a>);
    type IntoIter = std::vec::IntoIter<(String, DictValue<'a>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K: Into<String>, V: Into<DictValue<'a>>> FromIterator<(K, V)> for Map<'a> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

// ----- the state dict as a tree --------------------------------------------------------------

/// The keys of a state dict's tree, and of a group's own entries besides its options.
const KIND: &str = "kind";
const VERSION: &str = "version";
const STATE: &str = "state";
const PARAM_GROUPS: &str = "param_groups";
const PARAMS: &str = "params";
const PARAM_NAMES: &str = "param_names";

fn format_error(message: impl Into<String>) -> Error {
    Error::Format {
        message: message.into(),
    }
}

impl<'a> StateDict<'a> {
    /// A copy that owns all its data (a snapshot that outlives the optimizer it came from).
    pub fn into_owned(self) -> StateDict<'static> {
        StateDict {
            kind: self.kind,
            version: self.version,
            state: self.state.into_iter().map(|(i, m)| (i, m.into_owned())).collect(),
            param_groups: self
                .param_groups
                .into_iter()
                .map(|g| DictGroup {
                    options: g.options.into_owned(),
                    params: g.params,
                    param_names: g.param_names,
                })
                .collect(),
        }
    }

    /// The state dict as a tree, borrowing its tensors: `{"kind", "version", "state":
    /// {"0": {...}}, "param_groups": [{options..., "params": [...], "param_names": [...]}]}`
    /// (torch's layout; `kind` and `version` only when known).
    pub fn to_tree(&self) -> DictValue<'_> {
        let mut top = Map::new();
        if let Some(kind) = &self.kind {
            top.push_new(KIND.into(), DictValue::Str(kind.clone()));
        }
        if let Some(version) = self.version {
            top.push_new(VERSION.into(), DictValue::Int(version.into()));
        }
        let state = self
            .state
            .iter()
            .map(|(i, entry)| (i.to_string(), DictValue::Map(borrow_map(entry))))
            .collect::<Map<'_>>();
        top.push_new(STATE.into(), DictValue::Map(state));
        let groups = self
            .param_groups
            .iter()
            .map(|g| {
                let mut map = borrow_map(&g.options);
                let params = g.params.iter().map(|&i| DictValue::Int(i as i64)).collect();
                map.insert(PARAMS, DictValue::List(params));
                if let Some(names) = &g.param_names {
                    map.insert(
                        PARAM_NAMES,
                        DictValue::List(names.iter().map(|n| n.as_str().into()).collect()),
                    );
                }
                DictValue::Map(map)
            })
            .collect();
        top.push_new(PARAM_GROUPS.into(), DictValue::List(groups));
        DictValue::Map(top)
    }

    /// Reads a state dict from its tree (see [`to_tree`](StateDict::to_tree)), checking its
    /// structure: the top-level keys, the state's parameter indices, each group's `params`
    /// and `param_names`. Options and state entries are checked later, by the optimizer
    /// that loads the dict.
    pub fn from_tree(tree: DictValue<'a>) -> Result<Self> {
        let DictValue::Map(top) = tree else {
            return Err(format_error(format!(
                "a state dict is a map, found {}",
                tree.describe()
            )));
        };
        let mut dict = StateDict::default();
        let (mut state, mut groups) = (None, None);
        for (key, value) in top {
            match key.as_str() {
                KIND => match value {
                    DictValue::Str(s) => dict.kind = Some(s),
                    other => {
                        return Err(format_error(format!(
                            "`kind` must be a string, found {}",
                            other.describe()
                        )));
                    }
                },
                VERSION => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
                    Some(v) if matches!(value, DictValue::Int(_)) => dict.version = Some(v),
                    _ => {
                        return Err(format_error(format!(
                            "`version` must be a non-negative integer, found {}",
                            value.describe()
                        )));
                    }
                },
                STATE => state = Some(read_state(value)?),
                PARAM_GROUPS => groups = Some(read_groups(value)?),
                other => {
                    return Err(format_error(format!(
                        "unexpected key `{other}` in a state dict (expected state, param_groups, kind, version)"
                    )));
                }
            }
        }
        dict.state = state.ok_or_else(|| format_error("no `state` entry"))?;
        dict.param_groups = groups.ok_or_else(|| format_error("no `param_groups` entry"))?;
        Ok(dict)
    }
}

/// A map whose values borrow from `map`'s (tensors are not copied).
fn borrow_map<'b>(map: &'b Map<'_>) -> Map<'b> {
    map.iter().map(|(k, v)| (k, borrow_value(v))).collect()
}

fn borrow_value<'b>(value: &'b DictValue<'_>) -> DictValue<'b> {
    match value {
        DictValue::Null => DictValue::Null,
        DictValue::Bool(b) => DictValue::Bool(*b),
        DictValue::Int(i) => DictValue::Int(*i),
        DictValue::Float(x) => DictValue::Float(*x),
        DictValue::Str(s) => DictValue::Str(s.clone()),
        DictValue::List(items) => DictValue::List(items.iter().map(borrow_value).collect()),
        DictValue::Map(map) => DictValue::Map(borrow_map(map)),
        DictValue::Tensor(t) => DictValue::Tensor(t.borrow()),
    }
}

/// `state`: parameter indices (decimal strings) to maps of entries. A map cannot hold a key
/// twice, so neither can this.
fn read_state(value: DictValue<'_>) -> Result<BTreeMap<usize, Map<'_>>> {
    let DictValue::Map(map) = value else {
        return Err(format_error(format!(
            "`state` must be a map, found {}",
            value.describe()
        )));
    };
    let mut state = BTreeMap::new();
    for (key, entry) in map {
        let index =
            parse_index(&key).ok_or_else(|| format_error(format!("state key {key:?} is not a parameter index")))?;
        let DictValue::Map(entry) = entry else {
            return Err(format_error(format!(
                "the state of parameter {index} must be a map of entries, found {}",
                entry.describe()
            )));
        };
        if state.insert(index, entry).is_some() {
            return Err(format_error(format!("state has parameter index {index} twice")));
        }
    }
    Ok(state)
}

/// A parameter index written as a canonical decimal (`"3"`, not `"03"` or `"+3"`).
fn parse_index(key: &str) -> Option<usize> {
    let index: usize = key.parse().ok()?;
    (index.to_string() == key).then_some(index)
}

fn read_groups(value: DictValue<'_>) -> Result<Vec<DictGroup<'_>>> {
    let DictValue::List(items) = value else {
        return Err(format_error(format!(
            "`param_groups` must be a list, found {}",
            value.describe()
        )));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(g, item)| {
            let DictValue::Map(map) = item else {
                return Err(format_error(format!(
                    "parameter group {g} must be a map, found {}",
                    item.describe()
                )));
            };
            let mut group = DictGroup::default();
            let mut params = None;
            for (key, value) in map {
                match key.as_str() {
                    PARAMS => params = Some(read_indices(g, value)?),
                    PARAM_NAMES => group.param_names = Some(read_names(g, value)?),
                    _ => group.options.push_new(key, value),
                }
            }
            group.params = params.ok_or_else(|| format_error(format!("parameter group {g} has no `params`")))?;
            Ok(group)
        })
        .collect()
}

fn read_indices(g: usize, value: DictValue<'_>) -> Result<Vec<usize>> {
    let bad = |v: &DictValue<'_>| {
        format_error(format!(
            "`params` of group {g} must be a list of parameter indices, found {}",
            v.describe()
        ))
    };
    let DictValue::List(items) = &value else {
        return Err(bad(&value));
    };
    items
        .iter()
        .map(|v| match v {
            DictValue::Int(i) => usize::try_from(*i).map_err(|_| bad(v)),
            _ => Err(bad(v)),
        })
        .collect()
}

fn read_names(g: usize, value: DictValue<'_>) -> Result<Vec<String>> {
    let bad = |v: &DictValue<'_>| {
        format_error(format!(
            "`param_names` of group {g} must be a list of strings, found {}",
            v.describe()
        ))
    };
    let DictValue::List(items) = value else {
        return Err(bad(&value));
    };
    items
        .into_iter()
        .map(|v| match v {
            DictValue::Str(s) => Ok(s),
            other => Err(bad(&other)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_hold_exactly_their_shape() {
        assert!(DictTensor::from_le_bytes(vec![2, 3], DType::F64, Cow::Owned(vec![0; 40])).is_none());
        assert!(DictTensor::from_le_bytes(vec![usize::MAX, 3], DType::F32, Cow::Owned(vec![])).is_none());
        assert!(DictTensor::from_le_bytes(vec![], DType::F32, Cow::Owned(vec![0; 4])).is_some());
        assert!(DictTensor::borrowed(&[3], &[1.0f32, 2.0]).is_none());
    }

    #[test]
    fn tensors_cast_on_copy_and_borrow_without_copying() {
        let values = [0.1f32, -2.5, 1e-30];
        let t = DictTensor::borrowed(&[3], &values).expect("fits");
        if cfg!(target_endian = "little") {
            assert_eq!(
                t.le_bytes().as_ptr(),
                values.as_ptr().cast::<u8>(),
                "borrowed, not copied"
            );
        }
        assert_eq!(t.to_vec::<f32>(), values);
        assert_eq!(t.to_vec::<f64>(), values.map(f64::from));
        let wide = DictTensor::owned(&[], &[0.1f64]).expect("fits");
        assert_eq!(wide.to_vec::<f32>(), [0.1f32]);
        assert_eq!(DictTensor::scalar(7.0f32).shape(), &[] as &[usize]);
    }

    #[test]
    fn numbers_read_as_numbers_only() {
        assert_eq!(DictValue::Int(0).as_f64(), Some(0.0));
        assert_eq!(DictValue::Str("inf".into()).as_f64(), None);
        assert_eq!(DictValue::Str("0.1".into()).as_f64(), None);
        assert_eq!(DictValue::Float(7.0).as_u64(), Some(7));
        assert_eq!(DictValue::Float(7.5).as_u64(), None);
        assert_eq!(DictValue::Int(-1).as_u64(), None);
        assert_eq!(DictValue::Float(f64::NAN).as_u64(), None);
        // A count past i64::MAX is packed as a float; it must read back.
        assert_eq!(DictValue::Float(2f64.powi(63)).as_u64(), Some(1 << 63));
        assert_eq!(DictValue::Float(2f64.powi(64)).as_u64(), None);
    }

    #[test]
    fn numbers_in_descriptions_are_readable() {
        assert_eq!(DictValue::Float(1e308).describe(), "a number (1e308)");
    }

    #[test]
    fn large_maps_index_their_keys_and_keep_order() {
        let mut m = Map::new();
        for i in 0..100 {
            m.insert(i.to_string(), DictValue::Int(i));
        }
        m.insert("7", DictValue::Int(-7));
        assert_eq!(m.len(), 100);
        assert_eq!(m.get("7"), Some(&DictValue::Int(-7)));
        assert_eq!(m.remove("3"), Some(DictValue::Int(3)));
        assert_eq!(m.get("99"), Some(&DictValue::Int(99)));
        assert_eq!(m.keys().nth(3), Some("4"));
        assert!(!m.contains_key("3"));
        let small: Map = [("a", 1i64), ("b", 2)].into_iter().collect();
        assert_eq!(small, [("a", 1i64), ("b", 2)].into_iter().collect::<Map>());
    }

    #[test]
    fn map_keeps_insertion_order() {
        let mut m = Map::new();
        m.insert("lr", 0.1);
        m.insert("momentum", 0.9);
        m.insert("lr", 0.2);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["lr", "momentum"]);
        assert_eq!(m.get("lr"), Some(&DictValue::Float(0.2)));
    }

    #[test]
    fn a_state_dict_survives_its_tree() {
        let values = [1.0f64, 2.0];
        let mut entry = Map::new();
        entry.insert("exp_avg", DictTensor::borrowed(&[2], &values).expect("fits"));
        let dict = StateDict {
            kind: Some("adam".into()),
            version: Some(1),
            state: [(0, entry)].into_iter().collect(),
            param_groups: vec![DictGroup {
                options: [("lr", 0.1)].into_iter().collect(),
                params: vec![0],
                param_names: Some(vec!["w".into()]),
            }],
        };
        let back = StateDict::from_tree(dict.to_tree()).expect("reads back");
        assert_eq!(back, dict);
    }

    #[test]
    fn malformed_trees_are_format_errors() {
        let group = |params: DictValue<'static>| {
            let mut m = Map::new();
            m.insert("params", params);
            DictValue::List(vec![DictValue::Map(m)])
        };
        let top = |state: DictValue<'static>, groups: DictValue<'static>| {
            let mut m = Map::new();
            m.insert("state", state);
            m.insert("param_groups", groups);
            DictValue::Map(m)
        };
        let empty = || DictValue::Map(Map::new());
        let cases = [
            (DictValue::Int(1), "is a map"),
            (
                top(DictValue::List(vec![]), group(DictValue::List(vec![]))),
                "`state` must be a map",
            ),
            (
                top(
                    DictValue::Map([("03", Map::new())].into_iter().collect()),
                    group(DictValue::List(vec![])),
                ),
                "not a parameter index",
            ),
            (
                top(empty(), group(DictValue::List(vec![DictValue::Int(-1)]))),
                "parameter indices",
            ),
            (top(empty(), group(DictValue::Float(0.0))), "parameter indices"),
            (
                top(empty(), DictValue::List(vec![DictValue::Map(Map::new())])),
                "has no `params`",
            ),
        ];
        for (tree, needle) in cases {
            let err = StateDict::from_tree(tree).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
