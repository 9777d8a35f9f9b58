//! safetensors files: one tensor entry per tensor of the tree, and the rest of the tree in
//! the header's `__metadata__`.
//!
//! ```text
//! [8 bytes: header length n, little-endian][n bytes: JSON header, padded with spaces][tensor bytes]
//!
//! header = {
//!   "__metadata__": {
//!     "optim.tree": "{\"kind\":\"adam\",\"version\":1,\"state\":{\"0\":{\"step\":{\"shape\":[],\"dtype\":\"float32\",\"tensor\":\"state.0.step\"},...}},\"param_groups\":[...]}"
//!   },
//!   "state.0.exp_avg": {"dtype": "F32", "shape": [4, 3], "data_offsets": [0, 48]},
//!   ...
//! }
//! ```
//!
//! Each tensor is named by its path in the tree (`state.0.exp_avg`, L-BFGS's
//! `state.0.old_dirs.3`), and stands in the tree as `{"shape", "dtype", "tensor": name}`: a
//! map whose first key is `shape`, which trees never have (see the JSON codec). Tensors
//! are stored in the order a load reads them, float64 ones first (so that every tensor is
//! aligned to its element size, as the `safetensors` crate arranges them too). A file
//! without `optim.tree` (any other safetensors file) reads as a map of its tensors.
//!
//! Above a size the caller chooses, the tensors are split into `name-00001-of-0000N.safetensors`
//! files beside an index `name.safetensors.index.json` (the Hugging Face convention:
//! `{"metadata": {...}, "weight_map": {tensor: file}}`); the tree is then in the index's
//! metadata, and every file of the set carries the same save id, so that a set mixing two
//! saves is refused rather than read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use optim_core::{DType, DictTensor, DictValue, Map, tree_from_json, tree_to_json};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, Metadata, TensorInfo};
use serde::ser::{SerializeMap, Serializer};

use crate::file::{AtomicFile, Mapping, io_error};
use crate::tree::{Node, TensorNode};
use crate::{Error, Result};

/// The metadata key of the tree (a JSON string).
const TREE: &str = "optim.tree";
/// The metadata key of the save id, in every file of a sharded set.
const SAVE: &str = "optim.save";
/// The suffix of a sharded set's index, after the set's name.
pub(crate) const INDEX_SUFFIX: &str = ".index.json";
/// The length prefix of the header.
const LEN_PREFIX: usize = 8;
/// Tensor bytes written between two progress reports.
const PROGRESS_BLOCK: usize = 1 << 22;

/// The safetensors dtype of a tensor's.
fn st_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

// ----- writing -------------------------------------------------------------------------------

/// A tensor to write, and its name.
struct Entry<'t, 'a> {
    name: String,
    tensor: &'t DictTensor<'a>,
}

/// The tree with each tensor replaced by its placeholder, and the tensors in file order.
fn split_tree<'t, 'a>(tree: &'t DictValue<'a>) -> (DictValue<'static>, Vec<Entry<'t, 'a>>) {
    fn walk<'t, 'a>(
        value: &'t DictValue<'a>,
        path: &mut Vec<String>,
        names: &mut HashSet<String>,
        out: &mut Vec<Entry<'t, 'a>>,
    ) -> DictValue<'static> {
        match value {
            DictValue::List(items) => DictValue::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        path.push(i.to_string());
                        let node = walk(v, path, names, out);
                        path.pop();
                        node
                    })
                    .collect(),
            ),
            DictValue::Map(map) => DictValue::Map(
                map.iter()
                    .map(|(k, v)| {
                        path.push(k.to_string());
                        let node = walk(v, path, names, out);
                        path.pop();
                        (k, node)
                    })
                    .collect(),
            ),
            DictValue::Tensor(t) => {
                // Keys with dots could make two paths read alike: number the later ones.
                let base = path.join(".");
                let mut name = base.clone();
                let mut n = 1;
                while !names.insert(name.clone()) {
                    n += 1;
                    name = format!("{base}#{n}");
                }
                let placeholder = placeholder(t, &name);
                out.push(Entry { name, tensor: t });
                placeholder
            }
            other => other.clone().into_owned(),
        }
    }
    let mut entries = Vec::new();
    let skeleton = walk(tree, &mut Vec::new(), &mut HashSet::new(), &mut entries);
    // float64 first: every offset stays a multiple of its tensor's element size (the header
    // is padded to 8 bytes). A stable sort keeps the load order within each dtype.
    entries.sort_by_key(|e| std::cmp::Reverse(e.tensor.dtype().size()));
    (skeleton, entries)
}

fn placeholder(t: &DictTensor<'_>, name: &str) -> DictValue<'static> {
    let shape = t.shape().iter().map(|&d| DictValue::Int(d as i64)).collect();
    let mut map = Map::new();
    map.insert("shape", DictValue::List(shape));
    map.insert("dtype", t.dtype().name());
    map.insert("tensor", name);
    DictValue::Map(map)
}

/// The header: `__metadata__`, then one entry per tensor at consecutive offsets, as JSON
/// padded with spaces to a multiple of 8 bytes.
fn header(metadata: &BTreeMap<&str, String>, entries: &[Entry<'_, '_>]) -> Result<Vec<u8>> {
    struct Header<'h, 't, 'a> {
        metadata: &'h BTreeMap<&'h str, String>,
        entries: &'h [Entry<'t, 'a>],
    }
    impl serde::Serialize for Header<'_, '_, '_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.entries.len() + 1))?;
            map.serialize_entry("__metadata__", self.metadata)?;
            let mut offset = 0;
            for e in self.entries {
                let len = e.tensor.le_bytes().len();
                let info = TensorInfo {
                    dtype: st_dtype(e.tensor.dtype()),
                    shape: e.tensor.shape().to_vec(),
                    data_offsets: (offset, offset + len),
                };
                offset += len;
                map.serialize_entry(&e.name, &info)?;
            }
            map.end()
        }
    }
    let mut json = serde_json::to_vec(&Header { metadata, entries }).map_err(|e| Error::Safetensors {
        detail: format!("cannot write the header: {e}"),
    })?;
    json.resize(json.len().next_multiple_of(LEN_PREFIX), b' ');
    Ok(json)
}

/// Writes one file of entries, atomically, streaming the tensors' bytes.
fn write_file(
    file: &mut AtomicFile,
    metadata: &BTreeMap<&str, String>,
    entries: &[Entry<'_, '_>],
    progress: &mut Option<&mut dyn FnMut(u64, u64)>,
    done: &mut u64,
    total: u64,
) -> Result<()> {
    let header = header(metadata, entries)?;
    let temp = file.temp_path().to_path_buf();
    let io = |e| io_error("write", &temp)(e);
    let out = file.writer();
    out.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
    out.write_all(&header).map_err(io)?;
    for e in entries {
        for block in e.tensor.le_bytes().chunks(PROGRESS_BLOCK) {
            out.write_all(block).map_err(io)?;
            *done += block.len() as u64;
            if let Some(progress) = progress.as_mut() {
                progress(*done, total);
            }
        }
    }
    Ok(())
}

/// A save id, unique to one save (time, process and a counter).
fn save_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes `tree` to `path` (or, above `max_shard` bytes of tensors, a set of shards and
/// their index beside it).
pub(crate) fn save(
    path: &Path,
    tree: &DictValue<'_>,
    max_shard: Option<u64>,
    mut progress: Option<&mut dyn FnMut(u64, u64)>,
) -> Result<()> {
    let (skeleton, entries) = split_tree(tree);
    let total: u64 = entries.iter().map(|e| e.tensor.le_bytes().len() as u64).sum();
    let mut done = 0;
    let shards = plan_shards(&entries, max_shard);
    let index_path = index_path(path);
    if shards.len() <= 1 {
        let metadata = BTreeMap::from([(TREE, tree_to_json(&skeleton))]);
        let mut file = AtomicFile::create(path)?;
        write_file(&mut file, &metadata, &entries, &mut progress, &mut done, total)?;
        file.commit()?;
        // A set saved earlier under this name would shadow nothing, but would mislead.
        remove_stale(&index_path)?;
        return Ok(());
    }

    let id = save_id();
    let metadata = BTreeMap::from([(SAVE, id.clone())]);
    let count = shards.len();
    let mut weight_map = Map::new();
    let mut files = Vec::with_capacity(count);
    for (n, range) in shards.iter().enumerate() {
        let name = shard_name(path, n + 1, count);
        let mut file = AtomicFile::create(&path.with_file_name(&name))?;
        write_file(
            &mut file,
            &metadata,
            &entries[range.clone()],
            &mut progress,
            &mut done,
            total,
        )?;
        // Every shard synced before any is renamed: a crash leaves no set half new.
        file.sync()?;
        for e in &entries[range.clone()] {
            weight_map.insert(e.name.clone(), name.clone());
        }
        files.push(file);
    }
    for file in files {
        file.rename()?;
    }
    let mut meta = Map::new();
    meta.insert("total_size", DictValue::Int(total as i64));
    meta.insert(SAVE, id);
    meta.insert(TREE, skeleton);
    let mut index = Map::new();
    index.insert("metadata", DictValue::Map(meta));
    index.insert("weight_map", DictValue::Map(weight_map));
    let mut file = AtomicFile::create(&index_path)?;
    let temp = file.temp_path().to_path_buf();
    file.writer()
        .write_all(tree_to_json(&DictValue::Map(index)).as_bytes())
        .map_err(io_error("write", &temp))?;
    file.commit()?;
    remove_stale(path)
}

/// Removes a checkpoint left by an earlier save of the other layout (one file, or a set).
fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove the earlier checkpoint", path)(e)),
        _ => Ok(()),
    }
}

/// Consecutive runs of entries of at most `max` bytes each (a larger tensor alone).
fn plan_shards(entries: &[Entry<'_, '_>], max: Option<u64>) -> Vec<std::ops::Range<usize>> {
    let mut shards = Vec::new();
    let Some(max) = max else {
        shards.push(0..entries.len());
        return shards;
    };
    let (mut start, mut size) = (0, 0u64);
    for (i, e) in entries.iter().enumerate() {
        let len = e.tensor.le_bytes().len() as u64;
        if i > start && size + len > max {
            shards.push(start..i);
            (start, size) = (i, 0);
        }
        size += len;
    }
    shards.push(start..entries.len());
    shards
}

/// `optimizer-00002-of-00003.safetensors` for `optimizer.safetensors`.
fn shard_name(path: &Path, n: usize, count: usize) -> String {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    format!("{stem}-{n:05}-of-{count:05}.safetensors")
}

/// `optimizer.safetensors.index.json` for `optimizer.safetensors`.
pub(crate) fn index_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(INDEX_SUFFIX);
    path.with_file_name(name)
}

// ----- reading -------------------------------------------------------------------------------

/// One file's header: the tensors and the metadata.
struct Header {
    /// Where the tensor data starts in the file.
    data_start: usize,
    metadata: Metadata,
}

fn read_header(bytes: &[u8]) -> Result<Header> {
    let (n, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| Error::Safetensors { detail: e.to_string() })?;
    Ok(Header {
        data_start: LEN_PREFIX + n,
        metadata,
    })
}

/// Where each tensor the tree names lies: (file, header) by name.
struct Tensors<'h> {
    headers: &'h [Header],
    /// The file each name is in.
    file_of: HashMap<String, usize>,
    used: HashSet<String>,
}

impl Tensors<'_> {
    /// The tensor `name`, checked against the placeholder's dtype and shape.
    fn resolve(&mut self, files: &[Mapping], name: &str, dtype: &str, shape: &[usize]) -> Result<TensorNode> {
        let mismatch = |problem: String| Error::HeaderMismatch {
            tensor: name.to_string(),
            problem,
        };
        let &file = self
            .file_of
            .get(name)
            .ok_or_else(|| mismatch("is named by the tree but is not in the file".into()))?;
        let header = &self.headers[file];
        let info = header
            .metadata
            .info(name)
            .ok_or_else(|| mismatch("is listed by the index but is not in its shard".into()))?;
        if !self.used.insert(name.to_string()) {
            return Err(mismatch("is named twice in the tree".into()));
        }
        let found = match info.dtype {
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            other => {
                return Err(Error::UnsupportedDType {
                    tensor: name.to_string(),
                    dtype: other.to_string(),
                });
            }
        };
        if found.name() != dtype || info.shape != shape {
            return Err(mismatch(format!(
                "is {} {:?} in the header but {dtype} {shape:?} in the tree",
                found.name(),
                info.shape
            )));
        }
        let (start, end) = info.data_offsets;
        let range = header.data_start + start..header.data_start + end;
        TensorNode::mapped(files, file, range, shape.to_vec(), found)
            .ok_or_else(|| mismatch("lies outside its file".into()))
    }

    /// Every tensor of the files must be named by the tree.
    fn check_all_used(&self) -> Result<()> {
        for header in self.headers {
            for name in header.metadata.offset_keys() {
                if !self.used.contains(&name) {
                    return Err(Error::HeaderMismatch {
                        tensor: name,
                        problem: "is in the file but the tree does not name it".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The tree with its placeholders resolved.
fn resolve(value: DictValue<'static>, files: &[Mapping], tensors: &mut Tensors<'_>) -> Result<Node> {
    Ok(match value {
        DictValue::Map(map) if map.keys().next() == Some("shape") => {
            let bad = || Error::Metadata {
                key: TREE,
                detail: format!(
                    "a tensor placeholder must be {{\"shape\", \"dtype\", \"tensor\"}}, found {}",
                    tree_to_json(&DictValue::Map(map.clone()))
                ),
            };
            let shape = match map.get("shape") {
                Some(DictValue::List(dims)) => dims
                    .iter()
                    .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                    .collect::<Option<Vec<usize>>>(),
                _ => None,
            }
            .ok_or_else(bad)?;
            let (Some(DictValue::Str(dtype)), Some(DictValue::Str(name)), 3) =
                (map.get("dtype"), map.get("tensor"), map.len())
            else {
                return Err(bad());
            };
            Node::Tensor(tensors.resolve(files, name, dtype, &shape)?)
        }
        DictValue::Map(map) => Node::Map(
            map.into_iter()
                .map(|(k, v)| Ok((k, resolve(v, files, tensors)?)))
                .collect::<Result<_>>()?,
        ),
        DictValue::List(items) => Node::List(
            items
                .into_iter()
                .map(|v| resolve(v, files, tensors))
                .collect::<Result<_>>()?,
        ),
        DictValue::Tensor(_) => {
            return Err(Error::Metadata {
                key: TREE,
                detail: "the tree holds tensor data instead of naming a tensor entry".into(),
            });
        }
        leaf => Node::Leaf(leaf),
    })
}

/// A tree of every tensor by name, for files this crate did not write.
fn flat_tree(headers: &[Header]) -> DictValue<'static> {
    let mut map = Map::new();
    for header in headers {
        for name in header.metadata.offset_keys() {
            if let Some(info) = header.metadata.info(&name) {
                let shape = info.shape.iter().map(|&d| DictValue::Int(d as i64)).collect();
                let dtype = match info.dtype {
                    Dtype::F32 => "float32".to_string(),
                    Dtype::F64 => "float64".to_string(),
                    other => other.to_string(),
                };
                let mut t = Map::new();
                t.insert("shape", DictValue::List(shape));
                t.insert("dtype", dtype);
                t.insert("tensor", name.clone());
                map.insert(name, DictValue::Map(t));
            }
        }
    }
    DictValue::Map(map)
}

/// Reads one safetensors file, mapped as `files[0]`.
pub(crate) fn load_file(files: &[Mapping]) -> Result<Node> {
    let headers = [read_header(files[0].bytes())?];
    let tree = match headers[0].metadata.metadata().as_ref().and_then(|m| m.get(TREE)) {
        Some(json) => tree_from_json(json).map_err(|e| Error::Metadata {
            key: TREE,
            detail: e.to_string(),
        })?,
        None => flat_tree(&headers),
    };
    let mut tensors = Tensors {
        headers: &headers,
        file_of: headers[0].metadata.offset_keys().into_iter().map(|n| (n, 0)).collect(),
        used: HashSet::new(),
    };
    let node = resolve(tree, files, &mut tensors)?;
    tensors.check_all_used()?;
    Ok(node)
}

/// Reads the set whose index is at `index`: maps each shard into `files` and returns the tree.
pub(crate) fn load_index(index: &Path, text: &str, files: &mut Vec<Mapping>) -> Result<Node> {
    let bad = |detail: String| Error::Index { detail };
    let DictValue::Map(mut root) = tree_from_json(text).map_err(|e| bad(e.to_string()))? else {
        return Err(bad("the index is not a JSON object".into()));
    };
    let Some(DictValue::Map(weight_map)) = root.remove("weight_map") else {
        return Err(bad(
            "the index has no `weight_map` object of tensor names to shard files".into(),
        ));
    };
    let mut meta = match root.remove("metadata") {
        Some(DictValue::Map(meta)) => meta,
        None => Map::new(),
        Some(other) => return Err(bad(format!("`metadata` must be an object, found {}", other.describe()))),
    };
    let dir = index.parent().unwrap_or(Path::new(""));
    let mut shard_names: Vec<String> = Vec::new();
    let mut file_of = HashMap::new();
    for (tensor, shard) in weight_map.iter() {
        let DictValue::Str(shard) = shard else {
            return Err(bad(format!("`weight_map` gives {tensor:?} {}", shard.describe())));
        };
        if Path::new(shard).file_name().map(|n| n.to_string_lossy()) != Some(shard.as_str().into()) {
            return Err(bad(format!(
                "shard {shard:?} is not a file name: shards lie beside their index"
            )));
        }
        let n = match shard_names.iter().position(|s| s == shard) {
            Some(n) => n,
            None => {
                shard_names.push(shard.clone());
                shard_names.len() - 1
            }
        };
        file_of.insert(tensor.to_string(), n);
    }
    let expected_id = match meta.remove(SAVE) {
        Some(DictValue::Str(id)) => Some(id),
        _ => None,
    };
    let mut headers = Vec::with_capacity(shard_names.len());
    for shard in &shard_names {
        let path = dir.join(shard);
        let mapping = Mapping::open(&path).map_err(|e| match e {
            Error::Io { source, .. } => Error::MissingShard {
                shard: shard.clone(),
                source,
            },
            other => other,
        })?;
        let header = read_header(mapping.bytes())?;
        let found = header.metadata.metadata().as_ref().and_then(|m| m.get(SAVE)).cloned();
        if let Some(expected) = &expected_id
            && found.as_ref() != Some(expected)
        {
            return Err(Error::ShardMismatch {
                shard: shard.clone(),
                expected: expected.clone(),
                found: found.unwrap_or_else(|| "(none)".into()),
            });
        }
        headers.push(header);
        files.push(mapping);
    }
    for (tensor, &n) in &file_of {
        if headers[n].metadata.info(tensor).is_none() {
            return Err(Error::HeaderMismatch {
                tensor: tensor.clone(),
                problem: format!(
                    "is listed by the index in shard {}, which does not have it",
                    shard_names[n]
                ),
            });
        }
    }
    let tree = match meta.remove(TREE) {
        Some(tree) => tree,
        None => flat_tree(&headers),
    };
    let mut tensors = Tensors {
        headers: &headers,
        file_of,
        used: HashSet::new(),
    };
    let node = resolve(tree, files, &mut tensors)?;
    tensors.check_all_used()?;
    Ok(node)
}
