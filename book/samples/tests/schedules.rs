//! The samples of the chapter "Learning-rate schedules": a schedule in a training loop,
//! composition, schedules of other options, ReduceLROnPlateau, the two schedules of
//! `src/schedules.rs`, and resuming an optimizer with its schedule from one checkpoint.

use std::error::Error as StdError;

use optim_book::schedules::{InverseSqrt, InverseSqrtOptions, WarmupStableDecay, WarmupStableDecayOptions};
use optimizers::dict::{tree_from_json, tree_to_json};
use optimizers::lr_scheduler::{
    CosineAnnealingLR, CosineAnnealingLROptions, CyclicLR, CyclicLROptions, ExponentialLR, ExponentialLROptions,
    LinearLR, LinearLROptions, ReduceLROnPlateau, ReduceLROnPlateauOptions, SequentialLR, StepLR, StepLROptions,
};
use optimizers::ndarray::array;
use optimizers::{Adam, AdamOptions, DictValue, Error, Map, Param, Sgd, SgdOptions, StateDict};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn a_schedule_steps_after_the_optimizer() -> Result {
    let w = Param::new(array![1.0f64, -1.0]);
    // ANCHOR: usage
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.1).momentum(0.9))?;
    let mut sched = StepLR::new(&mut opt, StepLROptions::new().step_size(30).gamma(0.1))?;
    for _epoch in 0..100 {
        w.set_grad(w.value().mapv(|x| 2.0 * x))?; // ... forward and backward ...
        opt.step()?;
        sched.step(&mut opt)?;
    }
    assert_eq!(sched.get_last_lr(), [0.1 * 0.1 * 0.1 * 0.1]);
    // ANCHOR_END: usage
    Ok(())
}

#[test]
fn warmup_then_cosine_is_a_sequential_lr() -> Result {
    let w = Param::new(array![1.0f64]);
    // ANCHOR: sequential
    let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(1e-3))?;
    let warmup = LinearLR::builder(LinearLROptions::new().start_factor(0.01).total_iters(10));
    let cosine = CosineAnnealingLR::builder(CosineAnnealingLROptions::new().t_max(90).eta_min(1e-5));
    let mut sched = SequentialLR::new(&mut opt, vec![warmup.into(), cosine.into()], [10])?;
    assert_eq!(sched.get_last_lr(), [1e-3 * 0.01]); // the warmup starts at construction
    for _ in 0..100 {
        sched.step(&mut opt)?;
    }
    assert!((sched.get_last_lr()[0] - 1e-5).abs() < 1e-15);
    // ANCHOR_END: sequential
    Ok(())
}

#[test]
fn a_schedule_of_another_option() -> Result {
    let w = Param::new(array![1.0f64]);
    // ANCHOR: other_option
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.1).momentum(0.9).weight_decay(1e-2))?;
    let mut decay = ExponentialLR::builder(ExponentialLROptions::new().gamma(0.5))
        .option("weight_decay")
        .build(&mut opt)?;
    decay.step(&mut opt)?;
    assert_eq!(opt.hyperparameters(0)?.weight_decay, 5e-3);
    assert_eq!(opt.hyperparameters(0)?.lr, 0.1);
    // An option the optimizer does not have is a typed error, and builds nothing.
    let err = StepLR::builder(StepLROptions::new().step_size(1))
        .option("betas[0]")
        .build(&mut opt);
    assert!(matches!(err, Err(Error::UnknownOption { kind: "sgd", .. })));
    // ANCHOR_END: other_option
    Ok(())
}

#[test]
fn cyclic_lr_cycles_adams_beta1() -> Result {
    // ANCHOR: momentum
    let mut opt = Adam::new([Param::new(array![1.0f64])], AdamOptions::new())?;
    let mut sched = CyclicLR::new(
        &mut opt,
        CyclicLROptions::new().base_lr(1e-4).max_lr(1e-2).step_size_up(10),
    )?;
    assert_eq!(opt.hyperparameters(0)?.betas, (0.9, 0.999)); // its max_momentum
    for _ in 0..10 {
        sched.step(&mut opt)?;
    }
    assert_eq!(opt.hyperparameters(0)?.lr, 1e-2); // the top of the cycle ...
    assert!((opt.hyperparameters(0)?.betas.0 - 0.8).abs() < 1e-15); // ... and β₁ at its base
    let entries = sched.group_entries(0); // what torch writes into param_groups[0]
    assert_eq!(entries.get("max_momentum"), Some(&DictValue::Float(0.9)));
    // ANCHOR_END: momentum
    Ok(())
}

#[test]
fn reduce_on_plateau_steps_with_the_metric() -> Result {
    // ANCHOR: plateau
    let mut opt = Sgd::new([Param::new(array![1.0f64])], SgdOptions::new().lr(0.1))?;
    let options = ReduceLROnPlateauOptions::new().patience(2).factor(0.5);
    let mut sched = ReduceLROnPlateau::new(&mut opt, options)?;
    for val_loss in [1.0, 0.8, 0.8, 0.8, 0.8] {
        sched.step(&mut opt, val_loss)?;
    }
    assert_eq!(sched.get_last_lr(), [0.05]); // three steps without improvement
    // ANCHOR_END: plateau
    Ok(())
}

#[test]
fn the_user_defined_schedules() -> Result {
    // ANCHOR: wsd_use
    let mut opt = Adam::new([Param::new(array![1.0f64])], AdamOptions::new().lr(1e-3))?;
    let options = WarmupStableDecayOptions::new().warmup(10).stable(70).decay(20);
    let mut sched = WarmupStableDecay::new(&mut opt, options)?;
    let mut lrs = vec![sched.get_last_lr()[0]];
    for _ in 0..100 {
        sched.step(&mut opt)?;
        lrs.push(sched.get_last_lr()[0]);
    }
    assert_eq!(lrs[0], 1e-4); // warming up
    assert!(lrs[9..80].iter().all(|&lr| lr == 1e-3)); // stable
    assert_eq!(lrs[100], 0.0); // decayed
    // ANCHOR_END: wsd_use
    let err = WarmupStableDecay::new(&mut opt, WarmupStableDecayOptions::new().stable(10).decay(0));
    assert_eq!(
        err.unwrap_err().to_string(),
        "schedule `wsd`: the decay takes at least one step, not 0"
    );
    // ANCHOR: initial
    // A second schedule on the same optimizer: from the first's initial lr (torch's
    // `initial_lr`, which it keeps in the param group), not from the current one (0).
    let mut inv = InverseSqrt::builder(InverseSqrtOptions::new().warmup_steps(4))
        .initial(sched.base_lrs())
        .build(&mut opt)?;
    // ANCHOR_END: initial
    for _ in 0..15 {
        inv.step(&mut opt)?;
    }
    assert_eq!(inv.get_last_lr(), [1e-3 * 0.5]); // step 16: √(4/16)
    Ok(())
}

#[test]
fn optimizer_and_schedule_resume_from_one_checkpoint() -> Result {
    let path = std::env::temp_dir().join(format!("optim-book-schedule-{}.json", std::process::id()));
    let build = |w: &Param<f64>| -> optimizers::Result<_> {
        let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.1).momentum(0.9))?;
        let sched = WarmupStableDecay::new(&mut opt, WarmupStableDecayOptions::new().warmup(5).stable(10).decay(10))?;
        Ok((opt, sched))
    };
    let w = Param::named("w", array![1.0f64, -2.0]);
    let (mut opt, mut sched) = build(&w)?;
    let train = |w: &Param<f64>,
                 opt: &mut optimizers::Optimizer<Sgd, f64>,
                 sched: &mut optimizers::lr_scheduler::Scheduler<WarmupStableDecay>,
                 steps|
     -> optimizers::Result<()> {
        for _ in 0..steps {
            w.set_grad(w.value().mapv(|x| x - 0.5))?;
            opt.step()?;
            sched.step(opt)?;
        }
        Ok(())
    };
    train(&w, &mut opt, &mut sched, 8)?;
    // ANCHOR: resume
    // Save: the optimizer's state dict and the schedule's, side by side in one tree.
    let mut checkpoint = Map::new();
    checkpoint.insert("optimizer", opt.state_dict().to_tree().into_owned());
    checkpoint.insert("scheduler", sched.state_dict());
    std::fs::write(&path, tree_to_json(&DictValue::Map(checkpoint)))?;

    // Resume: build both as before, then load both.
    let w2 = Param::named("w", w.to_array());
    let (mut opt2, mut sched2) = build(&w2)?;
    let DictValue::Map(checkpoint) = tree_from_json(&std::fs::read_to_string(&path)?)? else {
        return Err("a checkpoint is a map".into());
    };
    let optimizer = checkpoint.get("optimizer").ok_or("no optimizer")?.clone();
    opt2.load_state_dict(&StateDict::from_tree(optimizer)?)?;
    sched2.load_state_dict(checkpoint.get("scheduler").ok_or("no scheduler")?)?;
    // ANCHOR_END: resume
    std::fs::remove_file(&path)?;
    train(&w, &mut opt, &mut sched, 20)?;
    train(&w2, &mut opt2, &mut sched2, 20)?;
    assert_eq!(w.to_array(), w2.to_array(), "bit-identical");
    assert_eq!(sched.get_last_lr(), sched2.get_last_lr());
    Ok(())
}
