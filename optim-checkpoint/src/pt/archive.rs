//! Reading the zip container torch.save writes: records under one `<archive>/` folder,
//! stored uncompressed, each found by name and checked against its CRC-32.

use std::collections::HashMap;
use std::io::Cursor;

use optim_core::BytesSource;
use zip::{CompressionMethod, ZipArchive};

use crate::{Error, Result};

/// Bytes checksummed per block, each released afterwards (see [`Archive::release`]).
const CRC_BLOCK: usize = 1 << 20;

/// File format versions torch's reader accepts (`caffe2/serialize/versions.h`).
const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u64> = 1..=10;

/// The records of a torch zip archive, located inside the file's bytes.
pub(crate) struct Archive<'a> {
    bytes: &'a [u8],
    /// Told about every block of a record once its checksum has been computed, so that a
    /// mapped file's pages do not all stay in memory after the check.
    release: Option<&'a dyn BytesSource>,
    /// `<archive>/`: torch names the folder after the file, and looks every record up under
    /// the folder of the first one.
    prefix: String,
    records: HashMap<Vec<u8>, Entry>,
}

struct Entry {
    data_start: u64,
    size: u64,
    compressed_size: u64,
    crc32: u32,
    method: CompressionMethod,
    encrypted: bool,
}

impl<'a> Archive<'a> {
    /// Reads the zip directory (with the `zip` crate, which has been fuzzed against hostile
    /// archives) and the position of every record's data.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self> {
        let zip_error = |e: zip::result::ZipError| Error::Zip { detail: e.to_string() };
        let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
        if zip.has_duplicate_names() {
            // Readers disagree on which copy wins; refuse rather than pick one.
            return Err(Error::Zip {
                detail: "the central directory names a record twice".into(),
            });
        }
        let mut records = HashMap::with_capacity(zip.len());
        let mut first_name = None;
        for index in 0..zip.len() {
            let file = zip.by_index_raw(index).map_err(zip_error)?;
            let name = file.name_raw().to_vec();
            let data_start = file.data_start().ok_or_else(|| Error::Zip {
                detail: format!("no data offset for record {}", String::from_utf8_lossy(&name)),
            })?;
            let entry = Entry {
                data_start,
                size: file.size(),
                compressed_size: file.compressed_size(),
                crc32: file.crc32(),
                method: file.compression(),
                encrypted: file.encrypted(),
            };
            first_name.get_or_insert_with(|| name.clone());
            records.insert(name, entry);
        }
        let first_name = first_name.ok_or(Error::EmptyArchive)?;
        let folder_end = first_name
            .iter()
            .position(|&b| b == b'/')
            .ok_or_else(|| Error::NoArchiveFolder {
                name: String::from_utf8_lossy(&first_name).into_owned(),
            })?;
        let prefix = String::from_utf8_lossy(&first_name[..=folder_end]).into_owned();
        Ok(Archive {
            bytes,
            release: None,
            prefix,
            records,
        })
    }

    /// Releases each block of a record once checksummed (a mapped file's pages).
    pub(crate) fn release(mut self, release: &'a dyn BytesSource) -> Self {
        self.release = Some(release);
        self
    }

    /// The full name of record `name` in this archive: `<archive>/<name>`.
    pub(crate) fn full_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub(crate) fn has_record(&self, name: &str) -> bool {
        self.records.contains_key(self.full_name(name).as_bytes())
    }

    /// The bytes of record `name`, in place in the file: stored, in bounds, CRC checked.
    pub(crate) fn record(&self, name: &str) -> Result<&'a [u8]> {
        let record = self.full_name(name);
        let entry = self
            .records
            .get(record.as_bytes())
            .ok_or_else(|| Error::MissingRecord { record: record.clone() })?;
        if entry.encrypted {
            return Err(Error::CompressedRecord {
                record,
                method: "encrypted".into(),
            });
        }
        if entry.method != CompressionMethod::Stored || entry.compressed_size != entry.size {
            return Err(Error::CompressedRecord {
                record,
                method: format!("compressed ({})", entry.method),
            });
        }
        let out_of_bounds = || Error::RecordOutOfBounds {
            record: record.clone(),
            offset: entry.data_start,
            size: entry.size,
            file_len: self.bytes.len() as u64,
        };
        let start = usize::try_from(entry.data_start).map_err(|_| out_of_bounds())?;
        let size = usize::try_from(entry.size).map_err(|_| out_of_bounds())?;
        let data = start
            .checked_add(size)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(out_of_bounds)?;
        let mut hasher = crc32fast::Hasher::new();
        for block in data.chunks(CRC_BLOCK) {
            hasher.update(block);
            if let Some(release) = self.release {
                release.release(block);
            }
        }
        let found = hasher.finalize();
        if found != entry.crc32 {
            return Err(Error::Checksum {
                record,
                expected: entry.crc32,
                found,
            });
        }
        Ok(data)
    }

    /// Checks the `byteorder` record: `little`, or absent (files from before torch 2.1 have
    /// none and torch then reads them as little-endian).
    pub(crate) fn check_byteorder(&self) -> Result<()> {
        if !self.has_record("byteorder") {
            return Ok(());
        }
        let found = self.record("byteorder")?;
        if found != b"little" {
            return Err(Error::ByteOrder {
                found: String::from_utf8_lossy(found).into_owned(),
            });
        }
        Ok(())
    }

    /// Checks the file format version as torch's C++ reader does: `.data/version` or else
    /// `version`, a decimal number from 1 to 10.
    pub(crate) fn check_version(&self) -> Result<()> {
        let name = if self.has_record(".data/version") {
            ".data/version"
        } else {
            "version"
        };
        let found = self.record(name)?;
        let text = std::str::from_utf8(found).map(str::trim);
        let version = text.ok().and_then(|t| t.parse::<u64>().ok());
        match version {
            Some(v) if SUPPORTED_VERSIONS.contains(&v) => Ok(()),
            _ => Err(Error::Version {
                found: String::from_utf8_lossy(found).into_owned(),
            }),
        }
    }
}
