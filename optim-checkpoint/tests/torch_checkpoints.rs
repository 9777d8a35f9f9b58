//! Every `.pt` file written by torch in `$OPTIM_FIXTURES/checkpoints` is read, converted to
//! the fixture's JSON convention and compared exactly with its `contents`, then written
//! with this crate's writer and read again, identically; every file in `bad/` is refused
//! with the error the fixture describes. Runs as its own program (`harness = false`) so
//! that the count line always shows; exits non-zero on any failure.

mod common;

use std::path::Path;
use std::process::ExitCode;

use common::{fixture_root, identical, json_diff, pt_files, to_json};
use optim_checkpoint::Error;
use optim_checkpoint::pt::{self, PtFile};
use serde_json::Value;

fn main() -> ExitCode {
    let dir = fixture_root().join("checkpoints");
    let mut failures = Vec::new();

    let mut read = 0;
    for path in pt_files(&dir) {
        match check_good(&path) {
            Ok(()) => read += 1,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    if read == 0 && failures.is_empty() {
        failures.push(format!("no .pt files in {}", dir.display()));
    }

    let mut refused = 0;
    for path in pt_files(&dir.join("bad")) {
        match check_bad(&path) {
            Ok(message) => {
                refused += 1;
                println!("refused {}: {message}", path.display());
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }

    for failure in &failures {
        println!("FAILED {failure}");
    }
    println!("refused {refused} bad checkpoints");
    println!("read {read} torch checkpoints");
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reads `path`, compares it with the `contents` of the JSON beside it, and round-trips it.
fn check_good(path: &Path) -> Result<(), String> {
    let json_path = path.with_extension("json");
    let text = std::fs::read_to_string(&json_path).map_err(|e| format!("cannot read {}: {e}", json_path.display()))?;
    let fixture: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let expected = fixture.get("contents").ok_or("the fixture has no `contents`")?;

    let file = PtFile::open(path).map_err(|e| e.to_string())?;
    let tree = file.load().map_err(|e| e.to_string())?;
    let got = to_json(&tree)?;
    if let Some(diff) = json_diff("contents", &got, expected) {
        return Err(format!("differs from the fixture at {diff}"));
    }

    // Round trip: written by this crate, read again, the same objects and bytes.
    let bytes = pt::write(Vec::new(), &tree).map_err(|e| format!("writing: {e}"))?;
    let again = pt::load_bytes(&bytes).map_err(|e| format!("reading what was written: {e}"))?;
    identical("round trip", &tree, &again)?;
    Ok(())
}

/// The error each bad fixture must give, by file name; any other file in `bad/` must fail too.
fn expected_refusal(name: &str, error: &Error) -> Option<bool> {
    Some(match name {
        "evil_global.pt" => {
            matches!(error, Error::ForbiddenGlobal { module, name, .. } if module == "posix" && name == "system")
        }
        "not_a_zip.pt" | "truncated.pt" => matches!(error, Error::Zip { .. }),
        "protocol5.pt" => matches!(error, Error::Protocol { found: 5, offset: 0 }),
        "short_storage.pt" => {
            matches!(error, Error::StorageSize { expected, found, .. } if *found + 4 == *expected)
        }
        _ => return None,
    })
}

fn check_bad(path: &Path) -> Result<String, String> {
    let result = PtFile::open(path).and_then(|file| file.load().map(|tree| format!("{tree:?}")));
    let error = match result {
        Ok(tree) => return Err(format!("read, but must be refused: {tree}")),
        Err(error) => error,
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match expected_refusal(name, &error) {
        Some(false) => Err(format!("refused with the wrong error: {error:?}")),
        _ => Ok(error.to_string()),
    }
}
