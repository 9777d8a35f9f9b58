//! Times Adam's step across MPI ranks and prints one JSON line per configuration (rank 0):
//! the local step alone, the data-parallel step (gradients averaged, then the step) and
//! the ZeRO-1 step (gradients averaged, each rank steps its partition, then broadcasts
//! it), each with bucket fusion on (25 MiB buckets) and off (one collective per tensor);
//! and ZeRO-1 with its rollback copy on (its default), fused.
//!
//! ```sh
//! cargo build --release --example mpi_bench
//! mpirun -n 2 target/release/examples/mpi_bench
//! mpirun -n 2 target/release/examples/mpi_bench --layout c --steps 5
//! ```
//!
//! `--layout` a (1 × 16,777,216), c (65,536 × 256) or all (the default); `--steps` timed
//! steps (the median is reported; default 11). Each rank steps on one thread (the ranks
//! are the parallelism). A step's time is the slowest rank's, between two barriers.

use std::time::Instant;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use optim_mpi::{DataParallel, ZeroRedundancy};
use optimizers::ndarray::ArrayD;
use optimizers::{Adam, AdamOptions, Optimizer, Param};

const FUSED: usize = 25 << 20;

fn params(layout: char, rank: usize) -> Vec<Param<f32>> {
    let (count, len) = match layout {
        'a' => (1, 16_777_216),
        _ => (65_536, 256),
    };
    (0..count)
        .map(|k| {
            let p = Param::new(ArrayD::from_shape_fn(vec![len], |i| ((i[0] + k) % 101) as f32 * 0.01));
            let g = ArrayD::from_shape_fn(vec![len], |i| ((i[0] * 7 + k + rank) % 13) as f32 * 0.1 - 0.6);
            p.set_grad(g).expect("the shape is the parameter's");
            p
        })
        .collect()
}

fn adam(params: &[Param<f32>]) -> Optimizer<Adam, f32> {
    let mut opt = Adam::new(params.to_vec(), AdamOptions::new().lr(1e-3)).expect("valid options");
    opt.set_parallel(false);
    opt
}

/// The median over `steps` of the slowest rank's time for `step`, in milliseconds.
fn time(comm: &SimpleCommunicator, steps: usize, mut step: impl FnMut()) -> (f64, f64) {
    for _ in 0..2 {
        step();
    }
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        comm.barrier();
        let start = Instant::now();
        step();
        let mine = start.elapsed().as_secs_f64() * 1e3;
        let mut slowest = 0.0f64;
        comm.all_reduce_into(&mine, &mut slowest, SystemOperation::max());
        times.push(slowest);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

fn main() {
    let universe = mpi::initialize().expect("MPI initializes once");
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let mut layouts = vec!['a', 'c'];
    let mut steps = 11;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--layout" if value != "all" => layouts = value.chars().filter(|c| matches!(c, 'a' | 'c')).collect(),
            "--layout" => {}
            "--steps" => steps = value.parse().unwrap_or(steps).max(1),
            other => {
                eprintln!("mpi_bench: unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    for layout in layouts {
        let report = |mode: &str, bucket: Option<usize>, (median, min): (f64, f64), state: usize| {
            let mut most = 0u64;
            world.all_reduce_into(&(state as u64), &mut most, SystemOperation::max());
            if rank == 0 {
                let (tensors, elements) = if layout == 'a' { (1, 16_777_216) } else { (65_536, 256) };
                let bucket = bucket.map_or("null".to_string(), |b| b.to_string());
                println!(
                    "{{\"bench\":\"mpi\",\"ranks\":{size},\"layout\":\"{layout}\",\"tensors\":{tensors},\"elements_per_tensor\":{elements},\"opt\":\"adam\",\"dtype\":\"f32\",\"mode\":\"{mode}\",\"bucket_bytes\":{bucket},\"median_ms\":{median:.2},\"min_ms\":{min:.2},\"max_state_bytes_per_rank\":{most},\"steps\":{steps}}}"
                );
            }
        };
        {
            let p = params(layout, rank);
            let mut opt = adam(&p);
            let t = time(&world, steps, || opt.step().expect("a finite step"));
            report("local", None, t, single_state_bytes(&opt));
        }
        for bucket in [FUSED, 0] {
            let p = params(layout, rank);
            let mut dp = DataParallel::new(world.duplicate(), Box::new(adam(&p))).expect("same model on every rank");
            dp.set_bucket_bytes(bucket);
            let t = time(&world, steps, || dp.step().expect("a finite step"));
            report("data-parallel", Some(bucket), t, dp.state_bytes());
        }
        for (bucket, rollback) in [(FUSED, false), (0, false), (FUSED, true)] {
            let p = params(layout, rank);
            let mut zero =
                ZeroRedundancy::new(world.duplicate(), Box::new(adam(&p))).expect("same model on every rank");
            zero.set_bucket_bytes(bucket);
            zero.set_rollback(rollback);
            let t = time(&world, steps, || zero.step().expect("a finite step"));
            let mode = if rollback { "zero-1+rollback" } else { "zero-1" };
            report(mode, Some(bucket), t, zero.state_bytes());
        }
    }
}

/// The bytes of a single-process optimizer's state tensors.
fn single_state_bytes(opt: &Optimizer<Adam, f32>) -> usize {
    opt.state_dict()
        .state
        .values()
        .flat_map(|entry| entry.iter().map(|(_, v)| v.clone()))
        .map(|v| match v {
            optimizers::DictValue::Tensor(t) => t.len() * t.dtype().size(),
            _ => 0,
        })
        .sum()
}
