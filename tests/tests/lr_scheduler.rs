//! Learning-rate schedules as a user sees them, beyond the replay of torch's runs
//! (`lr_scheduler_parity`): schedules of other options than `lr`, on every optimizer;
//! builds and steps that fail and change nothing, also halfway through a composite; and
//! checkpoints of an optimizer with its schedule, through JSON.

use optimizers::dict::{tree_from_json, tree_to_json};
use optimizers::lr_scheduler::{
    ChainedScheduler, ConstantLR, ConstantLROptions, CosineAnnealingLR, CosineAnnealingLROptions, CyclicLR,
    CyclicLROptions, ExponentialLR, ExponentialLROptions, Lambda, LambdaLR, LambdaLROptions, LinearLR, LinearLROptions,
    OneCycleLR, OneCycleLROptions, ReduceLROnPlateau, ReduceLROnPlateauOptions, SequentialLR, StepLR, StepLROptions,
};
use optimizers::ndarray::array;
use optimizers::{
    Adam, AdamOptions, DictValue, DynOptimizer, Error, Lbfgs, LbfgsOptions, Map, Optimizer, Param, ParamGroup, Sgd,
    SgdOptions, StateDict,
};

fn sgd() -> Optimizer<Sgd, f64> {
    Sgd::with_groups(
        [
            ParamGroup::new([Param::new(array![1.0])]),
            ParamGroup::new([Param::new(array![2.0])]).options(SgdOptions::new().lr(0.01)),
        ],
        SgdOptions::new().lr(0.1).momentum(0.9).weight_decay(1e-2),
    )
    .expect("valid options")
}

fn lrs(opt: &Optimizer<Sgd, f64>) -> Vec<f64> {
    (0..opt.num_groups())
        .map(|g| opt.hyperparameters(g).expect("the group exists").lr)
        .collect()
}

#[test]
fn a_schedule_drives_any_number_among_the_options() {
    let mut opt = sgd();
    let mut decay = StepLR::builder(StepLROptions::new().step_size(1).gamma(0.5))
        .option("weight_decay")
        .build(&mut opt)
        .unwrap();
    decay.step(&mut opt).unwrap();
    assert_eq!(opt.hyperparameters(0).unwrap().weight_decay, 0.5e-2);
    assert_eq!(lrs(&opt), [0.1, 0.01], "the lr is not touched");
    assert_eq!(
        decay.group_entries(1).get("initial_weight_decay"),
        Some(&DictValue::Float(1e-2))
    );

    // Adam's β₁, an item of a list option, on a boxed optimizer.
    let mut adam: Box<dyn DynOptimizer<f64>> =
        Box::new(Adam::new([Param::new(array![1.0])], AdamOptions::new()).unwrap());
    let mut warm = LinearLR::builder(LinearLROptions::new().start_factor(0.5).total_iters(2))
        .option("betas[0]")
        .build(&mut adam)
        .unwrap();
    assert_eq!(
        adam.option(0, "betas").unwrap(),
        DictValue::List(vec![0.45.into(), 0.999.into()])
    );
    warm.step(&mut adam).unwrap();
    warm.step(&mut adam).unwrap();
    assert!((warm.get_last_lr()[0] - 0.9).abs() < 1e-15);
}

#[test]
fn an_option_the_optimizer_does_not_have_is_a_typed_error() {
    let mut opt = sgd();
    let err = ExponentialLR::builder(ExponentialLROptions::new().gamma(0.9))
        .option("betas[0]")
        .build(&mut opt)
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownOption { kind: "sgd", ref option, .. } if option == "betas"),
        "{err}"
    );
    let err = ExponentialLR::builder(ExponentialLROptions::new().gamma(0.9))
        .option("lr[")
        .build(&mut opt)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption { option: "option", .. }), "{err}");
}

#[test]
fn a_composite_that_fails_to_build_puts_back_what_its_first_children_changed() {
    let mut opt = sgd();
    let before = opt.state_dict().to_json();
    let halve = ConstantLR::builder(ConstantLROptions::new().factor(0.5));
    let bad = CyclicLR::builder(CyclicLROptions::new().base_lr([0.01, 0.01, 0.01]).max_lr(0.1));
    let err = ChainedScheduler::new(&mut opt, vec![halve.into(), bad.into()]).unwrap_err();
    assert!(matches!(err, Error::InvalidOption { option: "base_lr", .. }), "{err}");
    assert_eq!(opt.state_dict().to_json(), before);

    // CyclicLR writes each lr, then finds that LBFGS has no momentum: the lrs are put back.
    let mut lbfgs = Lbfgs::new([Param::new(array![1.0])], LbfgsOptions::new().lr(0.5)).unwrap();
    let err = CyclicLR::new(&mut lbfgs, CyclicLROptions::new().base_lr(0.01).max_lr(0.1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "cycle_momentum",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(lbfgs.hyperparameters(0).unwrap().lr, 0.5);
}

#[test]
fn a_chained_step_that_fails_halfway_undoes_the_steps_before() {
    let mut opt = sgd();
    let step = StepLR::builder(StepLROptions::new().step_size(1).gamma(0.5));
    let cycle = OneCycleLR::builder(
        OneCycleLROptions::new()
            .max_lr(0.1)
            .total_steps(1)
            .cycle_momentum(false),
    );
    let mut chain = ChainedScheduler::new(&mut opt, vec![step.into(), cycle.into()]).unwrap();
    chain.step(&mut opt).unwrap();
    let (opt_before, chain_before) = (opt.state_dict().to_json(), tree_to_json(&chain.state_dict()));
    let err = chain.step(&mut opt).unwrap_err();
    assert!(
        matches!(err, Error::ScheduleFinished { step: 2, total: 1, .. }),
        "{err}"
    );
    assert_eq!(opt.state_dict().to_json(), opt_before, "StepLR's halving is undone");
    assert_eq!(tree_to_json(&chain.state_dict()), chain_before);
}

#[test]
fn functions_are_not_saved_and_a_loaded_schedule_keeps_its_own() {
    let mut opt = sgd();
    let f = Lambda::new(|e| 0.9f64.powf(e as f64));
    let mut sched = LambdaLR::new(&mut opt, LambdaLROptions::new().lr_lambda(f.clone())).unwrap();
    sched.step(&mut opt).unwrap();
    let saved = sched.state_dict();
    let DictValue::Map(map) = &saved else { unreachable!() };
    assert_eq!(
        map.get("lr_lambda"),
        Some(&DictValue::Null),
        "torch saves None for a function"
    );
    let mut other = LambdaLR::new(&mut sgd(), LambdaLROptions::new().lr_lambda(f.clone())).unwrap();
    other
        .load_state_dict(&tree_from_json(&tree_to_json(&saved)).unwrap())
        .unwrap();
    assert_eq!(other.options().lr_lambda.get(0), Some(&f), "its own function, kept");
    assert_eq!(other.last_epoch(), 1);
    // Built from a config, a function is `null`: refused with torch's message.
    let map: Map = [("lr_lambda", DictValue::Null)].into_iter().collect();
    let options = <LambdaLR as optimizers::rule::Hyperparameters>::options_from_map(
        &map,
        optimizers::error::Scope::Schedule("lambdalr"),
    )
    .unwrap();
    let err = LambdaLR::new(&mut opt, options).unwrap_err();
    assert!(
        err.to_string()
            .contains("lr_lambda should be a function, but got NoneType"),
        "{err}"
    );
}

#[test]
fn optimizer_and_schedule_resume_together_from_one_json_checkpoint() {
    let params = || [Param::named("w", array![1.0, -2.0]), Param::named("b", array![0.5])];
    let build = |ps: &[Param<f64>; 2]| {
        let mut opt = Sgd::new(ps.clone(), SgdOptions::new().lr(0.1).momentum(0.9)).unwrap();
        let warmup = LinearLR::builder(LinearLROptions::new().start_factor(0.1).total_iters(5));
        let cosine = CosineAnnealingLR::builder(CosineAnnealingLROptions::new().t_max(30).eta_min(1e-3));
        let sched = SequentialLR::new(&mut opt, vec![warmup.into(), cosine.into()], [5]).unwrap();
        (opt, sched)
    };
    let train = |opt: &mut Optimizer<Sgd, f64>, sched: &mut SequentialLR, ps: &[Param<f64>; 2], steps| {
        for _ in 0..steps {
            for p in ps {
                p.set_grad(p.value().mapv(|x| 2.0 * x - 0.3)).unwrap();
            }
            opt.step().unwrap();
            sched.step(opt).unwrap();
        }
    };
    let ps = params();
    let (mut opt, mut sched) = build(&ps);
    train(&mut opt, &mut sched, &ps, 12);
    // One checkpoint: the optimizer's tree and the schedule's, side by side.
    let mut checkpoint = Map::new();
    checkpoint.insert("optimizer", opt.state_dict().to_tree().into_owned());
    checkpoint.insert("scheduler", sched.state_dict());
    let text = tree_to_json(&DictValue::Map(checkpoint));

    let qs = params();
    for (q, p) in qs.iter().zip(&ps) {
        q.set_value(p.to_array()).unwrap();
    }
    let (mut resumed, mut resumed_sched) = build(&qs);
    let DictValue::Map(loaded) = tree_from_json(&text).unwrap() else {
        unreachable!()
    };
    let optimizer = loaded.get("optimizer").unwrap().clone();
    resumed
        .load_state_dict(&StateDict::from_tree(optimizer).unwrap())
        .unwrap();
    resumed_sched.load_state_dict(loaded.get("scheduler").unwrap()).unwrap();

    train(&mut opt, &mut sched, &ps, 30);
    train(&mut resumed, &mut resumed_sched, &qs, 30);
    assert_eq!(sched.get_last_lr(), resumed_sched.get_last_lr());
    for (p, q) in ps.iter().zip(&qs) {
        assert_eq!(p.to_array(), q.to_array(), "bit-identical parameters");
    }
    assert_eq!(
        tree_to_json(&sched.state_dict()),
        tree_to_json(&resumed_sched.state_dict())
    );
}

#[test]
fn reduce_on_plateau_saves_an_infinite_best_through_json() {
    let mut opt = sgd();
    let sched = ReduceLROnPlateau::new(&mut opt, ReduceLROnPlateauOptions::new()).unwrap();
    let text = tree_to_json(&sched.state_dict());
    assert!(text.contains("\"best\":\"Infinity\""), "{text}");
    let mut other = ReduceLROnPlateau::new(&mut sgd(), ReduceLROnPlateauOptions::new().patience(3)).unwrap();
    other.load_state_dict(&tree_from_json(&text).unwrap()).unwrap();
    assert_eq!(other.state().best, f64::INFINITY);
    assert_eq!(other.options().patience, 10, "the saved options are loaded");
}

#[test]
fn a_failed_load_changes_nothing() {
    let mut opt = sgd();
    let mut sched = StepLR::new(&mut opt, StepLROptions::new().step_size(2)).unwrap();
    sched.step(&mut opt).unwrap();
    let DictValue::Map(mut dict) = sched.state_dict() else {
        unreachable!()
    };
    sched.step(&mut opt).unwrap();
    let before = tree_to_json(&sched.state_dict());
    // Valid options and counters, but a state entry of the wrong type: nothing is loaded.
    dict.insert("gamma", 0.5);
    dict.insert("_last_lr", "0.1");
    assert!(sched.load_state_dict(&DictValue::Map(dict)).is_err());
    assert_eq!(tree_to_json(&sched.state_dict()), before);
}
