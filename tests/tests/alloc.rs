//! After its first step (which creates the state), a step of each bundled optimizer
//! allocates nothing: sequential or parallel, f32 or f64. One test in its own binary, so
//! that the counting allocator sees no other test's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use optimizers::ndarray::ArrayD;
use optimizers::parallel::PARALLEL_CHUNK;
use optimizers::{Adam, AdamOptions, AdamW, AdamWOptions, DynOptimizer, Float, Param, Sgd, SgdOptions, rayon};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn params<A: Float>() -> Vec<Param<A>> {
    // Large enough for the parallel step to split one tensor into chunks.
    [3 * PARALLEL_CHUNK + 5, 100, 1]
        .into_iter()
        .map(|n| {
            let p = Param::new(ArrayD::from_elem(vec![n], A::from_f64(0.5)));
            p.set_grad(ArrayD::from_elem(vec![n], A::from_f64(0.01)))
                .expect("shape");
            p
        })
        .collect()
}

/// Allocations made by three steps after the first, and by the first.
fn allocations<A: Float>(mut opt: Box<dyn DynOptimizer<A>>, parallel: bool) -> (usize, usize) {
    opt.set_parallel(parallel);
    let start = ALLOCATIONS.load(Ordering::SeqCst);
    opt.step().expect("first step");
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..3 {
        opt.step().expect("step");
    }
    (before - start, ALLOCATIONS.load(Ordering::SeqCst) - before)
}

fn optimizers<A: Float>() -> Vec<(&'static str, Box<dyn DynOptimizer<A>>)> {
    vec![
        (
            "sgd",
            Box::new(Sgd::new(params(), SgdOptions::new().lr(0.1)).expect("valid")),
        ),
        (
            "sgd momentum",
            Box::new(Sgd::new(params(), SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid")),
        ),
        (
            "sgd nesterov",
            Box::new(Sgd::new(params(), SgdOptions::new().lr(0.1).momentum(0.9).nesterov(true)).expect("valid")),
        ),
        (
            "adam",
            Box::new(Adam::new(params(), AdamOptions::new()).expect("valid")),
        ),
        (
            "adam amsgrad",
            Box::new(Adam::new(params(), AdamOptions::new().amsgrad(true)).expect("valid")),
        ),
        (
            "adamw",
            Box::new(AdamW::new(params(), AdamWOptions::new()).expect("valid")),
        ),
    ]
}

#[test]
fn steps_after_the_first_allocate_nothing() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    let mut failures = Vec::new();
    pool.install(|| {
        for parallel in [false, true] {
            let f32s = optimizers::<f32>()
                .into_iter()
                .map(|(name, opt)| (name, "f32", allocations(opt, parallel)));
            let f64s = optimizers::<f64>()
                .into_iter()
                .map(|(name, opt)| (name, "f64", allocations(opt, parallel)));
            for (name, dtype, (first, steady)) in f32s.collect::<Vec<_>>().into_iter().chain(f64s) {
                // The first step creates state (SGD without momentum has none): the counter sees it.
                if name != "sgd" && first == 0 {
                    failures.push(format!(
                        "{name} {dtype}: the first step allocated nothing; is the counter working?"
                    ));
                }
                if steady > 0 {
                    failures.push(format!(
                        "{name} {dtype} (parallel: {parallel}): {steady} allocations after the first step"
                    ));
                }
            }
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}
