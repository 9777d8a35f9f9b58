//! Writing a `.pt` file that `torch.load(path, weights_only=True)` reads: the records torch
//! writes, in its order and layout, and the file replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Object;
use super::archive_writer::{ALIGNMENT, ZipWriter};
use super::pickle::write::pickle;
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
    let path = path.as_ref();
    let file_name = path.file_name().ok_or_else(|| {
        io_error("write", path)(io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (temp_path, file) = create_temp(&dir, file_name).map_err(io_error("create a temporary file in", &dir))?;
    let temp = RemoveOnDrop(Some(temp_path));
    let temp_path = temp.path();

    let out = write(BufWriter::with_capacity(1 << 20, file), object).map_err(|e| match e {
        Error::Write { source } => io_error("write", temp_path)(source),
        other => other,
    })?;
    let file = out
        .into_inner()
        .map_err(|e| io_error("write", temp_path)(e.into_error()))?;
    file.sync_all().map_err(io_error("sync", temp_path))?;
    drop(file);
    fs::rename(temp_path, path).map_err(io_error("rename the temporary file over", path))?;
    temp.keep();
    sync_dir(&dir).map_err(io_error("sync the directory", &dir))?;
    Ok(())
}

/// Maps an I/O error to [`Error::Io`] naming the action and the path.
fn io_error<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A new file `.<name>.<pid>.<n>.tmp` beside the target (same file system, so the rename is
/// atomic). std suffices here: the `tempfile` crate would add rustix and getrandom for it.
fn create_temp(dir: &Path, file_name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = std::ffi::OsString::from(".");
        name.push(file_name);
        name.push(format!(".{}.{n}.tmp", std::process::id()));
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Makes the rename durable: the directory entry is synced too (on Unix).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes the temporary file unless it was renamed into place.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the error being reported matters more than a leftover temp file.
            let _ = fs::remove_file(path);
        }
    }
}
