//! Files: checkpoints written atomically (a temporary file beside the target, synced and
//! renamed over it), and checkpoints read in place from a read-only mapping whose pages are
//! released once copied.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::Mmap;
use optim_core::BytesSource;

use crate::{Error, Result};

/// Maps an I/O error to [`Error::Io`] naming the action and the path.
pub(crate) fn io_error<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

// ----- writing -------------------------------------------------------------------------------

/// A file being written in place of `target`: a new file `.<name>.<pid>.<n>.tmp` in the same
/// directory (so that the rename is atomic), removed unless [`commit`](AtomicFile::commit)
/// renames it over the target. std suffices here: the `tempfile` crate would add rustix and
/// getrandom for it.
pub(crate) struct AtomicFile {
    target: PathBuf,
    dir: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<Streaming>>,
}

impl AtomicFile {
    /// Creates the temporary file for `target`.
    pub(crate) fn create(target: &Path) -> Result<Self> {
        let file_name = target.file_name().ok_or_else(|| {
            io_error("write", target)(io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))
        })?;
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut name = std::ffi::OsString::from(".");
            name.push(file_name);
            name.push(format!(".{}.{n}.tmp", std::process::id()));
            let temp = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        target: target.to_path_buf(),
                        dir,
                        temp,
                        out: Some(BufWriter::with_capacity(1 << 20, Streaming::new(file))),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error("create a temporary file in", &dir)(e)),
            }
        }
    }

    /// The temporary file's path, for errors while writing it.
    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The buffered writer (large writes go straight to the file).
    pub(crate) fn writer(&mut self) -> &mut BufWriter<Streaming> {
        // Present until `commit` takes it, which consumes `self`.
        self.out.as_mut().expect("the file is open until committed")
    }

    /// Flushes and syncs the file, renames it over the target and syncs the directory.
    pub(crate) fn commit(mut self) -> Result<()> {
        self.sync()?;
        self.rename()
    }

    /// Flushes and syncs the file (the first half of [`commit`](AtomicFile::commit), for
    /// sets of files that are all synced before any is renamed).
    pub(crate) fn sync(&mut self) -> Result<()> {
        if let Some(out) = self.out.take() {
            let file = out
                .into_inner()
                .map_err(|e| io_error("write", &self.temp)(e.into_error()))?;
            file.file.sync_all().map_err(io_error("sync", &self.temp))?;
        }
        Ok(())
    }

    /// Renames the synced file over the target and syncs the directory.
    pub(crate) fn rename(mut self) -> Result<()> {
        self.sync()?;
        fs::rename(&self.temp, &self.target).map_err(io_error("rename the temporary file over", &self.target))?;
        // Renamed: nothing to remove any more.
        self.temp = PathBuf::new();
        sync_dir(&self.dir).map_err(io_error("sync the directory", &self.dir))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            // Best effort: the error being reported matters more than a leftover temp file.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The file being written, whose pages are handed to the disk as they are written (on
/// Linux: `sync_file_range` every 16 MiB, which only starts the write-back): so the sync at
/// the end waits for the last few MiB, not for the whole file, and saving costs little
/// more than writing.
pub(crate) struct Streaming {
    file: File,
    written: u64,
    started: u64,
}

/// Bytes written between two starts of write-back.
const WRITE_BACK: u64 = 16 << 20;

impl Streaming {
    fn new(file: File) -> Self {
        Streaming {
            file,
            written: 0,
            started: 0,
        }
    }
}

impl Write for Streaming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITE_BACK {
            #[cfg(target_os = "linux")]
            {
                use std::os::fd::AsRawFd;
                // SAFETY: a plain system call on a file descriptor this value owns; it reads
                // no memory of ours. Only a hint: its result changes nothing that follows.
                unsafe {
                    libc::sync_file_range(
                        self.file.as_raw_fd(),
                        self.started as libc::off64_t,
                        (self.written - self.started) as libc::off64_t,
                        libc::SYNC_FILE_RANGE_WRITE,
                    );
                }
            }
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Makes a rename durable: the directory entry is synced too (on Unix).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A writer that reports how many bytes went through it.
pub(crate) struct Counting<'p, W> {
    inner: W,
    written: u64,
    total: u64,
    progress: Option<&'p mut dyn FnMut(u64, u64)>,
}

impl<'p, W: Write> Counting<'p, W> {
    /// Counts toward `total`, reporting to `progress` (at most every MiB).
    pub(crate) fn new(inner: W, total: u64, progress: Option<&'p mut dyn FnMut(u64, u64)>) -> Self {
        Counting {
            inner,
            written: 0,
            total,
            progress,
        }
    }

    /// Reports the end (the whole total, or every byte when the total was unknown).
    pub(crate) fn finish(&mut self) {
        if let Some(progress) = self.progress.as_mut() {
            let done = if self.total == 0 { self.written } else { self.total };
            progress(done, self.total);
        }
    }
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let before = self.written >> 20;
        self.written += n as u64;
        if let Some(progress) = self.progress.as_mut()
            && self.written >> 20 != before
        {
            // An unknown total (0) is reported as it is.
            let done = if self.total == 0 {
                self.written
            } else {
                self.written.min(self.total)
            };
            progress(done, self.total);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ----- reading -------------------------------------------------------------------------------

/// Pages are released in multiples of this (64 KiB: a multiple of every common page size,
/// 4, 16 and 64 KiB), and in batches of at least [`RELEASE_BATCH`].
const RELEASE_ALIGN: usize = 1 << 16;
const RELEASE_BATCH: usize = 1 << 22;

/// A file mapped read-only. Tensors read from it borrow its bytes and release its pages once
/// copied ([`BytesSource`]): a mapped page counts in the process's memory once touched, so
/// without this, loading a checkpoint would hold the file and the new state at once.
pub(crate) struct Mapping {
    path: PathBuf,
    map: Mmap,
    /// Whole pages read but not yet released, merged while they stay contiguous.
    pending: Mutex<Option<Range<usize>>>,
}

impl Mapping {
    /// Maps the file at `path`.
    ///
    /// As with any mapped file, the file must not be truncated or rewritten in place while
    /// the mapping lives (this crate's writers never do: they rename a new file over the
    /// old one, which leaves the mapped one intact).
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(io_error("open", path))?;
        // SAFETY: the mapping is read-only and private to this value; what a concurrent
        // writer could change is documented above, as memmap2 requires.
        let map = unsafe { Mmap::map(&file) }.map_err(io_error("map", path))?;
        // Read-ahead hint only: a failure changes nothing.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Mapping {
            path: path.to_path_buf(),
            map,
            pending: Mutex::new(None),
        })
    }

    /// The path the file was mapped from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The range of `part` inside the mapping, if it lies there.
    pub(crate) fn range_of(&self, part: &[u8]) -> Option<Range<usize>> {
        let base = self.map.as_ptr() as usize;
        let start = (part.as_ptr() as usize).checked_sub(base)?;
        let end = start.checked_add(part.len())?;
        (end <= self.map.len()).then_some(start..end)
    }

    /// Drops the pages of `range` from the process (they stay in the page cache, and a
    /// later read maps them again).
    fn drop_pages(&self, range: Range<usize>) {
        #[cfg(unix)]
        // SAFETY: the mapping is a read-only private mapping of a file that is never
        // written through it, so it has no pages of its own: MADV_DONTNEED only unmaps
        // pages, and a later read faults them in again from the file, with the same bytes.
        // Best effort: an error leaves the pages mapped, which is only memory.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, range.start, range.len())
        };
        #[cfg(not(unix))]
        let _ = range;
    }

    /// Releases every pending page.
    pub(crate) fn release_pending(&self) {
        let pending = self.pending.lock().map(|mut p| p.take()).unwrap_or_default();
        if let Some(range) = pending {
            self.drop_pages(range);
        }
    }
}

impl BytesSource for Mapping {
    /// Asks for transparent huge pages for a large destination (Linux's `MADV_HUGEPAGE`):
    /// filling it then takes one page fault per 2 MiB instead of one per 4 KiB, which is most
    /// of the time a load takes (the state tensors keep their huge pages, which also spares
    /// the optimizer's steps TLB misses).
    fn prepare(&self, out: &mut [u8]) {
        /// Destinations from this size on are asked for transparent huge pages.
        #[cfg(target_os = "linux")]
        const HUGE_FROM: usize = 4 << 20;
        #[cfg(target_os = "linux")]
        if out.len() >= HUGE_FROM {
            const PAGE: usize = 4096;
            let start = (out.as_ptr() as usize).next_multiple_of(PAGE);
            let end = (out.as_ptr() as usize + out.len()) / PAGE * PAGE;
            // SAFETY: the range lies inside `out`, memory we hold exclusively; MADV_HUGEPAGE
            // only marks it eligible for huge pages and never changes its contents. A hint:
            // its result changes nothing that follows.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = out;
    }

    /// Releases the whole 64 KiB blocks before the one holding the end of `bytes`, from the
    /// block holding their start: when tensors are read in file order, as they are written
    /// here and by torch, every block is released once everything in it has been read.
    /// Read out of order, a released block is simply read again from the file.
    fn release(&self, bytes: &[u8]) {
        let Some(range) = self.range_of(bytes) else { return };
        let block = (range.start / RELEASE_ALIGN * RELEASE_ALIGN)..(range.end / RELEASE_ALIGN * RELEASE_ALIGN);
        if block.is_empty() {
            return;
        }
        let Ok(mut pending) = self.pending.lock() else { return };
        let ready = match pending.take() {
            Some(p) if block.start <= p.end && p.start <= block.end => {
                let merged = p.start.min(block.start)..p.end.max(block.end);
                if merged.len() >= RELEASE_BATCH {
                    Some(merged)
                } else {
                    *pending = Some(merged);
                    None
                }
            }
            Some(p) => {
                *pending = Some(block);
                Some(p)
            }
            None => {
                *pending = Some(block);
                None
            }
        };
        drop(pending);
        if let Some(range) = ready {
            self.drop_pages(range);
        }
    }
}
