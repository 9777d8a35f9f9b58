//! `Adafactor` as a user sees it: state shaped by the parameter's rank, misplaced state
//! refused on load, `eps.0 = None` as the element type's epsilon, torch's checks in
//! torch's order.

use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{Adafactor, AdafactorOptions, DictTensor, DictValue, Error, Optimizer, Param};

type Result<T = ()> = std::result::Result<T, Error>;

/// A parameter of `shape` with distinct values, and a gradient for it.
fn param<A: optimizers::Float>(shape: &[usize], seed: f64) -> Result<Param<A>> {
    let n: usize = shape.iter().product();
    let values = |scale: f64| -> Vec<A> {
        (0..n)
            .map(|i| A::from_f64(((i as f64 + seed) * 0.37).sin() * scale))
            .collect()
    };
    let p = Param::new(ArrayD::from_shape_vec(IxDyn(shape), values(1.0)).expect("n elements"));
    p.set_grad_from_slice(&values(0.1))?;
    Ok(p)
}

/// The shapes of a state's `row_var`, `col_var` and `variance` (`None`: absent).
type StateShapes = (Option<Vec<usize>>, Option<Vec<usize>>, Option<Vec<usize>>);

fn shape_of(t: &Option<ArrayD<f32>>) -> Option<Vec<usize>> {
    t.as_ref().map(|t| t.shape().to_vec())
}

#[test]
fn state_is_factored_for_two_or_more_dimensions_and_per_element_below() -> Result {
    let shapes: [&[usize]; 4] = [&[], &[5], &[4, 3], &[2, 3, 4]];
    let params: Vec<Param<f32>> = shapes.iter().map(|s| param(s, 1.0)).collect::<Result<_>>()?;
    let mut opt = Adafactor::new(params.clone(), AdafactorOptions::new())?;
    opt.step()?;
    let state = |i: usize| opt.state(&params[i]).expect("stepped");
    let expected: [StateShapes; 4] = [
        (None, None, Some(vec![])),
        (None, None, Some(vec![5])),
        (Some(vec![4, 1]), Some(vec![1, 3]), None),
        (Some(vec![2, 3, 1]), Some(vec![2, 1, 4]), None),
    ];
    for (i, (row, col, variance)) in expected.into_iter().enumerate() {
        let s = state(i);
        assert_eq!(
            (shape_of(&s.row_var), shape_of(&s.col_var), shape_of(&s.variance)),
            (row, col, variance),
            "parameter of shape {:?}",
            shapes[i]
        );
    }
    let dict = opt.state_dict().into_owned();
    let keys = |i: usize| dict.state[&i].keys().map(String::from).collect::<Vec<_>>();
    assert_eq!(keys(0), ["step", "variance"]);
    assert_eq!(keys(3), ["step", "row_var", "col_var"]);
    Ok(())
}

#[test]
fn a_variance_entry_for_a_matrix_is_refused_on_load_and_changes_nothing() -> Result {
    let w = param::<f32>(&[4, 3], 2.0)?;
    let mut opt = Adafactor::new([w.clone()], AdafactorOptions::new())?;
    opt.step()?;
    let before = opt.state_dict().to_json();
    let mut dict = opt.state_dict().into_owned();
    let variance = DictTensor::owned(&[4, 3], &[0.5f32; 12]).expect("12 values");
    let entry = dict.state.get_mut(&0).expect("state of the matrix");
    entry.insert("variance", DictValue::Tensor(variance));
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        matches!(&err, Error::StateValue { index: 0, key, .. } if key == "variance"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "state of parameter 0: `variance` is not kept for a parameter of shape [4, 3]: this entry belongs to another parameter"
    );
    // Without its factors, the same state is missing them.
    let entry = dict.state.get_mut(&0).expect("state of the matrix");
    entry.remove("row_var");
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        matches!(&err, Error::MissingStateKey { index: 0, key } if key == "row_var"),
        "{err:?}"
    );
    // A factor of the wrong shape.
    let mut dict = opt.state_dict().into_owned();
    let col = DictTensor::owned(&[3, 1], &[0.5f32; 3]).expect("3 values");
    dict.state
        .get_mut(&0)
        .expect("state")
        .insert("col_var", DictValue::Tensor(col));
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        matches!(&err, Error::StateShape { key, expected, found, .. }
            if key == "col_var" && expected == &[1, 3] && found == &[3, 1]),
        "{err:?}"
    );
    assert_eq!(opt.state_dict().to_json(), before);
    Ok(())
}

/// Two optimizers over copies of the same parameters, one with each option set; `true`
/// when three steps give bit-identical parameters.
fn same_steps<A: optimizers::Float>(a: AdafactorOptions, b: AdafactorOptions) -> Result<bool> {
    let run = |options: AdafactorOptions| -> Result<Vec<A>> {
        // Gradients of 1e-9: their squares are below f32's ε₁², where the clamp decides.
        let params: Vec<Param<A>> = [&[4usize, 3][..], &[5]]
            .iter()
            .map(|s| param::<A>(s, 3.0))
            .collect::<Result<_>>()?;
        let mut opt: Optimizer<Adafactor, A> = Adafactor::new(params.clone(), options)?;
        for k in 0..3 {
            for p in &params {
                let g = p.value().mapv(|x| x * A::from_f64(1e-9 * (k + 1) as f64));
                p.set_grad(g)?;
            }
            opt.step()?;
        }
        Ok(params
            .iter()
            .flat_map(|p| p.value().iter().copied().collect::<Vec<_>>())
            .collect())
    };
    Ok(run(a)? == run(b)?)
}

#[test]
fn eps1_none_is_the_machine_epsilon_of_the_element_type() -> Result {
    let none = || AdafactorOptions::new().eps((None, 1e-3));
    let given = |e: f64| AdafactorOptions::new().eps((Some(e), 1e-3));
    assert!(same_steps::<f32>(none(), given(f32::EPSILON as f64))?);
    assert!(same_steps::<f64>(none(), given(f64::EPSILON))?);
    // The two epsilons differ where it matters: f64's in an f32 run is another run.
    assert!(!same_steps::<f32>(none(), given(f64::EPSILON))?);
    // The options keep torch's None.
    let opt = Adafactor::new([param::<f32>(&[2], 0.0)?], AdafactorOptions::new())?;
    assert_eq!(
        opt.option(0, "eps")?,
        DictValue::List(vec![DictValue::Null, DictValue::Float(1e-3)])
    );
    Ok(())
}

#[test]
fn options_are_checked_in_torchs_order_with_its_messages() -> Result {
    let p = param::<f32>(&[2, 2], 0.0)?;
    let message = |options: AdafactorOptions| {
        Adafactor::new([p.clone()], options)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let all_bad = || {
        AdafactorOptions::new()
            .lr(-1.0)
            .beta2_decay(0.5)
            .eps((Some(-1.0), -2.0))
            .d(0.5)
            .weight_decay(-1.0)
    };
    assert_eq!(
        message(all_bad()),
        "defaults: learning rate should be >= 0 but is: -1.0"
    );
    let bad = all_bad().lr(0.01);
    assert_eq!(message(bad.clone()), "defaults: beta2_decay should be <= 0 but is: 0.5");
    let bad = bad.beta2_decay(-0.8);
    assert_eq!(message(bad.clone()), "defaults: epsilon1 should be >= 0 but is: -1.0");
    let bad = bad.eps((None, -2.0));
    assert_eq!(message(bad.clone()), "defaults: epsilon2 should be >= 0 but is: -2.0");
    let bad = bad.eps((None, 1e-3));
    assert_eq!(
        message(bad.clone()),
        "defaults: clipping threshold d should be >= 1 but is: 0.5"
    );
    let bad = bad.d(1.0);
    assert_eq!(
        message(bad.clone()),
        "defaults: weight_decay should be >= 0 but is: -1.0"
    );
    assert!(Adafactor::new([p.clone()], bad.weight_decay(0.0)).is_ok());
    // Unlike torch, NaN and infinities are refused, with a message that says why (an
    // infinity is >= 0), before the bound of the same option.
    assert_eq!(
        message(AdafactorOptions::new().eps((Some(f64::INFINITY), -1.0))),
        "defaults: epsilon1 should be finite but is: inf"
    );
    assert_eq!(
        message(AdafactorOptions::new().eps((Some(-1.0), f64::INFINITY))),
        "defaults: epsilon1 should be >= 0 but is: -1.0"
    );
    assert_eq!(
        message(AdafactorOptions::new().eps((None, f64::INFINITY))),
        "defaults: epsilon2 should be finite but is: inf"
    );
    assert_eq!(
        message(AdafactorOptions::new().d(f64::NAN)),
        "defaults: clipping threshold d should be finite but is: NaN"
    );
    assert_eq!(
        message(AdafactorOptions::new().lr(f64::INFINITY)),
        "defaults: learning rate should be finite but is: inf"
    );
    assert_eq!(
        message(AdafactorOptions::new().beta2_decay(f64::NEG_INFINITY)),
        "defaults: beta2_decay should be finite but is: -inf"
    );
    assert_eq!(
        message(AdafactorOptions::new().weight_decay(f64::INFINITY)),
        "defaults: weight_decay should be finite but is: inf"
    );
    Ok(())
}
