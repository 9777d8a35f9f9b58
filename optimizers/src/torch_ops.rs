//! Element operations as torch's CPU kernels round them, shared by the elementwise rules
//! (`shared/fixtures/torch/optimizers/README.md`, "How torch computes the element-wise
//! operations"): `lerp`, `torch.maximum`, and the gradient preamble every rule starts with.
//!
//! Each is a per-step scalar struct (built in `prepare`, in `f64`, rounded to `A` once) with
//! an `#[inline(always)]` function of one element that chooses between values without
//! branching on the data, so that the rules using them still vectorize. And [`LastValue`],
//! which spares the `powf`s of a step's scalars for every tensor but the first.

use std::cell::Cell;

use optim_core::Float;

/// The value computed for the last key asked, to keep in a `thread_local!`: the parameters
/// of a group almost always share their options and step count, so a step over many small
/// tensors computes its `powf`s once instead of once per tensor. The value is whatever the
/// computation gives, so the cache changes no result. Keys are bit patterns, so that NaN
/// options compare equal to themselves.
pub(crate) struct LastValue<const N: usize, V>(Cell<Option<([u64; N], V)>>);

impl<const N: usize, V: Copy> LastValue<N, V> {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        LastValue(Cell::new(None))
    }

    /// `compute()` for `key`, computed only when `key` differs from the last one asked.
    pub(crate) fn get(&self, key: [f64; N], compute: impl FnOnce() -> V) -> V {
        let bits = key.map(f64::to_bits);
        match self.0.get() {
            Some((k, v)) if k == bits => v,
            _ => {
                let v = compute();
                self.0.set(Some((bits, v)));
                v
            }
        }
    }
}

/// torch's `a.lerp_(b, w)`: `a + w (b − a)` for `|w| < 0.5`, otherwise
/// `b − (b − a)(1 − w)`, with `w` and `1 − w` in the element type. The second branch is
/// what makes `lerp(m, g, 1 − β₁)` differ from `β₁ m + (1 − β₁) g` by an ulp for β₁ ≤ 0.5.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lerp<A> {
    weight: A,
    complement: A,
    small: bool,
}

impl<A: Float> Lerp<A> {
    /// The interpolation by `weight` (a Python float: rounded to `A` here).
    pub(crate) fn new(weight: f64) -> Self {
        let weight = A::from_f64(weight);
        Lerp {
            weight,
            complement: A::one() - weight,
            small: weight.abs() < A::from_f64(0.5),
        }
    }

    /// `lerp(start, end, weight)`.
    #[inline(always)]
    pub(crate) fn apply(&self, start: A, end: A) -> A {
        if self.small {
            start + self.weight * (end - start)
        } else {
            end - (end - start) * self.complement
        }
    }
}

/// `torch.maximum(a, b)`: NaN when either is NaN.
#[inline(always)]
pub(crate) fn maximum<A: Float>(a: A, b: A) -> A {
    if a.is_nan() || a >= b { a } else { b }
}

/// What torch does to a gradient before the rule proper: negate it if `maximize`, then
/// apply weight decay, either as an L2 term added to the gradient (`g + wd · p`) or
/// decoupled, shrinking the parameter (`p · (1 − lr · wd)`, AdamW-style).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Preamble<A> {
    maximize: bool,
    l2: bool,
    decoupled: bool,
    weight_decay: A,
    decay_factor: A,
}

impl<A: Float> Preamble<A> {
    /// Weight decay as an L2 term only (torch's `grad.add(param, alpha=weight_decay)`).
    pub(crate) fn l2(maximize: bool, weight_decay: f64) -> Self {
        Self::new(maximize, weight_decay, false, 0.0)
    }

    /// Weight decay decoupled (`p · (1 − lr · wd)`) when `decoupled`, else L2.
    pub(crate) fn new(maximize: bool, weight_decay: f64, decoupled: bool, lr: f64) -> Self {
        let decay = weight_decay != 0.0;
        Preamble {
            maximize,
            l2: decay && !decoupled,
            decoupled: decay && decoupled,
            weight_decay: A::from_f64(weight_decay),
            decay_factor: A::from_f64(1.0 - lr * weight_decay),
        }
    }

    /// The parameter after decoupled decay, and the gradient to use.
    #[inline(always)]
    pub(crate) fn apply(&self, param: A, grad: A) -> (A, A) {
        let g = if self.maximize { -grad } else { grad };
        let g = if self.l2 { g + self.weight_decay * param } else { g };
        let p = if self.decoupled {
            param * self.decay_factor
        } else {
            param
        };
        (p, g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_takes_torchs_second_branch_from_one_half() {
        // w = 0.7: b - (b - a)(1 - w), which differs from a + w (b - a) in f32 here.
        let (a, b) = (0.1f32, 0.3f32);
        let lerp = Lerp::<f32>::new(0.7);
        assert_eq!(lerp.apply(a, b), b - (b - a) * (1.0 - 0.7f32));
        let lerp = Lerp::<f32>::new(0.1);
        assert_eq!(lerp.apply(a, b), a + 0.1f32 * (b - a));
        assert_eq!(Lerp::<f64>::new(1.0).apply(2.0, 5.0), 5.0);
    }

    #[test]
    fn last_value_recomputes_only_for_a_new_key() {
        let cache = LastValue::<2, f64>::new();
        let calls = Cell::new(0);
        let square = |x: f64| {
            calls.set(calls.get() + 1);
            x * x
        };
        assert_eq!(cache.get([3.0, f64::NAN], || square(3.0)), 9.0);
        assert_eq!(cache.get([3.0, f64::NAN], || square(3.0)), 9.0);
        assert_eq!(calls.get(), 1);
        assert_eq!(cache.get([4.0, f64::NAN], || square(4.0)), 16.0);
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn maximum_propagates_nan_from_either_side() {
        assert!(maximum(f64::NAN, 1.0).is_nan());
        assert!(maximum(1.0, f64::NAN).is_nan());
        assert_eq!(maximum(1.0f32, 2.0), 2.0);
    }

    #[test]
    fn preamble_negates_then_decays() {
        let l2 = Preamble::<f64>::l2(true, 0.5);
        assert_eq!(l2.apply(2.0, 3.0), (2.0, -3.0 + 0.5 * 2.0));
        let decoupled = Preamble::<f64>::new(false, 0.5, true, 0.1);
        assert_eq!(decoupled.apply(2.0, 3.0), (2.0 * (1.0 - 0.1 * 0.5), 3.0));
        let none = Preamble::<f64>::new(false, 0.0, true, 0.1);
        assert_eq!(none.apply(2.0, 3.0), (2.0, 3.0));
    }
}
