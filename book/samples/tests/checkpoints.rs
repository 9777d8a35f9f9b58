//! The samples of the chapter "Saving and resuming" on checkpoint files: the three formats,
//! shards, trees of other state, files written by PyTorch and files for PyTorch, and the
//! errors of files that cannot be read.

use std::error::Error as StdError;
use std::path::PathBuf;

use optimizers::checkpoint::{self, SaveOptions};
use optimizers::ndarray::array;
use optimizers::{Adam, AdamOptions, DictValue, Error, Map, Param};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

/// A directory of its own for a test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("optim-book-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a writable temporary directory");
        Scratch(dir)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_state_dict_goes_to_and_comes_from_every_format() -> Result {
    let dir = Scratch::new("formats");
    let w = Param::named("fc.weight", array![[1.0f32, -1.0], [0.5, 2.0]]);
    let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
    w.set_grad(array![[0.5, -0.5], [1.0, 0.0]])?;
    opt.step()?;
    // ANCHOR: files
    for name in ["optimizer.json", "optimizer.safetensors", "optimizer.pt"] {
        let path = dir.join(name);
        checkpoint::save(&path, &opt.state_dict())?; // the format follows the name

        let file = checkpoint::load(&path)?; // mapped and checked; tensors stay in the file
        let mut resumed = Adam::new([w.clone()], AdamOptions::new())?;
        resumed.load_state_dict(&file.state_dict()?)?; // each tensor copied once, from the file
        assert_eq!(resumed.state_dict(), opt.state_dict());
    }
    // ANCHOR_END: files

    // ANCHOR: shards
    // Above 1 GiB of tensors, optimizer-00001-of-0000N.safetensors files and an index.
    let path = dir.join("big.safetensors");
    checkpoint::save_with(&path, &opt.state_dict(), SaveOptions::new().max_shard_size(1 << 30))?;
    let file = checkpoint::load(&path)?; // the file, or the set's index if there is no file
    assert_eq!(file.files().len(), 1); // this state is small: one file
    // ANCHOR_END: shards
    assert_eq!(file.state_dict()?, opt.state_dict());

    // Tiny shards, to show the set.
    checkpoint::save_with(&path, &opt.state_dict(), SaveOptions::new().max_shard_size(16))?;
    let file = checkpoint::load(dir.join("big.safetensors.index.json"))?;
    assert_eq!(file.files().len(), 3);
    assert_eq!(file.state_dict()?, opt.state_dict());
    Ok(())
}

#[test]
fn other_state_is_saved_as_a_tree() -> Result {
    let dir = Scratch::new("trees");
    let path = dir.join("scheduler.safetensors");
    // ANCHOR: tree
    // A learning-rate schedule's state: any tree of numbers, strings, lists, maps, tensors.
    let mut schedule = Map::new();
    schedule.insert("last_epoch", DictValue::Int(12));
    schedule.insert("base_lrs", DictValue::List(vec![DictValue::Float(0.1)]));
    let schedule = DictValue::Map(schedule);
    checkpoint::save_tree(&path, &schedule)?;
    assert_eq!(checkpoint::load(&path)?.tree(), schedule);
    // ANCHOR_END: tree
    Ok(())
}

/// Where the sample `.pt` files live.
fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}

// ANCHOR: from_torch
#[test]
fn a_run_saved_by_pytorch_continues_here() -> Result {
    // torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, ...)
    let file = checkpoint::load_entry(data("torch_checkpoint.pt"), "optimizer")?;

    // The parameters as the model's entry holds them, in the order torch had them.
    let model = checkpoint::load_entry(data("torch_checkpoint.pt"), "model")?;
    let DictValue::Map(model) = model.tree() else {
        panic!("the model's state dict")
    };
    let tensor = |name: &str| match model.get(name) {
        Some(DictValue::Tensor(t)) => Ok(t.to_vec::<f32>()),
        _ => Err(format!("no tensor {name}")),
    };
    let weight = Param::new(optimizers::ndarray::Array2::from_shape_vec((2, 2), tensor("weight")?)?);
    let bias = Param::new(optimizers::ndarray::Array1::from(tensor("bias")?));

    let mut opt = Adam::new([weight.clone(), bias.clone()], AdamOptions::new())?;
    opt.load_state_dict(&file.state_dict()?)?; // torch's options, state and step counts
    assert_eq!(opt.hyperparameters(0)?.betas, (0.9, 0.99));

    // Steps 4 and 5 with the gradients torch used: torch's parameters.
    for (gw, gb) in [
        (array![[0.25f32, 0.25], [-0.5, 2.0]], array![1.0f32, -0.25]),
        (array![[2.0f32, -0.5], [0.0, -1.0]], array![0.0f32, 0.75]),
    ] {
        weight.set_grad(gw)?;
        bias.set_grad(gb)?;
        opt.step()?;
    }
    let torch_weight = [0.2243374f32, -0.6657184, 1.6393787, -0.10970714];
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6);
    assert!(close(weight.to_array().as_slice().ok_or("contiguous")?, &torch_weight));
    Ok(())
}
// ANCHOR_END: from_torch

#[test]
fn a_run_saved_here_continues_in_pytorch() -> Result {
    let dir = Scratch::new("to-torch");
    // ANCHOR: to_torch
    let weight = Param::named("weight", array![[0.5f32, -1.0], [2.0, 0.25]]);
    let mut opt = Adam::new([weight.clone()], AdamOptions::new().lr(0.1))?;
    weight.set_grad(array![[1.0, -2.0], [0.5, 0.25]])?;
    opt.step()?;
    // For torch.load(path, weights_only=True) and optimizer.load_state_dict: int parameter
    // indices, `step` a 0-d float32 tensor, `betas` a tuple, as torch writes them.
    checkpoint::save(dir.join("optimizer.pt"), &opt.state_dict())?;
    // ANCHOR_END: to_torch
    let back = checkpoint::pt::PtFile::open(dir.join("optimizer.pt"))?;
    let root = back.load()?;
    let group = &root
        .as_dict()
        .and_then(|d| d.get_str("param_groups"))
        .and_then(|g| g.as_sequence())
        .ok_or("param_groups")?[0];
    let betas = group.as_dict().and_then(|g| g.get_str("betas")).ok_or("betas")?;
    assert_eq!(betas.type_name(), "tuple");
    Ok(())
}

#[test]
fn a_file_that_cannot_be_read_is_a_typed_error() -> Result {
    let dir = Scratch::new("errors");
    let path = dir.join("optimizer.pt");
    std::fs::write(&path, "not a checkpoint")?;
    // ANCHOR: errors
    match checkpoint::load(&path) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {} // no file yet
        Err(Error::Checkpoint { source, .. }) => {
            // The format's own error: which record, opcode, global, tensor or shard.
            match source.downcast_ref::<checkpoint::Error>() {
                Some(checkpoint::Error::ForbiddenGlobal { module, name, .. }) => {
                    eprintln!("refusing a file that calls {module}.{name}")
                }
                Some(other) => eprintln!("not a checkpoint: {other}"),
                None => unreachable!("checkpoint errors are optim_checkpoint's"),
            }
        }
        Err(other) => return Err(other.into()),
        Ok(file) => drop(file),
    }
    // ANCHOR_END: errors
    let Err(Error::Checkpoint { source, .. }) = checkpoint::load(&path) else {
        panic!("the text file must be refused")
    };
    assert!(matches!(
        source.downcast_ref::<checkpoint::Error>(),
        Some(checkpoint::Error::Zip { .. })
    ));
    Ok(())
}
