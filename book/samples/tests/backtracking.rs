//! Gradient descent with a backtracking line search, a closure rule: one step by hand, its
//! state under parameter 0, and a run on Rosenbrock's function.

use std::error::Error as StdError;

use optim_book::backtracking::{Backtracking, BacktrackingOptions};
use optim_book::rosenbrock::{self, START};
use optimizers::ndarray::{Array1, array};
use optimizers::{DictValue, Param};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

// ANCHOR: by_hand
#[test]
fn one_step_by_hand() -> Result {
    // f(x) = x², g = 2x, from x = 1: f₀ = 1, ‖g‖² = 4, c = 1e-4.
    // t = 1:   x = 1 − 2 = −1, f = 1, not below 1 − 1e-4 · 1 · 4: rejected
    // t = 0.5: x = 1 − 1 = 0,  f = 0, below 1 − 1e-4 · 0.5 · 4:  accepted
    let x = Param::new(array![1.0f64]);
    let mut opt = Backtracking::new([x.clone()], BacktrackingOptions::new())?;
    let f0 = opt.step_with(|| {
        let v = x.value()[0];
        x.set_grad(array![2.0 * v])
            .expect("the gradient has the parameter's shape");
        v * v
    })?;
    assert_eq!((f0, x.value()[0]), (1.0, 0.0));
    let state = opt.state(&x).ok_or("stepped")?;
    assert_eq!((state.func_evals, state.t), (3, Some(0.5)));
    // The state lives under parameter 0; the working buffers are not saved.
    let dict = opt.state_dict().into_owned();
    assert_eq!(dict.state[&0].keys().collect::<Vec<_>>(), ["func_evals", "t"]);
    assert_eq!(dict.state[&0].get("t"), Some(&DictValue::Float(0.5)));
    Ok(())
}
// ANCHOR_END: by_hand

#[test]
fn backtracking_descends_on_rosenbrock() -> Result {
    let xy = Param::new(Array1::from(START.to_vec()));
    let mut opt = Backtracking::new([xy.clone()], BacktrackingOptions::new())?;
    let mut last = f64::INFINITY;
    for _ in 0..200 {
        let loss = opt.step_with(|| rosenbrock::evaluate(&xy).expect("shape"))?;
        assert!(loss <= last, "every accepted step decreases the loss");
        last = loss;
    }
    assert!(last < 1.0, "{last}");
    Ok(())
}
