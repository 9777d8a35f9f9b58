//! The state dict: an optimizer's options and state, packed as torch packs them, and its
//! JSON form.
//!
//! ```json
//! {"kind": "sgd", "version": 1,
//!  "state": {"0": {"momentum_buffer": {"shape": [2], "dtype": "float64", "data": [0.1, 0.2]}}},
//!  "param_groups": [{"lr": 0.1, "momentum": 0.9, ..., "params": [0], "param_names": ["w"]}]}
//! ```
//! Parameters are numbered in group order; `state` maps those numbers to named entries.
//! `kind` and `version` make the dict self-describing (loading Adam's state into SGD is
//! an error at load time); `param_names` appears when the parameters have names. A dict
//! as torch writes it (no `kind`, `version` or names) reads too.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::optimizer::Optimizer;
use crate::rule::Rule;
use crate::state::State;
use crate::value::{Map, Value};

/// One group of a state dict: its options, its parameters' indices and, when every
/// parameter has a name, their names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupState {
    /// Every option of the group, by its state-dict name.
    pub options: Map,
    /// The group's parameters, as indices numbered across groups in order.
    pub params: Vec<usize>,
    /// The parameters' names, in the order of `params` (torch 2.x's `param_names`).
    pub param_names: Option<Vec<String>>,
}

/// An optimizer's options and state, in torch's layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateDict {
    /// The optimizer that wrote it (`"adam"`); absent in dicts written by torch.
    pub kind: Option<String>,
    /// The format version of that optimizer's state; absent in dicts written by torch.
    pub version: Option<u32>,
    /// Each parameter's state, by index. Parameters without state have no entry.
    pub state: BTreeMap<usize, Map>,
    /// The groups, in order.
    pub param_groups: Vec<GroupState>,
}

impl StateDict {
    /// Compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing our own types cannot fail: every map key is a string and
        // non-finite floats are written as strings.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a state dict from JSON (ours, or torch's as the fixtures write it).
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::Json { message: e.to_string() })
    }

    /// Writes the state dict to a JSON file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|e| Error::Io {
            action: "write",
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Reads a state dict from a JSON file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            action: "read",
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_json(&text)
    }
}

impl<R: Rule, A: Float> Optimizer<R, A> {
    /// The optimizer's options and state, packed as torch packs them (see [`StateDict`]).
    pub fn state_dict(&self) -> StateDict {
        let mut state = BTreeMap::new();
        let mut param_groups = Vec::with_capacity(self.groups.len());
        let mut next = 0;
        for group in &self.groups {
            let params: Vec<usize> = (next..next + group.params.len()).collect();
            for (index, slot) in params.iter().zip(&group.states) {
                if let Some(s) = slot {
                    let entry = s.pack();
                    // torch leaves a parameter without state entries out entirely (SGD
                    // without momentum has no state at all).
                    if !entry.is_empty() {
                        state.insert(*index, entry);
                    }
                }
            }
            next += group.params.len();
            let param_names = group
                .params
                .iter()
                .map(|p| p.name().map(str::to_string))
                .collect::<Option<Vec<_>>>();
            param_groups.push(GroupState {
                options: group.options.to_map(),
                params,
                param_names,
            });
        }
        StateDict {
            kind: Some(R::KIND.to_string()),
            version: Some(R::VERSION),
            state,
            param_groups,
        }
    }
}

// ----- serde -------------------------------------------------------------------------------

impl Serialize for GroupState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.options.iter() {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry("params", &self.params)?;
        if let Some(names) = &self.param_names {
            map.serialize_entry("param_names", names)?;
        }
        map.end()
    }
}

impl Serialize for StateDict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(kind) = &self.kind {
            map.serialize_entry("kind", kind)?;
        }
        if let Some(version) = &self.version {
            map.serialize_entry("version", version)?;
        }
        map.serialize_entry("state", &IndexedState(&self.state))?;
        map.serialize_entry("param_groups", &self.param_groups)?;
        map.end()
    }
}

/// Writes the state map with its keys as strings ("0", "1", ...), in numeric order.
struct IndexedState<'a>(&'a BTreeMap<usize, Map>);

impl Serialize for IndexedState<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(&k.to_string(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for GroupState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GroupState;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter group {\"params\": [...], option: value, ...}")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<GroupState, M::Error> {
                let mut group = GroupState::default();
                let mut params = None;
                while let Some(key) = access.next_key::<String>()? {
                    match key.as_str() {
                        "params" if params.is_none() => params = Some(access.next_value()?),
                        "param_names" if group.param_names.is_none() => group.param_names = Some(access.next_value()?),
                        _ if key == "params" || key == "param_names" || group.options.contains_key(&key) => {
                            return Err(de::Error::custom(format!("a parameter group has `{key}` twice")));
                        }
                        _ => {
                            let value: Value = access.next_value()?;
                            group.options.insert(key, value);
                        }
                    }
                }
                group.params = params.ok_or_else(|| de::Error::custom("a parameter group has no `params`"))?;
                Ok(group)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for StateDict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StateDict;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state dict {\"state\": {...}, \"param_groups\": [...]}")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<StateDict, M::Error> {
                let mut dict = StateDict::default();
                let (mut state, mut groups) = (None, None);
                while let Some(key) = access.next_key::<String>()? {
                    match key.as_str() {
                        "kind" if dict.kind.is_none() => dict.kind = access.next_value()?,
                        "version" if dict.version.is_none() => dict.version = access.next_value()?,
                        "state" if state.is_none() => state = Some(access.next_value::<StateDe>()?.0),
                        "param_groups" if groups.is_none() => groups = Some(access.next_value()?),
                        "kind" | "version" | "state" | "param_groups" => {
                            return Err(de::Error::custom(format!("the state dict has `{key}` twice")));
                        }
                        other => {
                            return Err(de::Error::custom(format!(
                                "unexpected key `{other}` in a state dict (expected state, param_groups, kind, version)"
                            )));
                        }
                    }
                }
                dict.state = state.ok_or_else(|| de::Error::custom("the state dict has no `state`"))?;
                dict.param_groups = groups.ok_or_else(|| de::Error::custom("the state dict has no `param_groups`"))?;
                Ok(dict)
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads the state map, its keys parameter indices as strings. A `BTreeMap<String, _>` would
/// keep the last of two equal keys silently (`{"0": {...}, "0": {...}}`); this rejects them,
/// as every other map of a state dict does.
struct StateDe(BTreeMap<usize, Map>);

impl<'de> Deserialize<'de> for StateDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StateDe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from parameter indices to state entries")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<StateDe, M::Error> {
                let mut indexed = BTreeMap::new();
                while let Some(k) = access.next_key::<String>()? {
                    let index = k
                        .parse::<usize>()
                        .map_err(|_| de::Error::custom(format!("state key {k:?} is not a parameter index")))?;
                    if indexed.contains_key(&index) {
                        return Err(de::Error::custom(format!("state has parameter index {index} twice")));
                    }
                    indexed.insert(index, access.next_value::<Map>()?);
                }
                Ok(StateDe(indexed))
            }
        }
        d.deserialize_map(V)
    }
}
