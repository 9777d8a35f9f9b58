//! `Lbfgs`'s state dict: torch's layout, and every malformed state rejected by
//! `Optimizer::load_state_dict` with an error naming the entry, leaving the optimizer
//! exactly as it was (a later step continues as if no load had been tried).

mod lbfgs_support;

use lbfgs_support::{Flat, bits, flat_values, params_from};
use optim_tests::problems::Rosenbrock;
use optimizers::{DictTensor, DictValue, Error, Lbfgs, LbfgsOptions, LineSearch, Map, Optimizer, Param, StateDict};

type Result<T = ()> = std::result::Result<T, Error>;

const N: usize = 4;

fn options() -> LbfgsOptions {
    LbfgsOptions::new()
        .line_search_fn(LineSearch::StrongWolfe)
        .history_size(3)
        .max_iter(5)
}

/// An optimizer, its parameters, and its closure's buffers.
type Trained = (Optimizer<Lbfgs, f64>, Vec<Param<f64>>, Flat<f64>);

/// An optimizer after `steps` steps over two parameters ([3] and [1]).
fn trained(steps: usize) -> Result<Trained> {
    let params = params_from(&[&[3], &[1]], &Rosenbrock::start::<f64>(N));
    let mut opt = Lbfgs::new(params.clone(), options())?;
    let mut flat = Flat::new(&params);
    for _ in 0..steps {
        opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    }
    Ok((opt, params, flat))
}

fn flat_tensor(v: &[f64]) -> DictValue<'static> {
    DictValue::Tensor(DictTensor::owned(&[v.len()], v).expect("fits"))
}

fn list_len(entry: &Map, key: &str) -> usize {
    match entry.get(key) {
        Some(DictValue::List(items)) => items.len(),
        other => panic!("{key}: {other:?}"),
    }
}

/// The state dict with `change` applied to its entry under parameter 0.
fn with_state(dict: &StateDict<'_>, change: impl FnOnce(&mut Map<'static>)) -> StateDict<'static> {
    let mut dict = dict.clone().into_owned();
    change(dict.state.get_mut(&0).expect("state under parameter 0"));
    dict
}

#[test]
fn state_dict_has_torchs_entries_in_torchs_order() -> Result {
    let (opt, _, _) = trained(0)?;
    assert!(opt.state_dict().state.is_empty(), "no state before the first step");
    let (opt, _, _) = trained(2)?;
    let dict = opt.state_dict().into_owned();
    assert_eq!(
        dict.state.keys().copied().collect::<Vec<_>>(),
        [0],
        "all state under parameter 0"
    );
    let entry = &dict.state[&0];
    assert_eq!(
        entry.keys().collect::<Vec<_>>(),
        [
            "func_evals",
            "n_iter",
            "al",
            "d",
            "t",
            "old_dirs",
            "old_stps",
            "ro",
            "H_diag",
            "prev_flat_grad",
            "prev_loss"
        ]
    );
    assert!(matches!(entry.get("func_evals"), Some(DictValue::Int(_))));
    assert!(matches!(entry.get("d"), Some(DictValue::Tensor(t)) if t.shape() == [N]));
    assert_eq!(list_len(entry, "al"), 3, "history_size slots");
    assert_eq!(list_len(entry, "old_dirs"), list_len(entry, "ro"));
    Ok(())
}

#[test]
fn malformed_states_are_rejected_and_change_nothing() -> Result {
    let (mut opt, params, mut flat) = trained(3)?;
    let good = opt.state_dict().into_owned();
    let entry = &good.state[&0];
    let pairs = list_len(entry, "old_dirs");
    assert_eq!(pairs, 3, "a full history");
    let x_before = bits(&flat_values(&params));

    let remove = |keys: &'static [&'static str]| {
        with_state(&good, |e| {
            for k in keys {
                e.remove(k);
            }
        })
    };
    let set = |key: &'static str, value: DictValue<'static>| with_state(&good, |e| e.insert(key, value));
    let ones = vec![1.0; N];
    let vectors = |n: usize, len: usize| DictValue::List((0..n).map(|_| flat_tensor(&vec![1.0; len])).collect());

    let cases: Vec<(&str, StateDict, &str)> = vec![
        // the three lists go together, with the other entries saved with them
        (
            "old_dirs missing",
            remove(&["old_dirs"]),
            "state of parameter 0: `old_dirs` is missing although `d` is present (L-BFGS saves d, t, old_dirs, \
             old_stps, ro, H_diag, prev_flat_grad and prev_loss together)",
        ),
        (
            "ro missing",
            remove(&["ro"]),
            "state of parameter 0: `ro` is missing although `d` is present",
        ),
        (
            "t missing",
            remove(&["t"]),
            "state of parameter 0: `t` is missing although `d` is present",
        ),
        (
            "only the history",
            remove(&["d", "t", "H_diag", "prev_flat_grad", "prev_loss", "al"]),
            "state of parameter 0: `d` is missing although `old_dirs` is present",
        ),
        // equal lengths
        (
            "ro shorter",
            set("ro", DictValue::List(vec![DictValue::Float(1.0); pairs - 1])),
            "state of parameter 0: `ro` has 2 item(s) but `old_dirs` has 3: the three lists hold one curvature pair \
             per item",
        ),
        (
            "old_stps longer",
            set("old_stps", vectors(pairs + 1, N)),
            "state of parameter 0: `old_stps` has 4 item(s) but `old_dirs` has 3",
        ),
        // each vector of the parameters' total length
        (
            "old_stps item of the wrong length",
            set(
                "old_stps",
                DictValue::List(vec![flat_tensor(&ones), flat_tensor(&[1.0; 3]), flat_tensor(&ones)]),
            ),
            "state of parameter 0: `old_stps` item 1 has shape [3] but the parameters have 4 element(s) in all \
             (expected [4])",
        ),
        (
            "old_dirs item not a tensor",
            set("old_dirs", DictValue::List(vec![DictValue::Float(1.0); pairs])),
            "state of parameter 0: `old_dirs` item 0 must be a flat tensor, found a number (1.0)",
        ),
        (
            "old_dirs not a list",
            set("old_dirs", DictValue::Float(1.0)),
            "state of parameter 0: `old_dirs` must be a list of flat tensors, found a number (1.0)",
        ),
        (
            "ro item not a number",
            set(
                "ro",
                DictValue::List(vec![DictValue::Float(1.0), DictValue::from("x"), DictValue::Float(1.0)]),
            ),
            "state of parameter 0: `ro` item 1 must be a number, found a string (\"x\")",
        ),
        // `al` agrees with the history
        (
            "al shorter than the history",
            set("al", DictValue::List(vec![DictValue::Null; pairs - 1])),
            "state of parameter 0: `al` has 2 slot(s) but the history holds 3 curvature pair(s): it needs one slot \
             per pair",
        ),
        (
            "al without the history",
            remove(&[
                "d",
                "t",
                "old_dirs",
                "old_stps",
                "ro",
                "H_diag",
                "prev_flat_grad",
                "prev_loss",
            ]),
            "state of parameter 0: `al` is present without the curvature history",
        ),
        (
            "al not a list",
            set("al", DictValue::Float(0.0)),
            "state of parameter 0: `al` must be a list of numbers or nulls, found a number (0.0)",
        ),
        (
            "al item a boolean",
            set("al", DictValue::List(vec![DictValue::Bool(true); pairs])),
            "state of parameter 0: `al` must be a list of numbers or nulls, found a boolean (true)",
        ),
        // the other entries: shapes and types
        (
            "d of the wrong length",
            set("d", flat_tensor(&[1.0; 3])),
            "state of parameter 0: `d` has shape [3] but the parameter needs [4]",
        ),
        (
            "prev_flat_grad not flat",
            set(
                "prev_flat_grad",
                DictValue::Tensor(DictTensor::owned(&[2, 2], &[1.0f64; 4]).expect("fits")),
            ),
            "state of parameter 0: `prev_flat_grad` has shape [2, 2] but the parameter needs [4]",
        ),
        (
            "H_diag a string",
            set("H_diag", DictValue::from("one")),
            "state of parameter 0: `H_diag` must be a number, found a string (\"one\")",
        ),
        (
            "negative n_iter",
            set("n_iter", DictValue::Int(-1)),
            "state of parameter 0: `n_iter` must not be negative, found -1",
        ),
        (
            "fractional func_evals",
            set("func_evals", DictValue::Float(2.5)),
            "state of parameter 0: `func_evals` must be a non-negative integer, found a number (2.5)",
        ),
        (
            "func_evals missing",
            remove(&["func_evals"]),
            "state of parameter 0: the entry `func_evals` is missing",
        ),
        (
            "unknown entry",
            set("momentum_buffer", flat_tensor(&ones)),
            "state of parameter 0: lbfgs has no state entry `momentum_buffer`",
        ),
    ];

    let mut misplaced = good.clone();
    let entry = misplaced.state.remove(&0).expect("state under parameter 0");
    misplaced.state.insert(1, entry);
    let mut bad_option = good.clone();
    bad_option.param_groups[0]
        .options
        .insert("history_size", DictValue::Int(0));
    let mut bad_line_search = good.clone();
    bad_line_search.param_groups[0]
        .options
        .insert("line_search_fn", DictValue::from("wolfe"));
    let mut bad_kind = good.clone();
    bad_kind.kind = Some("adam".into());
    let whole: Vec<(&str, StateDict, &str)> = vec![
        (
            "state under parameter 1",
            misplaced,
            "lbfgs keeps all of its state under parameter 0, but the state dict has state for parameter index 1",
        ),
        (
            "history_size 0",
            bad_option,
            "group 0: invalid history_size: 0 (must be from 1 to 1048576)",
        ),
        (
            "unknown line search",
            bad_line_search,
            "group 0: option `line_search_fn` must be null or \"strong_wolfe\", found a string (\"wolfe\")",
        ),
        (
            "another optimizer's",
            bad_kind,
            "the state dict comes from `adam` and cannot be loaded into `lbfgs`: load it into the optimizer that saved it",
        ),
    ];

    for (what, dict, message) in cases.into_iter().chain(whole) {
        // through JSON too: what a checkpoint file would hold
        for dict in [dict.clone(), StateDict::from_json(&dict.to_json())?] {
            let err = opt.load_state_dict(&dict).expect_err(what);
            let text = err.to_string();
            assert!(text.starts_with(message), "{what}: {text}\n  expected: {message}");
            assert_eq!(opt.state_dict(), good, "{what}: the optimizer changed");
        }
    }
    assert_eq!(bits(&flat_values(&params)), x_before);

    // the optimizer continues exactly as one that never saw a failed load
    let (mut untouched, reference_params, mut reference_flat) = trained(3)?;
    for _ in 0..2 {
        let a = opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
        let b = untouched.step_with(|| reference_flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert_eq!(bits(&flat_values(&params)), bits(&flat_values(&reference_params)));
    assert_eq!(opt.state_dict(), untouched.state_dict());
    Ok(())
}

#[test]
fn non_finite_numbers_round_trip() -> Result {
    // Values the algorithm may compute from huge but finite gradients (an infinite `ro` or
    // `H_diag`) are state like any other: JSON writes them as strings, and they load back.
    let (opt, params, _) = trained(2)?;
    let dict = with_state(&opt.state_dict(), |e| {
        e.insert("H_diag", DictValue::Float(f64::INFINITY));
        e.insert(
            "ro",
            DictValue::List(vec![
                DictValue::Float(f64::NAN),
                DictValue::Float(1.0),
                DictValue::Float(2.0),
            ]),
        );
    });
    let json = dict.to_json();
    assert!(json.contains("\"H_diag\":\"Infinity\""), "{json}");
    let mut other = Lbfgs::new(lbfgs_support::copies(&params), options())?;
    other.load_state_dict(&StateDict::from_json(&json)?)?;
    let s = other.state(&other.params(0)?[0]).expect("loaded");
    assert_eq!(s.h_diag, Some(f64::INFINITY));
    assert!(s.history.ro().next().is_some_and(f64::is_nan));
    Ok(())
}

#[test]
fn more_pairs_than_history_size_keep_the_newest() -> Result {
    // saved with history_size 3 (three pairs), loaded with history_size 2
    let (opt, params, _) = trained(3)?;
    let mut dict = opt.state_dict().into_owned();
    let saved: Vec<Vec<f64>> = opt
        .state(&params[0])
        .expect("stepped")
        .history
        .old_dirs()
        .map(<[f64]>::to_vec)
        .collect();
    assert_eq!(saved.len(), 3);
    dict.param_groups[0].options.insert("history_size", DictValue::Int(2));
    dict.param_groups[0].options.insert("max_iter", DictValue::Int(1));

    let copies = lbfgs_support::copies(&params);
    let mut resumed = Lbfgs::new(copies.clone(), options())?;
    resumed.load_state_dict(&dict)?;
    let s = resumed.state(&copies[0]).expect("loaded");
    assert_eq!(s.history.len(), 3, "kept as loaded until the next step");

    let mut flat = Flat::new(&copies);
    resumed.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    let s = resumed.state(&copies[0]).expect("stepped");
    assert_eq!(s.history.len(), 2);
    // one iteration adds at most one pair: the oldest kept is one of the two newest saved
    let oldest = s.history.old_dirs().next().expect("two pairs").to_vec();
    assert!(saved[1..].contains(&oldest));
    Ok(())
}
