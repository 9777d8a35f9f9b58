//! A training checkpoint — an optimizer's state dict, its learning-rate schedule's and an
//! exponential moving average of the weights, side by side in one tree — saved in every
//! format the library writes (JSON, safetensors whole and in shards, PyTorch's `.pt`),
//! read back into a fresh optimizer, schedule and average, and continued: the run must go
//! on bit for bit as if it had never stopped.

use optim_tests::trees::TempDir;
use optimizers::average::Averaged;
use optimizers::checkpoint::{self, SaveOptions};
use optimizers::dict::tree_to_json;
use optimizers::lr_scheduler::{OneCycleLR, OneCycleLROptions, Scheduler};
use optimizers::ndarray::{Array, IxDyn};
use optimizers::{Adam, AdamOptions, DictValue, Map, Optimizer, Param, ParamGroup, StateDict};

/// A run's numbers, bit for bit: the weights, their averages, the learning rates, and the
/// optimizer's, schedule's and average's state dicts.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    weights: Vec<Vec<u32>>,
    averages: Vec<Vec<u32>>,
    lrs: Vec<u64>,
    optimizer: String,
    schedule: String,
    average: String,
}

/// Everything a run keeps between steps.
struct Run {
    params: Vec<Param<f32>>,
    opt: Optimizer<Adam, f32>,
    sched: Scheduler<OneCycleLR>,
    ema: Averaged<f32>,
    steps: u32,
}

/// Parameters of a small model: a matrix, a vector, and a 0-d scale.
fn params() -> Vec<Param<f32>> {
    let matrix = Array::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] as f32 - 1.0) * 0.25 + i[1] as f32 * 0.125);
    let vector = Array::from_shape_fn(IxDyn(&[5]), |i| 0.5 - i[0] as f32 * 0.2);
    vec![
        Param::named("fc.weight", matrix),
        Param::named("fc.bias", vector),
        Param::named("scale", Array::from_elem(IxDyn(&[]), 1.5f32)),
    ]
}

impl Run {
    /// Adam with two groups, a one-cycle schedule that also cycles `betas[0]`, and an EMA.
    fn new(params: Vec<Param<f32>>) -> Run {
        let mut opt = Adam::with_groups(
            [
                ParamGroup::new(params[..2].iter().cloned()).options(AdamOptions::new().weight_decay(1e-2)),
                ParamGroup::new([params[2].clone()]).options(AdamOptions::new().lr(3e-2).amsgrad(true)),
            ],
            AdamOptions::new().lr(1e-2),
        )
        .expect("valid options");
        let sched = OneCycleLR::builder(OneCycleLROptions::new().max_lr(0.05).total_steps(40))
            .build(&mut opt)
            .expect("a valid schedule");
        let ema = Averaged::ema(&params, 0.9).expect("an average of the parameters");
        Run {
            params,
            opt,
            sched,
            ema,
            steps: 0,
        }
    }

    /// `n` steps on gradients that depend on the values and the step number.
    fn train(&mut self, n: u32) {
        for _ in 0..n {
            self.steps += 1;
            let t = self.steps as f32;
            for (k, p) in self.params.iter().enumerate() {
                let grad = p.value().mapv(|x| (x * (k as f32 + 1.0) - 0.3).sin() + 0.01 * t);
                p.set_grad(grad).expect("the gradient has the value's shape");
            }
            self.opt.step().expect("a finite step");
            self.sched.step(&mut self.opt).expect("within the schedule");
            self.ema.update(&self.params).expect("the same parameters");
        }
    }

    /// The checkpoint's tree.
    fn save(&self, path: &std::path::Path, options: SaveOptions<'_>) {
        let optimizer = self.opt.state_dict();
        let mut tree = Map::new();
        tree.insert("optimizer", optimizer.to_tree());
        tree.insert("scheduler", self.sched.state_dict());
        tree.insert("ema", self.ema.state_dict());
        tree.insert("steps", i64::from(self.steps));
        checkpoint::save_tree_with(path, &DictValue::Map(tree), options).expect("the checkpoint is written");
    }

    /// A fresh run over copies of the current weights, loaded from `path`.
    fn resume(&self, path: &std::path::Path) -> Run {
        let copies = self
            .params
            .iter()
            .map(|p| Param::named(p.name().expect("named"), p.to_array()))
            .collect();
        let mut run = Run::new(copies);
        let file = checkpoint::load(path).expect("the checkpoint is read");
        let DictValue::Map(tree) = file.tree() else {
            panic!("{}: the checkpoint's root is not a map", path.display());
        };
        let entry = |key: &str| {
            tree.get(key)
                .unwrap_or_else(|| panic!("{}: no `{key}`", path.display()))
        };
        let optimizer = StateDict::from_tree(entry("optimizer").clone()).expect("an optimizer's state dict");
        run.opt.load_state_dict(&optimizer).expect("the optimizer loads");
        run.sched
            .load_state_dict(entry("scheduler"))
            .expect("the schedule loads");
        run.ema.load_state_dict(entry("ema")).expect("the average loads");
        run.steps = match entry("steps") {
            DictValue::Int(n) => u32::try_from(*n).expect("a small count"),
            other => panic!("{}: `steps` is {other:?}", path.display()),
        };
        run
    }

    /// Every number of the run, bit for bit.
    fn fingerprint(&self) -> Fingerprint {
        let bits = |ps: &[Param<f32>]| -> Vec<Vec<u32>> {
            ps.iter()
                .map(|p| p.to_array().iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        Fingerprint {
            weights: bits(&self.params),
            averages: bits(self.ema.params()),
            lrs: self.sched.get_last_lr().iter().map(|x| x.to_bits()).collect(),
            optimizer: self.opt.state_dict().to_json(),
            schedule: tree_to_json(&self.sched.state_dict()),
            average: tree_to_json(&self.ema.state_dict()),
        }
    }
}

#[test]
fn optimizer_schedule_and_average_resume_bit_for_bit_from_every_format() {
    let dir = TempDir::new("optim-resume-formats");
    let formats: [(&str, SaveOptions<'_>); 4] = [
        ("run.json", SaveOptions::new()),
        ("run.safetensors", SaveOptions::new()),
        // Small shards: the state's tensors spread over several files and an index.
        ("sharded.safetensors", SaveOptions::new().max_shard_size(64)),
        ("run.pt", SaveOptions::new()),
    ];
    let mut reference = Run::new(params());
    reference.train(12);
    let saved_at = reference.fingerprint();
    for (name, options) in formats {
        let path = dir.join(name);
        reference.save(&path, options);
        let mut resumed = reference.resume(&path);
        assert_eq!(
            resumed.fingerprint(),
            saved_at,
            "{name}: the loaded run is the saved one"
        );

        let mut continued = Run::new(params());
        continued.train(12);
        continued.train(20);
        resumed.train(20);
        assert_eq!(
            resumed.fingerprint(),
            continued.fingerprint(),
            "{name}: the resumed run continues bit for bit"
        );
    }
    let shards = std::fs::read_dir(dir.path())
        .expect("the directory")
        .filter(|e| {
            let name = e.as_ref().expect("an entry").file_name();
            name.to_string_lossy().starts_with("sharded-")
        })
        .count();
    assert!(shards >= 2, "the sharded save wrote {shards} shard(s)");
    assert!(dir.join("sharded.safetensors.index.json").exists(), "and an index");
}
