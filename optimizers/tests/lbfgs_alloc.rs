//! No heap allocation in `Optimizer::step_with` for `Lbfgs` on a warm state (history full,
//! every buffer created), and none per iteration after the first step's first iteration
//! except while the curvature history fills up. A counting global allocator counts the
//! current thread's allocations only; the closure itself does not allocate (preallocated
//! buffers, `Param::set_grad_from_slice` into the existing gradient).

mod lbfgs_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lbfgs_support::{Flat, params_from};
use optim_tests::problems::Rosenbrock;
use optimizers::state::LbfgsState;
use optimizers::{Lbfgs, LbfgsOptions, LineSearch, Optimizer, Param};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn record() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only a thread-local counter, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get))
}

fn setup(line_search: LineSearch, max_iter: usize) -> (Optimizer<Lbfgs, f64>, Vec<Param<f64>>, Flat<f64>) {
    let n = 100;
    // two parameters, so that gathering and scattering go through more than one lock
    let params = params_from(&[&[60], &[40]], &Rosenbrock::start::<f64>(n));
    let options = LbfgsOptions::new()
        .line_search_fn(line_search)
        .history_size(5)
        .max_iter(max_iter);
    let opt = Lbfgs::new(params.clone(), options).expect("valid options");
    let flat = Flat::new(&params);
    (opt, params, flat)
}

fn state<'o>(opt: &'o Optimizer<Lbfgs, f64>, p: &Param<f64>) -> &'o LbfgsState<f64> {
    opt.state(p).expect("stepped")
}

fn warm_steps_do_not_allocate(line_search: LineSearch) {
    let (mut opt, params, mut flat) = setup(line_search, 10);
    let mut closure = || flat.eval(|x, g| Rosenbrock.eval(x, g));

    // the first step allocates (state, scratch buffers, gradients, history filling up)
    let (r, first) = count(|| opt.step_with(&mut closure));
    r.expect("finite");
    assert!(first > 0);
    assert_eq!(
        state(&opt, &params[0]).history.len(),
        5,
        "history full after the first step"
    );
    // one more step: the first push into the full ring hands back a pair to recycle
    opt.step_with(&mut closure).expect("finite");

    let iters_before = state(&opt, &params[0]).n_iter;
    let (r, warm) = count(|| {
        for _ in 0..5 {
            opt.step_with(&mut closure)?;
        }
        Ok::<(), optimizers::Error>(())
    });
    r.expect("finite");
    let s = state(&opt, &params[0]);
    assert!(s.n_iter - iters_before >= 20, "too few iterations to mean anything");
    println!(
        "{line_search:?}: {first} allocations in the first step, {warm} in 5 warm steps ({} iterations, {} \
         evaluations)",
        s.n_iter - iters_before,
        s.func_evals
    );
    assert_eq!(warm, 0, "{line_search:?}: step_with allocated on a warm state");
}

/// One iteration per step: after the first iteration, the only allocations are the two
/// vectors of each new curvature pair while the history fills up, plus one spare pair for
/// the first pair accepted once it is full (the oldest pair may only be recycled when the
/// iteration has completed, because a non-finite evaluation must leave it in place).
fn only_history_filling_allocates(line_search: LineSearch) {
    let history_size = 5;
    let (mut opt, params, mut flat) = setup(line_search, 1);
    let mut closure = || flat.eval(|x, g| Rosenbrock.eval(x, g));
    opt.step_with(&mut closure).expect("finite");
    assert_eq!(state(&opt, &params[0]).n_iter, 1);
    let mut fills = 0;
    let mut spare = false;
    for k in 2..=30 {
        let len_before = state(&opt, &params[0]).history.len();
        let (r, allocs) = count(|| opt.step_with(&mut closure));
        r.expect("finite");
        assert_eq!(state(&opt, &params[0]).n_iter, k);
        let len_after = state(&opt, &params[0]).history.len();
        if len_after > len_before {
            fills += 1;
            // the new pair's y and s
            assert!(allocs <= 2, "{line_search:?}, iteration {k}: {allocs} allocations");
        } else if len_before < history_size {
            // a pair was rejected (y·s too small): its buffers wait for the next one
            assert!(allocs <= 2, "{line_search:?}, iteration {k}: {allocs} allocations");
        } else if !spare {
            spare = true;
            assert_eq!(allocs, 2, "{line_search:?}, iteration {k}: {allocs} allocations");
        } else {
            assert_eq!(allocs, 0, "{line_search:?}, iteration {k}: {allocs} allocations");
        }
    }
    assert_eq!(fills, history_size);
    assert!(spare);
}

// One test function, so that nothing else runs in this binary while counting (counting is
// per thread anyway).
#[test]
fn no_allocation_in_warm_steps() {
    warm_steps_do_not_allocate(LineSearch::StrongWolfe);
    warm_steps_do_not_allocate(LineSearch::None);
    only_history_filling_allocates(LineSearch::StrongWolfe);
    only_history_filling_allocates(LineSearch::None);
}
