//! Times saving and loading Adam's state dict in every checkpoint format and prints one
//! JSON line per format and layout:
//! `{"format", "tensors", "elems", "save_ms", "load_ms", "bytes", "peak_rss_mb", "state_mb"}`.
//!
//! ```sh
//! cargo run --release -p optimizers --example ckpt_bench
//! cargo run --release -p optimizers --example ckpt_bench -- --format safetensors,pt --layout a --torch python3
//! ```
//!
//! Layouts (`--layout`, default `a,c`): a, one float32 tensor of 16,777,216 elements; c,
//! 65,536 tensors of 256. Formats (`--format`, default `json,safetensors,pt`). Each
//! configuration runs in a process of its own (this program, re-run with `--child`), so
//! that its memory is measured alone: it takes one Adam step (state: `exp_avg`,
//! `exp_avg_sq`, `step`), then saves the state dict (`save_ms`, the median of `--repeat`
//! saves, each written to a temporary file, synced and renamed), then loads it into a fresh
//! optimizer over the same parameters (`load_ms`: `checkpoint::load` plus
//! `load_state_dict`, the median of the repeats). `peak_rss_mb` is how far the process's
//! resident memory rose above its level before the load, at its peak during the load
//! (Linux's VmHWM, reset through /proc/self/clear_refs before each load): the new state
//! plus whatever the load held on the way. `state_mb` is the state's size.
//!
//! With `--torch PYTHON`, `benches/torch_ckpt_reference.py` runs next with that Python,
//! printing torch.save / torch.load of the same state, measured the same way, in the same
//! run. With `CKPT_BENCH_PHASES=1` in the environment, each load also prints how long
//! opening the file, making the state dict and `load_state_dict` took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use optimizers::ndarray::ArrayD;
use optimizers::{Adam, AdamOptions, Optimizer, Param, checkpoint};

/// (tensors, elements per tensor) of each layout.
fn layout(name: &str) -> Result<(usize, usize), String> {
    match name {
        "a" => Ok((1, 16_777_216)),
        "c" => Ok((65_536, 256)),
        other => Err(format!("unknown layout {other:?} (a, c)")),
    }
}

fn extension(format: &str) -> Result<&'static str, String> {
    match format {
        "json" => Ok("json"),
        "safetensors" => Ok("safetensors"),
        "pt" => Ok("pt"),
        other => Err(format!("unknown format {other:?} (json, safetensors, pt)")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let [_, format, layout, dir, repeat] = args.as_slice() else {
            return Err("--child FORMAT LAYOUT DIR REPEAT".into());
        };
        return child(format, layout, Path::new(dir), repeat.parse()?);
    }
    let (mut formats, mut layouts, mut torch, mut repeat) =
        ("json,safetensors,pt".to_string(), "a,c".to_string(), None, 5usize);
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--format" => formats = value,
            "--layout" => layouts = value,
            "--torch" => torch = Some(value),
            "--repeat" => repeat = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let dir = std::env::temp_dir().join(format!("optim-ckpt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    for layout in layouts.split(',') {
        for format in formats.split(',') {
            // JSON of 16M elements takes seconds a pass: once is enough to see it.
            let n = if format == "json" { 1 } else { repeat };
            let status = Command::new(&exe)
                .args(["--child", format, layout])
                .arg(&dir)
                .arg(n.to_string())
                .status()?;
            if !status.success() {
                return Err(format!("{format} on layout {layout} failed").into());
            }
        }
        if let Some(python) = &torch {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/torch_ckpt_reference.py");
            let status = Command::new(python)
                .arg(script)
                .args(["--layout", layout, "--dir"])
                .arg(&dir)
                .args(["--repeat", &repeat.to_string()])
                .status()?;
            if !status.success() {
                return Err("the torch reference failed".into());
            }
        }
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The parameters of a layout, with gradients, deterministic.
fn params(tensors: usize, elems: usize) -> Vec<Param<f32>> {
    (0..tensors)
        .map(|t| {
            let value: Vec<f32> = (0..elems).map(|i| ((i * 7 + t) % 1000) as f32 * 1e-3 - 0.5).collect();
            let grad: Vec<f32> = (0..elems).map(|i| ((i * 13 + t) % 997) as f32 * 1e-4 - 0.05).collect();
            let p = Param::new(ArrayD::from_shape_vec(vec![elems], value).expect("elems values"));
            p.set_grad_from_slice(&grad)
                .expect("a gradient of the parameter's length");
            p
        })
        .collect()
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Linux's figure `key` (kB) from /proc/self/status, in MiB.
fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak resident memory (VmHWM) to the current one.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn child(format: &str, layout_name: &str, dir: &Path, repeat: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (tensors, elems) = layout(layout_name)?;
    let path: PathBuf = dir.join(format!("adam-{layout_name}.{}", extension(format)?));
    let params = params(tensors, elems);
    let mut opt = Adam::new(params.clone(), AdamOptions::new())?;
    opt.step()?;
    let state_mb = (tensors * (2 * elems + 1) * 4) as f64 / (1 << 20) as f64;

    let mut saves = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        checkpoint::save(&path, &opt.state_dict())?;
        saves.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let bytes = std::fs::metadata(&path)?.len();
    let reference = opt.state_dict().into_owned();
    drop(opt);

    let mut loads = Vec::new();
    let mut peak: f64 = 0.0;
    for _ in 0..repeat {
        let mut fresh: Optimizer<Adam, f32> = Adam::new(params.clone(), AdamOptions::new())?;
        let before = status_mb("VmRSS:");
        reset_peak();
        let t = Instant::now();
        {
            let file = checkpoint::load(&path)?;
            let t1 = t.elapsed();
            let dict = file.state_dict()?;
            let t2 = t.elapsed();
            fresh.load_state_dict(&dict)?;
            let t3 = t.elapsed();
            if std::env::var_os("CKPT_BENCH_PHASES").is_some() {
                eprintln!("open {t1:?} state_dict {:?} load_state_dict {:?}", t2 - t1, t3 - t2);
            }
        }
        loads.push(t.elapsed().as_secs_f64() * 1e3);
        peak = peak.max(status_mb("VmHWM:") - before);
        if fresh.state_dict() != reference {
            return Err("the loaded state differs from the saved one".into());
        }
    }
    std::fs::remove_file(&path)?;
    println!(
        "{{\"format\":\"{format}\",\"tensors\":{tensors},\"elems\":{},\"save_ms\":{:.1},\"load_ms\":{:.1},\"bytes\":{bytes},\"peak_rss_mb\":{peak:.1},\"state_mb\":{state_mb:.1}}}",
        tensors * elems,
        median(saves),
        median(loads),
    );
    Ok(())
}
