//! Regenerates the book's chapter on errors, `book/src/errors.md`, from the catalogue
//! (`optim_tests::catalogue`): runs every case, refuses while one fails, and rewrites the
//! chapter's generated blocks with the messages the cases give now.
//!
//! ```text
//! cargo run -p optim-tests --example errors_chapter              # rewrite the chapter
//! cargo run -p optim-tests --example errors_chapter -- --check   # fail if it is out of date
//! cargo run -p optim-tests --example errors_chapter -- --stdout  # print it instead
//! ```
//!
//! The chapter is written beside itself and renamed over itself, so that a reader (mdBook
//! serving the book, a test) sees the old text or the new, never half of it.

use std::process::ExitCode;

use optim_tests::catalogue::{self, chapter};

fn main() -> ExitCode {
    match regenerate(std::env::args().nth(1).as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("errors_chapter: {message}");
            ExitCode::FAILURE
        }
    }
}

fn regenerate(mode: Option<&str>) -> Result<(), String> {
    if let Some(other) = mode.filter(|m| !matches!(*m, "--check" | "--stdout")) {
        return Err(format!(
            "unknown argument `{other}`: expected none, --check or --stdout"
        ));
    }
    let outcomes = catalogue::run_all();
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| format!("{}:\n    {}", o.case.id, o.problems.join("\n    ")))
        .collect();
    if !failures.is_empty() {
        // The chapter shows what each case gives: a failing case would show a wrong error.
        return Err(format!(
            "{} case(s) fail, fix them first:\n{}",
            failures.len(),
            failures.join("\n")
        ));
    }
    let path = chapter::path();
    let current = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let fresh = chapter::render(&current, &outcomes)?;
    match mode {
        Some("--stdout") => print!("{fresh}"),
        Some(_) if fresh != current => {
            return Err(format!("{} is out of date: run `{}`", path.display(), chapter::COMMAND));
        }
        Some(_) => eprintln!("{} is up to date", path.display()),
        None if fresh == current => eprintln!("{} is up to date", path.display()),
        None => {
            let temporary = path.with_extension("md.new");
            std::fs::write(&temporary, &fresh).map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
            std::fs::rename(&temporary, &path).map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
            eprintln!("wrote {} ({} cases)", path.display(), outcomes.len());
        }
    }
    Ok(())
}
