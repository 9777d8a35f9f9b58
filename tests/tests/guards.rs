//! A guard of a parameter's value or gradient held across an optimizer operation on the
//! same thread: an error naming the parameter and the guard, not a hang; nothing changes.
//! Held by another thread: the operation waits for it, as any lock.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use optimizers::error::{GuardKind, ParamRef};
use optimizers::ndarray::array;
use optimizers::{Adam, AdamOptions, Error, Lbfgs, LbfgsOptions, Optimizer, Param, StateDict};

type Opt = Optimizer<Adam, f64>;

/// An Adam optimizer over two named parameters, after one step, with fresh gradients.
fn setup() -> (Opt, Param<f64>, Param<f64>) {
    let w = Param::named("fc.weight", array![[1.0, -2.0], [0.5, 3.0]]);
    let b = Param::named("fc.bias", array![0.1, -0.1]);
    let mut opt = Adam::new([w.clone(), b.clone()], AdamOptions::new().lr(0.1)).expect("valid");
    for p in [&w, &b] {
        p.set_grad(p.to_array().mapv(|x| 0.5 * x)).expect("same shape");
    }
    opt.step().expect("no guard held");
    for p in [&w, &b] {
        p.set_grad(p.to_array().mapv(|x| x + 1.0)).expect("same shape");
    }
    (opt, w, b)
}

/// Everything an operation could change: values, gradients, the state dict (as JSON).
type Snapshot = (Vec<Vec<f64>>, Vec<Option<Vec<f64>>>, String);

fn snapshot(opt: &Opt, params: &[&Param<f64>]) -> Snapshot {
    // Taken through copies, so that no guard is alive while the operation runs.
    let values = params.iter().map(|p| p.to_array().iter().copied().collect()).collect();
    let grads = params
        .iter()
        .map(|p| p.grad_array().map(|g| g.iter().copied().collect()))
        .collect();
    (values, grads, opt.state_dict().to_json())
}

type Operation = (&'static str, fn(&mut Opt) -> Result<(), Error>);

const OPERATIONS: [Operation; 4] = [
    ("step", |o| o.step()),
    ("step_with", |o| o.step_with(|| 1.0).map(|_| ())),
    ("zero_grad", |o| o.zero_grad()),
    ("zero_grad", |o| o.zero_grad_in_place()),
];

/// Runs `operation` while holding the `guard` guard of `b` (the second parameter), and
/// checks the error and that nothing changed.
fn check(operation: Operation, guard: GuardKind) {
    let (name, run) = operation;
    let (mut opt, w, b) = setup();
    let before = snapshot(&opt, &[&w, &b]);
    let result = match guard {
        GuardKind::Value => {
            let _held = b.value();
            run(&mut opt)
        }
        GuardKind::ValueMut => {
            let _held = b.value_mut();
            run(&mut opt)
        }
        GuardKind::Grad => {
            let _held = b.grad().expect("b has a gradient");
            run(&mut opt)
        }
        GuardKind::GradMut => {
            let _held = b.grad_mut().expect("b has a gradient");
            run(&mut opt)
        }
    };
    let expected = Error::GuardHeld {
        operation: name,
        param: ParamRef {
            group: 0,
            index: 1,
            name: Some("fc.bias".into()),
        },
        guard,
    };
    assert_eq!(result, Err(expected.clone()), "{name} with a {guard} guard");
    assert_eq!(
        expected.to_string(),
        format!(
            "{name} needs parameter 1 of group 0 (\"fc.bias\"), but this thread holds its {guard} guard: drop the guard before calling {name}"
        )
    );
    assert_eq!(
        snapshot(&opt, &[&w, &b]),
        before,
        "{name} with a {guard} guard changed something"
    );
    // The guard is gone: the same operation goes through.
    run(&mut opt).expect("no guard held any more");
}

#[test]
fn every_guard_held_across_every_operation_is_an_error_that_changes_nothing() {
    for operation in OPERATIONS {
        for guard in [
            GuardKind::Value,
            GuardKind::ValueMut,
            GuardKind::Grad,
            GuardKind::GradMut,
        ] {
            check(operation, guard);
        }
    }
}

#[test]
fn load_state_dict_takes_no_parameter_lock_so_a_held_guard_is_fine() {
    let (mut opt, w, b) = setup();
    let saved: StateDict<'static> = opt.state_dict().into_owned();
    opt.step().expect("no guard held");
    let value = w.value();
    let grad = b.grad_mut().expect("b has a gradient");
    opt.load_state_dict(&saved).expect("loading touches no parameter");
    drop((value, grad));
    assert_eq!(opt.state_dict().to_json(), saved.to_json());
}

#[test]
fn a_closure_optimizer_reports_the_guard_too() {
    let x = Param::named("x", array![1.0f64, 2.0]);
    let mut opt = Lbfgs::new([x.clone()], LbfgsOptions::new()).expect("valid");
    let held = x.value();
    let err = opt.step_with(|| 0.0).expect_err("a guard of x is held");
    assert_eq!(err.kind(), optimizers::ErrorKind::GuardHeld);
    drop(held);
    let loss = opt
        .step_with(|| {
            let v = x.to_array();
            x.set_grad(v.mapv(|a| 2.0 * a)).expect("same shape");
            v.iter().map(|a| a * a).sum()
        })
        .expect("no guard held");
    assert_eq!(loss, 5.0);
}

#[test]
fn a_guard_dropped_in_time_leaves_no_trace() {
    let (mut opt, w, _) = setup();
    {
        let v = w.value();
        assert_eq!(v.shape(), [2, 2]);
    }
    let g = w.grad_mut().expect("w has a gradient");
    drop(g);
    opt.step().expect("both guards were dropped");
}

#[test]
fn a_guard_held_by_another_thread_is_waited_for() {
    let (mut opt, w, _) = setup();
    let (taken, wait) = mpsc::channel();
    let holder = {
        let w = w.clone();
        thread::spawn(move || {
            let guard = w.value_mut();
            taken.send(()).expect("the main thread waits");
            thread::sleep(Duration::from_millis(100));
            drop(guard);
        })
    };
    wait.recv().expect("the guard is taken");
    // This thread holds nothing: the step waits for the other thread's guard.
    opt.step().expect("the other thread's guard is released");
    holder.join().expect("the holder");
}

#[test]
fn a_params_own_methods_panic_on_a_conflicting_guard_of_this_thread() {
    let p = Param::named("w", array![1.0f32, 2.0]);
    let held = p.value();
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.set_value(array![0.0f32, 0.0])))
        .expect_err("a second borrow of the value");
    let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.contains("Param::set_value on parameter \"w\" while this thread holds its `value()` guard"),
        "{text}"
    );
    drop(held);
    p.set_value(array![0.0f32, 0.0]).expect("no guard held");
    // Different locks: reading the value while setting the gradient is fine.
    let v = p.value();
    p.set_grad(v.mapv(|x| x + 1.0)).expect("the gradient's lock is free");
}

#[test]
fn a_parallel_step_checks_before_handing_work_to_other_threads() {
    // Large enough to be stepped in parallel: worker threads cannot know what this thread
    // holds, so the check must happen on this thread, before any work is handed out.
    let n = 3 * optimizers::parallel::PARALLEL_MIN_ELEMENTS;
    let p = Param::named("big", optimizers::ndarray::Array1::<f32>::ones(n));
    let mut opt = Adam::new([p.clone()], AdamOptions::new()).expect("valid");
    opt.set_parallel(true);
    p.set_grad_from_slice(&vec![0.5; n]).expect("length");
    let held = p.grad().expect("a gradient");
    assert_eq!(opt.step().map_err(|e| e.kind()), Err(optimizers::ErrorKind::GuardHeld));
    drop(held);
    opt.step().expect("no guard held");
    assert!(p.to_array().iter().all(|&x| x < 1.0));
}
