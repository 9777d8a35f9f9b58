//! The writer as a user sees it: a state dict built from slices is written in torch's
//! layout, reads back with the same values and types, and replaces files atomically.

use std::io::{self, Write};

use optim_checkpoint::Error;
use optim_checkpoint::pt::{self, DType, Dict, Key, Object, Tensor};

/// An Adam-like state dict: int state keys, 0-d float32 `step`, float64 moments, a tuple.
fn state_dict<'a>(step: &'a [f32], exp_avg: &'a [f64], exp_avg_sq: &'a [f64]) -> Object<'a> {
    let mut param_state = Dict::new();
    param_state.insert("step", Tensor::from_slice(&[], step).expect("one element"));
    param_state.insert("exp_avg", Tensor::from_slice(&[2, 2], exp_avg).expect("four elements"));
    param_state.insert(
        "exp_avg_sq",
        Tensor::from_slice(&[2, 2], exp_avg_sq).expect("four elements"),
    );
    let mut state = Dict::new();
    state.insert(0, param_state);
    let mut group = Dict::new();
    group.insert("lr", 1e-3);
    group.insert("betas", Object::Tuple(vec![Object::Float(0.9), Object::Float(0.999)]));
    group.insert("weight_decay", 0i64);
    group.insert("foreach", Object::None);
    group.insert("params", Object::List(vec![Object::Int(0)]));
    let mut root = Dict::new();
    root.insert("state", state);
    root.insert("param_groups", Object::List(vec![Object::Dict(group)]));
    Object::Dict(root)
}

#[test]
fn a_state_dict_reads_back_with_its_types_and_values() {
    let (step, m, v) = ([4.0f32], [0.1, -0.2, 0.3, -0.4], [1e-3, 2e-3, 3e-3, 4e-3]);
    let bytes = pt::write(Vec::new(), &state_dict(&step, &m, &v)).unwrap();
    let tree = pt::load_bytes(&bytes).unwrap();
    let root = tree.as_dict().unwrap();
    let param = root
        .get_str("state")
        .unwrap()
        .as_dict()
        .unwrap()
        .get_int(0)
        .unwrap()
        .as_dict()
        .unwrap();
    assert!(
        root.get_str("state")
            .unwrap()
            .as_dict()
            .unwrap()
            .iter()
            .all(|(k, _)| matches!(k, Key::Int(0)))
    );
    let step_t = param.get_str("step").unwrap().as_tensor().unwrap();
    assert_eq!((step_t.dtype(), step_t.shape()), (DType::Float32, &[][..]));
    assert_eq!(step_t.to_vec::<f32>().unwrap(), vec![4.0]);
    let m_t = param.get_str("exp_avg").unwrap().as_tensor().unwrap();
    assert_eq!(
        (m_t.dtype(), m_t.shape(), m_t.is_contiguous()),
        (DType::Float64, &[2, 2][..], true)
    );
    assert_eq!(m_t.to_vec::<f64>().unwrap(), m.to_vec());
    let group = root.get_str("param_groups").unwrap().as_sequence().unwrap()[0]
        .as_dict()
        .unwrap();
    assert_eq!(
        group.get_str("betas"),
        Some(&Object::Tuple(vec![Object::Float(0.9), Object::Float(0.999)]))
    );
    assert_eq!(group.get_str("weight_decay"), Some(&Object::Int(0)));
    assert_eq!(group.get_str("foreach"), Some(&Object::None));
}

#[test]
fn records_are_torchs_in_its_order_stored_and_aligned() {
    let (step, m, v) = ([1.0f32], [0.0; 4], [0.0; 4]);
    let bytes = pt::write(Vec::new(), &state_dict(&step, &m, &v)).unwrap();
    let mut zip = zip::ZipArchive::new(io::Cursor::new(&bytes)).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    let expected = [
        "data.pkl",
        ".format_version",
        ".storage_alignment",
        "byteorder",
        "data/0",
        "data/1",
        "data/2",
        "version",
        ".data/serialization_id",
    ];
    assert_eq!(
        names,
        expected.iter().map(|n| format!("archive/{n}")).collect::<Vec<_>>()
    );
    for i in 0..zip.len() {
        let file = zip.by_index_raw(i).unwrap();
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        assert_eq!(file.compression(), zip::CompressionMethod::Stored, "{name}");
        assert_eq!(file.data_start().unwrap() % 64, 0, "{name} is not 64-byte aligned");
    }
    let mut read = |name: &str| {
        let mut file = zip.by_name(&format!("archive/{name}")).unwrap();
        let mut out = Vec::new();
        io::Read::read_to_end(&mut file, &mut out).unwrap();
        out
    };
    assert_eq!(read("byteorder"), b"little");
    assert_eq!(read("version"), b"3\n");
    assert_eq!(read(".format_version"), b"1");
    assert_eq!(read(".storage_alignment"), b"64");
    assert_eq!(read("data/0"), 1.0f32.to_le_bytes());
    let id = read(".data/serialization_id");
    assert!(id.len() == 40 && id.iter().all(u8::is_ascii_digit), "{id:?}");
}

#[test]
fn tensors_over_one_buffer_get_storages_of_their_own() {
    // Shared storages are aliases in torch: an optimizer stepping one would change the
    // other. One slice given twice (a common `step`, say) must not become that.
    let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let whole = Tensor::from_slice(&[3, 4], &data).unwrap();
    let column = Tensor::strided(DType::Float32, vec![3], vec![4], 1, whole.storage_bytes()).unwrap();
    let tree = Object::List(vec![
        Object::Tensor(whole.clone()),
        Object::Tensor(column),
        Object::Tensor(whole),
    ]);
    let bytes = pt::write(Vec::new(), &tree).unwrap();
    let zip = zip::ZipArchive::new(io::Cursor::new(&bytes)).unwrap();
    assert_eq!(
        zip.file_names_raw().filter(|n| n.starts_with(b"archive/data/")).count(),
        3
    );
    let back = pt::load_bytes(&bytes).unwrap();
    let items = back.as_sequence().unwrap();
    let column = items[1].as_tensor().unwrap();
    assert_eq!(column.to_vec::<f32>().unwrap(), vec![1.0, 5.0, 9.0]);
    assert_eq!(
        (column.strides(), column.storage_offset()),
        (&[4][..], 1),
        "the view is kept"
    );
    let (first, third) = (items[0].as_tensor().unwrap(), items[2].as_tensor().unwrap());
    assert!(!std::ptr::eq(first.storage_bytes(), third.storage_bytes()));
    assert_eq!(first.storage_bytes(), third.storage_bytes());
}

#[test]
fn every_dtype_ordered_dicts_and_parameters_round_trip() {
    let f16s = [pt::f16::from_f32(0.5), pt::f16::from_f32(-2.0)];
    let bf16s = [pt::bf16::from_f32(3.0)];
    let (i8s, u8s, i16s, i32s, i64s) = ([-1i8], [255u8], [-300i16], [1i32 << 20], [i64::MIN]);
    let flags = [true, false];
    let mut model = Dict::new_ordered();
    model.insert("h", Tensor::from_slice(&[2], &f16s).unwrap());
    model.insert("b", Tensor::from_slice(&[1], &bf16s).unwrap());
    model.insert("i8", Tensor::from_slice(&[1], &i8s).unwrap());
    model.insert("u8", Tensor::from_slice(&[1], &u8s).unwrap());
    model.insert("i16", Tensor::from_slice(&[1], &i16s).unwrap());
    model.insert("i32", Tensor::from_slice(&[1], &i32s).unwrap());
    model.insert(
        "i64",
        Tensor::from_slice(&[1], &i64s)
            .unwrap()
            .with_parameter(true)
            .with_requires_grad(true),
    );
    model.insert("bool", Tensor::from_slice(&[2], &flags).unwrap());
    let mut metadata = Dict::new_ordered();
    metadata.insert("", Object::Dict([("version", 1i64)].into_iter().collect()));
    assert!(model.set_attribute("_metadata", metadata));
    let tree = Object::Dict(model);
    let bytes = pt::write(Vec::new(), &tree).unwrap();
    let back = pt::load_bytes(&bytes).unwrap();
    assert_eq!(back, tree);
    let model = back.as_dict().unwrap();
    assert!(model.is_ordered());
    assert_eq!(model.attributes().next().map(|(name, _)| name), Some("_metadata"));
    let param = model.get_str("i64").unwrap().as_tensor().unwrap();
    assert!(param.is_parameter() && param.requires_grad());
    assert_eq!(
        model
            .get_str("h")
            .unwrap()
            .as_tensor()
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![0.5, -2.0]
    );
    assert_eq!(
        model
            .get_str("bool")
            .unwrap()
            .as_tensor()
            .unwrap()
            .to_vec::<bool>()
            .unwrap(),
        vec![true, false]
    );
}

#[test]
fn save_replaces_the_file_atomically_and_leaves_nothing_behind() {
    let dir = std::env::temp_dir().join(format!("optim-checkpoint-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("optimizer.pt");
    let (step, m, v) = ([1.0f32], [1.0; 4], [2.0; 4]);
    pt::save(&path, &state_dict(&step, &m, &v)).unwrap();
    let first = std::fs::read(&path).unwrap();
    assert!(pt::load_bytes(&first).is_ok());

    // A second save replaces it.
    let step2 = [2.0f32];
    pt::save(&path, &state_dict(&step2, &m, &v)).unwrap();
    let second = pt::PtFile::open(&path).unwrap();
    let tree = second.load().unwrap();
    let step_back = tree
        .as_dict()
        .unwrap()
        .get_str("state")
        .unwrap()
        .as_dict()
        .unwrap()
        .get_int(0)
        .unwrap();
    let step_back = step_back
        .as_dict()
        .unwrap()
        .get_str("step")
        .unwrap()
        .as_tensor()
        .unwrap();
    assert_eq!(step_back.to_vec::<f32>().unwrap(), vec![2.0]);

    // A tree that cannot be written leaves the old file as it was, and no temporary file.
    let before = std::fs::read(&path).unwrap();
    let mut deep = Object::None;
    for _ in 0..10_000 {
        deep = Object::List(vec![deep]);
    }
    assert!(matches!(pt::save(&path, &deep), Err(Error::TooDeep { .. })));
    std::mem::forget(deep); // dropping 10 000 nested lists recursively is not what is tested
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("optimizer.pt")]);

    // A directory that does not exist is an I/O error naming it.
    let missing = dir.join("missing").join("x.pt");
    assert!(matches!(pt::save(&missing, &Object::None), Err(Error::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

struct FailingWriter;

impl Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_errors_are_reported() {
    let Err(e) = pt::write(FailingWriter, &Object::Int(1)) else {
        panic!("writing to a failing writer succeeded")
    };
    assert!(
        matches!(&e, Error::Write { source } if source.to_string() == "disk full"),
        "{e}"
    );
}
