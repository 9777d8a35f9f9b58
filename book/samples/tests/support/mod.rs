//! What several test files share: snapshots of generated text that the book includes.

use std::path::PathBuf;

/// The directory of the snapshots the book includes (`book/samples/snapshots`).
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// Checks that `actual` is what `snapshots/{name}` holds, so that the text the book shows
/// is what the code produces. With `UPDATE_SNAPSHOTS=1` in the environment, writes it.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("the snapshot directory is writable");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} is out of date: the code now produces\n{actual}\nRun `UPDATE_SNAPSHOTS=1 cargo test -p optim-book` and review the change.",
        path.display()
    );
}

/// Indented JSON with every list of plain values (numbers, strings, booleans, null) on
/// one line, as a person would write it: `"shape": [2, 2]` rather than four lines.
pub fn compact_lists(pretty: &str) -> String {
    let lines: Vec<&str> = pretty.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.ends_with('[') {
            // Find the closing bracket; fold if every line between is a plain value.
            let items: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| !l.trim_start().starts_with(']'))
                .map(|l| l.trim().trim_end_matches(','))
                .collect();
            let plain = items
                .iter()
                .all(|v| !v.is_empty() && !v.ends_with(['{', '[']) && !v.contains(": "));
            let close = lines.get(i + 1 + items.len()).map(|l| l.trim());
            if plain && let Some(close) = close {
                out.push_str(line);
                out.push_str(&items.join(", "));
                out.push_str(close);
                out.push('\n');
                i += items.len() + 2;
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    out
}
