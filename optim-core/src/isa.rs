//! The instruction sets a pass runs with, and the one dispatcher every rule form uses.
//!
//! A library cannot count on its users' `RUSTFLAGS`: built for the default x86-64 target
//! (SSE2 only), an Adam pass becomes bound by its divide and square root. So a hot loop is
//! compiled three times — for AVX-512, for AVX2 with FMA, and for the baseline target —
//! and the best one this CPU supports is chosen at run time. A loop opts in by implementing
//! [`Kernel`] with an `#[inline(always)]` `run`: [`Isa::run`] then calls it from inside a
//! function compiled for the chosen instruction set, so the whole loop is compiled for it.
//!
//! Rust never contracts `a * b + c` into a fused multiply-add on its own, and the vector
//! instructions round exactly as the scalar ones, so every instruction set gives
//! bit-identical results.
//!
//! Soundness: running AVX-512 instructions on a CPU without them is undefined behaviour,
//! so an [`Isa`] can only be obtained from detection ([`Isa::best`], [`Isa::available`],
//! [`Isa::from_name`], [`Isa::baseline`]): every value of the type is supported by the CPU
//! the process runs on, which is what makes [`Isa::run`] safe.

use crate::float::Float;
use crate::rule::Elementwise;
use crate::state::{Slices, State};

/// An instruction set that this CPU supports, for update passes. There is no way to name
/// one the CPU lacks: values come only from detection.
///
/// ```
/// use optim_core::Isa;
///
/// let best = Isa::best();
/// assert!(Isa::available().contains(&best));
/// assert_eq!(Isa::from_name(best.name()), Some(best));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Isa(Level);

/// The instruction sets a pass is compiled for, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Level {
    /// The target's baseline (SSE2 on x86-64, NEON on aarch64).
    Baseline,
    /// AVX2 and FMA (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

impl Level {
    const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

    fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Whether this CPU runs the instruction set (`std` caches the detection).
    fn supported(self) -> bool {
        match self {
            Level::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => Level::Avx2.supported() && std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

impl Isa {
    /// The widest instruction set this CPU supports (what optimizers use by default).
    pub fn best() -> Isa {
        Isa::available().pop().unwrap_or(Isa(Level::Baseline))
    }

    /// The target's baseline (SSE2 on x86-64), which every CPU of the target supports.
    pub fn baseline() -> Isa {
        Isa(Level::Baseline)
    }

    /// Every instruction set this CPU supports, narrowest first (the baseline always).
    pub fn available() -> Vec<Isa> {
        Level::ALL.into_iter().filter(|l| l.supported()).map(Isa).collect()
    }

    /// The instruction set named `"baseline"`, `"avx2"` or `"avx512"`, if this CPU
    /// supports it (`None` otherwise, and for any other name).
    pub fn from_name(name: &str) -> Option<Isa> {
        Level::ALL
            .into_iter()
            .find(|l| l.name() == name && l.supported())
            .map(Isa)
    }

    /// Its name: `"baseline"`, `"avx2"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Runs `kernel` compiled for this instruction set (see [`Kernel`]).
    #[inline]
    pub fn run<K: Kernel>(self, kernel: K) -> K::Output {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Isa` exists only for instruction sets this CPU supports (see the
            // module docs): `Level::Avx512` was detected, and it implies AVX2 and FMA.
            Level::Avx512 => unsafe { x86::run_avx512(kernel) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above: `Level::Avx2` means AVX2 and FMA were detected.
            Level::Avx2 => unsafe { x86::run_avx2(kernel) },
            _ => kernel.run(),
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A loop to compile for each instruction set: implement `run` with `#[inline(always)]`
/// (so that it is compiled inside [`Isa::run`]'s per-instruction-set functions) and call
/// it through [`Isa::run`].
///
/// ```
/// use optim_core::{Isa, isa::Kernel};
///
/// struct Scale<'a>(&'a mut [f32], f32);
///
/// impl Kernel for Scale<'_> {
///     type Output = ();
///     #[inline(always)]
///     fn run(self) {
///         self.0.iter_mut().for_each(|x| *x *= self.1);
///     }
/// }
///
/// let mut v = [1.0f32, 2.0];
/// Isa::best().run(Scale(&mut v, 3.0));
/// assert_eq!(v, [3.0, 6.0]);
/// ```
pub trait Kernel {
    /// What the loop returns.
    type Output;
    /// The loop. Mark it `#[inline(always)]`.
    fn run(self) -> Self::Output;
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Kernel;

    /// The kernel compiled with AVX-512F (and AVX2, FMA).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn run_avx512<K: Kernel>(kernel: K) -> K::Output {
        kernel.run()
    }

    /// The kernel compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run_avx2<K: Kernel>(kernel: K) -> K::Output {
        kernel.run()
    }
}

/// One fused pass of an elementwise rule over a parameter, its gradient and its state
/// tensors: the state's fused loop calling the rule's element function. Scalars are held
/// by value so that they live in registers; the slices are separate so that the compiler
/// knows they do not alias.
pub(crate) struct ElementwisePass<'a, R: Elementwise, A: Float> {
    pub scalars: R::Scalars<A>,
    pub state: <R::State<A> as State<A>>::Slices<'a>,
    pub param: &'a mut [A],
    pub grad: &'a [A],
}

impl<R: Elementwise, A: Float> Kernel for ElementwisePass<'_, R, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let scalars = self.scalars;
        self.state
            .for_each(self.param, self.grad, move |p, g, s| R::element(&scalars, p, g, s));
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
pub(crate) fn prefetch<A>(ptr: *const A, len: usize) {
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
