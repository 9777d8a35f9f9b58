//! Reading a `.pt` file: map it, check the container, run the interpreter over `data.pkl`.

use std::collections::HashMap;
use std::path::Path;

use super::archive::Archive;
use super::pickle::read::{StorageSource, unpickle};
use super::{DType, Object};
use crate::file::Mapping;
use crate::{Error, Result};

/// A `.pt` file mapped into memory; [`PtFile::load`] gives the tree, whose tensors borrow
/// their data from the mapping.
///
/// ```no_run
/// use optim_checkpoint::pt::PtFile;
///
/// let file = PtFile::open("checkpoint.pt")?;
/// let checkpoint = file.load()?;
/// let state = checkpoint.as_dict().and_then(|d| d.get_str("state"));
/// # Ok::<(), optim_checkpoint::Error>(())
/// ```
pub struct PtFile {
    map: Mapping,
}

impl PtFile {
    /// Maps the file at `path` read-only.
    ///
    /// As with any mapped file, the file must not be truncated or rewritten in place while
    /// the mapping lives (the checkpoint writer here never does: it renames a new file over
    /// the old one, which leaves the mapped one intact).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(PtFile {
            map: Mapping::open(path.as_ref())?,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        self.map.path()
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    /// Reads the checkpoint: everything `torch.load(path, weights_only=True)` returns,
    /// as a tree borrowing tensor data from the mapping. The pages read to check the
    /// records' checksums are released afterwards (read again when the tensors are).
    pub fn load(&self) -> Result<Object<'_>> {
        load_archive(Archive::parse(self.map.bytes())?.release(&self.map))
    }

    pub(crate) fn mapping(&self) -> &Mapping {
        &self.map
    }

    pub(crate) fn into_mapping(self) -> Mapping {
        self.map
    }
}

/// Reads a checkpoint from the bytes of a `.pt` file; tensors borrow their data from `bytes`.
///
/// The container is checked first (a zip archive of stored records, little-endian, a file
/// format version torch reads), then `data.pkl` is interpreted against the allowlist. Either
/// the whole tree comes back, or an error: nothing is half-returned and no code is run.
pub fn load_bytes(bytes: &[u8]) -> Result<Object<'_>> {
    load_archive(Archive::parse(bytes)?)
}

fn load_archive<'a>(archive: Archive<'a>) -> Result<Object<'a>> {
    archive.check_version()?;
    archive.check_byteorder()?;
    let pickle = archive.record("data.pkl")?;
    let mut storages = ArchiveStorages {
        archive: &archive,
        seen: HashMap::new(),
    };
    unpickle(pickle, &mut storages)
}

/// Persistent ids resolved to `data/<key>` records, each checked (and checksummed) once.
struct ArchiveStorages<'a, 'r> {
    archive: &'r Archive<'a>,
    seen: HashMap<String, &'a [u8]>,
}

impl<'a> StorageSource<'a> for ArchiveStorages<'a, '_> {
    fn storage(&mut self, key: &str, dtype: DType, numel: u64) -> Result<&'a [u8]> {
        let name = format!("data/{key}");
        let bytes = match self.seen.get(key) {
            Some(bytes) => *bytes,
            None => {
                let bytes = self.archive.record(&name)?;
                self.seen.insert(key.to_owned(), bytes);
                bytes
            }
        };
        // torch reads exactly numel * element size bytes and refuses a record of another size.
        let expected = numel.checked_mul(dtype.element_size() as u64);
        let found = bytes.len() as u64;
        if expected != Some(found) {
            return Err(Error::StorageSize {
                record: self.archive.full_name(&name),
                dtype,
                numel,
                expected: expected.unwrap_or(u64::MAX),
                found,
            });
        }
        Ok(bytes)
    }
}
