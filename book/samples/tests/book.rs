//! Checks the book itself, which mdBook does not: mdBook logs an include it cannot read but
//! still succeeds, and renders a missing anchor as nothing. Reads `book/src/SUMMARY.md`
//! and every `.md` file under `book/src` and reports:
//!
//! - a SUMMARY entry whose file is missing;
//! - an `{{#include path}}` or `{{#include path:anchor}}` whose file does not exist, or
//!   whose anchor (`ANCHOR: name` ... `ANCHOR_END: name`) is missing or empty;
//! - a relative link (`[text](file.md)`, `[text](file.md#heading)`, `[text](#heading)`,
//!   `![picture](images/loss.svg)`) to a file that does not exist or is not in the book,
//!   or to a heading that the target does not have (with mdBook's heading ids, counting
//!   those of the Markdown files it includes); link reference definitions
//!   (`[label]: file.md#heading`) too;
//! - a ```rust block that holds anything but includes: every Rust sample must be compiled
//!   and tested code from `book/samples`;
//! - the words TODO, TBD, placeholder and "to be written".
//!
//! `OPTIM_BOOK_SRC=/path/to/a/copy/of/book/src` checks another copy (to see it fail).

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

/// The book's sources, read from disk except for files replaced in memory (to test the
/// checker on broken books without writing any).
struct Book {
    src: PathBuf,
    replaced: HashMap<PathBuf, String>,
}

impl Book {
    fn new(src: PathBuf) -> Self {
        Book {
            src: normalize(&src),
            replaced: HashMap::new(),
        }
    }

    fn read(&self, path: &Path) -> Option<String> {
        let path = normalize(path);
        match self.replaced.get(&path) {
            Some(text) => Some(text.clone()),
            None => std::fs::read_to_string(&path).ok(),
        }
    }

    /// Every `.md` file under the source directory, sorted.
    fn markdown_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "md") {
                    out.insert(normalize(&path));
                }
            }
        }
        let mut files = BTreeSet::new();
        walk(&self.src, &mut files);
        files.extend(
            self.replaced
                .keys()
                .filter(|p| p.starts_with(&self.src) && p.extension().is_some_and(|e| e == "md"))
                .cloned(),
        );
        files.into_iter().collect()
    }
}

/// `a/b/../c` as `a/c`, without touching the file system (the file may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The id mdBook 0.5 gives a heading: the text without markup, lowercased, whitespace
/// turned into `-`, everything but letters, digits, `_` and `-` dropped.
fn heading_id(text: &str) -> String {
    let text = strip_links(text);
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// `[text](target)` as `text`.
fn strip_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](").map(|m| open + m) else {
            break;
        };
        let Some(close) = rest[mid..].find(')').map(|c| mid + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..mid]);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A Markdown line outside code blocks, or a fenced code block.
enum Block {
    Line {
        number: usize,
        text: String,
    },
    Code {
        number: usize,
        info: String,
        lines: Vec<String>,
    },
}

/// Splits a chapter into code blocks and the lines outside them.
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut fence: Option<(String, usize, String, Vec<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut fence {
            Some((marker, number, info, lines)) => {
                if trimmed.starts_with(marker.as_str()) && trimmed.trim_start_matches(['`', '~']).trim().is_empty() {
                    out.push(Block::Code {
                        number: *number,
                        info: std::mem::take(info),
                        lines: std::mem::take(lines),
                    });
                    fence = None;
                } else {
                    lines.push(line.to_string());
                }
            }
            None if trimmed.starts_with("```") || trimmed.starts_with("~~~") => {
                let c = trimmed.chars().next().unwrap_or('`');
                let len = trimmed.chars().take_while(|&x| x == c).count();
                let info = trimmed[len..].trim().to_string();
                fence = Some((c.to_string().repeat(len), i + 1, info, Vec::new()));
            }
            None => out.push(Block::Line {
                number: i + 1,
                text: line.to_string(),
            }),
        }
    }
    if let Some((_, number, info, lines)) = fence {
        out.push(Block::Code { number, info, lines });
    }
    out
}

/// The heading ids of a chapter, as mdBook numbers repeated ones (`x`, `x-1`, `x-2`), and
/// the ids of explicit anchors (`<a id="x"></a>`, which the error catalogue gives each case).
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut ids = BTreeSet::new();
    for block in blocks(text) {
        let Block::Line { text, .. } = block else { continue };
        for anchor in text.split("<a id=\"").skip(1) {
            if let Some(end) = anchor.find('"') {
                ids.insert(anchor[..end].to_string());
            }
        }
        let hashes = text.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !text[hashes..].starts_with([' ', '\t']) {
            continue;
        }
        let mut title = text[hashes..].trim();
        if let Some(open) = title.rfind("{#").filter(|_| title.ends_with('}')) {
            ids.insert(title[open + 2..title.len() - 1].to_string());
            continue;
        }
        title = title.trim_end_matches('#').trim_end();
        let id = heading_id(title);
        let count = counts.entry(id.clone()).or_insert(0);
        ids.insert(if *count == 0 { id } else { format!("{id}-{count}") });
        *count += 1;
    }
    ids
}

/// `text` (of `file`) with every line that includes a whole Markdown file
/// (`{{#include ../../optim-derive/doc/optimizer.md}}`) replaced by that file, as mdBook
/// does, so that the included headings count as the chapter's.
fn with_includes(book: &Book, file: &Path, text: &str, depth: usize) -> String {
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut out = String::new();
    for line in text.lines() {
        let whole_markdown = match includes(line).as_slice() {
            [(path, None)] if path.ends_with(".md") && line.trim().starts_with("{{#include ") && depth < 4 => {
                Some(dir.join(path))
            }
            _ => None,
        };
        match whole_markdown.and_then(|path| Some((book.read(&path)?, path))) {
            Some((included, path)) => out.push_str(&with_includes(book, &path, &included, depth + 1)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The `{{#include ...}}` directives of a text, unescaped ones only: (path, selector).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for directive in ["{{#include ", "{{#rustdoc_include "] {
        let mut from = 0;
        while let Some(at) = text[from..].find(directive).map(|a| from + a) {
            from = at + directive.len();
            if text[..at].ends_with('\\') {
                continue;
            }
            let Some(end) = text[from..].find("}}").map(|e| from + e) else {
                break;
            };
            let arg = text[from..end].trim();
            let (path, selector) = match arg.split_once(':') {
                Some((p, s)) => (p.to_string(), Some(s.to_string())),
                None => (arg.to_string(), None),
            };
            out.push((path, selector));
        }
    }
    out
}

/// The problem with an anchor of `file`, if any.
fn anchor_problem(file: &str, name: &str) -> Option<String> {
    let token = |line: &str, marker: &str| -> Option<String> {
        let at = line.find(marker)?;
        let rest = line[at + marker.len()..].trim_start();
        Some(
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect(),
        )
    };
    let lines: Vec<&str> = file.lines().collect();
    let start = lines.iter().position(|l| token(l, "ANCHOR:").as_deref() == Some(name));
    let Some(start) = start else {
        return Some(format!("has no `ANCHOR: {name}`"));
    };
    let end = lines[start..]
        .iter()
        .position(|l| token(l, "ANCHOR_END:").as_deref() == Some(name));
    let Some(end) = end.map(|e| start + e) else {
        return Some(format!("has no `ANCHOR_END: {name}` after `ANCHOR: {name}`"));
    };
    let content = lines[start + 1..end]
        .iter()
        .any(|l| !l.trim().is_empty() && !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"));
    (!content).then(|| format!("has an empty anchor `{name}`"))
}

/// The problem with a line-range selector (`10`, `10:20`, `:20`, `10:`), if any.
fn range_problem(file: &str, selector: &str) -> Option<String> {
    let lines = file.lines().count();
    let bad = selector
        .split(':')
        .filter(|s| !s.is_empty())
        .any(|n| n.parse::<usize>().map_or(true, |n| n == 0 || n > lines));
    bad.then(|| format!("has no lines {selector} (it has {lines})"))
}

/// `line` without its inline code: a code span opens with a run of backticks and closes at
/// the next run of the same length (so that ``` `` a `b` c `` ``` is one span, as the error
/// catalogue writes messages that quote names); a run that is never closed is text.
fn without_code(line: &str) -> String {
    let run_at = |s: &str, at: usize| s[at..].len() - s[at..].trim_start_matches('`').len();
    let mut plain = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('`') {
        plain.push_str(&rest[..open]);
        let n = run_at(rest, open);
        let after = &rest[open + n..];
        let mut search = 0;
        let close = loop {
            match after[search..].find('`') {
                None => break None,
                Some(i) => {
                    let m = run_at(after, search + i);
                    if m == n {
                        break Some(search + i);
                    }
                    search += i + m;
                }
            }
        };
        match close {
            Some(close) => rest = &after[close + n..],
            None => {
                plain.push_str(&rest[open..open + n]);
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    plain
}

/// The relative link targets of a line (inline code removed first).
fn links(line: &str) -> Vec<String> {
    let plain = without_code(line);
    let mut out = Vec::new();
    // A link reference definition: `[label]: target` (the label holds no `]`).
    if let Some(definition) = plain.trim_start().strip_prefix('[')
        && let Some((_, after)) = definition.split_once(']')
        && let Some(target) = after.strip_prefix(':')
    {
        let target = target.split_whitespace().next().unwrap_or("").to_string();
        if !target.is_empty() && !target.contains("://") {
            out.push(target);
        }
    }
    let mut rest = plain.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split_whitespace().next().unwrap_or("").to_string();
        rest = &rest[end..];
        let external = target.contains("://") || target.starts_with("mailto:");
        if !target.is_empty() && !external {
            out.push(target);
        }
    }
    out
}

const FORBIDDEN: [&str; 4] = ["todo", "tbd", "placeholder", "to be written"];

/// Whether `text` holds `word` (lowercase) as a whole word, ignoring case.
fn has_word(text: &str, word: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices(word).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Every problem of the book, one line each (`file:line: what`).
fn check(book: &Book) -> Vec<String> {
    let mut problems = Vec::new();
    let rel = |p: &Path| p.strip_prefix(&book.src).unwrap_or(p).display().to_string();

    let summary_path = book.src.join("SUMMARY.md");
    let Some(summary) = book.read(&summary_path) else {
        return vec![format!("{} is missing", summary_path.display())];
    };
    let mut chapters = BTreeSet::new();
    for (i, line) in summary.lines().enumerate() {
        for target in links(line) {
            let path = normalize(&book.src.join(&target));
            if book.read(&path).is_none() {
                problems.push(format!(
                    "SUMMARY.md:{}: the chapter file `{target}` does not exist",
                    i + 1
                ));
            }
            chapters.insert(path);
        }
    }

    for file in book.markdown_files() {
        let Some(text) = book.read(&file) else { continue };
        let dir = file.parent().unwrap_or(&book.src).to_path_buf();
        let name = rel(&file);
        for (i, line) in text.lines().enumerate() {
            for word in FORBIDDEN {
                if has_word(line, word) {
                    problems.push(format!("{name}:{}: the word \"{word}\"", i + 1));
                }
            }
        }
        for (i, line) in text.lines().enumerate() {
            for (path, selector) in includes(line) {
                let shown = selector.as_ref().map_or(path.clone(), |s| format!("{path}:{s}"));
                let at = format!("{name}:{}: `{{{{#include {shown}}}}}`", i + 1);
                let Some(included) = book.read(&dir.join(&path)) else {
                    problems.push(format!("{at}: the file does not exist"));
                    continue;
                };
                let problem = match selector.as_deref() {
                    None => None,
                    Some(s) if s.starts_with(|c: char| c.is_ascii_digit() || c == ':') => range_problem(&included, s),
                    Some(anchor) => anchor_problem(&included, anchor),
                };
                if let Some(problem) = problem {
                    problems.push(format!("{at}: the file {problem}"));
                }
            }
        }
        for block in blocks(&text) {
            match block {
                Block::Code { number, info, lines } => {
                    let language = info.split([',', ' ']).next().unwrap_or("");
                    let only_includes = lines.iter().all(|l| {
                        let l = l.trim();
                        l.is_empty()
                            || ((l.starts_with("{{#include ") || l.starts_with("{{#rustdoc_include "))
                                && l.ends_with("}}"))
                    });
                    let any_include = lines.iter().any(|l| !l.trim().is_empty());
                    if language == "rust" && !(only_includes && any_include) {
                        problems.push(format!(
                            "{name}:{number}: a ```rust block with code of its own: include tested code from book/samples instead"
                        ));
                    }
                }
                // SUMMARY.md's links are its chapters, checked above.
                Block::Line { .. } if file == summary_path => {}
                Block::Line { number, text: line } => {
                    for target in links(&line) {
                        let (path, fragment) = match target.split_once('#') {
                            Some((p, f)) => (p, Some(f)),
                            None => (target.as_str(), None),
                        };
                        let target_file = if path.is_empty() {
                            file.clone()
                        } else {
                            normalize(&dir.join(path))
                        };
                        let at = format!("{name}:{number}: the link `{target}`");
                        let Some(target_text) = book.read(&target_file) else {
                            problems.push(format!("{at} leads to a file that does not exist"));
                            continue;
                        };
                        let is_md = target_file.extension().is_some_and(|e| e == "md");
                        if is_md && !chapters.contains(&target_file) {
                            problems.push(format!("{at} leads to a chapter that SUMMARY.md does not list"));
                        }
                        if let Some(fragment) = fragment.filter(|_| is_md)
                            && !heading_ids(&with_includes(book, &target_file, &target_text, 0)).contains(fragment)
                        {
                            problems.push(format!(
                                "{at} leads to a heading that {} does not have",
                                rel(&target_file)
                            ));
                        }
                    }
                }
            }
        }
    }
    problems
}

fn book_src() -> PathBuf {
    match std::env::var_os("OPTIM_BOOK_SRC") {
        Some(src) => PathBuf::from(src),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../src"),
    }
}

#[test]
fn the_book_has_no_broken_include_link_or_sample() {
    let book = Book::new(book_src());
    let problems = check(&book);
    assert!(
        problems.is_empty(),
        "{} problem(s) in {}:\n{}",
        problems.len(),
        book.src.display(),
        problems.join("\n")
    );
}

#[test]
fn heading_ids_are_mdbooks() {
    // Compared with the HTML that mdBook 0.5.4 writes for these headings.
    for (heading, id) in [
        ("The `#[derive(Optimizer)]` attribute", "the-deriveoptimizer-attribute"),
        (
            "`lr`, `momentum` & friends: what's new?",
            "lr-momentum--friends-whats-new",
        ),
        ("f64 ↔ f32 casting", "f64--f32-casting"),
        (
            "What torch does not check — but we do",
            "what-torch-does-not-check--but-we-do",
        ),
        ("[A link](b.md) in heading", "a-link-in-heading"),
        ("Under_score and CamelCase", "under_score-and-camelcase"),
        ("x<sub>2</sub> html", "x2-html"),
        ("Élan vital", "élan-vital"),
    ] {
        assert_eq!(heading_id(heading), id, "{heading}");
    }
    let ids = heading_ids("# A\n\n## Same\n\n```sh\n# not a heading\n```\n\n## Same\n\n## Custom {#mine}\n");
    assert_eq!(ids, BTreeSet::from(["a", "same", "same-1", "mine"].map(String::from)));
}

#[test]
fn the_checker_reports_every_kind_of_problem() {
    // A broken book, in memory: the real one with one chapter and one sample replaced.
    let mut book = Book::new(book_src());
    let src = book.src.clone();
    let summary = book.read(&src.join("SUMMARY.md")).unwrap();
    book.replaced
        .insert(src.join("SUMMARY.md"), format!("{summary}- [Gone](gone.md)\n"));
    book.replaced.insert(
        normalize(&src.join("../samples/src/empty_anchor.rs")),
        "// ANCHOR: empty\n\n// ANCHOR_END: empty\n".to_string(),
    );
    let broken = "\
# Broken

## A heading

{{#include ../samples/src/no_such_file.rs}}
{{#include ../samples/src/lion.rs:no_such_anchor}}
{{#include ../samples/src/empty_anchor.rs:empty}}
{{#include ../samples/src/lion.rs:9999}}
\\{{#include escaped/so/not/checked.rs}}

```rust
fn hand_written() {}
```

```rust,ignore
{{#include ../samples/src/lion.rs:update}}
let x = 1;
```

```rust
```

See [a missing chapter](missing.md), [a missing heading](quickstart.md#no-such-heading),
[this page's missing heading](#nope), [a heading that exists](#a-heading), an
![absent picture](images/absent.svg) and [a file outside the book](../../README.md).

TODO: finish. Tbd. A placeholder, to be written.

[A definition]: missing-too.md
[Another]: derive-optimizer.md#option-types
";
    book.replaced.insert(src.join("quickstart.md"), broken.to_string());

    let problems = check(&book);
    let expected = [
        "SUMMARY.md:",
        "the chapter file `gone.md` does not exist",
        "quickstart.md:5: `{{#include ../samples/src/no_such_file.rs}}`: the file does not exist",
        "quickstart.md:6: `{{#include ../samples/src/lion.rs:no_such_anchor}}`: the file has no `ANCHOR: no_such_anchor`",
        "quickstart.md:7: `{{#include ../samples/src/empty_anchor.rs:empty}}`: the file has an empty anchor `empty`",
        "quickstart.md:8: `{{#include ../samples/src/lion.rs:9999}}`: the file has no lines 9999",
        "quickstart.md:11: a ```rust block with code of its own",
        "quickstart.md:15: a ```rust block with code of its own",
        "quickstart.md:20: a ```rust block with code of its own",
        "quickstart.md:23: the link `missing.md` leads to a file that does not exist",
        "quickstart.md:23: the link `quickstart.md#no-such-heading` leads to a heading that quickstart.md does not have",
        "quickstart.md:24: the link `#nope` leads to a heading that quickstart.md does not have",
        "quickstart.md:25: the link `images/absent.svg` leads to a file that does not exist",
        "quickstart.md:25: the link `../../README.md` leads to a chapter that SUMMARY.md does not list",
        "quickstart.md:27: the word \"todo\"",
        "quickstart.md:27: the word \"tbd\"",
        "quickstart.md:27: the word \"placeholder\"",
        "quickstart.md:27: the word \"to be written\"",
        "quickstart.md:29: the link `missing-too.md` leads to a file that does not exist",
    ];
    for needle in expected {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "not reported: {needle}\nreported:\n{}",
            problems.join("\n")
        );
    }
    assert_eq!(problems.len(), expected.len() - 1, "{}", problems.join("\n"));
}

#[test]
fn inline_code_holds_no_links() {
    // The catalogue quotes messages in double backticks, with names in single ones inside.
    let entry = "  [`StateValue`](#statevalue): `` parameter 0: `v` is not kept for shape [2, 2]: this ``";
    assert_eq!(links(entry), ["#statevalue"]);
    assert_eq!(links("`[a]: b` and [c](d.md) and ``[e](f.md)``"), ["d.md"]);
    assert_eq!(links("[label]: target.md"), ["target.md"]);
    assert_eq!(links("an unclosed ` then [c](d.md)"), ["d.md"]);
}

#[test]
fn every_derive_error_snapshot_is_in_the_derive_reference() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui/fail");
    let chapter = std::fs::read_to_string(book_src().join("derive-errors.md")).expect("derive-errors.md");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&ui).expect("tests/ui/fail") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".stderr") && !chapter.contains(&format!("tests/ui/fail/{name}")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "derive-errors.md does not show these compile errors: {missing:?}"
    );
}
