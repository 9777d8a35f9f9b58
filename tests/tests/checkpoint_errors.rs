//! The checkpoint files a load must refuse, one case each, as the error catalogue lists
//! them: the file, the error (`Error::Checkpoint` holding `optim_checkpoint::Error`'s
//! variant, or `Error::Io`), a fragment of its message, and that the optimizer the load
//! was meant for is unchanged, bit for bit.

use std::path::{Path, PathBuf};

use optim_tests::fixture::fixtures_dir;
use optim_tests::snapshot::Snapshot;
use optim_tests::trees::TempDir;
use optimizers::checkpoint::{self, SaveOptions};
use optimizers::ndarray::array;
use optimizers::{Error, Optimizer, Param, Result, Sgd, SgdOptions};

/// SGD with momentum over `[4, 3]` and `[5]` float32 parameters (the shapes of the torch
/// fixture `sgd_momentum_f32.pt`), two steps taken.
fn sgd() -> (Optimizer<Sgd, f32>, Vec<Param<f32>>) {
    let params = vec![
        Param::new(array![
            [0.5f32, -1.0, 0.25],
            [2.0, 0.1, -0.3],
            [0.0, 1.0, 2.0],
            [3.0, -2.0, 1.0]
        ]),
        Param::new(array![0.1f32, -0.2, 0.3, 0.4, 0.5]),
    ];
    let mut opt = Sgd::new(params.clone(), SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    for step in 0..2 {
        for p in &params {
            let g: Vec<f32> = (0..p.numel()).map(|i| (i + step) as f32 * 0.1 - 0.3).collect();
            p.set_grad_from_slice(&g).expect("a gradient of the parameter's length");
        }
        opt.step().expect("a valid step");
    }
    (opt, params)
}

/// Loads `path` into the subject; checks that the load fails and changes nothing.
fn refused(path: &Path) -> Error {
    let (mut opt, _) = sgd();
    let before = Snapshot::of(&opt);
    let result: Result<()> = checkpoint::load(path).and_then(|file| opt.load_state_dict(&file.state_dict()?));
    let error = result.expect_err("the file must be refused");
    if let Some(difference) = Snapshot::of(&opt).difference(&before) {
        panic!("a refused load changed the optimizer: {difference}");
    }
    error
}

/// The checkpoint crate's error inside `error`.
fn typed(error: &Error) -> &checkpoint::Error {
    match error {
        Error::Checkpoint { source, .. } => source
            .downcast_ref::<checkpoint::Error>()
            .unwrap_or_else(|| panic!("not optim_checkpoint's error: {error}")),
        other => panic!("not a checkpoint error: {other:?}"),
    }
}

fn bad(name: &str) -> PathBuf {
    fixtures_dir().join("checkpoints/bad").join(name)
}

/// Prints the case as the catalogue shows it and checks the message.
fn show(id: &str, input: &str, error: &Error, fragment: &str) {
    let message = error.to_string();
    println!("{id} | {input} | {message}");
    assert!(message.contains(fragment), "{id}: {message:?} lacks {fragment:?}");
}

/// Where `data.pkl`'s bytes lie in a `.pt` file, and where the central directory keeps its
/// CRC (read from the directory: records are stored).
fn pickle_record(bytes: &[u8]) -> (std::ops::Range<usize>, usize) {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    let at = (0..bytes.len() - 46)
        .find(|&at| {
            bytes[at..at + 4] == [0x50, 0x4b, 0x01, 0x02] && {
                let name_len = u16_at(at + 28);
                bytes[at + 46..at + 46 + name_len].ends_with(b"/data.pkl")
            }
        })
        .expect("data.pkl in the central directory");
    let header = u32_at(at + 42);
    let data = header + 30 + u16_at(header + 26) + u16_at(header + 28);
    (data..data + u32_at(at + 24), at + 16)
}

#[test]
fn bad_zip() {
    let error = refused(&bad("not_a_zip.pt"));
    assert!(matches!(typed(&error), checkpoint::Error::Zip { .. }));
    show(
        "checkpoint-bad-zip",
        "bad/not_a_zip.pt (plain text)",
        &error,
        "not a readable zip archive",
    );
    let error = refused(&bad("truncated.pt"));
    assert!(matches!(typed(&error), checkpoint::Error::Zip { .. }));
    show(
        "checkpoint-truncated",
        "bad/truncated.pt (the first half of a file)",
        &error,
        "not a readable zip archive",
    );
}

#[test]
fn forbidden_global() {
    let error = refused(&bad("evil_global.pt"));
    assert!(
        matches!(typed(&error), checkpoint::Error::ForbiddenGlobal { module, name, .. } if module == "posix" && name == "system")
    );
    show(
        "checkpoint-forbidden-global",
        "bad/evil_global.pt (calls os.system)",
        &error,
        "global posix.system at byte 51 is not in torch's weights_only allowlist",
    );
}

#[test]
fn unknown_opcode() {
    let dir = TempDir::new("optim-checkpoint-errors");
    let mut bytes = std::fs::read(fixtures_dir().join("checkpoints/sgd_momentum_f32.pt")).expect("the fixture");
    let (pickle, crc_at) = pickle_record(&bytes);
    // After PROTO 2: an opcode torch.save never writes (0xff is no opcode at all).
    bytes[pickle.start + 2] = 0xff;
    let crc = crc32(&bytes[pickle.clone()]);
    bytes[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    let path = dir.join("unknown_opcode.pt");
    std::fs::write(&path, &bytes).expect("writable");
    let error = refused(&path);
    assert!(matches!(
        typed(&error),
        checkpoint::Error::Opcode {
            opcode: 0xff,
            offset: 2,
            ..
        }
    ));
    show(
        "checkpoint-unknown-opcode",
        "sgd_momentum_f32.pt with byte 2 of data.pkl set to 0xff (CRC fixed)",
        &error,
        "pickle opcode 0xff (unknown) at byte 2",
    );
    let error = refused(&bad("protocol5.pt"));
    assert!(matches!(typed(&error), checkpoint::Error::Protocol { found: 5, .. }));
    show(
        "checkpoint-protocol",
        "bad/protocol5.pt",
        &error,
        "pickle protocol 5 at byte 0",
    );
}

/// CRC-32 (IEEE), bit by bit: the test needs no dependency for one checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn short_storage() {
    let error = refused(&bad("short_storage.pt"));
    assert!(matches!(typed(&error), checkpoint::Error::StorageSize { .. }));
    show(
        "checkpoint-short-storage",
        "bad/short_storage.pt (every storage 4 bytes short)",
        &error,
        "holds 44 bytes; 12 float32 elements need 48",
    );
}

/// The subject's state dict as safetensors, with its metadata's tree edited by `edit`.
fn edited_safetensors(dir: &TempDir, edit: impl FnOnce(&str) -> String) -> PathBuf {
    let (opt, _) = sgd();
    let path = dir.join("sgd.safetensors");
    checkpoint::save(&path, &opt.state_dict()).expect("saved");
    let bytes = std::fs::read(&path).expect("readable");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("a JSON header");
    let tree = header["__metadata__"]["optim.tree"]
        .as_str()
        .expect("the tree")
        .to_string();
    header["__metadata__"]["optim.tree"] = serde_json::Value::String(edit(&tree));
    let mut json = serde_json::to_vec(&header).expect("serializable");
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    std::fs::write(&path, out).expect("writable");
    path
}

#[test]
fn header_tensor_disagreement() {
    let dir = TempDir::new("optim-checkpoint-errors");
    let path = edited_safetensors(&dir, |tree| tree.replacen("\"shape\":[5]", "\"shape\":[6]", 1));
    let error = refused(&path);
    assert!(matches!(typed(&error), checkpoint::Error::HeaderMismatch { .. }));
    show(
        "checkpoint-header-mismatch",
        "a safetensors file whose metadata gives state.1.momentum_buffer the shape [6]",
        &error,
        "tensor state.1.momentum_buffer: is float32 [5] in the header but float32 [6] in the tree",
    );
    let path = edited_safetensors(&dir, |tree| {
        tree.replacen("state.1.momentum_buffer", "state.1.momentum", 1)
    });
    let error = refused(&path);
    assert!(matches!(typed(&error), checkpoint::Error::HeaderMismatch { .. }));
    show(
        "checkpoint-header-missing-tensor",
        "a safetensors file whose metadata names a tensor it lacks",
        &error,
        "is named by the tree but is not in the file",
    );
}

#[test]
fn missing_and_mixed_shards() {
    let dir = TempDir::new("optim-checkpoint-errors");
    let (opt, _) = sgd();
    let path = dir.join("sgd.safetensors");
    checkpoint::save_with(&path, &opt.state_dict(), SaveOptions::new().max_shard_size(32)).expect("saved");
    let index = dir.join("sgd.safetensors.index.json");
    assert!(index.exists() && !path.exists());
    let shard = dir.join("sgd-00002-of-00002.safetensors");
    let kept = std::fs::read(&shard).expect("the second shard");
    std::fs::remove_file(&shard).expect("removable");
    let error = refused(&path);
    assert!(
        matches!(typed(&error), checkpoint::Error::MissingShard { shard, .. } if shard == "sgd-00002-of-00002.safetensors")
    );
    show(
        "checkpoint-missing-shard",
        "a sharded set whose second shard was deleted",
        &error,
        "shard sgd-00002-of-00002.safetensors of the set cannot be read",
    );

    // The shard of an earlier save of the same name: refused, not mixed in.
    std::fs::write(&shard, kept).expect("writable");
    let other = dir.join("other");
    std::fs::create_dir_all(&other).expect("writable");
    checkpoint::save_with(
        other.join("sgd.safetensors"),
        &opt.state_dict(),
        SaveOptions::new().max_shard_size(32),
    )
    .expect("saved");
    std::fs::copy(
        other.join("sgd-00001-of-00002.safetensors"),
        dir.join("sgd-00001-of-00002.safetensors"),
    )
    .expect("copied");
    let error = refused(&path);
    assert!(matches!(typed(&error), checkpoint::Error::ShardMismatch { .. }));
    show(
        "checkpoint-mixed-shards",
        "a sharded set with a shard from another save",
        &error,
        "the set is incomplete",
    );

    std::fs::write(&index, "{\"metadata\": {}}").expect("writable");
    let error = refused(&index);
    assert!(matches!(typed(&error), checkpoint::Error::Index { .. }));
    show(
        "checkpoint-bad-index",
        "an index without weight_map",
        &error,
        "malformed safetensors index",
    );
}

#[test]
fn not_a_safetensors_file() {
    let dir = TempDir::new("optim-checkpoint-errors");
    let path = dir.join("text.safetensors");
    std::fs::write(&path, "not a checkpoint").expect("writable");
    let error = refused(&path);
    assert!(matches!(typed(&error), checkpoint::Error::Safetensors { .. }));
    show(
        "checkpoint-bad-safetensors",
        "a text file named .safetensors",
        &error,
        "not a readable safetensors file",
    );
}

#[test]
fn unknown_format_and_missing_file() {
    let error = refused(Path::new("optimizer.ckpt"));
    assert!(matches!(typed(&error), checkpoint::Error::UnknownFormat { .. }));
    show(
        "checkpoint-unknown-format",
        "optimizer.ckpt",
        &error,
        "name it *.json, *.safetensors or *.pt",
    );
    for name in ["checkpoint.safetensors", "checkpoint.pt"] {
        let path = Path::new("/nonexistent/optim").join(name);
        let error = refused(&path);
        assert!(matches!(&error, Error::Io { action: "open", .. }), "{error:?}");
        show(
            "checkpoint-missing-file",
            &path.display().to_string(),
            &error,
            "cannot open /nonexistent/optim/",
        );
    }
}

#[test]
fn training_checkpoint_without_the_key() {
    let path = fixtures_dir().join("checkpoints/adam_f32.pt");
    let (mut opt, _) = sgd();
    let error = checkpoint::load(&path)
        .and_then(|file| opt.load_state_dict(&file.state_dict()?))
        .expect_err("the root is a training checkpoint");
    show(
        "checkpoint-training-root",
        "adam_f32.pt loaded without its key",
        &error,
        "its entry \"optimizer\" is an optimizer's state dict: read it with `load_entry(path, \"optimizer\")`",
    );
    let error = checkpoint::load_entry(&path, "optim").expect_err("no such entry");
    assert!(matches!(typed(&error), checkpoint::Error::MissingEntry { .. }));
    show(
        "checkpoint-missing-entry",
        "adam_f32.pt with key \"optim\"",
        &error,
        "the checkpoint has no entry \"optim\" (its entries are: \"model\", \"optimizer\", \"epoch\", \"best_loss\")",
    );
    let error = checkpoint::load_entry(&path, "model")
        .and_then(|f| f.state_dict().map(|_| ()))
        .expect_err("a model's state dict");
    show(
        "checkpoint-not-optimizer",
        "adam_f32.pt with key \"model\"",
        &error,
        "malformed state dict",
    );
}
