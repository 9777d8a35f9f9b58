//! `optim`: inspect checkpoint files and convert them between formats.
//!
//! ```text
//! optim inspect FILE [--key NAME] [--json]
//! optim convert IN OUT [--key NAME] [--max-shard-size BYTES]
//! ```
//!
//! The format of each file follows its name (`.json`, `.safetensors`, `.pt`), as in the
//! library. A file that cannot be read prints one line, `error: ...`, and exits with 1;
//! a command line that cannot be understood exits with 2.

mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use optim_checkpoint::{SaveOptions, load, load_entry, save_tree_with};

const USAGE: &str = "usage:
  optim inspect FILE [--key NAME] [--json]
      the kind, format, groups and options, parameters, state entries (dtype, shape,
      size) and names of a checkpoint; --json for a machine-readable summary
  optim convert IN OUT [--key NAME] [--max-shard-size BYTES]
      converts between .json, .safetensors and .pt (by the file names); --max-shard-size
      splits a large safetensors output into shards beside an index
  --key NAME reads the entry NAME of a training checkpoint ({\"model\": ..., \"optimizer\": ...})";

/// Files whose tensors take at least this many bytes get a progress bar.
const PROGRESS_FROM: u64 = 64 << 20;

/// A command line parsed.
enum Command {
    Inspect {
        file: PathBuf,
        key: Option<String>,
        json: bool,
    },
    Convert {
        input: PathBuf,
        output: PathBuf,
        key: Option<String>,
        max_shard_size: Option<u64>,
    },
    Help,
}

fn parse(args: Vec<String>) -> Result<Command, String> {
    let mut positional = Vec::new();
    let (mut key, mut json, mut max_shard_size) = (None, false, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" => json = true,
            "--key" => key = Some(args.next().ok_or("--key needs a NAME")?),
            "--max-shard-size" => {
                let value = args.next().ok_or("--max-shard-size needs a number of bytes")?;
                max_shard_size = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("--max-shard-size {value:?} is not a number of bytes"))?,
                );
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    match (
        positional.next().as_deref(),
        positional.next(),
        positional.next(),
        positional.next(),
    ) {
        (Some("inspect"), Some(file), None, None) if max_shard_size.is_none() => Ok(Command::Inspect {
            file: file.into(),
            key,
            json,
        }),
        (Some("convert"), Some(input), Some(output), None) if !json => Ok(Command::Convert {
            input: input.into(),
            output: output.into(),
            key,
            max_shard_size,
        }),
        (None, ..) => Ok(Command::Help),
        (Some(command), ..) => Err(format!("cannot run `{command}` with these arguments")),
    }
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1).collect()) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Inspect { file, key, json } => inspect(&file, key.as_deref(), json),
        Command::Convert {
            input,
            output,
            key,
            max_shard_size,
        } => convert(&input, &output, key.as_deref(), max_shard_size),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the library's messages name the file and what is wrong.
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn open(path: &std::path::Path, key: Option<&str>) -> optim_core::Result<optim_checkpoint::Checkpoint> {
    match key {
        Some(key) => load_entry(path, key),
        None => load(path),
    }
}

fn inspect(path: &std::path::Path, key: Option<&str>, json: bool) -> optim_core::Result<()> {
    let checkpoint = open(path, key)?;
    let summary = summary::Summary::of(&checkpoint)?;
    if json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

fn convert(
    input: &std::path::Path,
    output: &std::path::Path,
    key: Option<&str>,
    max_shard_size: Option<u64>,
) -> optim_core::Result<()> {
    let checkpoint = open(input, key)?;
    let tree = checkpoint.tree();
    let bar = ProgressBar::hidden();
    let mut progress = |done: u64, total: u64| {
        if total >= PROGRESS_FROM && bar.is_hidden() && bar.length().is_none() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(format!("writing {}", output.display()));
        }
        bar.set_position(done);
    };
    let mut options = SaveOptions::new().progress(&mut progress);
    if let Some(bytes) = max_shard_size {
        options = options.max_shard_size(bytes);
    }
    save_tree_with(output, &tree, options)?;
    bar.finish_and_clear();
    Ok(())
}
