//! The catalogue's cases of learning-rate schedules: building one with options that fail
//! torch's checks (with torch's messages), stepping one past what it can do, and loading a
//! broken state dict. Each runs against SGD with two groups, trained, and (after building)
//! a schedule on it; the snapshots cover the optimizer and the schedule's state dict, so
//! that "nothing changed" includes the schedule.

use optimizers::dict::tree_to_json;
use optimizers::error::Scope;
use optimizers::lr_scheduler::{
    ConstantLR, ConstantLROptions, CosineAnnealingWarmRestarts, CosineAnnealingWarmRestartsOptions, CyclicLR,
    CyclicLROptions, DynSchedule, ExponentialLR, ExponentialLROptions, Lambda, LambdaLR, LambdaLROptions, LinearLR,
    LinearLROptions, MultiplicativeLR, OneCycleLR, OneCycleLROptions, ReduceLROnPlateau, ReduceLROnPlateauOptions,
    SequentialLR, StepLR, StepLROptions, Swalr, SwalrOptions,
};
use optimizers::ndarray::array;
use optimizers::rule::Hyperparameters;
use optimizers::{DictValue, Error, ErrorKind, Map, Optimizer, Param, ParamGroup, Result, Sgd, SgdOptions};

use super::harness::{Trial, trial};
use super::subjects::{lbfgs, train, unnamed_params};
use super::{Area, Case};
use crate::snapshot::Snapshot;

/// SGD with momentum over two groups (lr 0.1 and 0.01), two steps taken.
fn sgd2() -> Optimizer<Sgd, f64> {
    let params = unnamed_params();
    let mut opt = Sgd::with_groups(
        [
            ParamGroup::new([params[0].clone()]),
            ParamGroup::new([params[1].clone()]).options(SgdOptions::new().lr(0.01)),
        ],
        SgdOptions::new().lr(0.1).momentum(0.9),
    )
    .expect("valid");
    train(&mut opt, &params, 0..2);
    opt
}

fn snapshot(opt: &Optimizer<Sgd, f64>, sched: &dyn DynSchedule) -> Snapshot {
    let mut s = Snapshot::of(opt);
    s.state_dict.push_str(&tree_to_json(&sched.state_dict()));
    s
}

/// Builds a schedule on SGD and steps it once; `prepare` readies the mistake, then `act`
/// makes it, which must fail, with snapshots of both around it.
fn on_schedule<S: DynSchedule, T>(
    build: impl FnOnce(&mut Optimizer<Sgd, f64>) -> Result<S>,
    prepare: impl FnOnce(&mut Optimizer<Sgd, f64>, &mut S) -> Result<T>,
    act: impl FnOnce(&mut Optimizer<Sgd, f64>, &mut S, T) -> Result<()>,
) -> Trial {
    let mut opt = sgd2();
    let mut sched = build(&mut opt).expect("a valid schedule");
    sched.step(&mut &mut opt).expect("a valid step");
    let ready = prepare(&mut opt, &mut sched).expect("the case's setup");
    let before = snapshot(&opt, &sched);
    let error = act(&mut opt, &mut sched, ready).expect_err("the case must fail");
    let after = snapshot(&opt, &sched);
    Trial { error, before, after }
}

/// Loads a broken copy of a StepLR's state dict (taken one step ago).
fn load_step_lr(break_it: impl FnOnce(&mut Map<'static>)) -> Trial {
    on_schedule(
        |o| StepLR::new(o, StepLROptions::new().step_size(3)),
        |o, s| {
            let DictValue::Map(mut dict) = s.state_dict() else {
                unreachable!("a map")
            };
            s.step(o)?;
            break_it(&mut dict);
            Ok(DictValue::Map(dict))
        },
        |_, s, dict| s.load_state_dict(&dict),
    )
}

/// Builds a schedule with `build`, which must fail; nothing may change in the optimizer.
fn build(act: impl FnOnce(&mut Optimizer<Sgd, f64>) -> Result<()>) -> Trial {
    trial(sgd2(), act)
}

fn two_lambdas() -> Vec<Lambda> {
    vec![Lambda::new(|_| 1.0), Lambda::new(|_| 0.5)]
}

/// This area, as the chapter shows it.
pub const AREA: Area = Area {
    id: "schedules",
    title: "Learning-rate schedules",
    intro: "A schedule (chapter [Learning-rate schedules](lr-schedules.md)) checks its options when \
            it is built, with torch's messages, which start with the schedule (`` schedule \
            `steplr`: ``). Building takes torch's construction step; if it fails, every option it \
            had set is put back. A step that fails changes neither the schedule nor the \
            optimizer, and a state dict that fails to load changes nothing.",
    cases,
};

/// The cases, in the order of the chapter.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "schedule-missing-option",
            cause: "building a StepLR without `step_size` (torch's required argument)",
            fix: "set it: `StepLROptions::new().step_size(30)`",
            kind: ErrorKind::MissingScheduleOption,
            fragment: "schedule `steplr` needs the option `step_size`",
            expect: |e| {
                matches!(
                    e,
                    Error::MissingScheduleOption {
                        kind: "steplr",
                        option: "step_size"
                    }
                )
            },
            run: || build(|o| StepLR::new(o, StepLROptions::new()).map(drop)),
        },
        Case {
            id: "schedule-constant-factor",
            cause: "a ConstantLR `factor` above 1",
            fix: "give a factor in [0, 1]",
            kind: ErrorKind::InvalidOption,
            fragment: "constant multiplicative factor expected to be between 0 and 1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        scope: Scope::Schedule("constantlr"),
                        option: "factor",
                        ..
                    }
                )
            },
            run: || build(|o| ConstantLR::new(o, ConstantLROptions::new().factor(1.5)).map(drop)),
        },
        Case {
            id: "schedule-linear-start-factor",
            cause: "a LinearLR `start_factor` of 0 (the lr would start at 0 and never grow)",
            fix: "give a start factor in (0, 1]",
            kind: ErrorKind::InvalidOption,
            fragment: "starting multiplicative factor expected to be greater than 0 and less or equal to 1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "start_factor",
                        ..
                    }
                )
            },
            run: || build(|o| LinearLR::new(o, LinearLROptions::new().start_factor(0.0)).map(drop)),
        },
        Case {
            id: "schedule-linear-end-factor",
            cause: "a LinearLR `end_factor` above 1",
            fix: "give an end factor in [0, 1]",
            kind: ErrorKind::InvalidOption,
            fragment: "ending multiplicative factor expected to be between 0 and 1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "end_factor",
                        ..
                    }
                )
            },
            run: || build(|o| LinearLR::new(o, LinearLROptions::new().end_factor(2.0)).map(drop)),
        },
        Case {
            id: "schedule-lambda-not-a-function",
            cause: "a MultiplicativeLR built from a config, whose `lr_lambda` can only be `null`",
            fix: "set the function in the options read from the config: `options.lr_lambda = Some(Lambda::new(..).into())`",
            kind: ErrorKind::InvalidOption,
            fragment: "lr_lambda should be a function, but got NoneType",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "lr_lambda",
                        ..
                    }
                )
            },
            run: || {
                build(|o| {
                    let map: Map = [("lr_lambda", DictValue::Null)].into_iter().collect();
                    let options = MultiplicativeLR::options_from_map(&map, Scope::Schedule("multiplicativelr"))?;
                    MultiplicativeLR::new(o, options).map(drop)
                })
            },
        },
        Case {
            id: "schedule-lambdas-count",
            cause: "a LambdaLR with three functions for an optimizer with two groups",
            fix: "give one function, or one per group",
            kind: ErrorKind::InvalidOption,
            fragment: "expected 2 lr_lambdas, but got 3",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "lr_lambda",
                        ..
                    }
                )
            },
            run: || {
                build(|o| {
                    let mut f = two_lambdas();
                    f.push(Lambda::new(|_| 0.1));
                    LambdaLR::new(o, LambdaLROptions::new().lr_lambda(f)).map(drop)
                })
            },
        },
        Case {
            id: "schedule-cyclic-list-length",
            cause: "a CyclicLR `base_lr` list with more values than the optimizer has groups",
            fix: "give one value, or one per group",
            kind: ErrorKind::InvalidOption,
            fragment: "base_lr must have the same length as optimizer.param_groups. base_lr has 3 values, param_groups has 2",
            expect: |e| matches!(e, Error::InvalidOption { option: "base_lr", .. }),
            run: || {
                build(|o| CyclicLR::new(o, CyclicLROptions::new().base_lr([0.01, 0.01, 0.01]).max_lr(0.1)).map(drop))
            },
        },
        Case {
            id: "schedule-cyclic-mode",
            cause: "a CyclicLR `mode` that is not one of torch's, in a config or state dict",
            fix: "use `triangular`, `triangular2` or `exp_range`, or give a `scale_fn`",
            kind: ErrorKind::InvalidOption,
            fragment: "mode is invalid and scale_fn is None",
            expect: |e| matches!(e, Error::InvalidOption { option: "mode", .. }),
            run: || {
                build(|_| {
                    let map: Map = [
                        ("base_lr", DictValue::Float(0.01)),
                        ("max_lr", 0.1.into()),
                        ("mode", "triangle".into()),
                    ]
                    .into_iter()
                    .collect();
                    CyclicLR::options_from_map(&map, Scope::Schedule("cycliclr")).map(drop)
                })
            },
        },
        Case {
            id: "schedule-cycle-momentum-unsupported",
            cause: "CyclicLR with `cycle_momentum` on an optimizer with neither `momentum` nor `betas` (LBFGS)",
            fix: "set `cycle_momentum(false)`, or use an optimizer with a momentum",
            kind: ErrorKind::InvalidOption,
            fragment: "optimizer must support momentum or beta1 with `cycle_momentum` option enabled",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "cycle_momentum",
                        ..
                    }
                )
            },
            run: || {
                trial(lbfgs().0, |o| {
                    CyclicLR::new(o, CyclicLROptions::new().base_lr(0.01).max_lr(0.1)).map(drop)
                })
            },
        },
        Case {
            id: "schedule-one-cycle-length",
            cause: "a OneCycleLR with neither `total_steps` nor `epochs` and `steps_per_epoch`",
            fix: "give `total_steps`, or `epochs` and `steps_per_epoch`",
            kind: ErrorKind::InvalidOptions,
            fragment: "you must define either total_steps OR (epochs AND steps_per_epoch)",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: Scope::Schedule("onecyclelr"),
                        ..
                    }
                )
            },
            run: || build(|o| OneCycleLR::new(o, OneCycleLROptions::new().max_lr(0.1).epochs(10)).map(drop)),
        },
        Case {
            id: "schedule-one-cycle-zero-steps",
            cause: "a OneCycleLR of 0 `total_steps`",
            fix: "give the number of steps the training takes",
            kind: ErrorKind::InvalidOption,
            fragment: "expected positive integer total_steps, but got 0",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "total_steps",
                        ..
                    }
                )
            },
            run: || build(|o| OneCycleLR::new(o, OneCycleLROptions::new().max_lr(0.1).total_steps(0)).map(drop)),
        },
        Case {
            id: "schedule-one-cycle-zero-epochs",
            cause: "a OneCycleLR of 0 `epochs` (with `steps_per_epoch`, without `total_steps`)",
            fix: "give the number of epochs the training takes",
            kind: ErrorKind::InvalidOption,
            fragment: "expected positive integer epochs, but got 0",
            expect: |e| matches!(e, Error::InvalidOption { option: "epochs", .. }),
            run: || {
                build(|o| {
                    let options = OneCycleLROptions::new().max_lr(0.1).epochs(0).steps_per_epoch(10);
                    OneCycleLR::new(o, options).map(drop)
                })
            },
        },
        Case {
            id: "schedule-one-cycle-pct-start",
            cause: "a OneCycleLR `pct_start` above 1",
            fix: "give the fraction of the steps spent warming up, in [0, 1]",
            kind: ErrorKind::InvalidOption,
            fragment: "expected float between 0 and 1 pct_start, but got 1.5",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "pct_start",
                        ..
                    }
                )
            },
            run: || {
                build(|o| {
                    OneCycleLR::new(o, OneCycleLROptions::new().max_lr(0.1).total_steps(100).pct_start(1.5)).map(drop)
                })
            },
        },
        Case {
            id: "schedule-anneal-strategy",
            cause: "an `anneal_strategy` of OneCycleLR or SWALR other than `cos` and `linear`, in a config or state dict",
            fix: "use `cos` or `linear`",
            kind: ErrorKind::InvalidOption,
            fragment: "anneal_strategy must be one of 'cos' or 'linear', instead got cosine",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        option: "anneal_strategy",
                        ..
                    }
                )
            },
            run: || {
                build(|_| {
                    let map: Map = [("max_lr", DictValue::Float(0.1)), ("anneal_strategy", "cosine".into())]
                        .into_iter()
                        .collect();
                    OneCycleLR::options_from_map(&map, Scope::Schedule("onecyclelr")).map(drop)
                })
            },
        },
        Case {
            id: "schedule-swa-lr-length",
            cause: "a SWALR `swa_lr` list with fewer values than the optimizer has groups",
            fix: "give one value, or one per group",
            kind: ErrorKind::InvalidOption,
            fragment: "swa_lr must have the same length as optimizer.param_groups: swa_lr has 1, optimizer.param_groups has 2",
            expect: |e| matches!(e, Error::InvalidOption { option: "swa_lr", .. }),
            run: || build(|o| Swalr::new(o, SwalrOptions::new().swa_lr([0.05])).map(drop)),
        },
        Case {
            id: "schedule-warm-restarts-t0",
            cause: "a CosineAnnealingWarmRestarts `T_0` of 0",
            fix: "give the number of epochs of the first cycle",
            kind: ErrorKind::InvalidOption,
            fragment: "expected positive integer T_0, but got 0",
            expect: |e| matches!(e, Error::InvalidOption { option: "T_0", .. }),
            run: || {
                build(|o| {
                    CosineAnnealingWarmRestarts::new(o, CosineAnnealingWarmRestartsOptions::new().t_0(0)).map(drop)
                })
            },
        },
        Case {
            id: "schedule-warm-restarts-t-mult",
            cause: "a CosineAnnealingWarmRestarts `T_mult` that is not an integer, in a config or state dict",
            fix: "give a whole factor, at least 1",
            kind: ErrorKind::InvalidOption,
            fragment: "expected integer T_mult >= 1, but got 1.5",
            expect: |e| matches!(e, Error::InvalidOption { option: "T_mult", .. }),
            run: || {
                build(|_| {
                    let map: Map = [("T_0", DictValue::Int(10)), ("T_mult", 1.5.into())]
                        .into_iter()
                        .collect();
                    CosineAnnealingWarmRestarts::options_from_map(&map, Scope::Schedule("cosineannealingwarmrestarts"))
                        .map(drop)
                })
            },
        },
        Case {
            id: "schedule-warm-restarts-eta-min",
            cause: "a CosineAnnealingWarmRestarts `eta_min` that is a string, in a config or state dict",
            fix: "give a number",
            kind: ErrorKind::InvalidOption,
            fragment: "expected float or int eta_min, but got 1e-3",
            expect: |e| matches!(e, Error::InvalidOption { option: "eta_min", .. }),
            run: || {
                build(|_| {
                    let map: Map = [("T_0", DictValue::Int(10)), ("eta_min", "1e-3".into())]
                        .into_iter()
                        .collect();
                    CosineAnnealingWarmRestarts::options_from_map(&map, Scope::Schedule("cosineannealingwarmrestarts"))
                        .map(drop)
                })
            },
        },
        Case {
            id: "schedule-plateau-factor",
            cause: "a ReduceLROnPlateau `factor` of 1 (it would never reduce)",
            fix: "give a factor below 1",
            kind: ErrorKind::InvalidOption,
            fragment: "factor should be < 1.0",
            expect: |e| matches!(e, Error::InvalidOption { option: "factor", .. }),
            run: || build(|o| ReduceLROnPlateau::new(o, ReduceLROnPlateauOptions::new().factor(1.0)).map(drop)),
        },
        Case {
            id: "schedule-plateau-mode",
            cause: "a ReduceLROnPlateau `mode` other than `min` and `max`, in a config or state dict",
            fix: "use `min` (a loss) or `max` (an accuracy)",
            kind: ErrorKind::InvalidOption,
            fragment: "mode minimum is unknown!",
            expect: |e| matches!(e, Error::InvalidOption { option: "mode", .. }),
            run: || {
                build(|_| {
                    let map: Map = [("mode", "minimum")].into_iter().collect();
                    ReduceLROnPlateau::options_from_map(&map, Scope::Schedule("reducelronplateau")).map(drop)
                })
            },
        },
        Case {
            id: "schedule-plateau-min-lrs",
            cause: "a ReduceLROnPlateau `min_lr` list with more values than the optimizer has groups",
            fix: "give one value, or one per group",
            kind: ErrorKind::InvalidOption,
            fragment: "expected 2 min_lrs, got 3",
            expect: |e| matches!(e, Error::InvalidOption { option: "min_lr", .. }),
            run: || {
                build(|o| ReduceLROnPlateau::new(o, ReduceLROnPlateauOptions::new().min_lr([0.0, 0.0, 0.0])).map(drop))
            },
        },
        Case {
            id: "schedule-sequential-empty",
            cause: "a SequentialLR of no schedulers",
            fix: "give at least one",
            kind: ErrorKind::InvalidOptions,
            fragment: "SequentialLR expects at least one scheduler, but got no scheduler",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: Scope::Schedule("sequentiallr"),
                        ..
                    }
                )
            },
            run: || build(|o| SequentialLR::new(o, Vec::new(), []).map(drop)),
        },
        Case {
            id: "schedule-sequential-milestones",
            cause: "a SequentialLR with as many milestones as schedulers",
            fix: "give one milestone fewer than schedulers: where each schedule after the first starts",
            kind: ErrorKind::InvalidOptions,
            fragment: "number of schedulers 2 and the number of milestones to be equal to 2",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOptions {
                        scope: Scope::Schedule("sequentiallr"),
                        ..
                    }
                )
            },
            run: || {
                build(|o| {
                    let warmup = LinearLR::builder(LinearLROptions::new());
                    let decay = ExponentialLR::builder(ExponentialLROptions::new().gamma(0.9));
                    SequentialLR::new(o, vec![warmup.into(), decay.into()], [5, 10]).map(drop)
                })
            },
        },
        Case {
            id: "schedule-unknown-option",
            cause: "a schedule of an option the optimizer does not have (`momentun`)",
            fix: "name one of the optimizer's options (the message lists them)",
            kind: ErrorKind::UnknownOption,
            fragment: "sgd has no option `momentun`",
            expect: |e| matches!(e, Error::UnknownOption { kind: "sgd", .. }),
            run: || {
                build(|o| {
                    StepLR::builder(StepLROptions::new().step_size(3))
                        .option("momentun")
                        .build(o)
                        .map(drop)
                })
            },
        },
        Case {
            id: "schedule-option-not-a-number",
            cause: "a schedule of an option that is not a number (`nesterov`)",
            fix: "schedule a number: `lr`, `momentum`, `weight_decay`, or an item of a list (`betas[0]`)",
            kind: ErrorKind::OptionType,
            fragment: "option `nesterov` must be a number to be scheduled, found a boolean (false)",
            expect: |e| matches!(e, Error::OptionType { .. }),
            run: || {
                build(|o| {
                    StepLR::builder(StepLROptions::new().step_size(3))
                        .option("nesterov")
                        .build(o)
                        .map(drop)
                })
            },
        },
        Case {
            id: "schedule-step-rejected",
            cause: "a schedule whose next value the optimizer rejects (a StepLR of `gamma` -1 makes the lr negative at its step)",
            fix: "fix the schedule's options; the step changed neither the optimizer nor the schedule",
            kind: ErrorKind::InvalidOption,
            fragment: "group 0: invalid learning rate: -0.1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidOption {
                        scope: Scope::Group(0),
                        option: "lr",
                        ..
                    }
                )
            },
            run: || {
                on_schedule(
                    |o| StepLR::new(o, StepLROptions::new().step_size(2).gamma(-1.0)),
                    |_, _| Ok(()),
                    |o, s, ()| s.step(o),
                )
            },
        },
        Case {
            id: "schedule-group-added",
            cause: "stepping a LambdaLR after adding a group to the optimizer (it has a function per group it was built for)",
            fix: "add every group before building the schedule, or use a chainable schedule (StepLR, ...)",
            kind: ErrorKind::UnscheduledGroup,
            fragment: "schedule `lambdalr` was built for 2 parameter group(s) and has nothing for group 2",
            expect: |e| {
                matches!(
                    e,
                    Error::UnscheduledGroup {
                        kind: "lambdalr",
                        group: 2,
                        groups: 2
                    }
                )
            },
            run: || {
                on_schedule(
                    |o| LambdaLR::new(o, LambdaLROptions::new().lr_lambda(two_lambdas())),
                    |o, _| o.add_param_group(ParamGroup::new([Param::new(array![1.0])]).options(SgdOptions::new())),
                    |o, s, ()| s.step(o),
                )
            },
        },
        Case {
            id: "schedule-finished",
            cause: "stepping a OneCycleLR of 3 steps a fourth time after its construction step",
            fix: "give `total_steps` the number of steps the training takes (torch allows one step past the last)",
            kind: ErrorKind::ScheduleFinished,
            fragment: "tried to step 4 times. The specified number of total steps is 3",
            expect: |e| {
                matches!(
                    e,
                    Error::ScheduleFinished {
                        kind: "onecyclelr",
                        step: 4,
                        total: 3
                    }
                )
            },
            run: || {
                on_schedule(
                    |o| OneCycleLR::new(o, OneCycleLROptions::new().max_lr(0.1).total_steps(3)),
                    |o, s| {
                        s.step(o)?;
                        s.step(o)
                    },
                    |o, s, ()| s.step(o),
                )
            },
        },
        Case {
            id: "schedule-negative-epoch",
            cause: "`step_at` a negative epoch on CosineAnnealingWarmRestarts",
            fix: "give the epoch from 0, fractional within an epoch (`epoch + i / iters`)",
            kind: ErrorKind::InvalidEpoch,
            fragment: "expected non-negative epoch, but got -1",
            expect: |e| {
                matches!(
                    e,
                    Error::InvalidEpoch {
                        kind: "cosineannealingwarmrestarts",
                        ..
                    }
                )
            },
            run: || {
                let mut opt = sgd2();
                let mut sched =
                    CosineAnnealingWarmRestarts::new(&mut opt, CosineAnnealingWarmRestartsOptions::new().t_0(5))
                        .expect("valid");
                let before = snapshot(&opt, &sched);
                let error = sched.step_at(&mut opt, -1.0).expect_err("a negative epoch");
                Trial {
                    error,
                    before,
                    after: snapshot(&opt, &sched),
                }
            },
        },
        Case {
            id: "schedule-load-wrong-kind",
            cause: "loading a StepLR's state dict into an ExponentialLR",
            fix: "load it into the schedule that saved it",
            kind: ErrorKind::WrongSchedule,
            fragment: "comes from the schedule `steplr` and cannot be loaded into `exponentiallr`",
            expect: |e| {
                matches!(
                    e,
                    Error::WrongSchedule {
                        expected: "exponentiallr",
                        ..
                    }
                )
            },
            run: || {
                on_schedule(
                    |o| ExponentialLR::new(o, ExponentialLROptions::new().gamma(0.9)),
                    |_, _| Ok(StepLR::new(&mut sgd2(), StepLROptions::new().step_size(3))?.state_dict()),
                    |_, s, other| s.load_state_dict(&other),
                )
            },
        },
        Case {
            id: "schedule-load-newer-version",
            cause: "loading a schedule's state dict of a newer format version",
            fix: "upgrade optim",
            kind: ErrorKind::UnsupportedVersion,
            fragment: "format version 99 but this `steplr` reads versions up to 1",
            expect: |e| {
                matches!(
                    e,
                    Error::UnsupportedVersion {
                        kind: "steplr",
                        found: 99,
                        ..
                    }
                )
            },
            run: || load_step_lr(|d| d.insert("version", DictValue::Int(99))),
        },
        Case {
            id: "schedule-load-missing-entry",
            cause: "loading a schedule's state dict without `last_epoch`",
            fix: "load the whole state dict `state_dict()` gave",
            kind: ErrorKind::ScheduleStateDict,
            fragment: "the state dict of schedule `steplr`: `last_epoch` is missing",
            expect: |e| matches!(e, Error::ScheduleStateDict { kind: "steplr", .. }),
            run: || {
                load_step_lr(|d| {
                    d.remove("last_epoch");
                })
            },
        },
        Case {
            id: "schedule-load-torch-entry",
            cause: "loading a state dict with an entry this schedule does not keep (torch's `_is_initial`)",
            fix: "load the state dict this library wrote: torch's depend on its param groups",
            kind: ErrorKind::ScheduleStateDict,
            fragment: "`_is_initial` is not an entry of this schedule",
            expect: |e| matches!(e, Error::ScheduleStateDict { kind: "steplr", .. }),
            run: || load_step_lr(|d| d.insert("_is_initial", false)),
        },
        Case {
            id: "schedule-load-other-option",
            cause: "loading the state dict of a schedule of `weight_decay` into a schedule of `lr`",
            fix: "load it into a schedule of the same option",
            kind: ErrorKind::ScheduleStateDict,
            fragment: "`option` is a string (\"weight_decay\"), but this schedule drives `lr`",
            expect: |e| matches!(e, Error::ScheduleStateDict { kind: "steplr", .. }),
            run: || load_step_lr(|d| d.insert("option", "weight_decay")),
        },
        Case {
            id: "schedule-load-option-type",
            cause: "loading a schedule's state dict whose `gamma` is a string",
            fix: "load the state dict `state_dict()` gave, unedited",
            kind: ErrorKind::OptionType,
            fragment: "schedule `steplr`: option `gamma` must be a number, found a string",
            expect: |e| {
                matches!(
                    e,
                    Error::OptionType {
                        scope: Scope::Schedule("steplr"),
                        ..
                    }
                )
            },
            run: || load_step_lr(|d| d.insert("gamma", "0.5")),
        },
    ]
}
