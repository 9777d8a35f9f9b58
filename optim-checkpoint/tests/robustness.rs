//! Damaged files give `Err` (or, when the damage is harmless, `Ok`), never a panic:
//! every truncation of every fixture, and seeded byte mutations anywhere in the file and
//! inside `data.pkl` with its checksum fixed, so that they reach the interpreter.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{fixture_root, pt_files};
use optim_checkpoint::pt;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = fixture_root().join("checkpoints");
    let files: Vec<_> = pt_files(&dir)
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("a readable fixture")))
        .collect();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// Loads `bytes` and, when that succeeds, reads every tensor, as a caller would; returns
/// whether it was read, or the panic's message.
fn load_and_read(bytes: &[u8]) -> Result<bool, String> {
    catch_unwind(AssertUnwindSafe(|| match pt::load_bytes(bytes) {
        Ok(tree) => {
            visit(&tree);
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or(panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn visit(object: &pt::Object<'_>) {
    match object {
        pt::Object::Tuple(items) | pt::Object::List(items) => items.iter().for_each(visit),
        pt::Object::Dict(dict) => dict.iter().for_each(|(_, v)| visit(v)),
        pt::Object::Tensor(t) => {
            let _ = t.to_vec::<f64>();
            let _ = t.to_vec::<i64>();
            let _ = t.contiguous_bytes();
        }
        _ => {}
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (name, bytes) in fixtures() {
        assert_eq!(load_and_read(&bytes), Ok(true), "{name} itself");
        for len in 0..bytes.len() {
            // The end of central directory is the last record: any cut loses it.
            assert_eq!(load_and_read(&bytes[..len]), Ok(false), "{name} cut to {len} bytes");
        }
    }
}

/// A small deterministic generator (xorshift64*), so that a failure names its case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mutates 1 to 4 bytes in `range` of `bytes`.
fn mutate(rng: &mut Rng, bytes: &mut [u8], range: std::ops::Range<usize>) {
    for _ in 0..=rng.below(4) {
        let at = range.start + rng.below(range.len());
        bytes[at] = match rng.below(4) {
            0 => bytes[at] ^ (1 << rng.below(8)),
            1 => 0,
            2 => 0xff,
            _ => rng.next() as u8,
        };
    }
}

#[test]
fn byte_mutations_anywhere_never_panic() {
    let mut rng = Rng(0x5eed_0001);
    for (name, original) in fixtures() {
        for case in 0..1500 {
            let mut bytes = original.clone();
            let len = bytes.len();
            mutate(&mut rng, &mut bytes, 0..len);
            assert!(load_and_read(&bytes).is_ok(), "{name}: mutation case {case} panicked");
        }
    }
}

/// Where `data.pkl`'s bytes lie, and where its CRC sits in the central directory.
fn pickle_record(bytes: &[u8]) -> (std::ops::Range<usize>, usize) {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    let mut at = 0;
    while at + 46 <= bytes.len() {
        if bytes[at..at + 4] == [0x50, 0x4b, 0x01, 0x02] {
            let name_len = u16_at(at + 28);
            let name = &bytes[at + 46..at + 46 + name_len];
            if name.ends_with(b"/data.pkl") {
                let size = u32_at(at + 24);
                let header = u32_at(at + 42);
                let data = header + 30 + u16_at(header + 26) + u16_at(header + 28);
                return (data..data + size, at + 16);
            }
        }
        at += 1;
    }
    panic!("no data.pkl in the central directory")
}

#[test]
fn pickle_mutations_reach_the_interpreter_and_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    let mut read = 0;
    let mut refused = 0;
    for (name, original) in fixtures() {
        let (pickle, crc_at) = pickle_record(&original);
        for case in 0..3000 {
            let mut bytes = original.clone();
            mutate(&mut rng, &mut bytes, pickle.clone());
            let crc = crc32fast::hash(&bytes[pickle.clone()]);
            bytes[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
            match load_and_read(&bytes) {
                Ok(true) => read += 1,
                Ok(false) => refused += 1,
                Err(panic) => panic!("{name}: pickle mutation case {case} panicked: {panic}"),
            }
        }
    }
    // Both outcomes occur: the mutations are neither all caught by the container nor all harmless.
    assert!(refused > 0 && read > 0, "read {read}, refused {refused}");
}
