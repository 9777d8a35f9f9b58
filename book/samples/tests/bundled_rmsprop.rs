//! The samples of the section "RMSprop" (`book/src/bundled/rmsprop.md`): a training loop,
//! which buffers its state has, and an option turned on after the first step.

use std::error::Error as StdError;

use optimizers::ndarray::array;
use optimizers::{Param, Rmsprop, RmspropOptions};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn rmsprop_in_a_training_loop() -> Result {
    // ANCHOR: train
    // torch.optim.RMSprop(params, lr=1e-2, alpha=0.9, momentum=0.5, centered=True)
    let w = Param::new(array![[0.5f32, -1.0], [2.0, 0.1]]);
    let options = RmspropOptions::new().lr(1e-2).alpha(0.9).momentum(0.5).centered(true);
    let mut opt = Rmsprop::new([w.clone()], options)?;
    for _ in 0..500 {
        w.set_grad(w.value().mapv(|x| 2.0 * x))?; // the gradient of |w|²
        opt.step()?;
    }
    assert!(w.value().iter().all(|x| x.abs() < 0.05));
    // Both buffers are there: their options were on at the parameter's first step.
    let keys: Vec<String> = opt.state_dict().state[&0].keys().map(String::from).collect();
    assert_eq!(keys, ["step", "square_avg", "momentum_buffer", "grad_avg"]);
    // ANCHOR_END: train
    Ok(())
}

#[test]
fn centered_turned_on_after_the_first_step() -> Result {
    let p = Param::new(array![1.0f64]);
    let mut opt = Rmsprop::new([p.clone()], RmspropOptions::new())?;
    p.set_grad(array![0.5])?;
    opt.step()?;
    // ANCHOR: later
    // In torch the next step raises KeyError: 'grad_avg'. Here the running average of the
    // gradient starts at zero at that step, as for a parameter created centered.
    opt.set_option(0, "centered", true)?;
    opt.step()?;
    let grad_avg = opt.state(&p).and_then(|s| s.grad_avg.clone()).ok_or("created")?;
    assert_eq!(grad_avg[0], (1.0 - 0.99) * 0.5);
    // ANCHOR_END: later
    Ok(())
}
