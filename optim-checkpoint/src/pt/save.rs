//! Writing a `.pt` file that `torch.load(path, weights_only=True)` reads: the records torch
//! writes, in its order and layout, and the file replaced atomically.

use std::io::Write;
use std::path::Path;

use super::Object;
use super::archive_writer::{ALIGNMENT, ZipWriter};
use super::pickle::write::pickle;
use crate::file::{AtomicFile, Counting};
use crate::{Error, Result};

/// torch names the archive folder after the file; any name reads back the same, and this
/// is the one torch uses when it saves to a buffer.
const ARCHIVE: &str = "archive";
/// The file format version torch.save writes.
const VERSION: &[u8] = b"3\n";

/// Writes `object` as a `.pt` file to `out`, and returns `out`.
///
/// The tree is checked and pickled first; tensor data is then streamed from the slices
/// the tensors borrow, never gathered in memory. Each tensor gets a storage of its own:
/// tensors over the same bytes are written twice rather than becoming aliases in torch
/// (views that shared a storage in a file read here keep their values, not their sharing).
pub fn write<W: Write>(out: W, object: &Object<'_>) -> Result<W> {
    let pickled = pickle(object)?;
    let mut zip = ZipWriter::new(out, ARCHIVE);
    let io = |source| Error::Write { source };
    zip.record("data.pkl", &pickled.pickle).map_err(io)?;
    zip.record(".format_version", b"1").map_err(io)?;
    zip.record(".storage_alignment", ALIGNMENT.to_string().as_bytes())
        .map_err(io)?;
    zip.record("byteorder", b"little").map_err(io)?;
    for (key, storage) in pickled.storages.iter().enumerate() {
        zip.record(&format!("data/{key}"), storage.bytes).map_err(io)?;
    }
    zip.record("version", VERSION).map_err(io)?;
    let id = zip.serialization_id();
    zip.record(".data/serialization_id", id.as_bytes()).map_err(io)?;
    zip.finish().map_err(io)
}

/// Writes `object` to the file at `path`, replacing it atomically.
///
/// The checkpoint is written to a new file in the same directory, synced, and renamed over
/// `path`; a crash at any point leaves either the old file or the complete new one, never
/// a truncated one. On error the temporary file is removed.
///
/// ```no_run
/// use optim_checkpoint::pt::{self, Dict, Object, Tensor};
///
/// let exp_avg = [0.1f32, -0.2, 0.3];
/// let step = [3.0f32];
/// let mut state = Dict::new();
/// state.insert("exp_avg", Tensor::from_slice(&[3], &exp_avg)?);
/// state.insert("step", Tensor::from_slice(&[], &step)?); // a 0-d float32 tensor
/// pt::save("optimizer.pt", &Object::Dict(state))?;
/// # Ok::<(), optim_checkpoint::Error>(())
/// ```
pub fn save(path: impl AsRef<Path>, object: &Object<'_>) -> Result<()> {
    save_with_progress(path.as_ref(), object, None)
}

/// [`save`], reporting `(bytes written, total)` to `progress` as the file is written.
pub(crate) fn save_with_progress(
    path: &Path,
    object: &Object<'_>,
    progress: Option<&mut dyn FnMut(u64, u64)>,
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    let total = tensor_bytes(object);
    let temp = file.temp_path().to_path_buf();
    let mut out = Counting::new(file.writer(), total, progress);
    write(&mut out, object).map_err(|e| match e {
        Error::Write { source } => crate::file::io_error("write", &temp)(source),
        other => other,
    })?;
    out.finish();
    file.commit()
}

/// The bytes of every tensor's storage in `object` (what dominates the file's size); with a
/// stack of its own, as the tree may nest deeper than the pickler accepts.
fn tensor_bytes(object: &Object<'_>) -> u64 {
    let mut total = 0;
    let mut stack = vec![object];
    while let Some(object) = stack.pop() {
        match object {
            Object::Tensor(t) => total += t.storage_bytes().len() as u64,
            Object::List(items) | Object::Tuple(items) => stack.extend(items),
            Object::Dict(dict) => stack.extend(dict.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    total
}
