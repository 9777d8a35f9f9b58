//! The samples of the chapter "Saving and resuming": the state-dict format (its JSON is a
//! snapshot the book includes), resuming, atomic validated loads, dtype casts, loading a
//! dict written by PyTorch, and matching parameters by name.

mod support;

use std::error::Error as StdError;

use optimizers::ndarray::{Array1, Array2, ArrayD, array};
use optimizers::{
    Adam, AdamOptions, DictValue, Error, Optimizer, Param, ParamGroup, Sgd, SgdOptions, StateDict, checkpoint,
};
use support::{assert_snapshot, compact_lists};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

// ANCHOR: format
/// SGD with momentum over a named weight and bias, one step.
fn sgd_after_one_step() -> Result<Optimizer<Sgd, f32>> {
    let weight = Param::named("fc.weight", array![[0.5f32, -1.0], [2.0, 0.25]]);
    let bias = Param::named("fc.bias", array![0.0f32, 1.0]);
    let mut opt = Sgd::with_groups(
        [
            ParamGroup::new([weight.clone()]),
            ParamGroup::new([bias.clone()]).options(SgdOptions::new().lr(0.5).momentum(0.0)),
        ],
        SgdOptions::new().lr(0.25).momentum(0.5),
    )?;
    weight.set_grad(array![[1.0f32, -2.0], [0.5, 0.0]])?;
    bias.set_grad(array![0.25f32, -0.5])?;
    opt.step()?;
    Ok(opt)
}
// ANCHOR_END: format

#[test]
fn the_state_dict_is_torchs_layout_plus_kind_version_and_names() -> Result {
    let opt = sgd_after_one_step()?;
    // ANCHOR: to_json
    let dict = opt.state_dict().into_owned();
    let json = dict.to_json_pretty(); // or `to_json()` for one compact line
    // ANCHOR_END: to_json
    assert_snapshot("sgd_state_dict.json", &compact_lists(&json));
    assert_eq!(StateDict::from_json(&json)?, dict);
    // ANCHOR: fields
    assert_eq!(dict.kind.as_deref(), Some("sgd"));
    assert_eq!(dict.version, Some(1));
    assert_eq!(dict.param_groups[1].params, [1]);
    assert_eq!(dict.param_groups[1].options.get("lr"), Some(&DictValue::Float(0.5)));
    assert!(!dict.state.contains_key(&1), "no momentum in group 1, so no state");
    let buffer = &dict.state[&0].get("momentum_buffer");
    assert!(matches!(buffer, Some(DictValue::Tensor(t)) if t.shape() == [2, 2]));
    // ANCHOR_END: fields
    Ok(())
}

#[test]
fn a_checkpoint_file_resumes_bit_for_bit() -> Result {
    let grads = |k: usize| array![(k as f32).sin(), (k as f32).cos()];
    let train = |p: &Param<f32>, opt: &mut Optimizer<Adam, f32>, steps| -> Result {
        for k in steps {
            p.set_grad(grads(k))?;
            opt.step()?;
        }
        Ok(())
    };
    let path = std::env::temp_dir().join(format!("optim-book-resume-{}.json", std::process::id()));
    // ANCHOR: resume
    // The original run: 3 steps, then a checkpoint of the parameters and the optimizer.
    let w = Param::named("w", array![1.0f32, -1.0]);
    let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
    train(&w, &mut opt, 0..3)?;
    let saved_value = w.to_array();
    checkpoint::save(&path, &opt.state_dict())?;

    // Later, maybe in another process: rebuild, restore, continue.
    let w2 = Param::named("w", saved_value);
    let mut resumed = Adam::new([w2.clone()], AdamOptions::new().lr(0.1))?;
    resumed.load_state_dict(&checkpoint::load(&path)?.state_dict()?)?;
    train(&w2, &mut resumed, 3..10)?;

    train(&w, &mut opt, 3..10)?; // the original, never stopped
    assert_eq!(w.to_array(), w2.to_array()); // bit for bit
    // ANCHOR_END: resume
    std::fs::remove_file(&path)?;
    Ok(())
}

#[test]
fn a_failed_load_changes_nothing() -> Result {
    // ANCHOR: atomic
    let mut opt = sgd_after_one_step()?;
    let weight = opt.params(0)?[0].clone();
    let before = opt.state_dict().into_owned();

    // A checkpoint whose last entry is broken: a momentum buffer of the wrong shape.
    let mut broken = before.clone();
    broken.param_groups[0].options.insert("lr", 0.125); // valid, and would be applied...
    let bad = optimizers::DictTensor::owned(&[3], &[0.0f32; 3]).ok_or("shape")?;
    broken.state.get_mut(&0).ok_or("state")?.insert("momentum_buffer", bad);

    let err = opt.load_state_dict(&broken).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the state dict does not match the optimizer's parameters by name: \
         parameter \"fc.weight\": state of parameter 0: `momentum_buffer` has shape [3] but the parameter needs [2, 2]"
    );
    // ... but nothing was: options and state are as before the call.
    assert_eq!(opt.state_dict(), before);
    assert_eq!(opt.hyperparameters(0)?.lr, 0.25);
    assert!(opt.state(&weight).is_some());
    // ANCHOR_END: atomic
    Ok(())
}

#[test]
fn every_check_names_what_is_wrong() -> Result {
    let mut opt = sgd_after_one_step()?;
    let good = opt.state_dict().into_owned();
    let check = |change: &dyn Fn(&mut StateDict<'static>), expected: &str| {
        let mut dict = good.clone();
        change(&mut dict);
        let mut opt2 = sgd_after_one_step().unwrap();
        let err = opt2.load_state_dict(&dict).unwrap_err();
        assert_eq!(err.to_string(), expected);
    };
    // ANCHOR: checks
    check(
        &|d| d.kind = Some("adam".into()),
        "the state dict comes from `adam` and cannot be loaded into `sgd`: load it into the optimizer that saved it",
    );
    check(
        &|d| d.version = Some(2),
        "the state dict has format version 2 but this `sgd` reads versions up to 1: upgrade optim",
    );
    check(
        &|d| {
            d.param_groups.pop();
        },
        "loaded state dict has 1 parameter group(s) but the optimizer has 2",
    );
    check(
        &|d| d.param_groups[0].options.insert("momentum", -0.5),
        "group 0: invalid momentum value: -0.5",
    );
    check(
        &|d| d.param_groups[0].options.insert("lr", "fast"),
        "group 0: option `lr` must be a number, found a string (\"fast\")",
    );
    check(
        &|d| d.param_groups[0].options.insert("lr_decay", 0.1),
        "group 0: sgd has no option `lr_decay` (its options are: lr, momentum, dampening, weight_decay, nesterov, maximize)",
    );
    check(
        &|d| {
            d.state.get_mut(&0).unwrap().insert("exp_avg", 1.0);
        },
        "state of parameter 0: sgd has no state entry `exp_avg` (its entries are: momentum_buffer)",
    );
    check(
        &|d| {
            d.state.get_mut(&0).unwrap().insert("momentum_buffer", 1.0);
        },
        "state of parameter 0: `momentum_buffer` must be a tensor, found a number (1.0)",
    );
    check(
        &|d| {
            d.state.insert(7, d.state[&0].clone());
        },
        "the state dict has state for parameter index 7, which none of its groups lists",
    );
    // ANCHOR_END: checks
    opt.load_state_dict(&good)?;
    Ok(())
}

#[test]
fn state_is_cast_to_the_parameters_dtype() -> Result {
    // ANCHOR: dtype
    // Trained in f64 ...
    let w64 = Param::new(array![1.0f64, 2.0]);
    let mut opt64 = Adam::new([w64.clone()], AdamOptions::new())?;
    w64.set_grad(array![0.1, -0.2])?;
    opt64.step()?;
    let dict = opt64.state_dict().into_owned(); // tensors saved as "float64"

    // ... resumed in f32: tensors are cast to the parameters' type on load.
    let w32 = Param::new(w64.to_array().mapv(|x| x as f32));
    let mut opt32 = Adam::new([w32.clone()], AdamOptions::new())?;
    opt32.load_state_dict(&dict)?;
    let exp_avg = &opt32.state(&w32).ok_or("loaded")?.exp_avg;
    assert_eq!(exp_avg[0], (0.1f64 * (1.0 - 0.9)) as f32);
    // ANCHOR_END: dtype
    Ok(())
}

// ANCHOR: torch
#[test]
fn a_run_started_in_pytorch_continues_here() -> Result {
    // A state dict exported from PyTorch by `data/export_state_dict.py`, as it is.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/torch_adam.json");
    let file = checkpoint::load(path)?;
    let dict = file.state_dict()?;
    assert_eq!((dict.kind.as_deref(), dict.version), (None, None)); // torch records neither

    // The parameters as torch left them after 3 steps (printed by the script) ...
    let weight = Param::new(array![[0.29557696f32, -0.75010604], [1.7167987, 0.00860998]]);
    let bias = Param::new(array![-0.20442304f32, 1.184933]);
    // ... an optimizer over them, in the order torch had them, and torch's state.
    let mut opt = Adam::new([weight.clone(), bias.clone()], AdamOptions::new())?;
    opt.load_state_dict(&dict)?; // by position: torch's dict has no names
    assert_eq!(opt.hyperparameters(0)?.lr, 0.1); // the saved options replace the current ones
    assert_eq!(opt.hyperparameters(0)?.betas, (0.9, 0.99));

    // Steps 4 and 5, with the gradients torch used: the same parameters as torch's.
    for (gw, gb) in [
        (array![[0.25f32, 0.25], [-0.5, 2.0]], array![1.0f32, -0.25]),
        (array![[2.0f32, -0.5], [0.0, -1.0]], array![0.0f32, 0.75]),
    ] {
        weight.set_grad(gw)?;
        bias.set_grad(gb)?;
        opt.step()?;
    }
    let torch_weight = array![[0.2243374f32, -0.6657184], [1.6393787, -0.10970714]].into_dyn();
    let torch_bias = array![-0.3000418f32, 1.2009733].into_dyn();
    let close = |a: &ArrayD<f32>, b: &ArrayD<f32>| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6);
    assert!(close(&weight.to_array(), &torch_weight));
    assert!(close(&bias.to_array(), &torch_bias));
    Ok(())
}
// ANCHOR_END: torch

#[test]
fn torchs_implementation_flags_are_errors_in_a_dict_of_ours() -> Result {
    // The same flags in a dict that says it was written here can only be a mistake.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/torch_adam.json");
    let file = checkpoint::load(path)?;
    let mut dict = file.state_dict()?;
    dict.kind = Some("adam".into());
    let mut opt = Adam::new(
        [
            Param::new(Array2::<f32>::zeros((2, 2))),
            Param::new(Array1::<f32>::zeros(2)),
        ],
        AdamOptions::new(),
    )?;
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        err.to_string().starts_with("group 0: adam has no option `foreach`"),
        "{err}"
    );
    Ok(())
}

#[test]
fn named_parameters_are_matched_by_name() -> Result {
    // ANCHOR: names
    let make = |names: [&str; 2]| -> Result<_> {
        let params = names.map(|n| Param::named(n, array![1.0f64, 2.0]));
        let opt = Adam::new(params.clone(), AdamOptions::new())?;
        Ok((params, opt))
    };
    let ([a, b], mut opt) = make(["encoder.weight", "decoder.weight"])?;
    a.set_grad(array![1.0, 1.0])?;
    b.set_grad(array![-1.0, -1.0])?;
    opt.step()?;
    let dict = opt.state_dict().into_owned();

    // The model now lists its parameters in another order: names find them.
    let ([decoder, encoder], mut reordered) = make(["decoder.weight", "encoder.weight"])?;
    reordered.load_state_dict(&dict)?;
    assert_eq!(reordered.state(&encoder), opt.state(&a));
    assert_eq!(reordered.state(&decoder), opt.state(&b));

    // A renamed parameter is reported, with everything else that does not match.
    let (_, mut renamed) = make(["encoder.weight", "head.weight"])?;
    let err = renamed.load_state_dict(&dict).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the state dict does not match the optimizer's parameters by name: \
         group 0: parameter \"head.weight\" is missing from the state dict; \
         group 0: the state dict has parameter \"decoder.weight\", which the optimizer does not have"
    );
    // ANCHOR_END: names
    assert!(matches!(err, Error::ParamNames { problems } if problems.len() == 2));
    Ok(())
}
