//! Runs update passes compiled for the CPU at hand.
//!
//! A library cannot count on its users' `RUSTFLAGS`: built for the default x86-64 target
//! (SSE2 only), an Adam pass becomes bound by its divide and square root. So every pass
//! goes through [`run`], which calls it inside a function compiled with AVX2 and FMA
//! enabled when the CPU has them (detected once, cached by `std`). The pass is generic and
//! inlined, so it is compiled for those features too.
//!
//! Rust never contracts `a * b + c` into a fused multiply-add on its own, so the AVX2 and
//! the portable paths round identically: results are bit-identical whichever path runs.

/// Runs `pass`, compiled for the best instruction set this CPU supports.
#[inline(always)]
pub fn run<F: FnOnce()>(pass: F) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            unsafe { x86::avx2_fma(pass) };
            return;
        }
    }
    pass()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    /// `pass` compiled with AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2_fma<F: FnOnce()>(pass: F) {
        pass()
    }
}
