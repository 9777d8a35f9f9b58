//! `Lbfgs` through the `Optimizer` API: options and their checks, one group only, the
//! closure requirement, a 1000-dimensional Rosenbrock run, `maximize`, option changes
//! between steps, edge cases, and save → JSON → load → continue being bit-identical to an
//! uninterrupted run (f32 and f64).

mod lbfgs_support;

use lbfgs_support::{Flat, bits, copies, flat_values, params_from};
use optim_tests::problems::{Logistic, Quadratic, Rosenbrock};
use optimizers::ndarray::{Array1, array};
use optimizers::state::LbfgsState;
use optimizers::{
    DictValue, DynOptimizer, Error, Float, Lbfgs, LbfgsOptions, LineSearch, Map, Optimizer, Param, ParamGroup,
    StateDict,
};

type Result<T = ()> = std::result::Result<T, Error>;

fn state<'o, A: Float>(opt: &'o Optimizer<Lbfgs, A>, p: &Param<A>) -> &'o LbfgsState<A> {
    opt.state(p).expect("the optimizer has stepped")
}

fn strong_wolfe() -> LbfgsOptions {
    LbfgsOptions::new().line_search_fn(LineSearch::StrongWolfe)
}

// ----- options ------------------------------------------------------------------------------

#[test]
fn defaults_are_torchs_in_torchs_order() -> Result {
    let p = Param::new(array![1.0f64, 2.0]);
    let opt = Lbfgs::new([p], LbfgsOptions::new())?;
    let o = opt.hyperparameters(0)?;
    assert_eq!(
        o,
        &Lbfgs {
            lr: 1.0,
            max_iter: 20,
            max_eval: 25,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search_fn: LineSearch::None,
            maximize: false,
        }
    );
    let group = &opt.state_dict().param_groups[0];
    let keys: Vec<&str> = group.options.keys().collect();
    assert_eq!(
        keys,
        [
            "lr",
            "max_iter",
            "max_eval",
            "tolerance_grad",
            "tolerance_change",
            "history_size",
            "line_search_fn",
            "maximize"
        ]
    );
    assert_eq!(group.options.get("line_search_fn"), Some(&DictValue::Null));
    Ok(())
}

#[test]
fn max_eval_defaults_to_five_quarters_of_max_iter() -> Result {
    for (max_iter, max_eval) in [(1usize, 1usize), (4, 5), (8, 10), (100, 125), (usize::MAX, usize::MAX)] {
        let p = Param::new(array![1.0f64]);
        let opt = Lbfgs::new([p], LbfgsOptions::new().max_iter(max_iter))?;
        assert_eq!(opt.hyperparameters(0)?.max_eval, max_eval, "max_iter {max_iter}");
    }
    // given explicitly, it is kept (torch's `max_eval_lt_max_iter`)
    let p = Param::new(array![1.0f64]);
    let opt = Lbfgs::new([p], LbfgsOptions::new().max_iter(20).max_eval(8))?;
    assert_eq!(opt.hyperparameters(0)?.max_eval, 8);
    // torch-style maps: `max_eval: null` is not an option value, an absent one is computed
    let defaults: Map = [
        ("max_iter", DictValue::Int(8)),
        ("line_search_fn", DictValue::from("strong_wolfe")),
    ]
    .into_iter()
    .collect();
    let p = Param::new(array![1.0f64]);
    let opt = Optimizer::<Lbfgs, f64>::from_maps(vec![(vec![p], Map::new())], &defaults)?;
    assert_eq!(opt.hyperparameters(0)?.max_eval, 10);
    assert_eq!(opt.hyperparameters(0)?.line_search_fn, LineSearch::StrongWolfe);
    Ok(())
}

#[test]
fn invalid_options_are_rejected_with_their_messages() {
    let cases: Vec<(LbfgsOptions, &str)> = vec![
        (
            LbfgsOptions::new().lr(-1.0),
            "defaults: invalid learning rate: -1.0 (must be finite and at least 0)",
        ),
        (
            LbfgsOptions::new().lr(f64::NAN),
            "defaults: invalid learning rate: NaN (must be finite and at least 0)",
        ),
        (
            LbfgsOptions::new().lr(f64::INFINITY),
            "defaults: invalid learning rate: inf (must be finite and at least 0)",
        ),
        (
            LbfgsOptions::new().max_iter(0),
            "defaults: invalid max_iter: 0 (must be at least 1)",
        ),
        (
            LbfgsOptions::new().max_eval(0),
            "defaults: invalid max_eval: 0 (must be at least 1)",
        ),
        (
            LbfgsOptions::new().tolerance_grad(-1e-7),
            "defaults: invalid tolerance_grad: -1e-7 (must be at least 0)",
        ),
        (
            LbfgsOptions::new().tolerance_grad(f64::NAN),
            "defaults: invalid tolerance_grad: NaN (must be at least 0)",
        ),
        (
            LbfgsOptions::new().tolerance_change(-1.0),
            "defaults: invalid tolerance_change: -1.0 (must be at least 0)",
        ),
        (
            LbfgsOptions::new().tolerance_change(f64::NAN),
            "defaults: invalid tolerance_change: NaN (must be at least 0)",
        ),
        (
            LbfgsOptions::new().history_size(0),
            "defaults: invalid history_size: 0 (must be from 1 to 1048576)",
        ),
        (
            LbfgsOptions::new().history_size(Lbfgs::MAX_HISTORY_SIZE + 1),
            "defaults: invalid history_size: 1048577 (must be from 1 to 1048576)",
        ),
    ];
    for (options, message) in cases {
        let p = Param::new(array![1.0f64]);
        let err = Lbfgs::new([p], options.clone()).expect_err(message);
        assert!(matches!(err, Error::InvalidOption { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);

        // the same checks guard a running optimizer's options, which stay as they were
        let p = Param::new(array![1.0f64]);
        let mut opt = Lbfgs::new([p], LbfgsOptions::new()).expect("defaults are valid");
        let err = opt.set_options(0, &options).expect_err(message);
        assert_eq!(err.to_string(), message.replace("defaults", "group 0"));
        assert_eq!(
            opt.hyperparameters(0).expect("group 0"),
            Lbfgs::new([Param::new(array![1.0f64])], LbfgsOptions::new())
                .expect("defaults")
                .hyperparameters(0)
                .expect("group 0")
        );
    }
}

#[test]
fn boundary_values_are_accepted() -> Result {
    let p = Param::new(array![1.0f64]);
    let options = LbfgsOptions::new()
        .lr(0.0)
        .max_iter(1)
        .max_eval(1)
        .tolerance_grad(0.0)
        .tolerance_change(0.0)
        .history_size(1);
    Lbfgs::new([p.clone()], options)?;
    Lbfgs::new([p], LbfgsOptions::new().history_size(Lbfgs::MAX_HISTORY_SIZE))?;
    Ok(())
}

#[test]
fn line_search_fn_is_null_or_strong_wolfe() -> Result {
    let p = Param::new(array![1.0f64]);
    let mut opt = Lbfgs::new([p], LbfgsOptions::new())?;
    opt.set_option(0, "line_search_fn", "strong_wolfe")?;
    assert_eq!(opt.hyperparameters(0)?.line_search_fn, LineSearch::StrongWolfe);
    assert_eq!(opt.option(0, "line_search_fn")?, DictValue::from("strong_wolfe"));
    opt.set_option(0, "line_search_fn", DictValue::Null)?;
    assert_eq!(opt.hyperparameters(0)?.line_search_fn, LineSearch::None);
    let err = opt
        .set_option(0, "line_search_fn", "wolfe")
        .expect_err("not a line search");
    assert_eq!(
        err.to_string(),
        "group 0: option `line_search_fn` must be null or \"strong_wolfe\", found a string (\"wolfe\")"
    );
    let err = opt
        .set_option(0, "line_search_fn", true)
        .expect_err("not a line search");
    assert!(matches!(err, Error::OptionType { .. }), "{err:?}");
    assert_eq!(opt.hyperparameters(0)?.line_search_fn, LineSearch::None);
    Ok(())
}

// ----- the optimizer's shape ----------------------------------------------------------------

#[test]
fn two_groups_are_rejected() -> Result {
    let (a, b) = (Param::new(array![1.0f64]), Param::new(array![2.0f64]));
    let err = Lbfgs::with_groups(
        [ParamGroup::new([a.clone()]), ParamGroup::new([b.clone()])],
        LbfgsOptions::new(),
    )
    .expect_err("one group only");
    assert_eq!(
        err,
        Error::TooManyGroups {
            kind: "lbfgs",
            max: 1,
            group: 1
        }
    );
    let mut opt = Lbfgs::new([a], LbfgsOptions::new())?;
    let err = opt.add_param_group(ParamGroup::new([b])).expect_err("one group only");
    assert!(matches!(err, Error::TooManyGroups { group: 1, .. }), "{err:?}");
    assert_eq!(opt.num_groups(), 1);
    Ok(())
}

#[test]
fn step_without_closure_is_rejected() -> Result {
    let p = Param::new(array![1.0f64, 2.0]);
    let mut opt = Lbfgs::new([p.clone()], LbfgsOptions::new())?;
    p.set_grad(array![1.0, 1.0])?;
    assert_eq!(opt.step(), Err(Error::ClosureRequired { kind: "lbfgs" }));
    assert_eq!(*p.value(), array![1.0, 2.0].into_dyn());
    assert!(opt.state(&p).is_none());
    assert!(opt.state_dict().state.is_empty());
    Ok(())
}

#[test]
fn usable_as_a_dyn_optimizer() -> Result {
    // what a registry or a training loop holding `Box<dyn DynOptimizer<A>>` does
    let params = params_from(&[&[2]], &[-1.5, 2.0]);
    let defaults: Map = [
        ("line_search_fn", DictValue::from("strong_wolfe")),
        ("max_iter", DictValue::Int(50)),
    ]
    .into_iter()
    .collect();
    let mut opt: Box<dyn DynOptimizer<f64>> = Box::new(Optimizer::<Lbfgs, f64>::from_maps(
        vec![(params.clone(), Map::new())],
        &defaults,
    )?);
    assert_eq!(opt.kind(), "lbfgs");
    let mut flat = Flat::new(&params);
    let first = opt.step_with(&mut || flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    assert_eq!(first, Rosenbrock.eval(&[-1.5, 2.0], &mut [0.0; 2]));
    assert!(Rosenbrock.eval(&flat_values(&params), &mut [0.0; 2]) < 1e-8);
    assert_eq!(opt.step(), Err(Error::ClosureRequired { kind: "lbfgs" }));
    assert_eq!(opt.lr(0)?, 1.0);
    Ok(())
}

// ----- runs ---------------------------------------------------------------------------------

#[test]
fn rosenbrock_1000_strong_wolfe_history_10() -> Result {
    let n = 1000;
    let params = params_from(&[&[n]], &Rosenbrock::start::<f64>(n));
    let options = strong_wolfe().history_size(10).max_iter(100);
    let mut opt = Lbfgs::new(params.clone(), options)?;
    let mut flat = Flat::new(&params);
    let start = std::time::Instant::now();
    let first = opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    let elapsed = start.elapsed();
    let mut g = vec![0.0; n];
    let last = Rosenbrock.eval(&flat_values(&params), &mut g);
    let s = state(&opt, &params[0]);
    println!(
        "rosenbrock n={n} history 10 strong_wolfe max_iter 100: n_iter {} func_evals {} loss {first} -> {last:e} \
         in {elapsed:?} (debug build)",
        s.n_iter, s.func_evals
    );
    // 500 terms (x_i, x_i+1) = (-1.2, 1): 24.2 each; 499 terms (1, -1.2): 484 each
    assert!((first - 253_616.0).abs() < 1e-6, "{first}");
    assert!(last < first * 1e-2, "{last}");
    // the step stops at max_iter = 100 iterations or max_eval = 125 evaluations (the line
    // search may make one more)
    assert!(
        s.n_iter <= 100 && s.func_evals <= 126,
        "{} iterations, {} evaluations",
        s.n_iter,
        s.func_evals
    );
    assert!(
        s.n_iter == 100 || s.func_evals >= 125,
        "{} iterations, {} evaluations",
        s.n_iter,
        s.func_evals
    );
    assert_eq!(s.history.len(), 10);
    assert_eq!(s.al.as_ref().map(Vec::len), Some(10));
    Ok(())
}

#[test]
fn several_parameters_are_one_flat_vector() -> Result {
    // The same problem over one parameter of 6 elements, or over a [2, 2] and a [2]:
    // identical trajectories, bit for bit.
    let q = Quadratic {
        n: 6,
        a: (0..36)
            .map(|k| {
                let (i, j) = (k / 6, k % 6);
                if i == j {
                    4.0 + i as f64
                } else {
                    0.5 / (1.0 + (i + j) as f64)
                }
            })
            .collect::<Vec<f64>>(),
        b: vec![1.0, -2.0, 0.5, 0.0, 3.0, -1.0],
    };
    let x0 = [3.0, -1.0, 2.0, 0.5, -0.5, 1.0];
    let run = |shapes: &[&[usize]]| -> Result<(Vec<u64>, LbfgsState<f64>)> {
        let params = params_from(shapes, &x0);
        let mut opt = Lbfgs::new(params.clone(), strong_wolfe().max_iter(5))?;
        let mut flat = Flat::new(&params);
        for _ in 0..3 {
            opt.step_with(|| flat.eval(|x, g| q.eval(x, g)))?;
        }
        Ok((bits(&flat_values(&params)), state(&opt, &params[0]).clone()))
    };
    let (x1, s1) = run(&[&[6]])?;
    let (x2, s2) = run(&[&[2, 2], &[2]])?;
    assert_eq!(x1, x2);
    assert_eq!(s1, s2);
    Ok(())
}

#[test]
fn maximize_follows_the_minimization_of_the_negated_loss() -> Result {
    let x0 = [-1.5, 2.0, 0.5];
    for line_search in [LineSearch::None, LineSearch::StrongWolfe] {
        let options = LbfgsOptions::new().line_search_fn(line_search).max_iter(7);
        let pmin = params_from(&[&[3]], &x0);
        let mut min = Lbfgs::new(pmin.clone(), options.clone())?;
        let pmax = params_from(&[&[3]], &x0);
        let mut max = Lbfgs::new(pmax.clone(), options.maximize(true))?;
        let (mut fmin, mut fmax) = (Flat::new(&pmin), Flat::new(&pmax));
        for _ in 0..3 {
            let lmin = min.step_with(|| fmin.eval(|x, g| Rosenbrock.eval(x, g)))?;
            // the closure returns -f and writes -grad f: maximizing it minimizes f
            let lmax = max.step_with(|| {
                fmax.eval(|x, g| {
                    let f = Rosenbrock.eval(x, g);
                    g.iter_mut().for_each(|v| *v = -*v);
                    -f
                })
            })?;
            assert_eq!(lmax, -lmin, "step_with returns the closure's own loss");
            assert_eq!(bits(&flat_values(&pmax)), bits(&flat_values(&pmin)), "{line_search:?}");
        }
        // the state is that of the minimization the algorithm ran (of -(closure's loss))
        assert_eq!(state(&max, &pmax[0]), state(&min, &pmin[0]));
    }
    Ok(())
}

#[test]
fn history_size_changes_between_steps() -> Result {
    let params = params_from(&[&[10]], &Rosenbrock::start::<f64>(10));
    let mut opt = Lbfgs::new(params.clone(), strong_wolfe().history_size(5).max_iter(8))?;
    let mut flat = Flat::new(&params);
    for _ in 0..3 {
        opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    }
    assert_eq!(state(&opt, &params[0]).history.len(), 5);
    let newest: Vec<Vec<f64>> = state(&opt, &params[0])
        .history
        .old_dirs()
        .rev()
        .take(2)
        .map(<[f64]>::to_vec)
        .collect();

    // shrink below the stored count: the newest pairs are kept
    opt.set_options(0, &LbfgsOptions::new().history_size(2).max_iter(1))?;
    opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    let h = &state(&opt, &params[0]).history;
    assert_eq!(h.len(), 2);
    let oldest = h.old_dirs().next().expect("two pairs").to_vec();
    assert!(newest.contains(&oldest));

    // grow beyond `al`'s length: `al` is extended instead of failing (torch: IndexError)
    opt.set_options(0, &LbfgsOptions::new().history_size(12).max_iter(20).max_eval(25))?;
    for _ in 0..3 {
        opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    }
    let s = state(&opt, &params[0]);
    assert!(s.history.len() > 5, "{}", s.history.len());
    assert!(s.al.as_ref().map_or(0, Vec::len) >= s.history.len());
    assert_eq!(s.history.ro().len(), s.history.len());
    Ok(())
}

#[test]
fn empty_parameters_return_after_one_evaluation() -> Result {
    let p = Param::new(Array1::<f32>::zeros(0));
    let mut opt = Lbfgs::new([p.clone()], LbfgsOptions::new())?;
    assert_eq!(opt.step_with(|| 3.0)?, 3.0);
    let s = state(&opt, &p);
    assert_eq!((s.func_evals, s.n_iter), (1, 0));
    assert!(s.d.is_none());
    Ok(())
}

#[test]
fn zero_lr_stops_on_tolerance_change() -> Result {
    let params = params_from(&[&[2]], &[-1.5, 2.0]);
    let mut opt = Lbfgs::new(params.clone(), LbfgsOptions::new().lr(0.0))?;
    let mut flat = Flat::new(&params);
    opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    assert_eq!(flat_values(&params), [-1.5, 2.0]);
    let s = state(&opt, &params[0]);
    assert_eq!((s.func_evals, s.n_iter), (2, 1));
    assert!(s.al.is_none(), "al appears at the second iteration");
    Ok(())
}

#[test]
fn line_search_may_exceed_max_eval_by_one() -> Result {
    // max_eval = 1: the search gets max_ls = 0 and still evaluates once
    let params = params_from(&[&[2]], &[-1.5, 2.0]);
    let mut opt = Lbfgs::new(params.clone(), strong_wolfe().max_eval(1))?;
    let mut flat = Flat::new(&params);
    opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?;
    let s = state(&opt, &params[0]);
    assert_eq!((s.func_evals, s.n_iter), (2, 1));
    Ok(())
}

#[test]
fn converged_start_returns_at_once() -> Result {
    let params = params_from(&[&[3]], &[1.0, 1.0, 1.0]);
    let mut opt = Lbfgs::new(params.clone(), LbfgsOptions::new())?;
    let mut flat = Flat::new(&params);
    assert_eq!(opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?, 0.0);
    assert_eq!(opt.step_with(|| flat.eval(|x, g| Rosenbrock.eval(x, g)))?, 0.0);
    let mut expected = LbfgsState::<f64>::new();
    expected.func_evals = 2;
    assert_eq!(state(&opt, &params[0]), &expected);
    // torch's state dict then has the two counters only
    let dict = opt.state_dict().into_owned();
    let keys: Vec<&str> = dict.state[&0].keys().collect();
    assert_eq!(keys, ["func_evals", "n_iter"]);
    Ok(())
}

#[test]
fn a_parameter_without_gradient_counts_as_zeros() -> Result {
    // torch's `_gather_flat_grad` uses zeros for a `None` gradient: `b` never moves
    let a = Param::new(array![-1.5f64, 2.0]);
    let b = Param::new(array![7.0f64]);
    let mut opt = Lbfgs::new([a.clone(), b.clone()], strong_wolfe().max_iter(100))?;
    opt.step_with(|| {
        let x = a.to_array();
        let mut g = [0.0; 2];
        let f = Rosenbrock.eval(x.as_slice().expect("contiguous"), &mut g);
        a.set_grad_from_slice(&g).expect("two elements");
        f
    })?;
    assert!(!b.has_grad());
    assert_eq!(b.value()[0], 7.0);
    let f = Rosenbrock.eval(a.value().as_slice().expect("contiguous"), &mut [0.0; 2]);
    assert!(f < 1e-8, "{f} at {:?}", a.to_array());
    Ok(())
}

// ----- save, load, continue -----------------------------------------------------------------

/// Runs `before + after` steps uninterrupted, and `before` steps, a save through JSON, a
/// load into a fresh optimizer (default options) over fresh copies of the parameters, and
/// `after` more steps: losses, parameters and state must agree bit for bit.
fn save_load_continue<A: Float>(
    shapes: &[&[usize]],
    x0: &[A],
    options: &LbfgsOptions,
    f: impl Fn(&[A], &mut [A]) -> A + Copy,
    before: usize,
    after: usize,
) -> Result {
    let p1 = params_from(shapes, x0);
    let mut uninterrupted = Lbfgs::new(p1.clone(), options.clone())?;
    let mut flat1 = Flat::new(&p1);
    let mut losses1 = Vec::new();
    for _ in 0..before + after {
        losses1.push(uninterrupted.step_with(|| flat1.eval(f))?.to_bits());
    }

    let p2 = params_from(shapes, x0);
    let mut first = Lbfgs::new(p2.clone(), options.clone())?;
    let mut flat2 = Flat::new(&p2);
    let mut losses2 = Vec::new();
    for _ in 0..before {
        losses2.push(first.step_with(|| flat2.eval(f))?.to_bits());
    }
    let json = first.state_dict().to_json();
    drop(first);

    let p3 = copies(&p2);
    let mut resumed = Lbfgs::new(p3.clone(), LbfgsOptions::new())?;
    resumed.load_state_dict(&StateDict::from_json(&json)?)?;
    assert_eq!(
        resumed.hyperparameters(0)?,
        Lbfgs::new(p2.clone(), options.clone())?.hyperparameters(0)?
    );
    let mut flat3 = Flat::new(&p3);
    for _ in 0..after {
        losses2.push(resumed.step_with(|| flat3.eval(f))?.to_bits());
    }

    assert_eq!(losses2, losses1);
    assert_eq!(bits(&flat_values(&p3)), bits(&flat_values(&p1)));
    assert_eq!(state(&resumed, &p3[0]), state(&uninterrupted, &p1[0]));
    assert_eq!(resumed.state_dict().to_json(), uninterrupted.state_dict().to_json());
    Ok(())
}

/// A small logistic regression (deterministic data), parameters `[w (d), bias]`.
fn logistic<A: Float>(n: usize, d: usize) -> Logistic<A> {
    let mut seed = 12345u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 11) as f64) / ((1u64 << 53) as f64) * 2.0 - 1.0
    };
    let x: Vec<A> = (0..n * d).map(|_| A::from_f64(next())).collect();
    let y: Vec<A> = (0..n)
        .map(|_| A::from_f64(if next() > 0.0 { 1.0 } else { 0.0 }))
        .collect();
    Logistic {
        n,
        d,
        x,
        y,
        l2: A::from_f64(0.01),
    }
}

#[test]
fn save_load_continue_is_bit_identical_f64() -> Result {
    // strong Wolfe, history 5: the ring has wrapped when it is saved
    let x0 = Rosenbrock::start::<f64>(10);
    let options = strong_wolfe().history_size(5).max_iter(8);
    save_load_continue(&[&[10]], &x0, &options, |x, g| Rosenbrock.eval(x, g), 3, 3)?;
    // no line search, two parameters
    let l = logistic::<f64>(40, 4);
    let x0 = [0.1, -0.2, 0.3, 0.0, 0.05];
    let options = LbfgsOptions::new().history_size(3).max_iter(4).lr(0.5);
    save_load_continue(&[&[4], &[1]], &x0, &options, |x, g| l.eval(x, g), 2, 3)?;
    // saved after a step that returned early: only the counters are in the state dict
    let x0 = [1.0, 1.0, 1.0];
    save_load_continue(&[&[3]], &x0, &LbfgsOptions::new(), |x, g| Rosenbrock.eval(x, g), 1, 1)?;
    Ok(())
}

#[test]
fn save_load_continue_is_bit_identical_f32() -> Result {
    let x0 = Rosenbrock::start::<f32>(6);
    let options = strong_wolfe().history_size(3).max_iter(6);
    save_load_continue(&[&[6]], &x0, &options, |x, g| Rosenbrock.eval(x, g), 2, 2)?;
    let l = logistic::<f32>(30, 3);
    let x0 = [0.1f32, -0.2, 0.3, 0.0];
    let options = LbfgsOptions::new().max_iter(5);
    save_load_continue(&[&[3], &[1]], &x0, &options, |x, g| l.eval(x, g), 2, 2)?;
    Ok(())
}
