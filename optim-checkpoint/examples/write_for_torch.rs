//! Writes `.pt` files with this crate's writer for `scripts/check_with_torch.py` to load
//! with real PyTorch: every fixture read and written again, an Adam state dict built from
//! slices, and a file of everything else the data model holds.
//!
//! `cargo run -p optim-checkpoint --example write_for_torch -- OUT_DIR [FIXTURE_DIR]`

use std::path::{Path, PathBuf};

use optim_checkpoint::pt::{self, DType, Dict, Key, Object, PtFile, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: write_for_torch OUT_DIR [FIXTURE_DIR]")?);
    let fixtures = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/torch/checkpoints"));
    std::fs::create_dir_all(out.join("roundtrip"))?;

    // Every fixture, read and written again.
    let mut names: Vec<_> = std::fs::read_dir(&fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pt"))
        .collect();
    names.sort();
    for path in names {
        let file = PtFile::open(&path)?;
        let tree = file.load()?;
        let target = out.join("roundtrip").join(path.file_name().ok_or("no file name")?);
        pt::save(&target, &tree)?;
        println!("wrote {}", target.display());
    }

    // An Adam state dict for parameters of shapes [3, 2] and [4] (float32), built from
    // slices: value k of tensor t is (k + 1) * 0.125 * (t + 1) for exp_avg, its square for
    // exp_avg_sq; step is a 0-d float32 tensor 5.
    let exp_avg: Vec<Vec<f32>> = [6usize, 4].iter().enumerate().map(|(t, &n)| values(t, n)).collect();
    let exp_avg_sq: Vec<Vec<f32>> = exp_avg.iter().map(|v| v.iter().map(|x| x * x).collect()).collect();
    let step = [5.0f32];
    let shapes: [&[usize]; 2] = [&[3, 2], &[4]];
    let mut state = Dict::new();
    for (index, shape) in shapes.iter().enumerate() {
        let mut param = Dict::new();
        param.insert("step", Tensor::from_slice(&[], &step)?);
        param.insert("exp_avg", Tensor::from_slice(shape, &exp_avg[index])?);
        param.insert("exp_avg_sq", Tensor::from_slice(shape, &exp_avg_sq[index])?);
        state.insert(index as i64, param);
    }
    let mut group = Dict::new();
    group.insert("lr", 0.01);
    group.insert("betas", Object::Tuple(vec![Object::Float(0.9), Object::Float(0.999)]));
    group.insert("eps", 1e-8);
    group.insert("weight_decay", 0i64);
    group.insert("amsgrad", false);
    group.insert("maximize", false);
    group.insert("foreach", Object::None);
    group.insert("capturable", false);
    group.insert("differentiable", false);
    group.insert("fused", Object::None);
    group.insert("decoupled_weight_decay", false);
    group.insert("params", Object::List(vec![Object::Int(0), Object::Int(1)]));
    let mut adam = Dict::new();
    adam.insert("state", state);
    adam.insert("param_groups", Object::List(vec![Object::Dict(group)]));
    pt::save(out.join("adam_from_slices.pt"), &Object::Dict(adam))?;

    // Everything else: views sharing a storage, a transposed view, a parameter, an
    // OrderedDict with _metadata, every dtype, 0-d and empty tensors, large and negative
    // ints, nested tuples, key kinds.
    let grid: Vec<f64> = (0..12).map(f64::from).collect();
    let whole = Tensor::from_slice(&[3, 4], &grid)?;
    let column = Tensor::strided(DType::Float64, vec![3], vec![4], 2, whole.storage_bytes())?;
    let transposed = Tensor::strided(DType::Float64, vec![4, 3], vec![1, 4], 0, whole.storage_bytes())?;
    let halves = [pt::f16::from_f32(0.5), pt::f16::from_f32(-1.25)];
    let brains = [pt::bf16::from_f32(3.0), pt::bf16::from_f32(-0.125)];
    let (i8s, u8s, i16s, i32s, i64s) = (
        [-128i8, 127],
        [0u8, 255],
        [-32768i16, 7],
        [-5i32, 1 << 30],
        [i64::MIN, i64::MAX],
    );
    let flags = [true, false, true];
    let empty: [f32; 0] = [];
    let weight = [1.5f32, -2.5];
    let mut model = Dict::new_ordered();
    model.insert("weight", Tensor::from_slice(&[2], &weight)?);
    let mut version = Dict::new();
    version.insert("version", 1i64);
    let mut metadata = Dict::new_ordered();
    metadata.insert("", version);
    model.set_attribute("_metadata", metadata);
    let mut tensors = Dict::new();
    tensors.insert("whole", whole.clone());
    tensors.insert("column", column);
    tensors.insert("transposed", transposed);
    tensors.insert(
        "param",
        Tensor::from_slice(&[2], &weight)?
            .with_parameter(true)
            .with_requires_grad(true),
    );
    tensors.insert("f16", Tensor::from_slice(&[2], &halves)?);
    tensors.insert("bf16", Tensor::from_slice(&[2], &brains)?);
    tensors.insert("i8", Tensor::from_slice(&[2], &i8s)?);
    tensors.insert("u8", Tensor::from_slice(&[2], &u8s)?);
    tensors.insert("i16", Tensor::from_slice(&[2], &i16s)?);
    tensors.insert("i32", Tensor::from_slice(&[2], &i32s)?);
    tensors.insert("i64", Tensor::from_slice(&[2], &i64s)?);
    tensors.insert("bool", Tensor::from_slice(&[3], &flags)?);
    tensors.insert("empty", Tensor::from_slice(&[0, 3], &empty)?);
    tensors.insert("scalar", Tensor::from_slice(&[], &weight[1..])?);
    let mut keys = Dict::new();
    keys.insert(Key::Int(-7), "int");
    keys.insert(Key::Bool(true), "bool");
    keys.insert(Key::None, "none");
    keys.insert(Key::Float(2.5), "float");
    keys.insert(Key::Tuple(vec![Key::Int(1), Key::from("a")]), "tuple");
    let mut root = Dict::new();
    root.insert("model", model);
    root.insert("tensors", tensors);
    root.insert("keys", keys);
    root.insert(
        "ints",
        Object::List(
            [0, 255, 256, 65535, 65536, -1, -(1 << 31), (1 << 31), i64::MIN, i64::MAX]
                .map(Object::Int)
                .to_vec(),
        ),
    );
    root.insert(
        "nested",
        Object::Tuple(vec![
            Object::Tuple(vec![]),
            Object::Tuple(vec![Object::None, Object::Float(-0.0)]),
            Object::List(vec![]),
        ]),
    );
    root.insert("text", "héllo ✓");
    pt::save(out.join("kitchen_sink.pt"), &Object::Dict(root))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn values(tensor: usize, n: usize) -> Vec<f32> {
    (0..n).map(|k| (k + 1) as f32 * 0.125 * (tensor + 1) as f32).collect()
}
