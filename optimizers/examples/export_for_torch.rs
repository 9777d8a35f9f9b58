//! Writes, for each torch checkpoint fixture whose optimizer this library has, the state
//! dict of that optimizer after loading the fixture, as `.pt`, `.safetensors` and `.json`
//! in OUT_DIR: what `optim-checkpoint/scripts/check_state_dicts_with_torch.py` hands to
//! real PyTorch (`torch.load(weights_only=True)`, `optimizer.load_state_dict`, a step).
//!
//! `cargo run -p optimizers --example export_for_torch -- OUT_DIR`

use std::path::{Path, PathBuf};

use optim_tests::checkpoints::CheckpointFixture;
use optim_tests::fixture::{files_with_extension, fixtures_dir};
use optimizers::{DType, DynOptimizer, Float, checkpoint};

fn export<A: Float>(
    fixture: &CheckpointFixture,
    file: &checkpoint::Checkpoint,
    out: &Path,
    stem: &str,
) -> Result<(), String> {
    let dict = file.state_dict().map_err(|e| e.to_string())?;
    let mut opt: Box<dyn DynOptimizer<A>> = fixture.build(&dict)?;
    opt.load_state_dict(&dict).map_err(|e| e.to_string())?;
    for ext in ["pt", "safetensors", "json"] {
        let path = out.join(format!("{stem}.{ext}"));
        checkpoint::save(&path, &opt.state_dict()).map_err(|e| e.to_string())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args_os().nth(1).ok_or("usage: export_for_torch OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    for path in files_with_extension(&fixtures_dir().join("checkpoints"), "pt")? {
        let fixture = CheckpointFixture::load(&path)?;
        let file = match &fixture.key {
            Some(key) => checkpoint::load_entry(&path, key)?,
            None => checkpoint::load(&path)?,
        };
        let stem = path.file_stem().ok_or("a file name")?.to_string_lossy().into_owned();
        let done = match fixture.dtype {
            DType::F32 => export::<f32>(&fixture, &file, &out, &stem),
            DType::F64 => export::<f64>(&fixture, &file, &out, &stem),
        };
        if let Err(e) = done {
            println!("skipped {stem}: {e}");
        }
    }
    Ok(())
}
