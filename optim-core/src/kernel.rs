//! Runs update passes compiled for the CPU at hand.
//!
//! A library cannot count on its users' `RUSTFLAGS`: built for the default x86-64 target
//! (SSE2 only), an Adam pass becomes bound by its divide and square root. So the
//! elementwise pass is compiled three times — for AVX-512, for AVX2 with FMA, and for the
//! baseline target — and the best one this CPU supports is chosen at run time (detected
//! once; `std` caches the answer). The pass is an `#[inline(always)]` generic function, so
//! each compiled copy contains the whole loop, the rule's element function included.
//!
//! Rust never contracts `a * b + c` into a fused multiply-add on its own, and the vector
//! instructions round exactly as the scalar ones, so every path gives bit-identical results.

use crate::float::Float;
use crate::rule::Elementwise;
use crate::state::{Slices, State};

/// The instruction set a pass runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (x86-64).
    Avx512,
    /// AVX2 and FMA (x86-64).
    Avx2,
    /// The target's baseline (SSE2 on x86-64, NEON on aarch64).
    Baseline,
}

/// The best instruction set this CPU supports for update passes.
#[inline]
pub fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// `isa` if this CPU supports it, else the best supported instruction set narrower than it.
pub fn supported(isa: Isa) -> Isa {
    match (isa, detect()) {
        (Isa::Baseline, _) | (_, Isa::Baseline) => Isa::Baseline,
        (Isa::Avx2, _) | (_, Isa::Avx2) => Isa::Avx2,
        (Isa::Avx512, Isa::Avx512) => Isa::Avx512,
    }
}

/// One fused pass of an elementwise rule over a parameter, its gradient and its state
/// tensors, with the instruction set `isa` (which must be supported: see [`detect`]).
#[inline]
pub fn elementwise<'a, R: Elementwise, A: Float>(
    isa: Isa,
    scalars: R::Scalars<A>,
    state: <R::State<A> as State<A>>::Slices<'a>,
    param: &'a mut [A],
    grad: &'a [A],
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` comes from `detect`, which checked that the CPU has AVX-512F.
        Isa::Avx512 => unsafe { x86::elementwise_avx512::<R, A>(scalars, state, param, grad) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` comes from `detect`, which checked that the CPU has AVX2 and FMA.
        Isa::Avx2 => unsafe { x86::elementwise_avx2::<R, A>(scalars, state, param, grad) },
        _ => elementwise_pass::<R, A>(scalars, state, param, grad),
    }
}

/// The pass itself: the state's fused loop calling the rule's element function. Scalars
/// are taken by value so that they live in registers; the slices are arguments so that
/// the compiler knows they do not alias.
#[inline(always)]
fn elementwise_pass<'a, R: Elementwise, A: Float>(
    scalars: R::Scalars<A>,
    state: <R::State<A> as State<A>>::Slices<'a>,
    param: &'a mut [A],
    grad: &'a [A],
) {
    state.for_each(param, grad, move |p, g, s| R::element(&scalars, p, g, s));
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    /// The pass compiled with AVX-512F.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn elementwise_avx512<'a, R: Elementwise, A: Float>(
        scalars: R::Scalars<A>,
        state: <R::State<A> as State<A>>::Slices<'a>,
        param: &'a mut [A],
        grad: &'a [A],
    ) {
        elementwise_pass::<R, A>(scalars, state, param, grad)
    }

    /// The pass compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn elementwise_avx2<'a, R: Elementwise, A: Float>(
        scalars: R::Scalars<A>,
        state: <R::State<A> as State<A>>::Slices<'a>,
        param: &'a mut [A],
        grad: &'a [A],
    ) {
        elementwise_pass::<R, A>(scalars, state, param, grad)
    }
}

/// The most bytes of one array [`prefetch`] asks for: enough for a small tensor whole, and
/// for a large one the start, after which the hardware prefetcher follows the stream.
const PREFETCH_BYTES: usize = 4096;

/// Asks the CPU to start loading the first elements of `len` elements from `ptr` into
/// cache, while the current tensor is updated: with many small tensors, the wait for each
/// tensor's first cache lines is otherwise exposed at every tensor. A hint only: it never
/// faults and never reads `ptr` in Rust's sense, so any pointer (null, stale) is fine.
#[inline(always)]
pub fn prefetch<A>(ptr: *const A, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = len.saturating_mul(size_of::<A>()).min(PREFETCH_BYTES);
        let base = ptr.cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has; a prefetch
            // does not access memory in a way that can fault, whatever the address.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(base.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, len);
}
