//! Data-parallel training over MPI: linear regression, each rank on its own slice of the
//! data, first with gradients averaged ([`DataParallel`]), then with Adam's state sharded
//! ([`ZeroRedundancy`]), consolidated and saved.
//!
//! ```sh
//! cargo build --example data_parallel
//! mpirun -n 2 target/debug/examples/data_parallel
//! ```

use mpi::traits::*;
use optim_mpi::{DataParallel, ZeroRedundancy};
use optimizers::ndarray::{Array1, Array2, Ix1};
use optimizers::{Adam, AdamOptions, Param, checkpoint};

/// This rank's slice of the data: rows `rank, rank + size, ...` of one data set, the same
/// on every rank (a fixed formula stands in for a data loader).
fn shard(rank: usize, size: usize) -> (Array2<f32>, Array1<f32>) {
    let rows: Vec<usize> = (rank..1024).step_by(size).collect();
    let x = Array2::from_shape_fn((rows.len(), 8), |(i, j)| {
        (((rows[i] * 7 + j * 13) % 23) as f32 - 11.0) / 11.0
    });
    let truth = Array1::from_shape_fn(8, |j| j as f32 * 0.5 - 2.0);
    let y = x.dot(&truth) + 0.25;
    (x, y)
}

/// Sets the gradients of the mean squared error on this rank's slice; returns the loss.
fn backward(w: &Param<f32>, b: &Param<f32>, x: &Array2<f32>, y: &Array1<f32>) -> optimizers::Result<f32> {
    let bias = b.value()[0];
    let weights = w
        .value()
        .view()
        .into_dimensionality::<Ix1>()
        .expect("w is a vector")
        .to_owned();
    let residual: Array1<f32> = x.dot(&weights) + bias - y;
    let n = y.len() as f32;
    w.set_grad(x.t().dot(&residual) * (2.0 / n))?;
    b.set_grad(Array1::from_elem(1, residual.sum() * 2.0 / n))?;
    Ok(residual.mapv(|r| r * r).mean().unwrap_or_default())
}

fn main() -> Result<(), optim_mpi::Error> {
    // ANCHOR: data_parallel
    let universe = mpi::initialize().expect("MPI initializes once");
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let (x, y) = shard(rank, size);

    let w = Param::named("w", Array1::<f32>::zeros(8));
    let b = Param::named("b", Array1::<f32>::zeros(1));
    let adam = Adam::new([w.clone(), b.clone()], AdamOptions::new().lr(0.05))?;
    // Broadcasts rank 0's parameters; 1 MiB buckets for the gradients.
    let mut opt = DataParallel::new(world.duplicate(), Box::new(adam))?;
    opt.set_bucket_bytes(1 << 20);
    for step in 0..300 {
        let loss = backward(&w, &b, &x, &y)?; // this rank's gradients
        opt.step()?; // averaged over the ranks, then Adam's step, on every rank
        if rank == 0 && step % 100 == 0 {
            println!("data-parallel step {step}: rank 0's loss {loss:.5}");
        }
    }
    // ANCHOR_END: data_parallel
    let (loss, bias) = (backward(&w, &b, &x, &y)?, b.value()[0]);
    if rank == 0 {
        println!("data-parallel: loss {loss:.6}, bias {bias:.4} (0.25 generated the data)");
    }

    // ANCHOR: zero
    let w = Param::named("w", Array1::<f32>::zeros(8));
    let b = Param::named("b", Array1::<f32>::zeros(1));
    let adam = Adam::new([w.clone(), b.clone()], AdamOptions::new().lr(0.05))?;
    let mut opt = ZeroRedundancy::new(world.duplicate(), Box::new(adam))?;
    for _ in 0..300 {
        backward(&w, &b, &x, &y)?;
        opt.step()?; // each rank steps, and keeps Adam's state for, its own parameters
    }
    // One state dict on rank 0, in the single-process format: any Adam over [w, b] loads it.
    let mut run = std::process::id();
    world.process_at_rank(0).broadcast_into(&mut run); // one directory name for all ranks
    let dir = std::env::temp_dir().join(format!("optim-mpi-example-{run}"));
    if let Some(dict) = opt.consolidate_state_dict(0)? {
        std::fs::create_dir_all(&dir).ok();
        checkpoint::save(dir.join("adam.safetensors"), &dict)?;
        let mut single = Adam::new([w.clone(), b.clone()], AdamOptions::new())?;
        single.load_state_dict(&dict)?;
    }
    // The scalable path: one file per rank, and an index.
    let shards = dir.join("shards");
    opt.save_shards(&shards)?;
    opt.load_shards(&shards)?;
    // ANCHOR_END: zero
    let loss = backward(&w, &b, &x, &y)?;
    if rank == 0 {
        println!(
            "ZeRO-1: loss {loss:.6}; owners {:?}; this rank's state {} bytes",
            opt.owners(),
            opt.state_bytes()
        );
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}
