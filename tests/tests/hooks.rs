//! Step hooks and state-dict hooks: registration order, removal, an aborting pre-hook that
//! changes nothing, and the two hooks of a real training loop (clip before, average after).

use std::sync::{Arc, Mutex};

use optimizers::average::Averaged;
use optimizers::clip::clip_grad_norm;
use optimizers::ndarray::array;
use optimizers::{DictValue, Error, Param, Sgd, SgdOptions};

fn sgd(p: &Param<f64>) -> optimizers::Optimizer<Sgd, f64> {
    Sgd::new([p.clone()], SgdOptions::new().lr(0.5).momentum(0.9)).expect("valid")
}

#[test]
fn hooks_run_in_registration_order_around_the_update_and_can_be_removed() {
    let p = Param::new(array![1.0f64]);
    let mut opt = sgd(&p);
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = |tag: &'static str| {
        let log = Arc::clone(&log);
        move |o: &optimizers::Optimizer<Sgd, f64>| {
            let value = o.all_params().next().expect("one parameter").to_array()[0];
            log.lock().expect("not poisoned").push(format!("{tag} {value}"));
            Ok(())
        }
    };
    let pre1 = opt.register_step_pre_hook(record("pre1"));
    opt.register_step_pre_hook(record("pre2"));
    opt.register_step_post_hook(record("post1"));
    let post2 = opt.register_step_post_hook(record("post2"));
    p.set_grad(array![1.0]).expect("shape");
    opt.step().expect("a step");
    assert_eq!(
        *log.lock().expect("not poisoned"),
        ["pre1 1", "pre2 1", "post1 0.5", "post2 0.5"],
        "pre-hooks see the parameters before the update, post-hooks after, in order"
    );
    pre1.remove();
    post2.remove();
    pre1.remove(); // removing twice does nothing
    assert!(pre1.is_removed());
    log.lock().expect("not poisoned").clear();
    opt.step_with(|| 0.0).expect("a step");
    let after = log.lock().expect("not poisoned").clone();
    assert_eq!(after.len(), 2);
    assert!(
        after[0].starts_with("pre2") && after[1].starts_with("post1"),
        "{after:?}"
    );
}

#[test]
fn an_aborting_pre_hook_changes_nothing_and_its_error_reaches_the_caller() {
    let p = Param::new(array![1.0f64, -1.0]);
    let mut opt = sgd(&p);
    p.set_grad(array![1.0, 1.0]).expect("shape");
    opt.step().expect("a first step");
    let before = (p.to_array(), opt.state_dict().to_json());
    let ran_after = Arc::new(Mutex::new(false));
    opt.register_step_pre_hook(|_| {
        Err(Error::InvalidArgument {
            function: "my_hook",
            argument: "batch",
            message: "has a NaN loss".into(),
        })
    });
    let flag = Arc::clone(&ran_after);
    opt.register_step_post_hook(move |_| {
        *flag.lock().expect("not poisoned") = true;
        Ok(())
    });
    let err = opt.step().expect_err("the pre-hook aborts");
    assert_eq!(err.to_string(), "my_hook: `batch` has a NaN loss");
    assert_eq!((p.to_array(), opt.state_dict().to_json()), before);
    assert!(
        !*ran_after.lock().expect("not poisoned"),
        "no post-hook after an aborted step"
    );
}

#[test]
fn state_dict_hooks_change_the_dict_and_load_hooks_run_after_a_load() {
    let p = Param::new(array![1.0f64]);
    let mut opt = sgd(&p);
    let handle = opt.register_state_dict_post_hook(|dict| {
        dict.param_groups[0].options.insert("note", "saved by a hook");
    });
    let dict = opt.state_dict().into_owned();
    assert_eq!(
        dict.param_groups[0].options.get("note"),
        Some(&DictValue::Str("saved by a hook".into()))
    );
    handle.remove();
    assert_eq!(opt.state_dict().param_groups[0].options.get("note"), None);

    let loads = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&loads);
    opt.register_load_state_dict_post_hook(move |_| {
        *counter.lock().expect("not poisoned") += 1;
        Ok(())
    });
    let clean = opt.state_dict().into_owned();
    assert!(opt.load_state_dict(&dict).is_err(), "`note` is no option of SGD");
    assert_eq!(*loads.lock().expect("not poisoned"), 0, "no hook after a failed load");
    opt.load_state_dict(&clean).expect("its own dict");
    assert_eq!(*loads.lock().expect("not poisoned"), 1);
}

#[test]
fn a_clipping_pre_hook_and_an_averaging_post_hook() {
    let w = Param::named("w", array![3.0f64, 4.0]);
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(1.0)).expect("valid");
    opt.register_step_pre_hook(|o| clip_grad_norm(o.all_params(), 1.0, 2.0, false).map(|_| ()));
    let ema = Arc::new(Mutex::new(Averaged::ema([&w], 0.5).expect("valid")));
    let average = Arc::clone(&ema);
    opt.register_step_post_hook(move |o| average.lock().expect("not poisoned").update(o.all_params()));

    w.set_grad(array![30.0, 40.0]).expect("shape");
    opt.step().expect("a step");
    // The gradient (norm 50) was clipped to norm 1 before the update: w = (3, 4) − (0.6, 0.8).
    let coef = (1.0 / (50.0 + 1e-6)) * 1.0;
    assert_eq!(w.to_array(), array![3.0 - 30.0 * coef, 4.0 - 40.0 * coef].into_dyn());
    // The first update of the average copies.
    let ema = ema.lock().expect("not poisoned");
    assert_eq!(ema.params()[0].to_array(), w.to_array());
    assert_eq!(ema.params()[0].name(), Some("w"));
}
