//! What a warm Newton–Schulz call allocates: nothing of its own (its work matrices live in
//! the scratch), and one packing buffer per matrix product inside matrixmultiply, which
//! takes no caller memory. A counting global allocator counts the current thread's
//! allocations only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use optimizers::ndarray::{Array2, s};
use optimizers::newton_schulz::{NewtonSchulz, NsScratch};

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

fn input(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0)
}

#[test]
fn a_warm_call_allocates_only_matrixmultiplys_packing_buffers() {
    let ns = NewtonSchulz::default();
    // Shapes whose smaller side is at most 64 (the leaf of the symmetric products): each
    // product of a step is one call of matrixmultiply, three per step.
    for (rows, cols) in [(8, 20), (50, 3), (64, 64)] {
        let u = input(rows, cols);
        let mut out = Array2::zeros((rows, cols));
        let mut scratch = NsScratch::for_shape(rows, cols);
        let (result, allocations) = count(|| ns.orthogonalize(u.view(), out.view_mut(), &mut scratch));
        result.unwrap();
        assert_eq!(
            allocations,
            3 * ns.steps,
            "{rows} x {cols}: one packing buffer per product"
        );
        // The same scratch serves a smaller shape without growing.
        let (result, allocations) =
            count(|| ns.orthogonalize(u.slice(s![..1, ..]), out.slice_mut(s![..1, ..]), &mut scratch));
        result.unwrap();
        assert_eq!(allocations, 3 * ns.steps, "{rows} x {cols}, first row");
    }
}

#[test]
fn a_cold_scratch_allocates_its_four_matrices_once() {
    let ns = NewtonSchulz::default();
    let u = input(6, 9);
    let mut out = Array2::zeros((6, 9));
    let mut scratch = NsScratch::new();
    let (result, cold) = count(|| ns.orthogonalize(u.view(), out.view_mut(), &mut scratch));
    result.unwrap();
    assert_eq!(cold, 4 + 3 * ns.steps);
    let (result, warm) = count(|| ns.orthogonalize(u.view(), out.view_mut(), &mut scratch));
    result.unwrap();
    assert_eq!(warm, 3 * ns.steps);
}
