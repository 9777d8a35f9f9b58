//! What `optim inspect` says about a checkpoint, as text for people and JSON for programs.

use std::fmt::Write as _;

use optim_checkpoint::Checkpoint;
use optim_core::{DictValue, Map, StateDict, tree_to_json};

/// Above this many parameters with state, the text lists each distinct set of entries once
/// with its count instead of one line per parameter.
const LIST_UP_TO: usize = 16;

/// The summary of one checkpoint.
pub(crate) struct Summary {
    file: String,
    format: &'static str,
    files: usize,
    bytes: u64,
    body: Body,
}

enum Body {
    StateDict(Dict),
    /// Not a state dict: the root's entries, described.
    Tree {
        entries: Vec<(String, String)>,
        hint: Option<String>,
    },
}

struct Dict {
    kind: Option<String>,
    version: Option<u32>,
    groups: Vec<Group>,
    state: Vec<ParamState>,
}

struct Group {
    options: Vec<(String, String, DictValue<'static>)>,
    params: Vec<usize>,
    names: Option<Vec<String>>,
}

struct ParamState {
    index: usize,
    name: Option<String>,
    entries: Vec<Entry>,
}

struct Entry {
    key: String,
    /// `float32 [4, 3]`, `float64 []`, `int`, `list of 4 float64 tensors [6]`, ...
    what: String,
    tensors: usize,
    elements: u64,
    bytes: u64,
}

impl Summary {
    pub(crate) fn of(checkpoint: &Checkpoint) -> optim_core::Result<Summary> {
        let bytes = checkpoint
            .files()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        let body = match checkpoint.state_dict() {
            Ok(dict) => Body::StateDict(Dict::of(&dict)),
            Err(_) => tree_body(&checkpoint.tree()),
        };
        Ok(Summary {
            file: checkpoint.path().display().to_string(),
            format: checkpoint.format().name(),
            files: checkpoint.files().len(),
            bytes,
            body,
        })
    }

    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        let files = if self.files == 1 {
            String::new()
        } else {
            format!(", {} shards", self.files)
        };
        let _ = writeln!(out, "file        {}", self.file);
        let _ = writeln!(out, "format      {}{files}, {}", self.format, size(self.bytes));
        match &self.body {
            Body::Tree { entries, hint } => {
                let _ = writeln!(out, "not an optimizer's state dict; its entries:");
                for (key, what) in entries {
                    let _ = writeln!(out, "  {key:<12} {what}");
                }
                if let Some(hint) = hint {
                    let _ = writeln!(out, "{hint}");
                }
            }
            Body::StateDict(dict) => dict.write_text(&mut out),
        }
        out
    }

    pub(crate) fn to_json(&self) -> String {
        let mut top = Map::new();
        top.insert("file", self.file.as_str());
        top.insert("format", self.format);
        top.insert("files", self.files as i64);
        top.insert("bytes", self.bytes as i64);
        match &self.body {
            Body::Tree { entries, hint } => {
                top.insert("state_dict", false);
                let entries: Map<'static> = entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                top.insert("entries", entries);
                if let Some(hint) = hint {
                    top.insert("hint", hint.as_str());
                }
            }
            Body::StateDict(dict) => {
                top.insert("state_dict", true);
                dict.write_json(&mut top);
            }
        }
        tree_to_json(&DictValue::Map(top))
    }
}

fn tree_body(tree: &DictValue<'_>) -> Body {
    let DictValue::Map(map) = tree else {
        return Body::Tree {
            entries: vec![("(root)".into(), tree.describe())],
            hint: None,
        };
    };
    let entries = map.iter().map(|(k, v)| (k.to_string(), v.describe())).collect();
    let hint = map
        .iter()
        .find(|(_, v)| StateDict::from_tree((*v).clone()).is_ok())
        .map(|(k, _)| format!("the entry {k:?} is an optimizer's state dict: read it with --key {k}"));
    Body::Tree { entries, hint }
}

impl Dict {
    fn of(dict: &StateDict<'_>) -> Dict {
        let groups: Vec<Group> = dict
            .param_groups
            .iter()
            .map(|g| Group {
                options: g
                    .options
                    .iter()
                    .map(|(k, v)| (k.to_string(), show(v), v.clone().into_owned()))
                    .collect(),
                params: g.params.clone(),
                names: g.param_names.clone(),
            })
            .collect();
        let names: std::collections::HashMap<usize, &String> = groups
            .iter()
            .filter_map(|g| Some(g.params.iter().copied().zip(g.names.as_ref()?)))
            .flatten()
            .collect();
        let name_of = |i: usize| names.get(&i).map(|n| n.to_string());
        let state = dict
            .state
            .iter()
            .map(|(&index, entry)| ParamState {
                index,
                name: name_of(index),
                entries: entry.iter().map(|(k, v)| Entry::of(k, v)).collect(),
            })
            .collect();
        Dict {
            kind: dict.kind.clone(),
            version: dict.version,
            groups,
            state,
        }
    }

    fn totals(&self) -> (usize, u64, u64) {
        let entries = self.state.iter().flat_map(|p| &p.entries);
        entries.fold((0, 0, 0), |(t, e, b), x| (t + x.tensors, e + x.elements, b + x.bytes))
    }

    fn write_text(&self, out: &mut String) {
        let kind = match (&self.kind, self.version) {
            (Some(kind), Some(v)) => format!("{kind} (format version {v})"),
            (Some(kind), None) => kind.clone(),
            (None, _) => "not recorded (a state dict written by PyTorch)".into(),
        };
        let params: usize = self.groups.iter().map(|g| g.params.len()).sum();
        let (tensors, elements, bytes) = self.totals();
        let _ = writeln!(out, "kind        {kind}");
        let _ = writeln!(out, "parameters  {params} in {} group(s)", self.groups.len());
        let _ = writeln!(
            out,
            "state       {} parameter(s) with state: {tensors} tensor(s), {elements} element(s), {}",
            self.state.len(),
            size(bytes)
        );
        for (g, group) in self.groups.iter().enumerate() {
            let options: Vec<String> = group.options.iter().map(|(k, v, _)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "group {g}     {} parameter(s): {}",
                group.params.len(),
                options.join(" ")
            );
            if let Some(names) = &group.names {
                let _ = writeln!(out, "  names     {}", names.join(", "));
            }
        }
        if self.state.len() <= LIST_UP_TO {
            for p in &self.state {
                let name = p.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
                let _ = writeln!(out, "param {}{name}", p.index);
                for e in &p.entries {
                    let _ = writeln!(out, "  {:<14} {}", e.key, e.what);
                }
            }
        } else {
            // The same entries for many parameters: once each, with a count.
            let mut kinds: Vec<(String, usize)> = Vec::new();
            for p in &self.state {
                let sig = p
                    .entries
                    .iter()
                    .map(|e| format!("{} {}", e.key, e.what))
                    .collect::<Vec<_>>()
                    .join(", ");
                match kinds.iter_mut().find(|(s, _)| *s == sig) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((sig, 1)),
                }
            }
            for (sig, n) in kinds {
                let _ = writeln!(out, "{n} × param: {sig}");
            }
        }
    }

    fn write_json(&self, top: &mut Map<'static>) {
        let (tensors, elements, bytes) = self.totals();
        top.insert("kind", self.kind.clone().map_or(DictValue::Null, DictValue::Str));
        top.insert(
            "version",
            self.version.map_or(DictValue::Null, |v| DictValue::Int(v.into())),
        );
        top.insert(
            "parameters",
            self.groups.iter().map(|g| g.params.len()).sum::<usize>() as i64,
        );
        let groups = self
            .groups
            .iter()
            .map(|g| {
                let mut m = Map::new();
                let options: Map<'static> = g.options.iter().map(|(k, _, v)| (k.as_str(), v.clone())).collect();
                m.insert("options", options);
                m.insert(
                    "params",
                    DictValue::List(g.params.iter().map(|&i| DictValue::Int(i as i64)).collect()),
                );
                m.insert(
                    "param_names",
                    g.names.as_ref().map_or(DictValue::Null, |n| {
                        DictValue::List(n.iter().map(|s| DictValue::Str(s.clone())).collect())
                    }),
                );
                DictValue::Map(m)
            })
            .collect();
        top.insert("groups", DictValue::List(groups));
        let mut totals = Map::new();
        totals.insert("parameters", self.state.len() as i64);
        totals.insert("tensors", tensors as i64);
        totals.insert("elements", elements as i64);
        totals.insert("bytes", bytes as i64);
        top.insert("state_totals", totals);
        let state = self
            .state
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.insert("index", p.index as i64);
                m.insert("name", p.name.clone().map_or(DictValue::Null, DictValue::Str));
                let entries: Map<'static> = p
                    .entries
                    .iter()
                    .map(|e| {
                        let mut x = Map::new();
                        x.insert("type", e.what.as_str());
                        x.insert("elements", e.elements as i64);
                        x.insert("bytes", e.bytes as i64);
                        (e.key.as_str(), DictValue::Map(x))
                    })
                    .collect();
                m.insert("entries", entries);
                DictValue::Map(m)
            })
            .collect();
        top.insert("state", DictValue::List(state));
    }
}

impl Entry {
    fn of(key: &str, value: &DictValue<'_>) -> Entry {
        let mut entry = Entry {
            key: key.to_string(),
            what: String::new(),
            tensors: 0,
            elements: 0,
            bytes: 0,
        };
        entry.what = match value {
            DictValue::Tensor(t) => {
                entry.add(t.len(), t.le_bytes().len());
                format!("{} {:?}", t.dtype(), t.shape())
            }
            DictValue::List(items) if items.iter().any(|v| matches!(v, DictValue::Tensor(_))) => {
                let mut kinds: Vec<String> = Vec::new();
                for item in items {
                    let what = match item {
                        DictValue::Tensor(t) => {
                            entry.add(t.len(), t.le_bytes().len());
                            format!("{} {:?}", t.dtype(), t.shape())
                        }
                        other => kind(other).to_string(),
                    };
                    if !kinds.contains(&what) {
                        kinds.push(what);
                    }
                }
                format!("list of {}: {}", items.len(), kinds.join(" | "))
            }
            other => format!("{} = {}", kind(other), show(other)),
        };
        entry
    }

    fn add(&mut self, elements: usize, bytes: usize) {
        self.tensors += 1;
        self.elements += elements as u64;
        self.bytes += bytes as u64;
    }
}

fn kind(value: &DictValue<'_>) -> &'static str {
    match value {
        DictValue::Null => "None",
        DictValue::Bool(_) => "bool",
        DictValue::Int(_) => "int",
        DictValue::Float(_) => "float",
        DictValue::Str(_) => "str",
        DictValue::List(_) => "list",
        DictValue::Map(_) => "map",
        DictValue::Tensor(_) => "tensor",
    }
}

/// A value as Python would print it, short.
fn show(value: &DictValue<'_>) -> String {
    match value {
        DictValue::Null => "None".into(),
        DictValue::Bool(b) => if *b { "True" } else { "False" }.into(),
        DictValue::Int(i) => i.to_string(),
        DictValue::Float(x) => format!("{x:?}"),
        DictValue::Str(s) => format!("{s:?}"),
        DictValue::List(items) if items.len() <= 8 => {
            format!("({})", items.iter().map(show).collect::<Vec<_>>().join(", "))
        }
        other => other.describe(),
    }
}

/// `1.5 KiB`, `128.0 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut x = bytes as f64 / 1024.0;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    format!("{x:.1} {} ({bytes} bytes)", UNITS[unit])
}
