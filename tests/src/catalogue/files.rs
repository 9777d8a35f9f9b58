//! Reading and writing checkpoint files: I/O, JSON syntax, and JSON that is not a state dict.

use std::io;

use optimizers::{Error, ErrorKind, checkpoint};

use super::harness::*;
use super::subjects::*;
use super::{Area, Case};

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "files",
    title: "Reading and writing checkpoints",
    intro: "`checkpoint::load` and `StateDict::from_json` read a checkpoint, `checkpoint::save` \
            writes one. A file that cannot be read is [`Io`](#io), text that is not JSON is \
            [`Json`](#json), and JSON that is not a state dict is [`Format`](#format).",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "json-truncated",
            cause: "a checkpoint file cut short (a full disk, an interrupted copy)",
            fix: "save again, to a temporary file renamed into place once written",
            kind: ErrorKind::Json,
            fragment: "cannot read the state dict as JSON: EOF while parsing",
            expect: |e| matches!(e, Error::Json { .. }),
            run: || load_json(sgd().0, |t| t[..t.len() / 2].to_string()),
        },
        Case {
            id: "json-broken",
            cause: "a checkpoint that is not valid JSON (edited by hand)",
            fix: "fix the syntax at the line and column the message gives",
            kind: ErrorKind::Json,
            fragment: "cannot read the state dict as JSON: expected `:` at line 1 column 9",
            expect: |e| matches!(e, Error::Json { .. }),
            run: || load_json(sgd().0, |t| t.replacen(":", " ", 1)),
        },
        Case {
            id: "json-duplicate-key",
            cause: "a checkpoint with a key twice in one object",
            fix: "keep one of them: which one was meant is ambiguous",
            kind: ErrorKind::Json,
            fragment: "key `lr` appears twice at line 1",
            expect: |e| matches!(e, Error::Json { .. }),
            run: || load_json(sgd().0, |t| t.replacen("\"lr\":0.1", "\"lr\":0.1,\"lr\":0.2", 1)),
        },
        Case {
            id: "json-duplicate-state-index",
            cause: "a checkpoint with the state of one parameter index twice",
            fix: "keep one of them: which one was meant is ambiguous",
            kind: ErrorKind::Json,
            fragment: "key `0` appears twice at line 1",
            expect: |e| matches!(e, Error::Json { .. }),
            run: || {
                load_json(sgd().0, |t| {
                    t.replacen("\"1\":{\"momentum_buffer\"", "\"0\":{\"momentum_buffer\"", 1)
                })
            },
        },
        Case {
            id: "json-not-a-state-dict",
            cause: "a JSON file that is not a state dict (no `param_groups`)",
            fix: "load the file `state_dict().save(...)` wrote",
            kind: ErrorKind::Format,
            fragment: "malformed state dict: no `param_groups` entry",
            expect: |e| matches!(e, Error::Format { .. }),
            run: || load_json(sgd().0, |_| r#"{"state": {}}"#.to_string()),
        },
        Case {
            id: "json-bad-tensor",
            cause: "a tensor whose data does not fill its shape",
            fix: "the file was edited or corrupted: save it again from the optimizer",
            kind: ErrorKind::Json,
            fragment: "tensor of shape [2, 2] cannot hold 3 element(s)",
            expect: |e| matches!(e, Error::Json { .. }),
            run: || load_json(sgd().0, |t| t.replacen(&first_data(&t), "[0.1,0.2,0.3]", 1)),
        },
        Case {
            id: "checkpoint-missing-file",
            cause: "`checkpoint::load` of a file that does not exist (no checkpoint yet, or a wrong path)",
            fix: "check the path; to start afresh when there is no checkpoint yet, match `source.kind()` against `io::ErrorKind::NotFound`, as `resume` does at the top of this chapter",
            kind: ErrorKind::Io,
            fragment: "cannot read /nonexistent/optim/checkpoint.json",
            expect: |e| {
                matches!(e, Error::Io { action: "read", path, source }
                    if path == "/nonexistent/optim/checkpoint.json" && source.kind() == io::ErrorKind::NotFound)
            },
            run: || {
                trial(sgd().0, |o| {
                    o.load_state_dict(&checkpoint::load("/nonexistent/optim/checkpoint.json")?.state_dict()?)
                })
            },
        },
        Case {
            id: "checkpoint-is-a-directory",
            cause: "`checkpoint::load` of a path that exists but is a directory",
            fix: "pass the checkpoint's file; any error but `NotFound` means a checkpoint may be there and cannot be read: stop rather than start afresh",
            kind: ErrorKind::Io,
            fragment: "cannot read /tmp/optim-catalogue-directory.json: ",
            expect: |e| matches!(e, Error::Io { action: "read", source, .. } if source.kind() != io::ErrorKind::NotFound),
            run: || {
                // A directory named like a checkpoint file.
                let dir = "/tmp/optim-catalogue-directory.json";
                std::fs::create_dir_all(dir).expect("/tmp is writable");
                trial(sgd().0, |o| o.load_state_dict(&checkpoint::load(dir)?.state_dict()?))
            },
        },
        Case {
            id: "checkpoint-save-missing-directory",
            cause: "`checkpoint::save` into a directory that does not exist",
            fix: "create the directory first (`std::fs::create_dir_all`)",
            kind: ErrorKind::Io,
            fragment: "cannot create a temporary file in /nonexistent/optim",
            expect: |e| matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
            run: || {
                trial(sgd().0, |o| {
                    checkpoint::save("/nonexistent/optim/checkpoint.json", &o.state_dict())
                })
            },
        },
    ]
}

/// The first tensor data list in `text` (`[...]` after the first `"data":`).
fn first_data(text: &str) -> String {
    let start = text.find("\"data\":[").expect("a tensor") + "\"data\":".len();
    let end = start + text[start..].find(']').expect("the list ends") + 1;
    text[start..end].to_string()
}
