//! `state_dict` and `load_state_dict`: torch's layout, every load check, atomic failure,
//! dtype casting, name matching, and save–load–continue.

mod support;

use std::path::PathBuf;

use optim_core::ndarray::array;
use optim_core::{DictTensor, DictValue, Error, Map, Param, ParamGroup, StateDict};
use support::*;

fn momentum_opt() -> (optim_core::Optimizer<Momentum, f64>, Param<f64>, Param<f64>, Param<f64>) {
    let (a, b) = two_params();
    let c = Param::new(array![[0.1, 0.2, 0.3]]);
    let opt = Momentum::with_groups(
        [
            ParamGroup::new([a.clone(), b.clone()]),
            ParamGroup::new([c.clone()]).options(MomentumOptions::new().momentum(0.0).lr(0.5)),
        ],
        MomentumOptions::new().lr(0.1).momentum(0.9),
    )
    .expect("valid");
    (opt, a, b, c)
}

#[test]
fn state_dict_packs_as_torch_does() {
    let (mut opt, ..) = momentum_opt();
    train(&mut opt, 0, 2);
    let sd = opt.state_dict().into_owned();
    assert_eq!((sd.kind.as_deref(), sd.version), (Some("momentum"), Some(1)));
    assert_eq!(sd.param_groups.len(), 2);
    assert_eq!(sd.param_groups[0].params, [0, 1]);
    assert_eq!(sd.param_groups[1].params, [2], "indices continue across groups");
    assert_eq!(
        sd.param_groups[1].options.keys().collect::<Vec<_>>(),
        ["lr", "momentum", "weight_decay", "nesterov"]
    );
    assert_eq!(sd.param_groups[1].options.get("lr"), Some(&DictValue::Float(0.5)));
    assert_eq!(sd.state.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(sd.state[&0].keys().collect::<Vec<_>>(), ["step", "momentum_buffer"]);
    assert_eq!(
        sd.state[&2].keys().collect::<Vec<_>>(),
        ["step"],
        "no buffer without momentum"
    );
    let Some(DictValue::Tensor(t)) = sd.state[&0].get("momentum_buffer") else {
        panic!("tensor")
    };
    assert_eq!(t.shape(), [2, 2]);
}

#[test]
fn json_layout_is_torchs_plus_kind_version_and_dtype() {
    let p = Param::named("w", array![1.0f64, 2.0]);
    let mut opt = Momentum::new([p.clone()], MomentumOptions::new().lr(0.5).momentum(0.9)).expect("valid");
    p.set_grad(array![1.0, -1.0]).expect("shape");
    opt.step().expect("step");
    assert_eq!(
        opt.state_dict().to_json(),
        concat!(
            r#"{"kind":"momentum","version":1,"#,
            r#""state":{"0":{"step":1,"momentum_buffer":{"shape":[2],"dtype":"float64","data":[1.0,-1.0]}}},"#,
            r#""param_groups":[{"lr":0.5,"momentum":0.9,"weight_decay":0.0,"nesterov":false,"params":[0],"param_names":["w"]}]}"#
        )
    );
}

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("OPTIM_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/torch"),
    }
}

/// Numeric equality of two JSON documents, ignoring our extra `dtype` keys.
fn same_json(ours: &serde_json::Value, torch: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (ours, torch) {
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        (J::Array(a), J::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_json(x, y)),
        (J::Object(a), J::Object(b)) => {
            a.iter().filter(|(k, _)| *k != "dtype").count() == b.len()
                && b.iter().all(|(k, v)| a.get(k).is_some_and(|w| same_json(w, v)))
        }
        (a, b) => a == b,
    }
}

#[test]
fn torch_state_dicts_from_the_fixtures_read_and_write_back_unchanged() {
    let dir = fixtures_dir();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("fixtures at {}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let torch = &doc["state_dict"];
        let sd = StateDict::from_json(&torch.to_string()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!((sd.kind.as_ref(), sd.version), (None, None), "torch records neither");
        let ours: serde_json::Value = serde_json::from_str(&sd.to_json()).expect("own JSON");
        assert!(
            same_json(&ours, torch),
            "{} does not survive a round trip",
            path.display()
        );
        count += 1;
    }
    assert!(
        count >= 30,
        "expected the shared fixtures, found {count} files in {}",
        dir.display()
    );
}

#[test]
fn a_torch_style_dict_loads_by_position() {
    let (mut opt, ..) = momentum_opt();
    train(&mut opt, 0, 3);
    let mut sd = opt.state_dict().into_owned();
    sd.kind = None;
    sd.version = None;
    let (mut fresh, ..) = momentum_opt();
    fresh.load_state_dict(&through_json(&sd)).expect("loads");
    assert_eq!(fresh.state_dict(), opt.state_dict());
}

fn save_load_continue<A: optim_core::Float>() {
    let make = || {
        let a = Param::new(array![[1.0, -2.0], [0.5, 3.0]].mapv(A::from_f64));
        let b = Param::new(array![0.25, -1.0, 2.0].mapv(A::from_f64));
        let opt = Momentum::with_groups(
            [
                ParamGroup::new([a.clone()]),
                ParamGroup::new([b.clone()]).options(MomentumOptions::new().nesterov(true)),
            ],
            MomentumOptions::new().lr(0.05).momentum(0.9).weight_decay(0.01),
        )
        .expect("valid");
        (opt, a, b)
    };
    let (mut straight, ..) = make();
    train(&mut straight, 0, 10);

    let (mut first, a, b) = make();
    train(&mut first, 0, 4);
    let json = first.state_dict().to_json();
    let (mut resumed, a2, b2) = make();
    a2.set_value(a.to_array()).expect("shape");
    b2.set_value(b.to_array()).expect("shape");
    resumed
        .load_state_dict(&StateDict::from_json(&json).expect("parses"))
        .expect("loads");
    train(&mut resumed, 4, 6);

    let bits = |o: &optim_core::Optimizer<Momentum, A>| -> Vec<u64> {
        o.all_params()
            .flat_map(|p| {
                p.to_array()
                    .into_iter()
                    .map(|x| x.as_f64().to_bits())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(bits(&resumed), bits(&straight), "bit-identical to never stopping");
    assert_eq!(resumed.state_dict(), straight.state_dict());
}

#[test]
fn save_load_continue_is_bit_identical_f64() {
    save_load_continue::<f64>();
}

#[test]
fn save_load_continue_is_bit_identical_f32() {
    save_load_continue::<f32>();
}

#[test]
fn state_is_cast_to_the_parameters_dtype() {
    let p64 = Param::new(array![1.0f64, 2.0]);
    let mut o64 = Momentum::new([p64.clone()], MomentumOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    p64.set_grad(array![0.1, 0.2]).expect("shape");
    o64.step().expect("step");
    let p32 = Param::new(array![1.0f32, 2.0]);
    let mut o32 = Momentum::new([p32.clone()], MomentumOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    o32.load_state_dict(&o64.state_dict()).expect("f64 state into f32");
    let buf = o32
        .state(&p32)
        .expect("loaded")
        .momentum_buffer
        .clone()
        .expect("buffer");
    assert_eq!(buf, array![0.1f32, 0.2].into_dyn());
    let sd32 = o32.state_dict().into_owned();
    let Some(DictValue::Tensor(t)) = sd32.state[&0].get("momentum_buffer") else {
        panic!("tensor")
    };
    assert_eq!(t.dtype(), optim_core::DType::F32);
    o64.load_state_dict(&sd32).expect("and back");
    assert_eq!(
        o64.state(&p64).expect("loaded").momentum_buffer.clone().expect("buf")[0],
        0.1f32 as f64
    );
}

/// Trains an optimizer, breaks its state dict with `mutate`, loads it, and checks the error
/// and that nothing changed.
fn load_fails(mutate: impl FnOnce(&mut StateDict), check: impl FnOnce(&Error)) {
    let (mut opt, ..) = momentum_opt();
    train(&mut opt, 0, 2);
    let mut sd = opt.state_dict().into_owned();
    mutate(&mut sd);
    train(&mut opt, 2, 1);
    let before = snapshot(&opt);
    let err = opt.load_state_dict(&sd).expect_err("must fail");
    check(&err);
    assert_eq!(snapshot(&opt), before, "a failed load changes nothing");
}

#[test]
fn load_rejects_state_of_another_optimizer() {
    load_fails(
        |sd| sd.kind = Some("adam".into()),
        |e| {
            assert_eq!(
                e.to_string(),
                "the state dict comes from `adam` and cannot be loaded into `momentum`: load it into the optimizer that saved it"
            )
        },
    );
}

#[test]
fn load_rejects_a_newer_format() {
    load_fails(
        |sd| sd.version = Some(2),
        |e| {
            assert!(
                matches!(
                    e,
                    Error::UnsupportedVersion {
                        found: 2,
                        supported: 1,
                        ..
                    }
                ),
                "{e}"
            )
        },
    );
}

#[test]
fn load_rejects_a_different_number_of_groups() {
    load_fails(
        |sd| {
            sd.param_groups.pop();
        },
        |e| {
            assert_eq!(
                e.to_string(),
                "loaded state dict has 1 parameter group(s) but the optimizer has 2"
            )
        },
    );
}

#[test]
fn load_rejects_a_group_of_the_wrong_size() {
    load_fails(
        |sd| sd.param_groups[0].params.push(7),
        |e| {
            assert_eq!(
                e.to_string(),
                "group 0 of the loaded state dict has 3 parameter(s) but the optimizer's group 0 has 2"
            )
        },
    );
}

#[test]
fn load_rejects_a_state_tensor_of_the_wrong_shape_even_in_the_last_entry() {
    load_fails(
        |sd| {
            let t = DictTensor::owned(&[2, 2], &[0.0f64; 4]).expect("fits");
            // Parameter 1 has shape [3]; the failure comes after parameter 0 was read fine.
            sd.state.get_mut(&1).expect("state").insert("momentum_buffer", t);
        },
        |e| {
            assert_eq!(
                e,
                &Error::StateShape {
                    index: 1,
                    key: "momentum_buffer".into(),
                    expected: vec![3],
                    found: vec![2, 2]
                }
            );
            assert_eq!(
                e.to_string(),
                "state of parameter 1: `momentum_buffer` has shape [2, 2] but the parameter needs [3]"
            );
        },
    );
}

#[test]
fn load_rejects_state_for_an_index_no_group_lists() {
    load_fails(
        |sd| {
            let entry = sd.state[&0].clone();
            sd.state.insert(9, entry);
        },
        |e| assert_eq!(e, &Error::UnknownStateIndex { index: 9 }),
    );
}

#[test]
fn load_rejects_an_index_listed_twice() {
    load_fails(
        |sd| sd.param_groups[1].params = vec![0],
        |e| assert_eq!(e, &Error::DuplicateStateIndex { index: 0, group: 1 }),
    );
}

#[test]
fn load_rejects_unknown_and_missing_state_keys() {
    load_fails(
        |sd| sd.state.get_mut(&0).expect("state").insert("exp_avg", 1.0),
        |e| {
            assert_eq!(
                e.to_string(),
                "state of parameter 0: momentum has no state entry `exp_avg` (its entries are: step, momentum_buffer)"
            )
        },
    );
    load_fails(
        |sd| {
            sd.state.get_mut(&2).expect("state").remove("step");
        },
        |e| assert_eq!(e.to_string(), "state of parameter 2: the entry `step` is missing"),
    );
}

#[test]
fn load_rejects_values_of_the_wrong_type() {
    load_fails(
        |sd| sd.state.get_mut(&0).expect("state").insert("momentum_buffer", "zeros"),
        |e| {
            assert_eq!(
                e.to_string(),
                "state of parameter 0: `momentum_buffer` must be a tensor, found a string (\"zeros\")"
            )
        },
    );
    load_fails(
        |sd| sd.state.get_mut(&0).expect("state").insert("step", -3i64),
        |e| {
            assert_eq!(
                e.to_string(),
                "state of parameter 0: `step` must not be negative, found -3"
            )
        },
    );
    load_fails(
        |sd| sd.param_groups[0].options.insert("nesterov", 1.0),
        |e| {
            assert_eq!(
                e.to_string(),
                "group 0: option `nesterov` must be a boolean, found a number (1.0)"
            )
        },
    );
}

#[test]
fn load_rejects_invalid_and_unknown_options() {
    load_fails(
        |sd| sd.param_groups[1].options.insert("lr", -0.5),
        |e| assert_eq!(e.to_string(), "group 1: invalid learning rate: -0.5"),
    );
    load_fails(
        |sd| sd.param_groups[0].options.insert("lr", f64::NAN),
        |e| assert_eq!(e.to_string(), "group 0: invalid learning rate: NaN"),
    );
    load_fails(
        |sd| sd.param_groups[0].options.insert("lrr", 0.1),
        |e| {
            assert_eq!(
                e.to_string(),
                "group 0: momentum has no option `lrr` (its options are: lr, momentum, weight_decay, nesterov)"
            )
        },
    );
}

#[test]
fn saved_options_replace_the_current_ones_and_missing_ones_come_from_defaults() {
    let (mut opt, ..) = momentum_opt();
    let mut sd = opt.state_dict().into_owned();
    sd.param_groups[0].options.insert("lr", 0.7);
    sd.param_groups[1].options.remove("weight_decay");
    opt.set_options(1, &MomentumOptions::new().weight_decay(0.3))
        .expect("valid");
    opt.load_state_dict(&sd).expect("loads");
    assert_eq!(opt.hyperparameters(0).expect("g0").lr, 0.7);
    assert_eq!(
        opt.hyperparameters(1).expect("g1").weight_decay,
        0.0,
        "from the defaults"
    );
}

#[test]
fn broken_json_is_an_error_not_a_panic() {
    let (mut opt, ..) = momentum_opt();
    train(&mut opt, 0, 1);
    let json = opt.state_dict().to_json();
    // Text that is not JSON is a JSON error, with serde_json's error as its source...
    for text in [&json[..json.len() / 2], "{"] {
        let err = StateDict::from_json(text).expect_err(text);
        assert!(matches!(err, Error::Json { .. }), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }
    // ...and JSON that is not a state dict is a format error naming what is wrong.
    for (text, needle) in [
        ("[]", "a state dict is a map"),
        ("{\"state\": {}, \"param_groups\": [], \"x\": 1}", "unexpected key `x`"),
        (
            "{\"state\": {\"a\": {}}, \"param_groups\": []}",
            "not a parameter index",
        ),
    ] {
        let err = StateDict::from_json(text).expect_err(text);
        assert!(
            matches!(err, Error::Format { .. }) && err.to_string().contains(needle),
            "{err}"
        );
    }
}

#[test]
fn named_parameters_are_matched_by_name() {
    let make = |order: [usize; 2]| {
        let ps = [
            Param::named("w", array![1.0f64, 2.0]),
            Param::named("b", array![0.5f64]),
        ];
        let params: Vec<_> = order.iter().map(|&i| ps[i].clone()).collect();
        let opt = Momentum::new(params, MomentumOptions::new().lr(0.1).momentum(0.9)).expect("valid");
        (opt, ps)
    };
    let (mut saved, ps) = make([0, 1]);
    train(&mut saved, 0, 2);
    let sd = saved.state_dict().into_owned();
    assert_eq!(
        sd.param_groups[0].param_names.as_deref(),
        Some(&["w".to_string(), "b".to_string()][..])
    );
    let (mut reordered, qs) = make([1, 0]);
    reordered.load_state_dict(&through_json(&sd)).expect("matched by name");
    for (p, q) in ps.iter().zip(&qs) {
        assert_eq!(
            reordered.state(q).expect("loaded").momentum_buffer,
            saved.state(p).expect("saved").momentum_buffer,
            "{:?}",
            q.name()
        );
    }
}

#[test]
fn name_mismatches_are_all_reported_at_once() {
    let ps = [
        Param::named("w", array![1.0f64, 2.0]),
        Param::named("b", array![0.5f64]),
        Param::named("c", array![0.5f64]),
    ];
    let mut opt = Momentum::new(ps.clone(), MomentumOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    train(&mut opt, 0, 1);
    let mut sd = opt.state_dict().into_owned();
    let names = sd.param_groups[0].param_names.as_mut().expect("named");
    names[1] = "bias".into();
    sd.state.get_mut(&2).expect("c").insert(
        "momentum_buffer",
        DictTensor::owned(&[2], &[0.0f64, 0.0]).expect("fits"),
    );
    let before = snapshot(&opt);
    let err = opt.load_state_dict(&sd).expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        "the state dict does not match the optimizer's parameters by name: \
         group 0: parameter \"b\" is missing from the state dict; \
         group 0: the state dict has parameter \"bias\", which the optimizer does not have; \
         parameter \"c\": state of parameter 2: `momentum_buffer` has shape [2] but the parameter needs [1]"
    );
    assert_eq!(snapshot(&opt), before);
}

#[test]
fn closure_rule_state_lives_under_parameter_zero_as_a_flat_vector() {
    let make = || {
        let x = Param::new(array![2.0f64, -1.0]);
        let y = Param::new(array![[0.5f64]]);
        let opt = optim_core::Optimizer::<Backtrack, f64>::new([x.clone(), y.clone()], BacktrackOptions::default())
            .expect("valid");
        (opt, x, y)
    };
    let (mut opt, x, y) = make();
    let mut closure = || {
        let (vx, vy) = (x.to_array(), y.to_array());
        x.set_grad(vx.mapv(|t| 2.0 * t)).expect("shape");
        y.set_grad(vy.mapv(|t| 2.0 * t)).expect("shape");
        vx.iter().chain(vy.iter()).map(|t| t * t).sum::<f64>()
    };
    opt.step_with(&mut closure).expect("step");
    let sd = opt.state_dict().into_owned();
    assert_eq!(sd.state.keys().copied().collect::<Vec<_>>(), [0]);
    let Some(DictValue::Tensor(d)) = sd.state[&0].get("d") else {
        panic!("d")
    };
    assert_eq!(d.shape(), [3], "one flat vector over both parameters");
    let (mut fresh, ..) = make();
    fresh.load_state_dict(&through_json(&sd)).expect("loads");
    assert_eq!(fresh.state_dict(), sd);
    let mut moved = sd.clone();
    let entry = moved.state.remove(&0).expect("entry");
    moved.state.insert(1, entry);
    assert_eq!(
        fresh.load_state_dict(&moved).expect_err("misplaced").to_string(),
        "backtrack keeps all of its state under parameter 0, but the state dict has state for parameter index 1"
    );
}

#[test]
fn options_can_be_read_from_a_torch_style_map() {
    let mut m = Map::new();
    m.insert("lr", DictValue::Int(1));
    m.insert("nesterov", false);
    let o =
        <Momentum as optim_core::Hyperparameters>::options_from_map(&m, optim_core::Scope::Group(0)).expect("valid");
    assert_eq!((o.lr, o.nesterov, o.momentum), (Some(1.0), Some(false), None));
}

#[test]
fn names_and_indices_of_different_lengths_are_a_format_error() {
    let p = Param::named("w", array![1.0f64]);
    let mut opt = Momentum::new([p], MomentumOptions::new().lr(0.1)).expect("valid");
    let mut sd = opt.state_dict().into_owned();
    sd.param_groups[0].param_names = Some(vec!["w".into(), "extra".into()]);
    let err = opt.load_state_dict(&sd).expect_err("lengths differ");
    assert_eq!(
        err.to_string(),
        "malformed state dict: group 0 lists 1 parameter(s) but 2 name(s)"
    );
}

#[test]
fn torch_run_flags_are_ignored_in_torch_dicts_only() {
    let (mut opt, ..) = momentum_opt();
    train(&mut opt, 0, 2);
    let mut sd = opt.state_dict().into_owned();
    for group in &mut sd.param_groups {
        for flag in ["foreach", "fused", "capturable", "differentiable", "initial_lr"] {
            // torch's run flags, ignored in dicts torch wrote

            group.options.insert(flag, DictValue::Null);
        }
        group.options.insert("foreach", false);
        group.options.insert("initial_lr", 0.1);
    }
    let before = opt.state_dict().into_owned();
    let err = opt
        .load_state_dict(&sd)
        .expect_err("our own dicts have no such options");
    assert!(matches!(err, Error::UnknownOption { .. }), "{err}");
    sd.kind = None;
    sd.version = None;
    opt.load_state_dict(&sd)
        .expect("torch's run flags are not options: ignored");
    assert_eq!(opt.state_dict(), before, "nothing else changed");
    sd.param_groups[0].options.insert("lrr", 0.1);
    assert!(
        matches!(opt.load_state_dict(&sd), Err(Error::UnknownOption { .. })),
        "a typo is still an error"
    );
}
