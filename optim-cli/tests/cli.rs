//! The `optim` binary as a user runs it, on the torch fixtures: what it prints, the files
//! it writes, its exit codes, and one-line errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    match std::env::var_os("OPTIM_FIXTURES") {
        Some(root) => PathBuf::from(root).join("checkpoints"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/torch/checkpoints"),
    }
}

fn optim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("optim-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a writable temporary directory");
        Dir(dir)
    }
    fn join(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn inspect_summarizes_a_state_dict() {
    let file = fixtures().join("adamw_named_f32.pt");
    let out = optim(&["inspect", &file.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in [
        "format      pt",
        "parameters  2 in 1 group(s)",
        "state       2 parameter(s) with state: 6 tensor(s), 18 element(s), 72 B",
        "lr=0.01 betas=(0.9, 0.999)",
        "names     layer0.weight, layer1.weight",
        "param 0 (layer0.weight)",
        "exp_avg        float32 [3, 2]",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
}

#[test]
fn inspect_json_is_machine_readable() {
    let file = fixtures().join("adam_f32.pt");
    let out = optim(&["inspect", &file.display().to_string(), "--key", "optimizer", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json["format"], "pt");
    assert_eq!(json["state_dict"], true);
    assert_eq!(json["parameters"], 3);
    assert_eq!(json["groups"][0]["options"]["betas"], serde_json::json!([0.9, 0.999]));
    assert_eq!(json["state"][0]["entries"]["exp_avg"]["type"], "float32 [4, 3]");
    assert_eq!(json["state_totals"]["elements"], 39);
}

#[test]
fn inspect_of_a_training_checkpoint_names_the_key_to_use() {
    let file = fixtures().join("adam_f32.pt");
    let out = optim(&["inspect", &file.display().to_string()]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("read it with --key optimizer"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn convert_goes_every_way_and_keeps_every_value() {
    let dir = Dir::new("convert");
    let source = fixtures().join("lbfgs_rosenbrock_f64.pt").display().to_string();
    let (st, json, pt) = (dir.join("a.safetensors"), dir.join("b.json"), dir.join("c.pt"));
    for (from, to) in [(&source, &st), (&st, &json), (&json, &pt)] {
        let out = optim(&["convert", from, to]);
        assert!(out.status.success(), "{from} -> {to}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "no progress bar for small files");
    }
    // The same summary, format aside.
    let summary = |f: &str| {
        let out = optim(&["inspect", f, "--json"]);
        let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in ["file", "format", "bytes"] {
            json.as_object_mut().unwrap().remove(key);
        }
        json
    };
    assert_eq!(summary(&source), summary(&pt));
    assert_eq!(summary(&source), summary(&st));

    let out = optim(&[
        "convert",
        &fixtures().join("adam_f32.pt").display().to_string(),
        &dir.join("opt.safetensors"),
        "--key",
        "optimizer",
        "--max-shard-size",
        "64",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = optim(&["inspect", &dir.join("opt.safetensors")]);
    assert!(text(&out.stdout).contains("shards"), "{}", text(&out.stdout));
}

#[test]
fn bad_files_are_one_line_errors_with_a_failing_exit_code() {
    let bad = fixtures().join("bad");
    for (name, needle) in [
        (
            "evil_global.pt",
            "global posix.system at byte 51 is not in torch's weights_only allowlist",
        ),
        ("not_a_zip.pt", "not a readable zip archive"),
        ("short_storage.pt", "12 float32 elements need 48"),
    ] {
        let out = optim(&["inspect", &bad.join(name).display().to_string()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: checkpoint ") && stderr.contains(needle),
            "{stderr}"
        );
    }
    let out = optim(&["convert", "/nonexistent/x.pt", "/tmp/y.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: cannot open /nonexistent/x.pt: No such file or directory (os error 2)"
    );
    let out = optim(&["inspect", "a.ckpt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("name it *.json, *.safetensors or *.pt"));
}

#[test]
fn a_wrong_command_line_shows_the_usage() {
    for args in [
        &["frob"][..],
        &["inspect"],
        &["convert", "a.pt"],
        &["inspect", "a.pt", "--bogus"],
    ] {
        let out = optim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("usage:"), "{args:?}");
    }
    let out = optim(&["--help"]);
    assert!(out.status.success() && text(&out.stdout).starts_with("usage:"));
}
