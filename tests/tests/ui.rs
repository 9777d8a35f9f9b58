//! The derives' compile errors (one mistake per file under `tests/ui/fail/`, each with its
//! `.stderr` snapshot) and compile-pass cases for every feature (`tests/ui/pass/`).

use std::path::Path;

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}

/// The derives' reference (`optim-derive/doc/*.md`, their rustdoc and the book's chapters)
/// quotes compile errors in ```` ```text ```` blocks: each line there that starts with
/// `error` must be the first line of an error in a snapshot (up to an explanation set off
/// by two spaces and parentheses), so that the reference shows what the compiler says.
#[test]
fn the_reference_quotes_real_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut snapshots = Vec::new();
    for entry in std::fs::read_dir(root.join("ui/fail")).expect("tests/ui/fail") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "stderr") {
            snapshots.push(std::fs::read_to_string(&path).expect("a snapshot"));
        }
    }
    let is_real = |quoted: &str| snapshots.iter().any(|s| s.lines().any(|line| line == quoted));
    let mut quoted = 0;
    let mut unknown = Vec::new();
    for name in ["optimizer.md", "state.md", "option_value.md", "schedule.md"] {
        let text = std::fs::read_to_string(root.join("../optim-derive/doc").join(name)).expect("a reference page");
        let mut in_text = false;
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("```") {
                in_text = !in_text && line.trim_end() == "```text";
                continue;
            }
            if in_text && line.starts_with("error") {
                let error = line.split_once("  (").map_or(line, |(e, _)| e).trim_end();
                quoted += 1;
                if !is_real(error) {
                    unknown.push(format!("{name}:{}: {error}", i + 1));
                }
            }
        }
    }
    assert!(
        quoted > 30,
        "the reference quotes {quoted} errors: is it still in optim-derive/doc?"
    );
    assert!(
        unknown.is_empty(),
        "the reference quotes errors that no snapshot in tests/ui/fail has:\n{}",
        unknown.join("\n")
    );
}
