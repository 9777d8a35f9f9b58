//! Writing the zip container byte for byte as torch's writer (miniz) lays it out.
//!
//! Why not the `zip` crate, which reads here: torch does not only read the zip directory.
//! For files with a `.format_version` record it computes where each storage starts from
//! miniz's layout (`torch.serialization._load`'s `_get_offset`, used by
//! `torch.load(map_location="meta")`, by the `calculate_storage_offsets` option, and checked
//! under `TORCH_SERIALIZATION_DEBUG=1`): a 30-byte local header, the name, a `FB` extra
//! field padding the data to 64 bytes, the data, a data descriptor, the next header right
//! after. The `zip` crate pads with a field of at least 6 bytes and writes no descriptor, so
//! torch would compute wrong offsets; a file rewritten that way fails torch's debug check.

use std::io::{self, Write};

/// Storages (and every record) start at multiples of this, as torch writes them.
pub(crate) const ALIGNMENT: u64 = 64;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END: u32 = 0x0605_4b50;
const LOCAL_HEADER_LEN: u64 = 30;
/// General purpose flags: bit 11 (UTF-8 names) always, bit 3 (sizes in a data descriptor
/// after the data) for non-empty records, as miniz sets them.
const FLAG_UTF8: u16 = 0x0800;
const FLAG_DESCRIPTOR: u16 = 0x0008;
const ZIP64_EXTRA: u16 = 0x0001;
const U32_LIMIT: u64 = 0xFFFF_FFFF;
/// Bytes copied (and checksummed) per step when streaming a record.
const CHUNK: usize = 1 << 20;

struct Written {
    name: String,
    crc32: u32,
    size: u64,
    header_offset: u64,
}

/// A zip archive being written record by record, every record stored.
pub(crate) struct ZipWriter<W: Write> {
    out: W,
    pos: u64,
    prefix: String,
    records: Vec<Written>,
}

impl<W: Write> ZipWriter<W> {
    /// Records will be named `<archive>/<name>`.
    pub(crate) fn new(out: W, archive: &str) -> Self {
        ZipWriter {
            out,
            pos: 0,
            prefix: format!("{archive}/"),
            records: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Writes record `name` holding `data`, streamed from the slice in chunks.
    pub(crate) fn record(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let name = format!("{}{name}", self.prefix);
        let name_len = u16::try_from(name.len()).map_err(|_| io::Error::other("record name too long"))?;
        let size = data.len() as u64;
        let header_offset = self.pos;
        let large = size >= U32_LIMIT || header_offset >= U32_LIMIT;

        // miniz's zip64 extra field in the local header: the sizes if they overflow, the
        // header's own offset if it does.
        let mut extra = Vec::new();
        if large {
            let mut values = Vec::new();
            if size >= U32_LIMIT {
                values.extend_from_slice(&size.to_le_bytes());
                values.extend_from_slice(&size.to_le_bytes());
            }
            if header_offset >= U32_LIMIT {
                values.extend_from_slice(&header_offset.to_le_bytes());
            }
            extra.extend_from_slice(&ZIP64_EXTRA.to_le_bytes());
            extra.extend_from_slice(&(values.len() as u16).to_le_bytes());
            extra.extend_from_slice(&values);
        }
        // torch's getPadding: the "FB" field's 4-byte head, then 'Z's up to the alignment.
        let start = header_offset + LOCAL_HEADER_LEN + u64::from(name_len) + extra.len() as u64 + 4;
        let padding = start.next_multiple_of(ALIGNMENT) - start;
        extra.extend_from_slice(b"FB");
        extra.extend_from_slice(&(padding as u16).to_le_bytes());
        extra.resize(extra.len() + padding as usize, b'Z');

        let flags = if size > 0 {
            FLAG_UTF8 | FLAG_DESCRIPTOR
        } else {
            FLAG_UTF8
        };
        let mut header = Vec::with_capacity(LOCAL_HEADER_LEN as usize + name.len() + extra.len());
        header.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes()); // version needed, as miniz writes it
        header.extend_from_slice(&flags.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        header.extend_from_slice(&[0; 4]); // time and date: zero, so files are reproducible
        header.extend_from_slice(&[0; 12]); // crc and sizes: in the data descriptor
        header.extend_from_slice(&name_len.to_le_bytes());
        header.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&extra);
        self.put(&header)?;
        debug_assert_eq!(self.pos % ALIGNMENT, 0);

        let mut hasher = crc32fast::Hasher::new();
        for chunk in data.chunks(CHUNK) {
            hasher.update(chunk);
            self.put(chunk)?;
        }
        let crc32 = hasher.finalize();

        if size > 0 {
            let mut descriptor = Vec::with_capacity(24);
            descriptor.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
            descriptor.extend_from_slice(&crc32.to_le_bytes());
            if large {
                descriptor.extend_from_slice(&size.to_le_bytes());
                descriptor.extend_from_slice(&size.to_le_bytes());
            } else {
                descriptor.extend_from_slice(&(size as u32).to_le_bytes());
                descriptor.extend_from_slice(&(size as u32).to_le_bytes());
            }
            self.put(&descriptor)?;
        }
        self.records.push(Written {
            name,
            crc32,
            size,
            header_offset,
        });
        Ok(())
    }

    /// A 40-digit id for `.data/serialization_id`, as torch writes one: 20 digits from the
    /// names of the records so far, 20 from their checksums (torch only logs it).
    pub(crate) fn serialization_id(&self) -> String {
        // FNV-1a, 64 bits.
        let mut names = 0xcbf2_9ce4_8422_2325u64;
        let mut crcs = 0xcbf2_9ce4_8422_2325u64;
        for record in &self.records {
            for &b in record.name.as_bytes() {
                names = (names ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            for b in record.crc32.to_le_bytes() {
                crcs = (crcs ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{names:020}{crcs:020}")
    }

    /// Writes the central directory and the (zip64) end records, and returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let directory_offset = self.pos;
        let records = std::mem::take(&mut self.records);
        for record in &records {
            let mut values = Vec::new();
            if record.size >= U32_LIMIT {
                values.extend_from_slice(&record.size.to_le_bytes());
                values.extend_from_slice(&record.size.to_le_bytes());
            }
            if record.header_offset >= U32_LIMIT {
                values.extend_from_slice(&record.header_offset.to_le_bytes());
            }
            let mut extra = Vec::new();
            if !values.is_empty() {
                extra.extend_from_slice(&ZIP64_EXTRA.to_le_bytes());
                extra.extend_from_slice(&(values.len() as u16).to_le_bytes());
                extra.extend_from_slice(&values);
            }
            let flags = if record.size > 0 {
                FLAG_UTF8 | FLAG_DESCRIPTOR
            } else {
                FLAG_UTF8
            };
            let size32 = record.size.min(U32_LIMIT) as u32;
            let offset32 = record.header_offset.min(U32_LIMIT) as u32;
            let mut entry = Vec::with_capacity(46 + record.name.len() + extra.len());
            entry.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            entry.extend_from_slice(&0u16.to_le_bytes()); // version made by
            let version_needed: u16 = if values.is_empty() { 0 } else { 45 };
            entry.extend_from_slice(&version_needed.to_le_bytes());
            entry.extend_from_slice(&flags.to_le_bytes());
            entry.extend_from_slice(&0u16.to_le_bytes()); // stored
            entry.extend_from_slice(&[0; 4]); // time and date
            entry.extend_from_slice(&record.crc32.to_le_bytes());
            entry.extend_from_slice(&size32.to_le_bytes());
            entry.extend_from_slice(&size32.to_le_bytes());
            entry.extend_from_slice(&(record.name.len() as u16).to_le_bytes());
            entry.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            entry.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
            entry.extend_from_slice(&[0; 4]); // external attributes
            entry.extend_from_slice(&offset32.to_le_bytes());
            entry.extend_from_slice(record.name.as_bytes());
            entry.extend_from_slice(&extra);
            self.put(&entry)?;
        }
        let directory_size = self.pos - directory_offset;
        let count = records.len() as u64;

        // miniz always writes the zip64 end records (torch opens archives with MZ_ZIP_FLAG_WRITE_ZIP64).
        let zip64_end_offset = self.pos;
        let mut end = Vec::with_capacity(56 + 20 + 22);
        end.extend_from_slice(&ZIP64_END.to_le_bytes());
        end.extend_from_slice(&44u64.to_le_bytes());
        end.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: unix, 3.0
        end.extend_from_slice(&45u16.to_le_bytes());
        end.extend_from_slice(&[0; 8]); // this disk, directory disk
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&directory_size.to_le_bytes());
        end.extend_from_slice(&directory_offset.to_le_bytes());
        end.extend_from_slice(&ZIP64_LOCATOR.to_le_bytes());
        end.extend_from_slice(&0u32.to_le_bytes());
        end.extend_from_slice(&zip64_end_offset.to_le_bytes());
        end.extend_from_slice(&1u32.to_le_bytes());
        let count16 = count.min(0xFFFF) as u16;
        end.extend_from_slice(&END.to_le_bytes());
        end.extend_from_slice(&[0; 4]); // this disk, directory disk
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&(directory_size.min(U32_LIMIT) as u32).to_le_bytes());
        end.extend_from_slice(&(directory_offset.min(U32_LIMIT) as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.put(&end)?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pt::archive::Archive;

    /// Where torch's `_get_offset` expects the data of a record written at `cursor`.
    fn torch_data_offset(cursor: u64, full_name_len: u64, size: u64) -> u64 {
        let mut start = cursor + LOCAL_HEADER_LEN + full_name_len + 4;
        if size >= U32_LIMIT || cursor >= U32_LIMIT {
            start += 4 + if size >= U32_LIMIT { 16 } else { 0 } + if cursor >= U32_LIMIT { 8 } else { 0 };
        }
        start.next_multiple_of(ALIGNMENT)
    }

    #[test]
    fn records_sit_where_torch_computes_them() {
        let mut zip = ZipWriter::new(Vec::new(), "archive");
        let payloads: [&[u8]; 4] = [b"pickle", b"", &[7; 100], &[1; 3]];
        let names = ["data.pkl", "data/0", "data/1", "data/2"];
        for (name, data) in names.iter().zip(payloads) {
            zip.record(name, data).unwrap();
        }
        let bytes = zip.finish().unwrap();
        let archive = Archive::parse(&bytes).unwrap();
        // torch walks from one record to the next: data, then a 16-byte descriptor if any.
        let mut cursor = 0;
        for (name, data) in names.iter().zip(payloads) {
            let record = archive.record(name).unwrap();
            let offset = record.as_ptr() as u64 - bytes.as_ptr() as u64;
            let full_len = ("archive/".len() + name.len()) as u64;
            assert_eq!(offset, torch_data_offset(cursor, full_len, data.len() as u64), "{name}");
            assert_eq!(offset % ALIGNMENT, 0);
            assert_eq!(record, data);
            cursor = offset + data.len() as u64 + if data.is_empty() { 0 } else { 16 };
        }
    }
}
