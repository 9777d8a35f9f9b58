//! Threads: parameters, optimizers and boxed optimizers are `Send + Sync` (checked at
//! compile time); gradients written from several threads give the sequential step's bits;
//! a closure may compute its gradients on several threads (elementwise optimizers and
//! LBFGS); other threads read values and write gradients while steps run, without deadlock
//! and without seeing a half-updated parameter. Every scenario runs under a time limit, so
//! that a deadlock fails the test instead of hanging it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use optimizers::ndarray::{Array1, ArrayD, IxDyn};
use optimizers::parallel::PARALLEL_CHUNK;
use optimizers::{
    Adam, AdamOptions, AdamW, DynOptimizer, Error, Float, Lbfgs, LbfgsOptions, LineSearch, Optimizer, Param, Rule, Sgd,
    SgdOptions, StateDict,
};

// What a training loop shares between threads must be `Send + Sync`; this fails to compile
// otherwise.
const _: () = {
    const fn send_sync<T: Send + Sync + ?Sized>() {}
    send_sync::<Param<f32>>();
    send_sync::<Param<f64>>();
    send_sync::<Optimizer<Sgd, f32>>();
    send_sync::<Optimizer<Adam, f64>>();
    send_sync::<Optimizer<AdamW, f32>>();
    send_sync::<Optimizer<Lbfgs, f64>>();
    send_sync::<Box<dyn DynOptimizer<f32>>>();
    send_sync::<Box<dyn DynOptimizer<f64>>>();
    send_sync::<dyn DynOptimizer<f64>>();
    send_sync::<StateDict>();
    send_sync::<Error>();
};

/// Runs `f` on its own thread and waits at most `limit` for it: a deadlock fails the test
/// (the stuck thread is abandoned) instead of hanging it. A panic in `f` is re-raised.
fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let out = f();
        // The receiver is gone only if the limit passed; nothing to do then.
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: not done after {limit:?}, a deadlock?"),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

fn params<A: Float>(count: usize, len: usize) -> Vec<Param<A>> {
    (0..count)
        .map(|k| {
            let v = (0..len)
                .map(|i| A::from_f64(((i * 13 + k * 7) % 29) as f64 / 29.0 - 0.5))
                .collect();
            Param::new(ArrayD::from_shape_vec(IxDyn(&[len]), v).expect("len"))
        })
        .collect()
}

fn grad_of<A: Float>(k: usize, step: usize, len: usize) -> Vec<A> {
    (0..len)
        .map(|i| A::from_f64(((i * 7 + k * 5 + step * 3) % 23) as f64 / 23.0 - 0.4))
        .collect()
}

fn bits<A: Float>(params: &[Param<A>]) -> Vec<u64> {
    params
        .iter()
        .flat_map(|p| p.value().iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>())
        .collect()
}

/// Steps with gradients set one parameter after another, or each from its own thread (in
/// pieces, with `accumulate_grad`, for odd parameters).
fn run<R: Rule>(make: fn(Vec<Param<f64>>) -> Optimizer<R, f64>, threaded: bool) -> (Vec<u64>, String) {
    let (count, len) = (8, 300);
    let ps = params::<f64>(count, len);
    let mut opt = make(ps.clone());
    for step in 0..4 {
        opt.zero_grad().expect("no guard held");
        if threaded {
            thread::scope(|s| {
                for (k, p) in ps.iter().enumerate() {
                    s.spawn(move || {
                        let g = grad_of::<f64>(k, step, len);
                        if k % 2 == 0 {
                            p.set_grad_from_slice(&g).expect("length");
                        } else {
                            // exact halves: the sum does not depend on the order
                            let half = Array1::from_vec(g.iter().map(|x| x / 2.0).collect());
                            p.accumulate_grad(&half).expect("shape");
                            p.accumulate_grad(&half).expect("shape");
                        }
                    });
                }
            });
        } else {
            for (k, p) in ps.iter().enumerate() {
                p.set_grad_from_slice(&grad_of::<f64>(k, step, len)).expect("length");
            }
        }
        opt.step().expect("a step");
    }
    (bits(&ps), opt.state_dict().to_json())
}

#[test]
fn gradients_written_from_several_threads_give_the_sequential_step() {
    within(LIMIT, "threaded gradients", || {
        let sgd = |p| Sgd::new(p, SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid");
        let adam = |p| Adam::new(p, AdamOptions::new().lr(0.01).amsgrad(true)).expect("valid");
        assert!(run(sgd, true) == run(sgd, false), "sgd");
        assert!(run(adam, true) == run(adam, false), "adam");
    });
}

#[test]
fn many_threads_accumulating_into_one_gradient_lose_nothing() {
    within(LIMIT, "accumulation", || {
        let p = Param::new(Array1::<f64>::zeros(1000));
        thread::scope(|s| {
            for t in 0..8 {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..50 {
                        p.accumulate_grad(&Array1::from_elem(1000, (t + 1) as f64))
                            .expect("shape");
                    }
                });
            }
        });
        // 50 · (1 + ... + 8) = 1800 on every element: integers, exact in any order
        assert!(p.grad().expect("accumulated").iter().all(|&g| g == 1800.0));
    });
}

/// A separable loss `Σ cᵢ (xᵢ − 1)²` whose gradient is computed one thread per parameter.
fn parallel_closure(ps: &[Param<f64>], threaded: bool) -> impl FnMut() -> f64 + '_ {
    move || {
        let loss_of = |k: usize, p: &Param<f64>| {
            let c = (k + 1) as f64;
            let v = p.to_array();
            p.set_grad(v.mapv(|x| 2.0 * c * (x - 1.0))).expect("shape");
            v.iter().map(|&x| c * (x - 1.0) * (x - 1.0)).sum::<f64>()
        };
        let losses: Vec<f64> = if threaded {
            thread::scope(|s| {
                let handles: Vec<_> = ps
                    .iter()
                    .enumerate()
                    .map(|(k, p)| s.spawn(move || loss_of(k, p)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("the loss thread"))
                    .collect()
            })
        } else {
            ps.iter().enumerate().map(|(k, p)| loss_of(k, p)).collect()
        };
        // summed in parameter order whichever thread finished first
        losses.iter().sum()
    }
}

fn closure_run<R: Rule>(make: fn(Vec<Param<f64>>) -> Optimizer<R, f64>, threaded: bool) -> (Vec<u64>, Vec<u64>) {
    let ps = params::<f64>(4, 50);
    let mut opt = make(ps.clone());
    let losses = (0..3)
        .map(|_| {
            opt.step_with(parallel_closure(&ps, threaded))
                .expect("a step")
                .to_bits()
        })
        .collect();
    (bits(&ps), losses)
}

#[test]
fn a_closure_may_compute_gradients_on_several_threads() {
    within(LIMIT, "threaded closures", || {
        let adam = |p| Adam::new(p, AdamOptions::new().lr(0.05)).expect("valid");
        assert_eq!(closure_run(adam, true), closure_run(adam, false), "adam");
        let lbfgs = |p| {
            Lbfgs::new(
                p,
                LbfgsOptions::new().line_search_fn(LineSearch::StrongWolfe).max_iter(10),
            )
            .expect("valid")
        };
        let threaded = closure_run(lbfgs, true);
        assert_eq!(threaded, closure_run(lbfgs, false), "lbfgs");
        let x: Vec<f64> = threaded.0.iter().map(|&b| f64::from_bits(b)).collect();
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-6), "LBFGS reaches the minimum");
    });
}

#[test]
fn readers_and_gradient_writers_run_beside_steps_without_deadlock_or_torn_values() {
    within(LIMIT, "readers beside steps", || {
        // large enough for a parallel, chunked step
        let len = 2 * PARALLEL_CHUNK + 100;
        let w = Param::new(Array1::<f32>::zeros(len));
        let b = Param::new(Array1::<f32>::zeros(7));
        let mut opt = Sgd::new([w.clone(), b.clone()], SgdOptions::new().lr(1.0)).expect("valid");
        opt.set_parallel(true);
        w.set_grad(Array1::from_elem(len, 1.0f32)).expect("shape");
        b.set_grad(Array1::from_elem(7, 1.0f32)).expect("shape");
        let stop = AtomicBool::new(false);
        let reads = AtomicUsize::new(0);
        let steps = 200;
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    // with lr 1 and gradient 1, a value is −(steps taken), the same on every
                    // element: a read that sees two values caught a parameter half-updated
                    let mut last = 0.0f32;
                    while !stop.load(Ordering::Relaxed) {
                        let v = w.value();
                        let first = v[0];
                        assert!(v.iter().all(|&x| x == first), "a torn read");
                        assert!(first <= last, "values go back in time");
                        last = first;
                        drop(v);
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            // holds a value for reading while it sets the gradient: allowed (see `Param`)
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let v = b.value();
                    b.set_grad(v.mapv(|_| 1.0f32)).expect("shape");
                    drop(v);
                    assert!(w.grad_array().is_some());
                }
            });
            for _ in 0..steps {
                opt.step().expect("a step");
                let _ = opt.state_dict().into_owned();
                opt.check_finite().expect("finite");
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert!(w.value().iter().all(|&x| x == -(steps as f32)));
        assert!(b.value().iter().all(|&x| x == -(steps as f32)));
        assert!(reads.load(Ordering::Relaxed) > 0);
    });
}

#[test]
fn an_lbfgs_step_runs_beside_readers() {
    within(LIMIT, "LBFGS beside readers", || {
        let ps = params::<f64>(3, 20);
        let mut opt = Lbfgs::new(ps.clone(), LbfgsOptions::new().max_iter(50)).expect("valid");
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            for p in &ps {
                let stop = &stop;
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = p.to_array().sum();
                        let _ = p.grad_array();
                    }
                });
            }
            for _ in 0..3 {
                opt.step_with(parallel_closure(&ps, true)).expect("a step");
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert!(ps.iter().all(|p| p.value().iter().all(|x| (x - 1.0).abs() < 1e-6)));
    });
}

#[test]
fn boxed_optimizers_move_to_other_threads_and_are_read_from_several() {
    within(LIMIT, "boxed optimizers", || {
        let ps = params::<f32>(2, 10);
        let mut opt: Box<dyn DynOptimizer<f32>> = Box::new(AdamW::new(ps.clone(), Default::default()).expect("valid"));
        let ps2 = ps.clone();
        let opt = thread::spawn(move || {
            for (k, p) in ps2.iter().enumerate() {
                p.set_grad_from_slice(&grad_of::<f32>(k, 0, 10)).expect("length");
            }
            opt.step().expect("a step");
            opt
        })
        .join()
        .expect("the stepping thread");
        let dicts: Vec<String> = thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| opt.state_dict().to_json())).collect();
            handles.into_iter().map(|h| h.join().expect("a reader")).collect()
        });
        assert!(dicts.windows(2).all(|w| w[0] == w[1]));
        assert!(dicts[0].contains(r#""step":{"shape":[],"dtype":"float32","data":[1.0]}"#));
    });
}
