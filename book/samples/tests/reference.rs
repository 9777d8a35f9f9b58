//! What `#[derive(Optimizer)]` and `#[derive(State)]` generate, shown on the optimizer of
//! `src/reference.rs`, which uses every key.

use std::error::Error as StdError;

use optim_book::reference::{Warmup, WarmupConfig, WarmupSgd, WarmupState, WarmupStateElem};
use optimizers::ndarray::array;
use optimizers::rule::Hyperparameters;
use optimizers::{DictValue, Param, ParamGroup, State};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn the_options_struct_and_its_builders() -> Result {
    // ANCHOR: options
    // One `Option<T>` per option (its field's type), public, `Default` = nothing set ...
    let given = WarmupConfig {
        lr: Some(0.1),
        ..WarmupConfig::default()
    };
    // ... and a builder method per option; an `Option<T>` option takes `T` (or `None`).
    let built = WarmupConfig::new().lr(0.1).warmup(Warmup::Linear).clip(1.0);
    assert_eq!(built.clip, Some(Some(1.0)));
    assert_eq!(given, WarmupConfig::new().lr(0.1));
    // ANCHOR_END: options
    Ok(())
}

#[test]
fn the_hyperparameters_impl() -> Result {
    // ANCHOR: hyperparameters
    assert_eq!(WarmupSgd::KIND, "warmup_sgd");
    assert_eq!(WarmupSgd::VERSION, 2);
    assert_eq!(
        WarmupSgd::OPTION_NAMES,
        ["lr", "schedule", "total_steps", "warmup_steps", "clip"]
    );
    // The class defaults under the given options; `lr` is required, so it stays absent.
    let defaults = WarmupSgd::defaults(&WarmupConfig::new().total_steps(1000));
    assert_eq!(defaults.lr, None);
    assert_eq!(defaults.warmup_steps, Some(100)); // total_steps / 10, from the given 1000
    assert_eq!(defaults.clip, Some(None)); // an `Option` option defaults to `None`
    // ANCHOR_END: hyperparameters
    Ok(())
}

#[test]
fn the_constructors_and_the_checks() -> Result {
    let p = || Param::new(array![1.0f32, -1.0]);
    // ANCHOR: constructors
    let opt = WarmupSgd::new([p()], WarmupConfig::new().lr(0.1))?;
    assert_eq!(opt.kind(), "warmup_sgd");
    let opt = WarmupSgd::with_groups(
        [
            ParamGroup::new([p()]).options(WarmupConfig::new().lr(0.1)),
            ParamGroup::new([p()]).options(WarmupConfig::new().lr(0.01).warmup(Warmup::Linear)),
        ],
        WarmupConfig::new(), // no lr here: every group must set it
    )?;
    assert_eq!(opt.hyperparameters(1)?.warmup, Warmup::Linear);
    assert_eq!(opt.option(1, "schedule")?, DictValue::Str("linear".into()));

    let err = WarmupSgd::new([p()], WarmupConfig::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "group 0 does not set the required option `lr` and the optimizer has no default for it: \
         set it in the group or in the optimizer's options"
    );
    let err = WarmupSgd::new([p()], WarmupConfig::new().lr(0.1).clip(-1.0)).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid clip: Some(-1.0) (must be above 0)");
    let err = WarmupSgd::new([p()], WarmupConfig::new().lr(0.1).warmup_steps(500)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: invalid warmup_steps: 500 (must satisfy `warmup_steps <= total_steps`)"
    );
    let config = WarmupConfig::new().lr(0.1).warmup(Warmup::Linear).warmup_steps(0);
    let err = WarmupSgd::new([p()], config).unwrap_err();
    assert_eq!(err.to_string(), "defaults: a linear warm-up needs warmup_steps > 0");
    // ANCHOR_END: constructors
    Ok(())
}

#[test]
fn the_state_impl_and_its_elementwise_view() -> Result {
    // ANCHOR: state
    // Entry names in state-dict order: renamed, skipped fields left out.
    assert_eq!(WarmupState::<f32>::keys(), ["step", "last_update", "raw_grad"]);

    let p = Param::new(array![1.0f32, -1.0]);
    let mut opt = WarmupSgd::new([p.clone()], WarmupConfig::new().lr(0.5).clip(0.25))?;
    p.set_grad(array![1.0f32, -0.125])?;
    opt.step()?;
    assert_eq!(*p.value(), array![0.875f32, -0.9375].into_dyn()); // clipped to ±0.25, times 0.5
    let entry = &opt.state_dict().state[&0];
    assert_eq!(entry.keys().collect::<Vec<_>>(), ["step", "last_update", "raw_grad"]);

    // The element view an elementwise rule sees: `&mut A` per tensor, `Option<&mut A>`
    // per optional tensor; scalars and skipped fields are not in it.
    let (mut last, mut raw) = (0.0f32, 0.0f32);
    let elem = WarmupStateElem {
        last_update: &mut last,
        unclipped: Some(&mut raw),
    };
    *elem.last_update = 1.0;
    assert_eq!(last, 1.0);
    // ANCHOR_END: state
    Ok(())
}
