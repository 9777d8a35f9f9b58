//! Saving and loading state dicts and trees in the format their file name says: `.json`,
//! `.safetensors` (or a sharded set's `.safetensors.index.json`) and `.pt`.

use std::fmt;
use std::path::{Path, PathBuf};

use optim_core::{DictValue, StateDict, tree_from_json, write_tree_json};

use crate::file::{AtomicFile, Counting, Mapping, io_error};
use crate::tree::Node;
use crate::{Error, pt, safetensors};

/// A checkpoint file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `.json`: the JSON codec of `optim-core`; readable, for small state.
    Json,
    /// `.safetensors`: tensors stored raw beside a JSON header; mapped when read. A set split
    /// into shards is named by its index, `.safetensors.index.json`.
    Safetensors,
    /// `.pt`: PyTorch's `torch.save` format (a zip archive around a pickle), read by an
    /// interpreter of an allowlist, never by running code.
    Pt,
}

impl Format {
    /// The format of the file at `path`, by its name: `*.json`, `*.safetensors`,
    /// `*.safetensors.index.json` (safetensors), `*.pt` and `*.pth`.
    pub fn from_path(path: impl AsRef<Path>) -> Option<Format> {
        let name = path.as_ref().file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".safetensors.index.json") || name.ends_with(".safetensors") {
            Some(Format::Safetensors)
        } else if name.ends_with(".json") {
            Some(Format::Json)
        } else if name.ends_with(".pt") || name.ends_with(".pth") {
            Some(Format::Pt)
        } else {
            None
        }
    }

    /// `"json"`, `"safetensors"` or `"pt"`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Safetensors => "safetensors",
            Format::Pt => "pt",
        }
    }

    fn of(path: &Path) -> optim_core::Result<Format> {
        Format::from_path(path).ok_or_else(|| {
            Error::UnknownFormat {
                name: path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            }
            .at(path)
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How [`save_with`] and [`save_tree_with`] write.
#[derive(Default)]
pub struct SaveOptions<'p> {
    max_shard_size: Option<u64>,
    progress: Option<&'p mut dyn FnMut(u64, u64)>,
}

impl<'p> SaveOptions<'p> {
    /// The defaults: one file, no progress reports.
    pub fn new() -> Self {
        SaveOptions::default()
    }

    /// Splits a safetensors checkpoint whose tensors take more than `bytes` into numbered
    /// shards of at most `bytes` each (a larger tensor gets a shard of its own) beside an
    /// index `<name>.safetensors.index.json`, which [`load`] reads (as does loading
    /// `<name>.safetensors` when only the set exists). Other formats refuse it.
    pub fn max_shard_size(mut self, bytes: u64) -> Self {
        self.max_shard_size = Some(bytes);
        self
    }

    /// Calls `progress(done, total)` as tensor bytes are written (`total` 0: unknown, for
    /// JSON).
    pub fn progress(mut self, progress: &'p mut dyn FnMut(u64, u64)) -> Self {
        self.progress = Some(progress);
        self
    }
}

impl fmt::Debug for SaveOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaveOptions")
            .field("max_shard_size", &self.max_shard_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Saves `dict` to `path` in the format its name says (see [`Format::from_path`]),
/// replacing the file atomically: written to a temporary file beside it, synced, renamed
/// over it. Tensors are streamed from the optimizer's state to the file, never copied in
/// memory.
///
/// ```no_run
/// # fn main() -> optim_core::Result<()> {
/// # let dict = optim_core::StateDict::default();
/// optim_checkpoint::save("optimizer.safetensors", &dict)?; // or .pt, .json
/// let checkpoint = optim_checkpoint::load("optimizer.safetensors")?;
/// let loaded = checkpoint.state_dict()?; // borrows the mapped file
/// # let _ = loaded;
/// # Ok(()) }
/// ```
pub fn save(path: impl AsRef<Path>, dict: &StateDict<'_>) -> optim_core::Result<()> {
    save_tree_with(path, &dict.to_tree(), SaveOptions::new())
}

/// [`save`] with options: shards, progress.
pub fn save_with(path: impl AsRef<Path>, dict: &StateDict<'_>, options: SaveOptions<'_>) -> optim_core::Result<()> {
    save_tree_with(path, &dict.to_tree(), options)
}

/// Saves any tree (a learning-rate scheduler's or a weight average's state dict, a
/// training checkpoint holding an optimizer's state dict among other entries) in the format
/// `path`'s name says. A map laid out as an optimizer's state dict is written to `.pt` as
/// torch writes one (int parameter indices, tuples for the groups' sequence options), so
/// that `torch.optim`'s `load_state_dict` takes it.
pub fn save_tree(path: impl AsRef<Path>, tree: &DictValue<'_>) -> optim_core::Result<()> {
    save_tree_with(path, tree, SaveOptions::new())
}

/// [`save_tree`] with options.
pub fn save_tree_with(
    path: impl AsRef<Path>,
    tree: &DictValue<'_>,
    options: SaveOptions<'_>,
) -> optim_core::Result<()> {
    let path = path.as_ref();
    let format = Format::of(path)?;
    let SaveOptions {
        max_shard_size,
        progress,
    } = options;
    if max_shard_size.is_some() && format != Format::Safetensors {
        return Err(Error::ShardingUnsupported { format: format.name() }.at(path));
    }
    match format {
        Format::Json => save_json(path, tree, progress),
        Format::Safetensors => {
            let target = safetensors_target(path);
            safetensors::save(&target, tree, max_shard_size, progress).map_err(|e| e.at(path))
        }
        Format::Pt => {
            let object = pt::tree::object(tree).map_err(|e| e.at(path))?;
            pt::save::save_with_progress(path, &object, progress).map_err(|e| e.at(path))
        }
    }
}

/// The set's name for a path naming its index (`x.safetensors.index.json` → `x.safetensors`).
fn safetensors_target(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    match name.strip_suffix(safetensors::INDEX_SUFFIX) {
        Some(set) => path.with_file_name(set),
        None => path.to_path_buf(),
    }
}

fn save_json(path: &Path, tree: &DictValue<'_>, progress: Option<&mut dyn FnMut(u64, u64)>) -> optim_core::Result<()> {
    let write = || -> crate::Result<()> {
        let mut file = AtomicFile::create(path)?;
        let temp = file.temp_path().to_path_buf();
        let mut out = Counting::new(file.writer(), 0, progress);
        write_tree_json(tree, &mut out).map_err(io_error("write", &temp))?;
        out.finish();
        file.commit()
    };
    write().map_err(|e| e.at(path))
}

/// A checkpoint read from a file: its tree, with tensors read in place from the mapped file
/// (`.safetensors`, `.pt`) or owned (`.json`). [`state_dict`](Checkpoint::state_dict) and
/// [`tree`](Checkpoint::tree) borrow it, so that loading the state dict into an optimizer
/// copies each tensor once, from the file into the optimizer's state; the pages copied are
/// released as they go, so that the load never holds the file and the new state at once.
pub struct Checkpoint {
    path: PathBuf,
    format: Format,
    files: Vec<Mapping>,
    root: Node,
}

/// Reads the checkpoint at `path`, in the format its name says (a `.safetensors` name whose
/// file is absent reads the sharded set `<name>.safetensors.index.json`). Everything about
/// the file is checked here (the container, every record's checksum, the pickle against
/// its allowlist, the safetensors header against the tree); whether it is a state dict is
/// checked by [`Checkpoint::state_dict`], and whether it fits an optimizer by
/// `load_state_dict`.
pub fn load(path: impl AsRef<Path>) -> optim_core::Result<Checkpoint> {
    read(path.as_ref(), None)
}

/// Reads the entry `key` of the checkpoint at `path`, whose root is a dict: a training
/// checkpoint as PyTorch scripts save them, `{"model": ..., "optimizer": ..., "epoch": 3}`.
/// Only that entry is read into the tree (the model's tensors may be of any dtype).
pub fn load_entry(path: impl AsRef<Path>, key: &str) -> optim_core::Result<Checkpoint> {
    read(path.as_ref(), Some(key))
}

fn read(path: &Path, key: Option<&str>) -> optim_core::Result<Checkpoint> {
    let format = Format::of(path)?;
    let mut files = Vec::new();
    let root = match format {
        Format::Json => {
            let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path)(e).at(path))?;
            Node::from_owned(tree_from_json(&text)?)
        }
        Format::Pt => {
            let file = pt::PtFile::open(path).map_err(|e| e.at(path))?;
            let root = {
                let object = file.load().map_err(|e| e.at(path))?;
                let object = match key {
                    None => &object,
                    Some(key) => object.as_dict().and_then(|d| d.get_str(key)).ok_or_else(|| {
                        let found = match object.as_dict() {
                            Some(d) => d.iter().map(|(k, _)| key_text(k)).collect::<Vec<_>>().join(", "),
                            None => format!("none: the root is a {}", object.type_name()),
                        };
                        Error::MissingEntry {
                            key: key.to_string(),
                            found,
                        }
                        .at(path)
                    })?,
                };
                pt::tree::node(object, std::slice::from_ref(file.mapping()), 0, &mut Vec::new())
                    .map_err(|e| e.at(path))?
            };
            files.push(file.into_mapping());
            return finish(path, format, files, root, None);
        }
        Format::Safetensors => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let index = if name.ends_with(safetensors::INDEX_SUFFIX) {
                Some(path.to_path_buf())
            } else if !path.exists() && safetensors::index_path(path).exists() {
                Some(safetensors::index_path(path))
            } else {
                None
            };
            match index {
                Some(index) => {
                    let text = std::fs::read_to_string(&index).map_err(|e| io_error("read", &index)(e).at(&index))?;
                    safetensors::load_index(&index, &text, &mut files).map_err(|e| e.at(&index))?
                }
                None => {
                    files.push(Mapping::open(path).map_err(|e| e.at(path))?);
                    safetensors::load_file(&files).map_err(|e| e.at(path))?
                }
            }
        }
    };
    finish(path, format, files, root, key)
}

/// A dict key as Python prints it: `"optimizer"`, `3`.
fn key_text(key: &pt::Key<'_>) -> String {
    match key {
        pt::Key::Str(s) => format!("{s:?}"),
        pt::Key::Int(i) => i.to_string(),
        pt::Key::Float(x) => format!("{x:?}"),
        pt::Key::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        pt::Key::None => "None".to_string(),
        other => format!("{other:?}"),
    }
}

fn finish(
    path: &Path,
    format: Format,
    files: Vec<Mapping>,
    root: Node,
    key: Option<&str>,
) -> optim_core::Result<Checkpoint> {
    let root = match key {
        None => root,
        Some(key) => root.take_entry(key).map_err(|found| {
            Error::MissingEntry {
                key: key.to_string(),
                found,
            }
            .at(path)
        })?,
    };
    // Pages read while checking (checksums, headers) need not stay.
    files.iter().for_each(Mapping::release_pending);
    Ok(Checkpoint {
        path: path.to_path_buf(),
        format,
        files,
        root,
    })
}

impl Checkpoint {
    /// The path it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The files read: one, or a sharded set's shards.
    pub fn files(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(Mapping::path)
    }

    /// The tree, its tensors borrowing the file.
    pub fn tree(&self) -> DictValue<'_> {
        self.root.view(&self.files)
    }

    /// The tree as a state dict (checking its layout: `state`, `param_groups`, ...), its
    /// tensors borrowing the file: `opt.load_state_dict(&checkpoint.state_dict()?)`.
    pub fn state_dict(&self) -> optim_core::Result<StateDict<'_>> {
        StateDict::from_tree(self.tree()).map_err(|e| match (e, &self.root) {
            // A training checkpoint read whole: say which entry to read.
            (optim_core::Error::Format { message }, Node::Map(entries)) => {
                let entry = entries.iter().find(|(_, node)| {
                    matches!(node, Node::Map(inner) if inner.iter().any(|(k, _)| k == "param_groups"))
                });
                optim_core::Error::Format {
                    message: match entry {
                        Some((key, _)) => format!(
                            "{message}; its entry {key:?} is an optimizer's state dict: read it with `load_entry(path, {key:?})`"
                        ),
                        None => message,
                    },
                }
            }
            (e, _) => e,
        })
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}
