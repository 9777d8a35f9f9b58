//! Handling errors by their kind and fields rather than their text: resuming from a
//! checkpoint only when there is one this optimizer can take. The book's chapter "Errors at
//! run time" shows `resume` (between the `ANCHOR` lines).

use std::io;
use std::path::Path;

use optim_tests::snapshot::Snapshot;
use optimizers::ndarray::array;
use optimizers::{Adam, AdamOptions, Error, Optimizer, Param, ParamGroup, Result, checkpoint};

// ANCHOR: resume
/// Resumes from the checkpoint at `path` when there is one this optimizer can take;
/// returns whether it did.
fn resume(opt: &mut Optimizer<Adam, f64>, path: &Path) -> Result<bool> {
    let checkpoint = match checkpoint::load(path) {
        Ok(checkpoint) => checkpoint,
        // No checkpoint yet: start afresh.
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(false),
        // A checkpoint that cannot be read (no permission, a directory) or is damaged:
        // stop and say so, rather than train from scratch over it.
        Err(e) => return Err(e),
    };
    match opt.load_state_dict(&checkpoint.state_dict()?) {
        Ok(()) => Ok(true),
        // The model changed since the checkpoint was written. Every renamed, missing or
        // reshaped parameter is listed, and nothing was loaded.
        Err(Error::ParamNames { problems }) => {
            for problem in &problems {
                eprintln!("not resuming: {problem}");
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
// ANCHOR_END: resume

/// Adam over `fc.weight` and `fc.bias` (or `head.weight` when `renamed`), two groups.
fn model(renamed: bool) -> (Optimizer<Adam, f64>, Vec<Param<f64>>) {
    let weight = if renamed { "head.weight" } else { "fc.weight" };
    let params = vec![
        Param::named(weight, array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        Param::named("fc.bias", array![1.0, 2.0, 3.0]),
    ];
    let opt = Adam::with_groups(
        [
            ParamGroup::new([params[0].clone()]),
            ParamGroup::new([params[1].clone()]),
        ],
        AdamOptions::new(),
    )
    .expect("valid");
    (opt, params)
}

#[test]
fn resume_acts_on_the_kind_of_error_and_its_fields() {
    let dir = std::env::temp_dir().join(format!("optim-error-handling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.json");

    let (mut opt, params) = model(false);
    assert!(!resume(&mut opt, &path).unwrap(), "no checkpoint yet");
    params[0].set_grad(array![[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]).unwrap();
    opt.step().unwrap();
    checkpoint::save(&path, &opt.state_dict()).unwrap();

    let (mut same, _) = model(false);
    assert!(resume(&mut same, &path).unwrap(), "the same model resumes");
    assert_eq!(same.state_dict().to_json(), opt.state_dict().to_json());

    // A renamed model does not resume, and keeps its state.
    let (mut renamed, _) = model(true);
    let before = Snapshot::of(&renamed);
    assert!(!resume(&mut renamed, &path).unwrap());
    assert_eq!(Snapshot::of(&renamed), before);

    // A path that exists but cannot be read as a file is an error, not "no checkpoint".
    let (mut other, _) = model(false);
    let directory = dir.join("a-directory.json");
    std::fs::create_dir(&directory).unwrap();
    match resume(&mut other, &directory) {
        Err(Error::Io {
            action: "read", source, ..
        }) => assert_ne!(source.kind(), io::ErrorKind::NotFound),
        result => panic!("reading a directory: {result:?}"),
    }

    // A damaged file is an error.
    std::fs::write(&path, "{\"state\": {").unwrap();
    assert!(matches!(resume(&mut other, &path), Err(Error::Json { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}
