//! The distributed tests, run under MPI: `mpirun -n 2 target/debug/deps/mpi-*` (and
//! `-n 3`). Every rank runs every check; a check fails when it fails on any rank. Rank 0
//! prints one line per check and the closing `N passed, M failed` line; every rank exits
//! non-zero when a check failed.
//!
//! Each rank feeds its own gradients, a fixed function of (rank, step, parameter, element).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mpi::collective::SystemOperation;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::*;
use optim_mpi::{DataParallel, Error, ZeroRedundancy};
use optimizers::ndarray::ArrayD;
use optimizers::{
    Adam, AdamOptions, Lbfgs, LbfgsOptions, LineSearch, Map, Optimizer, Param, ParamGroup, Sgd, SgdOptions, StateDict,
};

type Check = Result<(), String>;
type CheckFn = dyn Fn(&SimpleCommunicator) -> Check;

/// The shapes of the test model: a few tensors in group 0, many small ones in group 1.
fn shapes() -> Vec<Vec<Vec<usize>>> {
    let mut small: Vec<Vec<usize>> = (0..40).map(|i| vec![1 + i % 7]).collect();
    small.push(vec![100]);
    vec![vec![vec![16, 8], vec![8], vec![3, 3, 3]], small]
}

/// Two groups of matrices only, for Muon (2-D parameters): a large one and a few small.
fn matrix_shapes() -> Vec<Vec<Vec<usize>>> {
    let small: Vec<Vec<usize>> = (0..9).map(|i| vec![1 + i % 3, 2 + i % 4]).collect();
    vec![vec![vec![16, 8], vec![8, 3]], small]
}

/// Parameters whose initial values depend on the rank (the wrapper makes them rank 0's).
fn model(rank: usize) -> Vec<Vec<Param<f32>>> {
    model_of(shapes(), rank)
}

/// [`model`] with the given groups of shapes.
fn model_of(shapes: Vec<Vec<Vec<usize>>>, rank: usize) -> Vec<Vec<Param<f32>>> {
    let mut k = 0;
    shapes
        .into_iter()
        .map(|group| {
            group
                .into_iter()
                .map(|shape| {
                    k += 1;
                    let n: usize = shape.iter().product();
                    let values = (0..n)
                        .map(|e| ((k * 31 + e * 7 + rank * 13) % 17) as f32 / 17.0 - 0.5)
                        .collect();
                    let array = ArrayD::from_shape_vec(shape, values).expect("shape and length agree");
                    Param::named(format!("p{k}"), array)
                })
                .collect()
        })
        .collect()
}

fn flat(model: &[Vec<Param<f32>>]) -> Vec<Param<f32>> {
    model.iter().flatten().cloned().collect()
}

/// Rank `rank`'s gradient of parameter `p` at step `step`.
fn grad(rank: usize, step: usize, p: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|e| {
            let x = ((rank + 1) * 7919 + step * 104_729 + p * 31 + e * 17) as f32 * 0.618_034;
            x.sin() * (1 + rank) as f32
        })
        .collect()
}

fn set_grads(params: &[Param<f32>], rank: usize, step: usize) {
    for (p, param) in params.iter().enumerate() {
        param
            .set_grad_from_slice(&grad(rank, step, p, param.numel()))
            .expect("the length is the parameter's");
    }
}

/// The mean of every rank's gradient, summed in rank order: what the single-process
/// reference is fed.
fn set_mean_grads(params: &[Param<f32>], world: usize, step: usize) {
    for (p, param) in params.iter().enumerate() {
        let mut sum = vec![0.0f32; param.numel()];
        for rank in 0..world {
            for (s, g) in sum.iter_mut().zip(grad(rank, step, p, param.numel())) {
                *s += g;
            }
        }
        let mean: Vec<f32> = sum.iter().map(|s| s / world as f32).collect();
        param.set_grad_from_slice(&mean).expect("the length is the parameter's");
    }
}

fn adam(model: &[Vec<Param<f32>>]) -> Optimizer<Adam, f32> {
    Adam::with_groups(
        [
            ParamGroup::new(model[0].clone()),
            ParamGroup::new(model[1].clone()).options(AdamOptions::new().lr(5e-3)),
        ],
        AdamOptions::new().lr(1e-2).weight_decay(1e-3),
    )
    .expect("valid options")
}

fn values(params: &[Param<f32>]) -> Vec<f32> {
    params
        .iter()
        .flat_map(|p| p.value().iter().copied().collect::<Vec<_>>())
        .collect()
}

fn hash(values: &[f32]) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether every rank holds bit-identical `values`.
fn identical(comm: &SimpleCommunicator, values: &[f32]) -> bool {
    let mine = hash(values);
    let mut all = vec![0u64; comm.size() as usize];
    comm.all_gather_into(&mine, &mut all[..]);
    all.iter().all(|&h| h == mine)
}

/// `a` equals `b` bit for bit with two ranks (a sum of two terms does not depend on its
/// order), and within rounding otherwise: MPI may add the ranks' gradients in another
/// order than the reference's rank order, and float addition is not associative, so the
/// mean gradients can differ in their last bit.
fn close(world: usize, a: &[f32], b: &[f32]) -> Check {
    if a.len() != b.len() {
        return Err(format!("{} values against {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let ok = if world <= 2 {
            x.to_bits() == y.to_bits()
        } else {
            (x - y).abs() <= 1e-5 * (1.0 + y.abs())
        };
        if !ok {
            return Err(format!("element {i}: {x} against {y} (world {world})"));
        }
    }
    Ok(())
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(what()) }
}

fn data_parallel_matches_mean(comm: &SimpleCommunicator, bucket: usize) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let m = model(rank);
    let params = flat(&m);
    let mut dp = DataParallel::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?;
    dp.set_bucket_bytes(bucket);
    ensure(values(&params) == values(&flat(&model(0))), || {
        "not rank 0's initial values".into()
    })?;
    let reference_model = model(0);
    let reference_params = flat(&reference_model);
    let mut reference = adam(&reference_model);
    for step in 0..6 {
        set_grads(&params, rank, step);
        dp.step().map_err(|e| format!("step {step}: {e}"))?;
        ensure(identical(comm, &values(&params)), || {
            format!("ranks differ after step {step}")
        })?;
        set_mean_grads(&reference_params, world, step);
        reference.step().map_err(|e| e.to_string())?;
        close(world, &values(&params), &values(&reference_params)).map_err(|e| format!("step {step}: {e}"))?;
    }
    Ok(())
}

fn zero_matches_data_parallel(comm: &SimpleCommunicator, bucket: usize) -> Check {
    let rank = comm.rank() as usize;
    let (m_dp, m_zero) = (model(rank), model(rank));
    let (p_dp, p_zero) = (flat(&m_dp), flat(&m_zero));
    let mut dp = DataParallel::new(comm.duplicate(), Box::new(adam(&m_dp))).map_err(|e| e.to_string())?;
    let mut zero = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m_zero))).map_err(|e| e.to_string())?;
    dp.set_bucket_bytes(bucket);
    zero.set_bucket_bytes(bucket);
    for step in 0..6 {
        set_grads(&p_dp, rank, step);
        set_grads(&p_zero, rank, step);
        dp.step().map_err(|e| e.to_string())?;
        zero.step().map_err(|e| e.to_string())?;
        let (a, b) = (values(&p_dp), values(&p_zero));
        ensure(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), || {
            format!("ZeRO-1 differs from data-parallel after step {step}")
        })?;
        ensure(identical(comm, &b), || format!("ranks differ after step {step}"))?;
    }
    let consolidated = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    if rank == 0 {
        ensure(consolidated.as_ref() == Some(&dp.state_dict().into_owned()), || {
            "the consolidated state dict is not the data-parallel optimizer's".into()
        })?;
    } else {
        ensure(consolidated.is_none(), || {
            "a state dict on a rank other than the root".into()
        })?;
    }
    Ok(())
}

/// Every bundled optimizer with per-parameter state, built by name as a
/// `Box<dyn DynOptimizer>`: ZeRO-1 is bit-identical to data-parallel over it, and holds no
/// more state than it. (Muon, which takes matrices only, over a model of matrices.)
fn every_kind_boxed(comm: &SimpleCommunicator) -> Check {
    let rank = comm.rank() as usize;
    for &kind in optimizers::registry::KINDS.iter().filter(|&&k| k != "lbfgs") {
        let build = |m: &[Vec<Param<f32>>]| {
            let groups = m.iter().map(|g| (g.clone(), Map::new())).collect();
            let defaults: Map = [("lr", 0.01)].into_iter().collect();
            optimizers::registry::build::<f32>(kind, groups, &defaults)
        };
        let kind_shapes = || if kind == "muon" { matrix_shapes() } else { shapes() };
        let (m_dp, m_zero) = (model_of(kind_shapes(), rank), model_of(kind_shapes(), rank));
        let (p_dp, p_zero) = (flat(&m_dp), flat(&m_zero));
        let fail = |e: &dyn std::fmt::Display| format!("{kind}: {e}");
        let mut dp = DataParallel::new(comm.duplicate(), build(&m_dp).map_err(|e| fail(&e))?).map_err(|e| fail(&e))?;
        let mut zero =
            ZeroRedundancy::new(comm.duplicate(), build(&m_zero).map_err(|e| fail(&e))?).map_err(|e| fail(&e))?;
        for step in 0..3 {
            set_grads(&p_dp, rank, step);
            set_grads(&p_zero, rank, step);
            dp.step().map_err(|e| fail(&e))?;
            zero.step().map_err(|e| fail(&e))?;
            let (a, b) = (values(&p_dp), values(&p_zero));
            ensure(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), || {
                format!("{kind}: ZeRO-1 differs from data-parallel after step {step}")
            })?;
        }
        ensure(zero.state_bytes() <= dp.state_bytes(), || {
            format!("{kind}: more state under ZeRO-1")
        })?;
        let consolidated = zero.consolidate_state_dict(0).map_err(|e| fail(&e))?;
        if rank == 0 {
            ensure(consolidated.as_ref() == Some(&dp.state_dict().into_owned()), || {
                format!("{kind}: the consolidated state dict is not the data-parallel one")
            })?;
        }
    }
    Ok(())
}

fn consolidate_load_continue(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let m = model(rank);
    let params = flat(&m);
    let mut zero = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?;
    for step in 0..3 {
        set_grads(&params, rank, step);
        zero.step().map_err(|e| e.to_string())?;
    }
    let root = world - 1;
    let dict = zero.consolidate_state_dict(root).map_err(|e| e.to_string())?;
    // Rank `root` resumes in a single process from the consolidated dict and the current
    // values; the distributed run continues.
    let single_model = model(0);
    let single_params = flat(&single_model);
    for (s, p) in single_params.iter().zip(&params) {
        s.set_value(p.to_array()).map_err(|e| e.to_string())?;
    }
    let mut single = adam(&single_model);
    if let Some(dict) = &dict {
        single.load_state_dict(dict).map_err(|e| e.to_string())?;
    }
    for step in 3..6 {
        set_grads(&params, rank, step);
        zero.step().map_err(|e| e.to_string())?;
        if rank == root {
            set_mean_grads(&single_params, world, step);
            single.step().map_err(|e| e.to_string())?;
            close(world, &values(&params), &values(&single_params)).map_err(|e| format!("step {step}: {e}"))?;
        }
    }
    Ok(())
}

fn load_single_process_dict(comm: &SimpleCommunicator) -> Check {
    let rank = comm.rank() as usize;
    // A single-process run, the same on every rank.
    let single_model = model(0);
    let single_params = flat(&single_model);
    let mut single = adam(&single_model);
    for step in 0..2 {
        set_grads(&single_params, 0, step);
        single.step().map_err(|e| e.to_string())?;
    }
    let dict = single.state_dict().into_owned();
    let m = model(rank);
    let params = flat(&m);
    let mut zero = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?;
    for (p, s) in params.iter().zip(&single_params) {
        p.set_value(s.to_array()).map_err(|e| e.to_string())?;
    }
    zero.load_state_dict(&dict).map_err(|e| e.to_string())?;
    let back = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    if rank == 0 {
        ensure(back.as_ref() == Some(&dict), || {
            "consolidate after load is not the loaded dict".into()
        })?;
    }
    // Every rank feeds the same gradient, in eighths: their sum and mean are exact, so the
    // sharded run continues bit for bit as the single process.
    for step in 2..4 {
        for (p, (param, twin)) in params.iter().zip(&single_params).enumerate() {
            let g: Vec<f32> = (0..param.numel())
                .map(|e| ((p + e + step) % 9) as f32 / 8.0 - 0.5)
                .collect();
            param.set_grad_from_slice(&g).map_err(|e| e.to_string())?;
            twin.set_grad_from_slice(&g).map_err(|e| e.to_string())?;
        }
        zero.step().map_err(|e| e.to_string())?;
        single.step().map_err(|e| e.to_string())?;
        close(2, &values(&params), &values(&single_params)).map_err(|e| format!("step {step}: {e}"))?;
    }
    // A dict of another optimizer fails on every rank, and changes nothing.
    let sgd_model = model(0);
    let sgd = Sgd::new(flat(&sgd_model), SgdOptions::new().lr(0.1).momentum(0.9)).map_err(|e| e.to_string())?;
    let before = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    match zero.load_state_dict(&sgd.state_dict()) {
        Err(Error::RankFailed { .. }) => {}
        other => return Err(format!("loading an SGD dict into Adam: {other:?}")),
    }
    let after = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    ensure(before == after, || "a failed load changed the state".into())
}

fn shards(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let mut id = std::process::id();
    comm.process_at_rank(0).broadcast_into(&mut id);
    let dir = std::env::temp_dir().join(format!("optim-mpi-shards-{id}"));
    let m = model(rank);
    let params = flat(&m);
    let mut zero = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?;
    for step in 0..2 {
        set_grads(&params, rank, step);
        zero.step().map_err(|e| e.to_string())?;
    }
    zero.save_shards(&dir).map_err(|e| e.to_string())?;
    let saved = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    let m2 = model(rank);
    let mut loaded = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m2))).map_err(|e| e.to_string())?;
    loaded.load_shards(&dir).map_err(|e| e.to_string())?;
    ensure(
        loaded.consolidate_state_dict(0).map_err(|e| e.to_string())? == saved,
        || "the shards loaded back differ".into(),
    )?;
    let m3 = model(rank);
    let mut resharded = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m3))).map_err(|e| e.to_string())?;
    resharded.load_shards_resharded(&dir).map_err(|e| e.to_string())?;
    ensure(
        resharded.consolidate_state_dict(0).map_err(|e| e.to_string())? == saved,
        || "the shards loaded back by re-sharding differ".into(),
    )?;
    // An index written by another world size: a typed error on every rank.
    comm.barrier();
    if rank == 0 {
        let index = dir.join(optim_mpi::SHARD_INDEX);
        let text = std::fs::read_to_string(&index).map_err(|e| e.to_string())?;
        let text = text.replace(
            &format!("\"world_size\":{world}"),
            &format!("\"world_size\":{}", world + 1),
        );
        std::fs::write(&index, text).map_err(|e| e.to_string())?;
    }
    comm.barrier();
    let result = loaded.load_shards(&dir);
    comm.barrier();
    if rank == 0 {
        std::fs::remove_dir_all(&dir).ok();
    }
    match result {
        Err(Error::WorldSize { saved, current, .. }) if saved == world + 1 && current == world => Ok(()),
        other => Err(format!("loading shards of another world size: {other:?}")),
    }
}

/// Shards saved by one rank alone (a communicator of rank 0 only) and loaded by every
/// rank: `load_shards` refuses them with the world sizes, `load_shards_resharded` takes
/// them, and the state it holds then consolidates to the saved one.
fn reshard(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let mut id = std::process::id();
    comm.process_at_rank(0).broadcast_into(&mut id);
    let dir = std::env::temp_dir().join(format!("optim-mpi-reshard-{id}"));
    let alone = comm.split_by_color(Color::with_value(i32::from(rank != 0)));
    let mut saved = None;
    if rank == 0 {
        let alone = alone.ok_or("rank 0 has a communicator of its own")?;
        let m = model(0);
        let params = flat(&m);
        let mut zero = ZeroRedundancy::new(alone, Box::new(adam(&m))).map_err(|e| e.to_string())?;
        for step in 0..2 {
            set_grads(&params, 0, step);
            zero.step().map_err(|e| e.to_string())?;
        }
        zero.save_shards(&dir).map_err(|e| e.to_string())?;
        saved = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    }
    comm.barrier();
    let m = model(rank);
    let mut zero = ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?;
    let refused = zero.load_shards(&dir);
    let loaded = zero.load_shards_resharded(&dir);
    let back = zero.consolidate_state_dict(0).map_err(|e| e.to_string())?;
    comm.barrier();
    if rank == 0 {
        std::fs::remove_dir_all(&dir).ok();
    }
    match refused {
        Err(Error::WorldSize { saved: 1, current, .. }) if current == world => {}
        Ok(()) if world == 1 => {}
        other => return Err(format!("load_shards of one rank's shards: {other:?}")),
    }
    loaded.map_err(|e| format!("load_shards_resharded: {e}"))?;
    ensure(back == saved, || {
        "the re-sharded state differs from the saved one".into()
    })
}

/// One rank injects a NaN at step `k`: every rank fails at step `k`, nothing moved, and
/// the next step proceeds.
fn fault_non_finite(comm: &SimpleCommunicator, zero: bool) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let m = model(rank);
    let params = flat(&m);
    let mut opt: Box<dyn FnMut() -> optim_mpi::Result<()>>;
    let state: Box<dyn Fn() -> StateDict<'static>>;
    if zero {
        let z = Rc::new(RefCell::new(
            ZeroRedundancy::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?,
        ));
        let z2 = Rc::clone(&z);
        opt = Box::new(move || z.borrow_mut().step());
        state = Box::new(move || z2.borrow().inner().state_dict().into_owned());
    } else {
        let d = Rc::new(RefCell::new(
            DataParallel::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?,
        ));
        let d2 = Rc::clone(&d);
        opt = Box::new(move || d.borrow_mut().step());
        state = Box::new(move || d2.borrow().inner().state_dict().into_owned());
    }
    let bad = world - 1;
    for step in 0..5 {
        set_grads(&params, rank, step);
        if step == 3 && rank == bad {
            let p = &params[2];
            let mut g = grad(rank, step, 2, p.numel());
            g[4] = f32::NAN;
            p.set_grad_from_slice(&g).map_err(|e| e.to_string())?;
        }
        let (before, state_before) = (values(&params), state());
        let result = opt();
        if step == 3 {
            match result {
                Err(Error::NonFiniteGrad {
                    step: 4,
                    rank: r,
                    group: 0,
                    index: 2,
                    position: 4,
                    ..
                }) if r == bad => {}
                other => return Err(format!("the faulty step returned {other:?}")),
            }
            ensure(values(&params) == before && state() == state_before, || {
                "the faulty step moved something".into()
            })?;
        } else {
            result.map_err(|e| format!("step {step}: {e}"))?;
            ensure(values(&params) != before, || format!("step {step} moved nothing"))?;
        }
        ensure(identical(comm, &values(&params)), || {
            format!("ranks differ after step {step}")
        })?;
    }
    Ok(())
}

/// One rank leaves a gradient out, then one rank's closure returns NaN: every rank fails
/// the same step with the same error, and nothing moved.
fn fault_missing_grad_and_loss(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let bad = world - 1;
    let m = model(rank);
    let params = flat(&m);
    let mut dp = DataParallel::new(comm.duplicate(), Box::new(adam(&m))).map_err(|e| e.to_string())?;
    set_grads(&params, rank, 0);
    if rank == bad {
        params[5].take_grad();
    }
    let before = values(&params);
    match dp.step() {
        Err(Error::GradientsDiffer { step: 1, .. }) if world > 1 => {}
        Ok(()) if world == 1 => {}
        other => return Err(format!("a gradient missing on rank {bad}: {other:?}")),
    }
    if world > 1 {
        ensure(values(&params) == before, || "the refused step moved parameters".into())?;
    }
    let w = Param::new(ArrayD::from_elem(vec![4], 1.0f32));
    let sgd = Sgd::new([w.clone()], SgdOptions::new().lr(0.1)).map_err(|e| e.to_string())?;
    let mut dp = DataParallel::new(comm.duplicate(), Box::new(sgd)).map_err(|e| e.to_string())?;
    let result = dp.step_with(|| {
        w.set_grad_from_slice(&[1.0; 4]).expect("length");
        if rank == bad { f64::NAN } else { 1.0 }
    });
    match result {
        Err(Error::NonFiniteLoss { step: 1, rank: r, .. }) if r == bad => {}
        other => return Err(format!("a NaN loss on rank {bad}: {other:?}")),
    }
    ensure(w.to_array().iter().all(|&x| x == 1.0), || {
        "the refused step moved parameters".into()
    })?;
    let loss = dp
        .step_with(|| {
            w.set_grad_from_slice(&[1.0; 4]).expect("length");
            rank as f64
        })
        .map_err(|e| e.to_string())?;
    let mean = (0..world).sum::<usize>() as f64 / world as f64;
    ensure(loss == mean && w.to_array().iter().all(|&x| x == 0.9), || {
        format!("the next step: loss {loss} (the mean is {mean}), w {:?}", w.to_array())
    })
}

/// A rank's optimizer fails (a pre-step hook on one rank): every rank fails the same step;
/// with rollback, nothing moved anywhere; without, the error says the ranks diverged.
fn fault_optimizer(comm: &SimpleCommunicator, zero: bool, rollback: bool) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let m = model(rank);
    let params = flat(&m);
    let mut inner = adam(&m);
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let bad = world - 1;
    inner.register_step_pre_hook(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 2 && rank == bad {
            return Err(optimizers::Error::InvalidArgument {
                function: "test hook",
                argument: "step",
                message: "fails on purpose".into(),
            });
        }
        Ok(())
    });
    let mut step_fn: Box<dyn FnMut() -> optim_mpi::Result<()>> = if zero {
        let mut z = ZeroRedundancy::new(comm.duplicate(), Box::new(inner)).map_err(|e| e.to_string())?;
        z.set_rollback(rollback);
        Box::new(move || z.step())
    } else {
        let mut d = DataParallel::new(comm.duplicate(), Box::new(inner)).map_err(|e| e.to_string())?;
        d.set_rollback(rollback);
        Box::new(move || d.step())
    };
    for step in 0..4 {
        set_grads(&params, rank, step);
        let before = values(&params);
        let result = step_fn();
        if step == 2 {
            match (rollback, result) {
                (
                    true,
                    Err(Error::RankFailed {
                        step: 3,
                        rank: r,
                        message,
                    }),
                ) if r == bad && message.contains("on purpose") => {
                    ensure(values(&params) == before, || "the failed step moved parameters".into())?;
                }
                (false, Err(Error::Diverged { step: 3, failed, .. })) if failed == vec![bad] => {}
                // Alone, the failing rank is every rank: nothing stepped, nothing diverged.
                (false, Err(Error::RankFailed { step: 3, .. })) if world == 1 => {}
                (_, other) => return Err(format!("the failing step returned {other:?}")),
            }
        } else {
            result.map_err(|e| format!("step {step}: {e}"))?;
        }
        if rollback {
            ensure(identical(comm, &values(&params)), || {
                format!("ranks differ after step {step}")
            })?;
        }
    }
    Ok(())
}

/// LBFGS, one rank's optimizer fails at the second step (a pre-step hook) while the others
/// are inside their line search: every rank fails that step, no parameter moved, and the
/// run continues exactly as a run that never had the failed step.
fn fault_lbfgs(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let bad = world - 1;
    let target: Vec<f32> = (0..10).map(|e| ((e * 3 + rank * 5) % 7) as f32 - 3.0).collect();
    let options = || {
        LbfgsOptions::new()
            .lr(1.0)
            .max_iter(4)
            .line_search_fn(LineSearch::StrongWolfe)
    };
    let run = |faulty: bool| -> Result<Vec<f32>, String> {
        let w = Param::new(ArrayD::from_elem(vec![10], 0.5f32));
        let mut lbfgs = Lbfgs::new([w.clone()], options()).map_err(|e| e.to_string())?;
        let calls = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&calls);
        lbfgs.register_step_pre_hook(move |_| {
            if faulty && counter.fetch_add(1, Ordering::SeqCst) == 1 && rank == bad {
                return Err(optimizers::Error::InvalidArgument {
                    function: "test hook",
                    argument: "step",
                    message: "fails on purpose".into(),
                });
            }
            Ok(())
        });
        let mut dp = DataParallel::new(comm.duplicate(), Box::new(lbfgs)).map_err(|e| e.to_string())?;
        let mut closure = || {
            let x = w.to_array();
            let g: Vec<f32> = x
                .iter()
                .zip(&target)
                .map(|(x, t)| (x - t) * (x - t) * (x - t))
                .collect();
            w.set_grad_from_slice(&g).expect("length");
            x.iter()
                .zip(&target)
                .map(|(x, t)| f64::from((x - t).powi(4)) / 4.0)
                .sum()
        };
        dp.step_with(&mut closure).map_err(|e| format!("step 1: {e}"))?;
        if faulty {
            let before = w.to_array();
            match dp.step_with(&mut closure) {
                Err(Error::RankFailed { step: 2, rank: r, .. }) if r == bad => {}
                other => return Err(format!("the failing step returned {other:?}")),
            }
            ensure(w.to_array() == before, || "the failed step moved the parameters".into())?;
        }
        dp.step_with(&mut closure).map_err(|e| format!("the step after: {e}"))?;
        dp.step_with(&mut closure).map_err(|e| format!("the step after: {e}"))?;
        Ok(w.to_array().iter().copied().collect())
    };
    let faulty = run(true)?;
    let clean = run(false)?;
    ensure(identical(comm, &faulty), || "ranks differ after the failed step".into())?;
    ensure(
        faulty.iter().zip(&clean).all(|(a, b)| a.to_bits() == b.to_bits()),
        || "the run with a failed step differs from the run without it".into(),
    )
}

/// LBFGS with a strong-Wolfe line search: rank r minimises `½|w − c_r|²·(1 + r)`; the
/// distributed run equals one process minimising the mean of the ranks' losses.
fn lbfgs_closure(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let target = |r: usize| -> Vec<f32> { (0..10).map(|e| ((e * 3 + r * 5) % 7) as f32 - 3.0).collect() };
    let loss_and_grad = |w: &[f32], r: usize| -> (f64, Vec<f32>) {
        let c = target(r);
        let scale = (1 + r) as f32;
        let g: Vec<f32> = w.iter().zip(&c).map(|(x, t)| scale * (x - t)).collect();
        let l = w
            .iter()
            .zip(&c)
            .map(|(x, t)| 0.5 * f64::from(scale) * f64::from(x - t).powi(2))
            .sum();
        (l, g)
    };
    let options = || {
        LbfgsOptions::new()
            .lr(1.0)
            .max_iter(5)
            .line_search_fn(LineSearch::StrongWolfe)
    };
    let w = Param::new(ArrayD::from_elem(vec![10], rank as f32));
    let lbfgs = Lbfgs::new([w.clone()], options()).map_err(|e| e.to_string())?;
    let mut dp = DataParallel::new(comm.duplicate(), Box::new(lbfgs)).map_err(|e| e.to_string())?;
    let single_w = Param::new(ArrayD::from_elem(vec![10], 0.0f32));
    let mut single = Lbfgs::new([single_w.clone()], options()).map_err(|e| e.to_string())?;
    for step in 0..3 {
        let loss = dp
            .step_with(|| {
                let (l, g) = loss_and_grad(w.value().as_slice().expect("contiguous"), rank);
                w.set_grad_from_slice(&g).expect("length");
                l
            })
            .map_err(|e| format!("step {step}: {e}"))?;
        let single_loss = single
            .step_with(|| {
                let x = single_w.to_array();
                let x = x.as_slice().expect("contiguous");
                let (mut l, mut g) = (0.0, vec![0.0f32; 10]);
                for r in 0..world {
                    let (lr, gr) = loss_and_grad(x, r);
                    l += lr;
                    g.iter_mut().zip(gr).for_each(|(a, b)| *a += b);
                }
                g.iter_mut().for_each(|a| *a /= world as f32);
                single_w.set_grad_from_slice(&g).expect("length");
                l / world as f64
            })
            .map_err(|e| e.to_string())?;
        let mine = w.to_array().iter().copied().collect::<Vec<_>>();
        ensure(identical(comm, &mine), || format!("ranks differ after step {step}"))?;
        let theirs = single_w.to_array().iter().copied().collect::<Vec<_>>();
        close(world, &mine, &theirs).map_err(|e| format!("step {step}: {e}"))?;
        ensure((loss - single_loss).abs() <= 1e-9 * (1.0 + single_loss.abs()), || {
            format!("step {step}: loss {loss} against {single_loss}")
        })?;
    }
    Ok(())
}

/// The optimizer state a rank holds under ZeRO-1 with N ranks is about 1/N of the
/// unsharded: measured and printed.
fn zero_memory(comm: &SimpleCommunicator) -> Check {
    let (rank, world) = (comm.rank() as usize, comm.size() as usize);
    let params = |r: usize| -> Vec<Param<f32>> {
        (0..64)
            .map(|k| Param::new(ArrayD::from_elem(vec![1000], (k + r) as f32)))
            .collect()
    };
    let (a, b) = (params(rank), params(rank));
    let mut dp = DataParallel::new(
        comm.duplicate(),
        Box::new(Adam::new(a.clone(), AdamOptions::new()).map_err(|e| e.to_string())?),
    )
    .map_err(|e| e.to_string())?;
    let mut zero = ZeroRedundancy::new(
        comm.duplicate(),
        Box::new(Adam::new(b.clone(), AdamOptions::new()).map_err(|e| e.to_string())?),
    )
    .map_err(|e| e.to_string())?;
    set_grads(&a, rank, 0);
    set_grads(&b, rank, 0);
    dp.step().map_err(|e| e.to_string())?;
    zero.step().map_err(|e| e.to_string())?;
    let (full, mine) = (dp.state_bytes() as u64, zero.state_bytes() as u64);
    let mut most = 0u64;
    comm.all_reduce_into(&mine, &mut most, SystemOperation::max());
    if rank == 0 {
        println!(
            "  optimizer state per rank: unsharded {full} bytes, ZeRO-1 with {world} ranks at most {most} bytes ({:.3} of the unsharded, 1/{world} = {:.3})",
            most as f64 / full as f64,
            1.0 / world as f64
        );
    }
    let ideal = full as f64 / world as f64;
    ensure((most as f64) <= ideal * 1.1 && (mine as f64) >= ideal * 0.9, || {
        format!("rank {rank} holds {mine} bytes, the unsharded {full}")
    })
}

fn main() {
    let universe = mpi::initialize().expect("MPI initializes once");
    let world = universe.world();
    let rank = world.rank();
    let checks: Vec<(&str, Box<CheckFn>)> = vec![
        (
            "data-parallel: identical ranks, the mean gradient's step (fused buckets)",
            Box::new(|c| data_parallel_matches_mean(c, 1024)),
        ),
        (
            "data-parallel: the same without fusion",
            Box::new(|c| data_parallel_matches_mean(c, 0)),
        ),
        (
            "ZeRO-1: bit-identical to data-parallel, consolidates to its state dict",
            Box::new(|c| zero_matches_data_parallel(c, 512)),
        ),
        (
            "ZeRO-1: the same without fusion",
            Box::new(|c| zero_matches_data_parallel(c, 0)),
        ),
        (
            "ZeRO-1: every bundled optimizer, boxed from the registry, equals data-parallel",
            Box::new(every_kind_boxed),
        ),
        (
            "ZeRO-1: consolidate, load in one process, continue",
            Box::new(consolidate_load_continue),
        ),
        (
            "ZeRO-1: loads a single-process state dict; a bad one fails everywhere",
            Box::new(load_single_process_dict),
        ),
        (
            "ZeRO-1: per-rank shards with an index; another world size is refused",
            Box::new(shards),
        ),
        (
            "ZeRO-1: shards saved by one rank, re-sharded across all",
            Box::new(reshard),
        ),
        (
            "fault: a NaN on one rank fails every rank's step (data-parallel)",
            Box::new(|c| fault_non_finite(c, false)),
        ),
        (
            "fault: a NaN on one rank fails every rank's step (ZeRO-1)",
            Box::new(|c| fault_non_finite(c, true)),
        ),
        (
            "fault: one rank's optimizer fails, rolled back (data-parallel)",
            Box::new(|c| fault_optimizer(c, false, true)),
        ),
        (
            "fault: one rank's optimizer fails, without rollback (data-parallel)",
            Box::new(|c| fault_optimizer(c, false, false)),
        ),
        (
            "fault: one rank's optimizer fails, rolled back (ZeRO-1)",
            Box::new(|c| fault_optimizer(c, true, true)),
        ),
        (
            "fault: a gradient missing, or a NaN loss, on one rank fails every rank's step",
            Box::new(fault_missing_grad_and_loss),
        ),
        (
            "fault: one rank's LBFGS fails while the others search their line: all fail, none moved",
            Box::new(fault_lbfgs),
        ),
        (
            "LBFGS: averaged closure, identical line searches",
            Box::new(lbfgs_closure),
        ),
        ("ZeRO-1: per-rank optimizer state ≈ 1/N", Box::new(zero_memory)),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in &checks {
        let result = check(&world);
        let bad = u32::from(result.is_err());
        let mut failing = 0u32;
        world.all_reduce_into(&bad, &mut failing, SystemOperation::sum());
        if let Err(e) = &result {
            eprintln!("rank {rank}: {name}: {e}");
        }
        world.barrier();
        if failing == 0 {
            passed += 1;
        } else {
            failed += 1;
        }
        if rank == 0 {
            let verdict = if failing == 0 { "ok" } else { "FAILED" };
            println!("{verdict}: {name}");
        }
    }
    if rank == 0 {
        println!("optim-mpi on {} ranks: {passed} passed, {failed} failed", world.size());
    }
    drop(universe);
    if failed > 0 {
        std::process::exit(1);
    }
}
