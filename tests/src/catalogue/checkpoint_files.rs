//! Checkpoint files this library refuses: not a file of its format, or a PyTorch file that
//! asks for more than torch's `weights_only` allowlist.

use optimizers::checkpoint::{self, SaveOptions};
use optimizers::{Error, ErrorKind};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};
use crate::fixture::fixtures_dir;

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "checkpoint-files",
    title: "Checkpoint files refused",
    intro: "`checkpoint::load` reads `.json`, `.safetensors` (and sets of them with an index) and \
            PyTorch's `.pt`, chosen by the file's extension. A file it cannot read is \
            [`Checkpoint`](#checkpoint), naming the file and what is wrong; its `source` is \
            `optim_checkpoint::Error`, to match on with `downcast_ref`. Nothing of a refused file \
            is loaded. The `.pt` files are PyTorch's own refusals in \
            `shared/fixtures/torch/checkpoints/bad`.",
    cases,
};

/// Loads `path` into a trained SGD, which must refuse it.
fn load_file(path: &std::path::Path) -> Trial {
    trial(sgd().0, |o| o.load_state_dict(&checkpoint::load(path)?.state_dict()?))
}

/// `name` in the fixtures' `checkpoints/bad`, the path without `..` (as the chapter shows it,
/// the same from every checkout: `<checkout>/tests/../../shared` would differ).
fn bad_file(name: &str) -> std::path::PathBuf {
    let dir = fixtures_dir();
    dir.canonicalize().unwrap_or(dir).join("checkpoints/bad").join(name)
}

/// The checkpoint crate's error inside `e`, if that is what `e` carries.
fn inner(e: &Error) -> Option<&checkpoint::Error> {
    match e {
        Error::Checkpoint { source, .. } => source.downcast_ref::<checkpoint::Error>(),
        _ => None,
    }
}

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "pt-forbidden-global",
            cause: "a `.pt` file whose pickle calls `os.system` (a global outside torch's `weights_only` allowlist)",
            fix: "do not load it: `torch.load(weights_only=True)` refuses it too; nothing in it was run",
            kind: ErrorKind::Checkpoint,
            fragment: "global posix.system at byte 51 is not in torch's weights_only allowlist",
            expect: |e| matches!(inner(e), Some(checkpoint::Error::ForbiddenGlobal { .. })),
            run: || load_file(&bad_file("evil_global.pt")),
        },
        Case {
            id: "pt-protocol-5",
            cause: "a `.pt` file pickled with protocol 5 (not written by `torch.save`)",
            fix: "write it with `torch.save`, which uses protocol 2",
            kind: ErrorKind::Checkpoint,
            fragment: "pickle protocol 5 at byte 0; torch.save writes protocol 2",
            expect: |e| matches!(inner(e), Some(checkpoint::Error::Protocol { .. })),
            run: || load_file(&bad_file("protocol5.pt")),
        },
        Case {
            id: "pt-short-storage",
            cause: "a `.pt` file whose tensor storage is shorter than its elements need",
            fix: "the file is damaged: save it again",
            kind: ErrorKind::Checkpoint,
            fragment: "holds 44 bytes; 12 float32 elements need 48",
            expect: |e| matches!(inner(e), Some(checkpoint::Error::StorageSize { .. })),
            run: || load_file(&bad_file("short_storage.pt")),
        },
        Case {
            id: "pt-not-a-zip",
            cause: "a file named `.pt` that is not a zip archive (plain text, or torch's old format)",
            fix: "save it with a current `torch.save` (the zip format)",
            kind: ErrorKind::Checkpoint,
            fragment: "not a readable zip archive",
            expect: |e| matches!(inner(e), Some(checkpoint::Error::Zip { .. })),
            run: || load_file(&bad_file("not_a_zip.pt")),
        },
        Case {
            id: "checkpoint-unknown-format",
            cause: "`checkpoint::load` of a file whose extension names no format (`optimizer.ckpt`)",
            fix: "name it `*.json`, `*.safetensors` or `*.pt`",
            kind: ErrorKind::Checkpoint,
            fragment: "cannot tell the checkpoint format from the file name",
            expect: |e| matches!(inner(e), Some(checkpoint::Error::UnknownFormat { .. })),
            run: || load_file(std::path::Path::new("/tmp/optim-catalogue/optimizer.ckpt")),
        },
        Case {
            id: "safetensors-missing-shard",
            cause: "a sharded safetensors checkpoint with one of its files missing",
            fix: "copy every file the index names (`*-0000k-of-0000N.safetensors`), or save again",
            kind: ErrorKind::Checkpoint,
            fragment: "shard sgd-00002-of-00002.safetensors of the set cannot be read",
            expect: |e| matches!(inner(e), Some(checkpoint::Error::MissingShard { .. })),
            run: || {
                let dir = std::path::Path::new("/tmp/optim-catalogue-shards");
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(dir).expect("/tmp is writable");
                let path = dir.join("sgd.safetensors");
                let (opt, _) = sgd();
                // Each momentum buffer in a file of its own: two shards and an index.
                checkpoint::save_with(&path, &opt.state_dict(), SaveOptions::new().max_shard_size(32))
                    .expect("a sharded save");
                std::fs::remove_file(dir.join("sgd-00002-of-00002.safetensors")).expect("two shards");
                load_file(&path)
            },
        },
    ]
}
