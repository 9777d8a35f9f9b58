//! Every `.pt` file written by torch in `$OPTIM_FIXTURES/checkpoints` (default
//! `../shared/fixtures/torch/checkpoints`), checked against the JSON beside it:
//!
//! 1. read as Python objects, every value equals the JSON's `contents`, and the objects
//!    written again by this library read back identical;
//! 2. read as a checkpoint (the entry `optimizer_key` for a training checkpoint), its tree
//!    equals the JSON's (int keys as strings, tuples as lists, dtypes kept);
//! 3. loaded into the optimizer the JSON names (built by `registry::build`) over the
//!    parameters it describes, that optimizer's state and options are torch's, value for
//!    value (a 0-d tensor reads as the number it holds, torch's run flags aside);
//! 4. the optimizer's state dict, and the tree as read, written as `.pt` and as
//!    `.safetensors` read back bit for bit, and load into a fresh optimizer unchanged.
//!
//! Every file in `bad/` is refused with the error the fixture's README describes. Runs as
//! its own program (`harness = false`) so that the count line always shows; exits
//! non-zero on any failure.

#[path = "../../optim-checkpoint/tests/common/mod.rs"]
mod pt_common;

use std::path::Path;
use std::process::ExitCode;

use optim_tests::checkpoints::{CheckpointFixture, TORCH_FLAGS};
use optim_tests::fixture::{files_with_extension, fixtures_dir};
use optim_tests::trees::{TempDir, identical, identical_dicts};
use optimizers::checkpoint::{self, pt};
use optimizers::{DType, DictValue, Error, Float, StateDict};
use serde_json::Value as Json;

fn main() -> ExitCode {
    let dir = fixtures_dir().join("checkpoints");
    let scratch = TempDir::new("optim-torch-checkpoints");
    let mut failures = Vec::new();

    // A directory that cannot be read is a failure, and so is one without a `.pt` file.
    let mut pt_files = |dir: &Path| {
        files_with_extension(dir, "pt").unwrap_or_else(|e| {
            failures.push(e);
            Vec::new()
        })
    };
    let (good, bad) = (pt_files(&dir), pt_files(&dir.join("bad")));

    let mut read = 0;
    for path in good {
        match check_good(&path, &scratch) {
            Ok(()) => {
                read += 1;
                println!("ok   {}", name(&path));
            }
            Err(e) => failures.push(format!("{}: {e}", name(&path))),
        }
    }
    if read == 0 && failures.is_empty() {
        failures.push(format!("no .pt files in {}", dir.display()));
    }

    let mut refused = 0;
    for path in bad {
        match check_bad(&path) {
            Ok(message) => {
                refused += 1;
                println!("refused bad/{}: {message}", name(&path));
            }
            Err(e) => failures.push(format!("bad/{}: {e}", name(&path))),
        }
    }
    if refused == 0 {
        failures.push(format!("no .pt files in {}", dir.join("bad").display()));
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

fn name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn check_good(path: &Path, scratch: &TempDir) -> Result<(), String> {
    let fixture = CheckpointFixture::load(path)?;
    let contents = &fixture.contents;
    let key = fixture.key.as_deref();

    // 1. The Python objects, exactly; written again and read back identical.
    let file = pt::PtFile::open(path).map_err(|e| e.to_string())?;
    let objects = file.load().map_err(|e| e.to_string())?;
    if let Some(diff) = pt_common::json_diff("contents", &pt_common::to_json(&objects)?, contents) {
        return Err(format!("objects differ from the fixture at {diff}"));
    }
    let bytes = pt::write(Vec::new(), &objects).map_err(|e| format!("writing the objects: {e}"))?;
    let again = pt::load_bytes(&bytes).map_err(|e| format!("reading the objects written: {e}"))?;
    pt_common::identical("objects", &objects, &again)?;

    // 2. The checkpoint's tree.
    let ckpt = match key {
        Some(key) => checkpoint::load_entry(path, key),
        None => checkpoint::load(path),
    }
    .map_err(|e| format!("loading: {e}"))?;
    let expected = match key {
        Some(key) => contents.get(key).ok_or_else(|| format!("`contents` has no {key:?}"))?,
        None => contents,
    };
    same_as_json("tree", &ckpt.tree(), expected)?;

    // 3. Into the optimizer it came from.
    let torch = ckpt.state_dict().map_err(|e| format!("as a state dict: {e}"))?;
    match fixture.dtype {
        DType::F32 => into_optimizer::<f32>(&fixture, &torch, &ckpt.tree(), scratch),
        DType::F64 => into_optimizer::<f64>(&fixture, &torch, &ckpt.tree(), scratch),
    }
}

/// Compares a tree read here with the fixture's JSON for it: numbers of the same kind and
/// value, tensors of the same dtype, shape and values.
fn same_as_json(path: &str, ours: &DictValue<'_>, json: &Json) -> Result<(), String> {
    let differ = || Err(format!("{path}: {} vs the fixture's {json}", ours.describe()));
    match (ours, json) {
        (DictValue::Null, Json::Null) => Ok(()),
        (DictValue::Bool(a), Json::Bool(b)) if a == b => Ok(()),
        (DictValue::Int(a), Json::Number(b)) if b.as_i64() == Some(*a) => Ok(()),
        (DictValue::Float(a), Json::Number(b)) if b.is_f64() && b.as_f64() == Some(*a) => Ok(()),
        (DictValue::Str(a), Json::String(b)) if a == b => Ok(()),
        (DictValue::List(a), Json::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(i, (x, y))| same_as_json(&format!("{path}[{i}]"), x, y)),
        (DictValue::Map(a), Json::Object(b)) => {
            // serde_json's maps are sorted: compare the keys as sets.
            let mut ka: Vec<&str> = a.keys().collect();
            ka.sort();
            let kb: Vec<&str> = b.keys().map(String::as_str).collect();
            if ka != kb {
                return Err(format!("{path}: keys {ka:?} vs the fixture's {kb:?}"));
            }
            a.iter()
                .try_for_each(|(k, v)| same_as_json(&format!("{path}.{k}"), v, &b[k]))
        }
        (DictValue::Tensor(t), Json::Object(b)) => {
            let data: Option<Vec<f64>> = b
                .get("data")
                .and_then(Json::as_array)
                .and_then(|d| d.iter().map(Json::as_f64).collect());
            let shape: Option<Vec<usize>> = b
                .get("shape")
                .and_then(Json::as_array)
                .and_then(|d| d.iter().map(|x| x.as_u64().map(|x| x as usize)).collect());
            let same = b.get("dtype").and_then(Json::as_str) == Some(t.dtype().name())
                && shape.as_deref() == Some(t.shape())
                && data.is_some_and(|d| d == t.to_vec::<f64>());
            if same { Ok(()) } else { differ() }
        }
        _ => differ(),
    }
}

fn into_optimizer<A: Float>(
    fixture: &CheckpointFixture,
    torch: &StateDict<'_>,
    tree: &DictValue<'_>,
    scratch: &TempDir,
) -> Result<(), String> {
    let kind = fixture.optimizer.as_str();
    let mut opt = fixture.build::<A>(torch)?;
    opt.load_state_dict(torch)
        .map_err(|e| format!("loading into {kind}: {e}"))?;
    let ours = opt.state_dict();
    holds_torchs_values(&ours, torch)?;

    // 4. Written in each binary format, read back bit for bit.
    for ext in ["pt", "safetensors"] {
        let path = scratch.join(&format!("{kind}.{ext}"));
        checkpoint::save(&path, &ours).map_err(|e| format!("saving as .{ext}: {e}"))?;
        let back = checkpoint::load(&path).map_err(|e| format!("reading the .{ext}: {e}"))?;
        let dict = back
            .state_dict()
            .map_err(|e| format!("the .{ext} as a state dict: {e}"))?;
        identical_dicts(&dict, &ours).map_err(|e| format!(".{ext} round trip: {e}"))?;
        let mut fresh = fixture.build::<A>(torch)?;
        fresh
            .load_state_dict(&dict)
            .map_err(|e| format!("loading the .{ext}: {e}"))?;
        identical_dicts(&fresh.state_dict(), &ours).map_err(|e| format!(".{ext} loaded: {e}"))?;

        let tree_path = scratch.join(&format!("{kind}-tree.{ext}"));
        checkpoint::save_tree(&tree_path, tree).map_err(|e| format!("saving the tree as .{ext}: {e}"))?;
        let back = checkpoint::load(&tree_path).map_err(|e| format!("reading the tree's .{ext}: {e}"))?;
        identical("tree", &back.tree(), tree).map_err(|e| format!("tree .{ext} round trip: {e}"))?;
    }
    Ok(())
}

/// The optimizer's state dict holds torch's values: every torch option but its run flags,
/// and every state entry, as the same numbers (a 0-d tensor is the number it holds; an
/// integer equals the float of its value).
fn holds_torchs_values(ours: &StateDict<'_>, torch: &StateDict<'_>) -> Result<(), String> {
    if ours.param_groups.len() != torch.param_groups.len() {
        return Err("group counts differ".into());
    }
    for (g, (a, b)) in ours.param_groups.iter().zip(&torch.param_groups).enumerate() {
        for (key, value) in b.options.iter().filter(|(k, _)| !TORCH_FLAGS.contains(k)) {
            let mine = a
                .options
                .get(key)
                .ok_or_else(|| format!("group {g}: torch's option `{key}` is missing"))?;
            same_value(&format!("group {g}.{key}"), mine, value)?;
        }
        if a.params != b.params || (b.param_names.is_some() && a.param_names != b.param_names) {
            return Err(format!(
                "group {g}: parameters {:?} vs torch's {:?}",
                a.params, b.params
            ));
        }
    }
    let (ka, kb): (Vec<_>, Vec<_>) = (ours.state.keys().collect(), torch.state.keys().collect());
    if ka != kb {
        return Err(format!("state of parameters {ka:?} vs torch's {kb:?}"));
    }
    for (i, entry) in &torch.state {
        let mine = &ours.state[i];
        let (ka, kb): (Vec<_>, Vec<_>) = (mine.keys().collect(), entry.keys().collect());
        let (mut sa, mut sb) = (ka.clone(), kb.clone());
        sa.sort();
        sb.sort();
        if sa != sb {
            return Err(format!("state {i}: entries {ka:?} vs torch's {kb:?}"));
        }
        for (key, value) in entry.iter() {
            same_value(
                &format!("state {i}.{key}"),
                &mine.get(key).cloned().unwrap_or(DictValue::Null),
                value,
            )?;
        }
    }
    Ok(())
}

fn same_value(path: &str, ours: &DictValue<'_>, torch: &DictValue<'_>) -> Result<(), String> {
    let differ = || {
        Err(format!(
            "{path}: ours {} vs torch's {}",
            ours.describe(),
            torch.describe()
        ))
    };
    match (ours, torch) {
        (DictValue::Tensor(a), DictValue::Tensor(b)) => {
            // torch's state is in its parameters' dtype and its `step` in float32: ours too.
            let same = a.shape() == b.shape()
                && a.dtype() == b.dtype()
                && a.to_vec::<f64>()
                    .iter()
                    .zip(b.to_vec::<f64>())
                    .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
            if same { Ok(()) } else { differ() }
        }
        (DictValue::List(a), DictValue::List(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(i, (x, y))| same_value(&format!("{path}[{i}]"), x, y)),
        (DictValue::Null, DictValue::Null) => Ok(()),
        (DictValue::Bool(a), DictValue::Bool(b)) if a == b => Ok(()),
        (DictValue::Str(a), DictValue::Str(b)) if a == b => Ok(()),
        (a, b) => match (a.as_scalar(), b.as_scalar()) {
            (Some(x), Some(y)) if x.to_bits() == y.to_bits() || x == y => Ok(()),
            _ => differ(),
        },
    }
}

/// The error each bad fixture must give, by file name; any other file in `bad/` must fail too.
fn expected_refusal(name: &str, error: &checkpoint::Error) -> Option<bool> {
    use checkpoint::Error as E;
    Some(match name {
        "evil_global.pt" => {
            matches!(error, E::ForbiddenGlobal { module, name, .. } if module == "posix" && name == "system")
        }
        "not_a_zip.pt" | "truncated.pt" => matches!(error, E::Zip { .. }),
        "protocol5.pt" => matches!(error, E::Protocol { found: 5, offset: 0 }),
        "short_storage.pt" => {
            matches!(error, E::StorageSize { expected, found, .. } if *found + 4 == *expected)
        }
        _ => return None,
    })
}

fn check_bad(path: &Path) -> Result<String, String> {
    let error = match checkpoint::load(path) {
        Ok(ckpt) => return Err(format!("read, but must be refused: {ckpt:?}")),
        Err(error) => error,
    };
    let Error::Checkpoint { source, .. } = &error else {
        return Err(format!("refused with {error:?}, not a checkpoint error"));
    };
    let Some(typed) = source.downcast_ref::<checkpoint::Error>() else {
        return Err(format!("the checkpoint error is not optim_checkpoint's: {error}"));
    };
    match expected_refusal(&name(path), typed) {
        Some(false) => Err(format!("refused with the wrong error: {typed:?}")),
        _ => Ok(error.to_string()),
    }
}
