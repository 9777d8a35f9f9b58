//! Every format as a user sees it: state dicts and trees round-trip bit for bit, the
//! format follows the file name, files are replaced atomically, safetensors sets are split
//! and read back, `.pt` state dicts are laid out as torch's, and errors name the file.

use std::path::PathBuf;

use optim_checkpoint::pt::{self, Key, Object};
use optim_checkpoint::{Error, Format, SaveOptions};
use optim_core::{DType, DictGroup, DictTensor, DictValue, Map, StateDict};

/// A directory removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("optim-checkpoint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a writable temporary directory");
        Dir(dir)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tensor<const N: usize>(shape: &[usize], values: [f64; N], dtype: DType) -> DictValue<'static> {
    DictValue::Tensor(match dtype {
        DType::F64 => DictTensor::owned(shape, &values).expect("the values fill the shape"),
        DType::F32 => DictTensor::owned(shape, &values.map(|x| x as f32)).expect("the values fill the shape"),
    })
}

/// Adam-like state over two parameters and an L-BFGS-like list of tensors, with NaN, -0.0,
/// both dtypes, 0-d tensors, nulls, strings and nested lists.
fn state_dict() -> StateDict<'static> {
    let mut s0 = Map::new();
    s0.insert("step", DictValue::Tensor(DictTensor::scalar(3.0f32)));
    s0.insert("exp_avg", tensor(&[2, 2], [0.1, -0.0, f64::NAN, 1e-300], DType::F64));
    s0.insert(
        "exp_avg_sq",
        tensor(&[2, 2], [1.0, 2.0, 3.0, f64::INFINITY], DType::F64),
    );
    let mut s1 = Map::new();
    s1.insert("step", DictValue::Tensor(DictTensor::scalar(3.0f32)));
    s1.insert(
        "history",
        DictValue::List(vec![
            tensor(&[3], [1.0, 2.0, 3.0], DType::F32),
            tensor(&[3], [4.0, 5.0, 6.0], DType::F32),
        ]),
    );
    s1.insert("al", DictValue::List(vec![DictValue::Float(0.5), DictValue::Null]));
    s1.insert("count", DictValue::Int(7));
    let mut options = Map::new();
    options.insert("lr", 1e-3);
    options.insert(
        "betas",
        DictValue::List(vec![DictValue::Float(0.9), DictValue::Float(0.999)]),
    );
    options.insert("line_search_fn", "strong_wolfe");
    options.insert("maximize", false);
    options.insert("foreach", DictValue::Null);
    StateDict {
        kind: Some("adam".into()),
        version: Some(1),
        state: [(0, s0), (2, s1)].into_iter().collect(),
        param_groups: vec![DictGroup {
            options,
            params: vec![0, 1, 2],
            param_names: Some(vec!["fc.weight".into(), "fc.bias".into(), "head".into()]),
        }],
    }
}

/// Bit for bit: floats by their bits, tensors by dtype, shape and bytes.
fn same(a: &DictValue<'_>, b: &DictValue<'_>) -> bool {
    match (a, b) {
        (DictValue::Float(x), DictValue::Float(y)) => x.to_bits() == y.to_bits(),
        (DictValue::List(x), DictValue::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (DictValue::Map(x), DictValue::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
        }
        (DictValue::Tensor(x), DictValue::Tensor(y)) => {
            x.dtype() == y.dtype() && x.shape() == y.shape() && x.le_bytes() == y.le_bytes()
        }
        (a, b) => a == b,
    }
}

#[test]
fn state_dicts_round_trip_bit_for_bit_in_every_format() {
    let dir = Dir::new("round-trip");
    let dict = state_dict();
    for name in ["sd.json", "sd.safetensors", "sd.pt", "sd.pth"] {
        let path = dir.join(name);
        optim_checkpoint::save(&path, &dict).unwrap();
        let file = optim_checkpoint::load(&path).unwrap();
        assert_eq!(Some(file.format()), Format::from_path(&path));
        let back = file.state_dict().unwrap();
        assert!(same(&back.to_tree(), &dict.to_tree()), "{name}: {back:?}");
    }
}

#[test]
fn trees_of_any_shape_round_trip() {
    let dir = Dir::new("trees");
    let mut inner = Map::new();
    inner.insert("a.b", tensor(&[1], [1.0], DType::F32));
    let mut tree = Map::new();
    tree.insert(
        "a",
        DictValue::Map([("b", tensor(&[1], [2.0], DType::F32))].into_iter().collect()),
    );
    tree.insert("nested", DictValue::Map(inner));
    tree.insert("lr_lambdas", DictValue::List(vec![DictValue::Null]));
    tree.insert("last_epoch", DictValue::Int(4));
    let tree = DictValue::Map(tree);
    for name in ["t.json", "t.safetensors", "t.pt"] {
        let path = dir.join(name);
        optim_checkpoint::save_tree(&path, &tree).unwrap();
        let back = optim_checkpoint::load(&path).unwrap();
        assert!(same(&back.tree(), &tree), "{name}: {:?}", back.tree());
    }
}

#[test]
fn a_pt_state_dict_is_laid_out_as_torchs() {
    let dir = Dir::new("pt-layout");
    let path = dir.join("sd.pt");
    optim_checkpoint::save(&path, &state_dict()).unwrap();
    let file = pt::PtFile::open(&path).unwrap();
    let root = file.load().unwrap();
    let root = root.as_dict().unwrap();
    let state = root.get_str("state").unwrap().as_dict().unwrap();
    assert!(state.iter().all(|(k, _)| matches!(k, Key::Int(_))), "int state keys");
    let step = state
        .get_int(0)
        .unwrap()
        .as_dict()
        .unwrap()
        .get_str("step")
        .unwrap()
        .as_tensor()
        .unwrap();
    assert_eq!((step.dtype(), step.shape()), (pt::DType::Float32, &[][..]));
    let history = state.get_int(2).unwrap().as_dict().unwrap().get_str("history").unwrap();
    assert!(matches!(history, Object::List(_)), "state lists stay lists");
    let group = root.get_str("param_groups").unwrap().as_sequence().unwrap()[0]
        .as_dict()
        .unwrap();
    assert!(
        matches!(group.get_str("betas"), Some(Object::Tuple(_))),
        "betas is a tuple"
    );
    assert_eq!(
        group.get_str("params"),
        Some(&Object::List(vec![Object::Int(0), Object::Int(1), Object::Int(2)]))
    );
    assert!(matches!(group.get_str("param_names"), Some(Object::List(_))));
}

#[test]
fn a_training_checkpoint_entry_is_read_by_its_key() {
    let dir = Dir::new("entry");
    let dict = state_dict();
    let mut root = Map::new();
    root.insert(
        "model",
        DictValue::Map([("w", tensor(&[2], [1.0, 2.0], DType::F32))].into_iter().collect()),
    );
    root.insert("optimizer", dict.to_tree());
    root.insert("epoch", DictValue::Int(3));
    let root = DictValue::Map(root);
    for name in ["c.pt", "c.safetensors", "c.json"] {
        let path = dir.join(name);
        optim_checkpoint::save_tree(&path, &root).unwrap();
        let file = optim_checkpoint::load_entry(&path, "optimizer").unwrap();
        assert!(same(&file.state_dict().unwrap().to_tree(), &dict.to_tree()), "{name}");
    }
    // The optimizer entry of a .pt training checkpoint is torch's layout too.
    let file = pt::PtFile::open(dir.join("c.pt")).unwrap();
    let root = file.load().unwrap();
    let state = root
        .as_dict()
        .unwrap()
        .get_str("optimizer")
        .unwrap()
        .as_dict()
        .unwrap()
        .get_str("state")
        .unwrap();
    assert!(state.as_dict().unwrap().iter().all(|(k, _)| matches!(k, Key::Int(_))));
}

#[test]
fn saving_replaces_the_file_and_a_mapped_one_keeps_its_bytes() {
    let dir = Dir::new("atomic");
    let path = dir.join("sd.safetensors");
    let dict = state_dict();
    optim_checkpoint::save(&path, &dict).unwrap();
    let old = optim_checkpoint::load(&path).unwrap();
    let mut changed = dict.clone();
    changed
        .state
        .get_mut(&0)
        .unwrap()
        .insert("exp_avg", tensor(&[2, 2], [9.0; 4], DType::F64));
    optim_checkpoint::save(&path, &changed).unwrap();
    // The old mapping still reads the old file: the new one was renamed over it.
    assert!(same(&old.state_dict().unwrap().to_tree(), &dict.to_tree()));
    let new = optim_checkpoint::load(&path).unwrap();
    assert!(same(&new.state_dict().unwrap().to_tree(), &changed.to_tree()));
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, ["sd.safetensors"], "no temporary file is left");
}

#[test]
fn large_state_is_split_into_shards_and_read_back() {
    let dir = Dir::new("shards");
    let path = dir.join("opt.safetensors");
    let dict = state_dict();
    let mut reported = Vec::new();
    let mut progress = |done, total| reported.push((done, total));
    optim_checkpoint::save_with(
        &path,
        &dict,
        SaveOptions::new().max_shard_size(40).progress(&mut progress),
    )
    .unwrap();
    assert!(!path.exists());
    let index = dir.join("opt.safetensors.index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    // float64 tensors first, then float32 in the order a load reads them; at most 40 bytes
    // a shard: [exp_avg], [exp_avg_sq, the two steps], [the two history tensors].
    assert_eq!(json["metadata"]["total_size"], 32 + 32 + 4 + 4 + 12 + 12);
    assert_eq!(json["weight_map"]["state.0.exp_avg"], "opt-00001-of-00003.safetensors");
    assert_eq!(json["weight_map"]["state.2.step"], "opt-00002-of-00003.safetensors");
    assert_eq!(
        json["weight_map"]["state.2.history.1"],
        "opt-00003-of-00003.safetensors"
    );
    assert_eq!(reported.last(), Some(&(96, 96)));
    for by in [&path, &index] {
        let file = optim_checkpoint::load(by).unwrap();
        assert_eq!(file.files().len(), 3);
        assert!(same(&file.state_dict().unwrap().to_tree(), &dict.to_tree()));
    }
    // Saved again as one file: the set's index goes, and the file is read.
    optim_checkpoint::save(&path, &dict).unwrap();
    assert!(!index.exists());
    assert_eq!(optim_checkpoint::load(&path).unwrap().files().len(), 1);
}

#[test]
fn a_safetensors_file_of_another_writer_reads_as_a_map_of_its_tensors() {
    let dir = Dir::new("foreign");
    let path = dir.join("model.safetensors");
    let header = br#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}"#;
    let mut header = header.to_vec();
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend(1.5f32.to_le_bytes());
    bytes.extend(2.5f32.to_le_bytes());
    bytes.extend(7.0f64.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let file = optim_checkpoint::load(&path).unwrap();
    let DictValue::Map(map) = file.tree() else {
        panic!("a map")
    };
    assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a"], "in file order");
    let Some(DictValue::Tensor(b)) = map.get("b") else {
        panic!("a tensor")
    };
    assert_eq!(b.to_vec::<f32>(), [1.5, 2.5]);
}

#[test]
fn errors_name_the_file_and_keep_their_kind() {
    let dir = Dir::new("errors");
    let missing = dir.join("none.json");
    let err = optim_checkpoint::load(&missing).unwrap_err();
    match &err {
        optim_core::Error::Io {
            action: "read", source, ..
        } => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read {}", missing.display())),
        "{err}"
    );

    let err = optim_checkpoint::save_with(dir.join("x.pt"), &state_dict(), SaveOptions::new().max_shard_size(10))
        .unwrap_err();
    let optim_core::Error::Checkpoint { source, path } = &err else {
        panic!("{err:?}")
    };
    assert!(path.ends_with("x.pt"));
    assert!(matches!(
        source.downcast_ref::<Error>(),
        Some(Error::ShardingUnsupported { format: "pt" })
    ));

    let err = optim_checkpoint::load(dir.join("x.npz")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "checkpoint {}: cannot tell the checkpoint format from the file name \"x.npz\": name it *.json, *.safetensors or *.pt",
            dir.join("x.npz").display()
        )
    );
}
