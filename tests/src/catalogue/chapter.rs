//! The book's chapter `book/src/errors.md`, made from the catalogue.
//!
//! The chapter is prose written by hand with generated blocks in it, between HTML comments
//! that mdBook does not show:
//!
//! - `<!-- catalogue -->` … `<!-- /catalogue -->`: every area (its title and introduction)
//!   and every case of it: the id (an anchor), what the user did, the kind of error with a
//!   link to its section, the message the case actually gives, and the fix;
//! - `<!-- cases KIND -->` … `<!-- /cases -->`, once under the heading ``### `KIND` `` of
//!   every [`ErrorKind`]: links to that kind's cases.
//!
//! [`render`] replaces the blocks' contents and puts [`HEADER`] first, and leaves the prose
//! alone; it fails when the chapter has no block for a kind, so that a new `Error` variant
//! cannot go undocumented. The `errors_chapter` example ([`COMMAND`]) writes its result;
//! `tests/tests/catalogue.rs` checks that the chapter equals it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::fixture::fixtures_dir;
use optimizers::ErrorKind;

use super::{AREAS, Outcome};

/// The command that regenerates the chapter.
pub const COMMAND: &str = "cargo run -p optim-tests --example errors_chapter";

/// The chapter's first lines, saying that it is partly generated and by what.
pub const HEADER: &str = "<!-- This chapter is partly generated from the catalogue of errors (tests/src/catalogue/):
     edit the prose here and the cases there, then regenerate it with
     `cargo run -p optim-tests --example errors_chapter` (a test fails until you do). -->
";

/// What every header this module ever wrote starts with, to replace a stale one.
const HEADER_START: &str = "<!-- This chapter is partly generated";

const CATALOGUE_OPEN: &str = "<!-- catalogue -->";
const CATALOGUE_CLOSE: &str = "<!-- /catalogue -->";
const CASES_OPEN: &str = "<!-- cases ";
const CASES_CLOSE: &str = "<!-- /cases -->";

/// Where the chapter is: `book/src/errors.md` of the workspace.
pub fn path() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).join("book/src/errors.md")
}

/// The chapter `chapter` with every generated block made from `outcomes` (the results of
/// [`run_all`](super::run_all), in its order) and [`HEADER`] first. Fails, saying what to
/// add or remove, when a block is missing, repeated, unclosed, misplaced or names no kind.
pub fn render(chapter: &str, outcomes: &[Outcome]) -> Result<String, String> {
    let body = match chapter.strip_prefix(HEADER) {
        Some(body) => body,
        None if chapter.starts_with(HEADER_START) => chapter.split_once("-->\n").map_or("", |(_, body)| body),
        None => chapter,
    };
    let mut out = String::from(HEADER);
    let mut rest = body;
    let mut catalogues = 0;
    let mut kinds = BTreeSet::new();
    while let Some(start) = [CATALOGUE_OPEN, CASES_OPEN].iter().filter_map(|m| rest.find(m)).min() {
        let marker_end = start + rest[start..].find("-->").ok_or("a `<!--` marker is not closed")? + "-->".len();
        let marker = &rest[start..marker_end];
        out.push_str(&rest[..start]);
        let (content, close) = if marker == CATALOGUE_OPEN {
            catalogues += 1;
            (catalogue(outcomes), CATALOGUE_CLOSE)
        } else {
            let name = marker[CASES_OPEN.len()..marker.len() - "-->".len()].trim();
            let kind = ErrorKind::ALL
                .iter()
                .copied()
                .find(|k| k.name() == name)
                .ok_or_else(|| format!("`{marker}` names no kind of error: remove the block or fix the name"))?;
            if !kinds.insert(kind) {
                return Err(format!("`{marker}` appears twice: keep the one under ### `{name}`"));
            }
            let heading = format!("### `{name}`");
            let last_heading = out
                .rfind("\n#")
                .map(|i| out[i + 1..].lines().next().unwrap_or_default());
            if last_heading.map(str::trim_end) != Some(heading.as_str()) {
                return Err(format!(
                    "`{marker}` must follow the heading {heading} (the cases link to it)"
                ));
            }
            (cases_of(kind, outcomes), CASES_CLOSE)
        };
        let close_at = marker_end
            + rest[marker_end..]
                .find(close)
                .ok_or_else(|| format!("`{marker}` has no `{close}`"))?;
        out.push_str(marker);
        out.push('\n');
        out.push_str(&content);
        out.push_str(close);
        rest = &rest[close_at + close.len()..];
    }
    out.push_str(rest);
    if catalogues != 1 {
        return Err(format!(
            "the chapter has {catalogues} `{CATALOGUE_OPEN}` … `{CATALOGUE_CLOSE}` block(s): it needs exactly one"
        ));
    }
    let missing: Vec<&str> = ErrorKind::ALL
        .iter()
        .filter(|k| !kinds.contains(k))
        .map(|k| k.name())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the chapter has no section for {missing:?}: add, for each, a heading ### `NAME` with what \
             the error means and what to do, followed by `{CASES_OPEN}NAME -->` and `{CASES_CLOSE}`"
        ));
    }
    Ok(out)
}

/// The anchor mdBook gives the heading ``### `KIND` ``.
fn anchor(kind: ErrorKind) -> String {
    kind.name().to_ascii_lowercase()
}

/// `text` as an inline code span, fenced with more backticks than it contains in a row
/// (and at least two, so that every message in the chapter's source looks alike).
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(2));
    format!("{fence} {text} {fence}")
}

/// `message` with the fixture tree's root written `$OPTIM_FIXTURES`: the cases that read
/// a fixture file name it by its absolute path, which differs between checkouts, and the
/// chapter must read the same wherever it is checked.
fn portable(message: &str) -> String {
    message.replace(&fixtures_dir().display().to_string(), "$OPTIM_FIXTURES")
}

/// Every area with its cases.
fn catalogue(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for area in AREAS {
        out.push_str(&format!("\n### {}\n\n{}\n\n", area.title, area.intro));
        for o in outcomes.iter().filter(|o| o.area.id == area.id) {
            let kind = o.case.kind;
            out.push_str(&format!(
                "- <a id=\"{id}\"></a>**`{id}`**: {cause}.\\\n  [`{name}`](#{anchor}): {message}\\\n  *Fix:* {fix}.\n",
                id = o.case.id,
                cause = o.case.cause,
                name = kind.name(),
                anchor = anchor(kind),
                message = code(&portable(&o.message())),
                fix = o.case.fix,
            ));
        }
    }
    out.push('\n');
    out
}

/// Links to the cases of `kind`.
fn cases_of(kind: ErrorKind, outcomes: &[Outcome]) -> String {
    let links: Vec<String> = outcomes
        .iter()
        .filter(|o| o.case.kind == kind)
        .map(|o| format!("[`{id}`](#{id})", id = o.case.id))
        .collect();
    if links.is_empty() {
        "*No case in the catalogue yet.*\n".to_string()
    } else {
        format!("*Cases:* {}.\n", links.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chapter with prose, the catalogue's block and a section for every kind, each
    /// block holding `stale` and the header an older wording.
    fn chapter(stale: &str) -> String {
        let mut text = format!("{HEADER_START} by an older wording -->\n# Errors\n\nProse.\n\n");
        text.push_str(&format!("{CATALOGUE_OPEN}\n{stale}\n{CATALOGUE_CLOSE}\n"));
        for kind in ErrorKind::ALL {
            let name = kind.name();
            text.push_str(&format!(
                "\n### `{name}`\n\nWhat {name} means.\n\n{CASES_OPEN}{name} -->\n{stale}{CASES_CLOSE}\n"
            ));
        }
        text
    }

    #[test]
    fn render_keeps_the_prose_and_replaces_the_header_and_blocks() {
        let once = render(&chapter("stale\n"), &[]).expect("a complete chapter");
        assert!(once.starts_with(HEADER) && !once.contains("older wording") && !once.contains("stale"));
        assert!(once.contains("# Errors\n\nProse.\n") && once.contains("What GuardHeld means."));
        for area in AREAS {
            assert!(once.contains(&format!("\n### {}\n", area.title)), "{}", area.id);
        }
        let empty = "*No case in the catalogue yet.*";
        assert_eq!(once.matches(empty).count(), ErrorKind::ALL.len());
        assert_eq!(
            render(&once, &[]).as_deref(),
            Ok(once.as_str()),
            "rendering twice changes nothing"
        );
    }

    #[test]
    fn render_refuses_a_missing_or_misplaced_section() {
        let without_io = chapter("").replace("<!-- cases Io -->\n<!-- /cases -->", "");
        let error = render(&without_io, &[]).expect_err("no section for Io");
        assert!(error.contains("[\"Io\"]"), "{error}");
        let misplaced = chapter("").replace("### `Json`", "### JSON");
        let error = render(&misplaced, &[]).expect_err("the Json block under another heading");
        assert!(error.contains("must follow the heading ### `Json`"), "{error}");
        let unknown = chapter("").replace("<!-- cases Io -->", "<!-- cases Oi -->");
        assert!(render(&unknown, &[]).expect_err("no kind Oi").contains("names no kind"));
    }

    #[test]
    fn code_spans_hold_any_backticks() {
        assert_eq!(code("plain"), "`` plain ``");
        assert_eq!(code("no option `lrr`"), "`` no option `lrr` ``");
        assert_eq!(code("a ``b`` c"), "``` a ``b`` c ```");
    }
}
