//! Gradient clipping, as `torch.nn.utils`: [`clip_grad_norm`], [`clip_grad_value`], and the
//! split torch 2.6 form [`get_total_norm`] + [`clip_grads_with_norm`] (for gradient
//! accumulation, or one norm across several optimizers).
//!
//! Each function takes any sequence of parameters (`opt.all_params()`, a model's list) and
//! skips those without a gradient. The norm is one read pass over the gradients, the
//! scaling one write pass (none when nothing needs clipping), both vectorized for the CPU
//! and split across threads for large tensors with the `rayon` feature. Partial sums are
//! taken over fixed chunks and combined in a fixed order, so the result does not depend on
//! the number of threads.
//!
//! Functions over a sequence name a parameter by its position in it (as "parameter 3 of
//! group 0").

use crate::error::{Error, ParamRef, Result};
use crate::float::Float;
use crate::held;
use crate::isa::{Isa, Kernel};
use crate::param::{Param, as_slice, as_slice_mut};

/// The chunk a gradient's pass is split into: partial sums are taken per chunk and added
/// in chunk order, on one thread or several.
const CHUNK: usize = 1 << 15;

/// torch's `1e-6` in `max_norm / (total_norm + 1e-6)`.
const NORM_EPS: f64 = 1e-6;

/// The order of a norm: `Norm::P(2.0)` is the Euclidean norm, `Norm::Inf` the largest
/// absolute value. torch's `norm_type` (a float or `inf`); see [`Norm::from_f64`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Norm {
    /// `(Σ |g|^p)^(1/p)`, for p > 0.
    P(f64),
    /// `max |g|`.
    Inf,
}

impl Norm {
    /// The norm of order `p` (`f64::INFINITY` for the largest absolute value): torch's
    /// `norm_type`. Orders that are not a number greater than 0 are an error.
    pub fn from_f64(p: f64) -> Result<Norm> {
        if p == f64::INFINITY {
            Ok(Norm::Inf)
        } else if p > 0.0 && p.is_finite() {
            Ok(Norm::P(p))
        } else {
            Err(Error::InvalidArgument {
                function: "clip_grad_norm",
                argument: "norm_type",
                message: format!("must be a number greater than 0, or infinity; found {p:?}"),
            })
        }
    }

    fn order(self) -> f64 {
        match self {
            Norm::P(p) => p,
            Norm::Inf => f64::INFINITY,
        }
    }
}

/// The parameters that have a gradient, with their position in the sequence; fails with
/// [`Error::GuardHeld`] when this thread holds a guard of one of them (the pass would wait
/// for it forever, or run on threads that cannot see it).
fn collect<'p, A: Float + 'p>(
    params: impl IntoIterator<Item = &'p Param<A>>,
    operation: &'static str,
) -> Result<Vec<(usize, &'p Param<A>)>> {
    let params: Vec<(usize, &Param<A>)> = params.into_iter().enumerate().collect();
    if let Some((_, index, guard)) = held::check(params.iter().map(|&(i, p)| (0, i, p))) {
        return Err(Error::GuardHeld {
            operation,
            param: ParamRef {
                group: 0,
                index,
                name: params[index].1.name().map(str::to_string),
            },
            guard,
        });
    }
    Ok(params)
}

/// Each gradient's norm, rounded to the gradients' type (as torch's per-gradient
/// `vector_norm`), `None` for a parameter without a gradient.
fn grad_norms<A: Float>(params: &[(usize, &Param<A>)], norm: Norm, isa: Isa) -> Vec<Option<A>> {
    let one = |p: &Param<A>| {
        let grad = p.grad_lock();
        grad.as_ref()
            .map(|g| A::from_f64(finish(norm, reduce(as_slice(g), norm, isa))))
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        params.par_iter().map(|&(_, p)| one(p)).collect()
    }
    #[cfg(not(feature = "rayon"))]
    params.iter().map(|&(_, p)| one(p)).collect()
}

/// `Σ |x|^p` (or `max |x|`) over `x`, chunk by chunk in order.
fn reduce<A: Float>(x: &[A], norm: Norm, isa: Isa) -> f64 {
    let chunk = |c: &[A]| isa.run(Reduce { x: c, norm });
    #[cfg(feature = "rayon")]
    let partials: Vec<f64> = {
        use rayon::prelude::*;
        x.par_chunks(CHUNK).map(chunk).collect()
    };
    #[cfg(not(feature = "rayon"))]
    let partials: Vec<f64> = x.chunks(CHUNK).map(chunk).collect();
    combine(norm, partials.into_iter())
}

/// Partial results combined in order: summed, or the largest (NaN if any is NaN).
fn combine(norm: Norm, parts: impl Iterator<Item = f64>) -> f64 {
    match norm {
        Norm::Inf => parts.fold(0.0, max_nan),
        Norm::P(_) => parts.sum(),
    }
}

/// The larger of two, NaN when either is (torch's `max` propagates NaN).
fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// The norm from its partial result: `s^(1/p)` (`s` itself for p = 1 and for `Inf`).
fn finish(norm: Norm, s: f64) -> f64 {
    match norm {
        Norm::Inf => s,
        Norm::P(1.0) => s,
        Norm::P(2.0) => s.sqrt(),
        Norm::P(p) => s.powf(1.0 / p),
    }
}

/// One chunk's `Σ |x|^p` (or `max |x|`), with eight accumulators in f64 so that the loop
/// vectorizes and loses no precision.
struct Reduce<'a, A> {
    x: &'a [A],
    norm: Norm,
}

impl<A: Float> Kernel for Reduce<'_, A> {
    type Output = f64;

    #[inline(always)]
    fn run(self) -> f64 {
        let mut acc = [0.0f64; 8];
        let (body, tail) = self.x.split_at(self.x.len() / 8 * 8);
        match self.norm {
            Norm::P(2.0) => {
                for c in body.chunks_exact(8) {
                    for (a, &x) in acc.iter_mut().zip(c) {
                        let x = x.as_f64();
                        *a += x * x;
                    }
                }
                tail.iter().map(|&x| x.as_f64() * x.as_f64()).sum::<f64>() + acc.iter().sum::<f64>()
            }
            Norm::P(1.0) => {
                for c in body.chunks_exact(8) {
                    for (a, &x) in acc.iter_mut().zip(c) {
                        *a += x.as_f64().abs();
                    }
                }
                tail.iter().map(|&x| x.as_f64().abs()).sum::<f64>() + acc.iter().sum::<f64>()
            }
            Norm::P(p) => self.x.iter().map(|&x| x.as_f64().abs().powf(p)).sum(),
            Norm::Inf => {
                let mut nan = false;
                for c in body.chunks_exact(8) {
                    for (a, &x) in acc.iter_mut().zip(c) {
                        let x = x.as_f64();
                        nan |= x.is_nan();
                        *a = a.max(x.abs());
                    }
                }
                for &x in tail {
                    nan |= x.is_nan();
                    acc[0] = acc[0].max(x.as_f64().abs());
                }
                if nan {
                    f64::NAN
                } else {
                    acc.iter().fold(0.0, |m, &a| m.max(a))
                }
            }
        }
    }
}

/// The total norm of the gradients of `params` (those without one are skipped): the norm
/// of the vector of each gradient's norm, in the gradients' type (torch 2.6's
/// `torch.nn.utils.get_total_norm`); `0` when no parameter has a gradient.
///
/// With `error_if_nonfinite`, a NaN or infinite total is [`Error::NonFiniteNorm`], naming
/// the first gradient whose own norm is not finite.
pub fn get_total_norm<'p, A: Float + 'p>(
    params: impl IntoIterator<Item = &'p Param<A>>,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<A> {
    let norm = Norm::from_f64(norm_type)?;
    let params = collect(params, "get_total_norm")?;
    total_norm(&params, norm, error_if_nonfinite)
}

fn total_norm<A: Float>(params: &[(usize, &Param<A>)], norm: Norm, error_if_nonfinite: bool) -> Result<A> {
    let isa = Isa::best();
    let norms = grad_norms(params, norm, isa);
    let parts = norms.iter().flatten().map(|n| match norm {
        Norm::Inf => n.as_f64().abs(),
        Norm::P(1.0) => n.as_f64().abs(),
        Norm::P(2.0) => n.as_f64() * n.as_f64(),
        Norm::P(p) => n.as_f64().abs().powf(p),
    });
    let total = A::from_f64(finish(norm, combine(norm, parts)));
    if error_if_nonfinite && !total.is_finite() {
        let (position, grad_norm) = params
            .iter()
            .zip(&norms)
            .find_map(|(&(i, _), n)| n.filter(|n| !n.is_finite()).map(|n| (i, n.as_f64())))
            // The total overflowed although every gradient's norm is finite: name the first.
            .or_else(|| {
                params
                    .iter()
                    .zip(&norms)
                    .find_map(|(&(i, _), n)| n.map(|n| (i, n.as_f64())))
            })
            .unwrap_or((0, total.as_f64()));
        return Err(Error::NonFiniteNorm {
            norm_type: norm.order(),
            total: total.as_f64(),
            param: ParamRef {
                group: 0,
                index: position,
                name: params
                    .iter()
                    .find(|&&(i, _)| i == position)
                    .and_then(|(_, p)| p.name().map(str::to_string)),
            },
            grad_norm,
        });
    }
    Ok(total)
}

/// Scales the gradients of `params` so that their total norm is at most `max_norm`, given
/// their `total_norm` (from [`get_total_norm`], possibly over more parameters): every
/// gradient is multiplied by `min(max_norm / (total_norm + 1e-6), 1)`, computed in the
/// gradients' type as torch computes it (torch 2.6's `clip_grads_with_norm_`). When the
/// factor is 1 the gradients are left as they are (multiplying by 1 changes no value), so
/// the call costs no pass over memory.
pub fn clip_grads_with_norm<'p, A: Float + 'p>(
    params: impl IntoIterator<Item = &'p Param<A>>,
    max_norm: f64,
    total_norm: A,
) -> Result<()> {
    check_max_norm(max_norm, "clip_grads_with_norm")?;
    let params = collect(params, "clip_grads_with_norm")?;
    scale(&params, max_norm, total_norm);
    Ok(())
}

fn check_max_norm(max_norm: f64, function: &'static str) -> Result<()> {
    if max_norm >= 0.0 && max_norm.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            function,
            argument: "max_norm",
            message: format!("must be a finite number of at least 0, found {max_norm:?}"),
        })
    }
}

/// torch's `clip_coef = max_norm / (total_norm + 1e-6)` (a Python scalar over a tensor:
/// `reciprocal(t) * max_norm`, in the tensor's type), clamped at 1.
fn coefficient<A: Float>(max_norm: f64, total_norm: A) -> A {
    let denominator = total_norm + A::from_f64(NORM_EPS);
    let coef = (A::one() / denominator) * A::from_f64(max_norm);
    // torch.clamp(coef, max=1.0): NaN stays NaN.
    if coef > A::one() { A::one() } else { coef }
}

fn scale<A: Float>(params: &[(usize, &Param<A>)], max_norm: f64, total_norm: A) {
    let coef = coefficient(max_norm, total_norm);
    if coef == A::one() {
        return;
    }
    for_each_grad(params, &|g: &mut [A]| Isa::best().run(Scale { g, coef }));
}

/// Runs `f` over every gradient chunk, in parallel with the `rayon` feature.
fn for_each_grad<A: Float>(params: &[(usize, &Param<A>)], f: &(dyn Fn(&mut [A]) + Sync)) {
    let one = |p: &Param<A>| {
        let mut grad = p.grad_write_lock();
        if let Some(g) = grad.as_mut() {
            let g = as_slice_mut(g);
            #[cfg(feature = "rayon")]
            {
                use rayon::prelude::*;
                g.par_chunks_mut(CHUNK).for_each(f);
            }
            #[cfg(not(feature = "rayon"))]
            g.chunks_mut(CHUNK).for_each(f);
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        params.par_iter().for_each(|&(_, p)| one(p));
    }
    #[cfg(not(feature = "rayon"))]
    params.iter().for_each(|&(_, p)| one(p));
}

struct Scale<'a, A> {
    g: &'a mut [A],
    coef: A,
}

impl<A: Float> Kernel for Scale<'_, A> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let coef = self.coef;
        self.g.iter_mut().for_each(|g| *g *= coef);
    }
}

/// Clips the gradients of `params` to a total norm of `max_norm` (torch's
/// `clip_grad_norm_`) and returns their total norm before clipping: [`get_total_norm`]
/// then [`clip_grads_with_norm`]. `norm_type` is the norm's order (`2.0`, `1.0`, any
/// `p > 0`, or `f64::INFINITY`). With `error_if_nonfinite`, a non-finite total is
/// [`Error::NonFiniteNorm`] and no gradient changes.
///
/// ```
/// use optim_core::{Param, clip::clip_grad_norm, ndarray::array};
///
/// let w = Param::new(array![3.0f64, 4.0]);
/// w.set_grad(array![3.0, 4.0])?;
/// let total = clip_grad_norm([&w], 1.0, 2.0, false)?;
/// assert_eq!(total, 5.0);
/// let g = w.grad_array().expect("a gradient");
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// # Ok::<(), optim_core::Error>(())
/// ```
pub fn clip_grad_norm<'p, A: Float + 'p>(
    params: impl IntoIterator<Item = &'p Param<A>>,
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<A> {
    let norm = Norm::from_f64(norm_type)?;
    check_max_norm(max_norm, "clip_grad_norm")?;
    let params = collect(params, "clip_grad_norm")?;
    let total = total_norm(&params, norm, error_if_nonfinite)?;
    scale(&params, max_norm, total);
    Ok(total)
}

/// Clamps every gradient element of `params` to `[-clip_value, clip_value]` (torch's
/// `clip_grad_value_`; NaN stays NaN).
pub fn clip_grad_value<'p, A: Float + 'p>(
    params: impl IntoIterator<Item = &'p Param<A>>,
    clip_value: f64,
) -> Result<()> {
    if !(clip_value >= 0.0 && clip_value.is_finite()) {
        return Err(Error::InvalidArgument {
            function: "clip_grad_value",
            argument: "clip_value",
            message: format!("must be a finite number of at least 0, found {clip_value:?}"),
        });
    }
    let params = collect(params, "clip_grad_value")?;
    let c = A::from_f64(clip_value);
    for_each_grad(&params, &|g: &mut [A]| Isa::best().run(Clamp { g, c }));
    Ok(())
}

struct Clamp<'a, A> {
    g: &'a mut [A],
    c: A,
}

impl<A: Float> Kernel for Clamp<'_, A> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (lo, hi) = (-self.c, self.c);
        self.g.iter_mut().for_each(|g| {
            let x = *g;
            *g = if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn norms_of_hand_computed_gradients() {
        let a = Param::new(array![3.0f64, -4.0]);
        let b = Param::new(array![12.0f64]);
        let none = Param::new(array![100.0f64]);
        a.set_grad(array![3.0, -4.0]).expect("shape");
        b.set_grad(array![12.0]).expect("shape");
        let all = [&a, &b, &none];
        assert_eq!(get_total_norm(all, 2.0, false), Ok(13.0));
        assert_eq!(get_total_norm(all, 1.0, false), Ok(19.0));
        assert_eq!(get_total_norm(all, f64::INFINITY, false), Ok(12.0));
        let three = (27.0f64 + 64.0 + 1728.0).powf(1.0 / 3.0);
        assert!((get_total_norm(all, 3.0, false).expect("valid") - three).abs() < 1e-12);
        assert_eq!(get_total_norm([&none], 2.0, false), Ok(0.0));
    }

    #[test]
    fn clipping_scales_by_torchs_coefficient_and_not_when_it_is_one() {
        let a = Param::new(array![3.0f32, 4.0]);
        a.set_grad(array![3.0f32, 4.0]).expect("shape");
        assert_eq!(clip_grad_norm([&a], 10.0, 2.0, false), Ok(5.0));
        assert_eq!(
            *a.grad().expect("kept"),
            array![3.0f32, 4.0].into_dyn(),
            "coefficient 1: untouched"
        );
        clip_grad_norm([&a], 1.0, 2.0, false).expect("valid");
        let coef = (1.0f32 / (5.0f32 + 1e-6f64 as f32)) * 1.0f32;
        assert_eq!(*a.grad().expect("kept"), array![3.0 * coef, 4.0 * coef].into_dyn());
    }

    #[test]
    fn bad_arguments_and_non_finite_totals_are_errors_that_change_nothing() {
        let a = Param::named("a", array![1.0f64, 2.0]);
        let b = Param::named("b", array![1.0f64]);
        a.set_grad(array![1.0, 2.0]).expect("shape");
        b.set_grad(array![f64::INFINITY]).expect("shape");
        for p in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
            assert!(matches!(
                clip_grad_norm([&a], 1.0, p, false),
                Err(Error::InvalidArgument {
                    argument: "norm_type",
                    ..
                })
            ));
        }
        assert!(matches!(
            clip_grad_norm([&a], -1.0, 2.0, false),
            Err(Error::InvalidArgument {
                argument: "max_norm",
                ..
            })
        ));
        let err = clip_grad_norm([&a, &b], 1.0, 2.0, true).expect_err("infinite total");
        let Error::NonFiniteNorm { param, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!((param.index, param.name.as_deref()), (1, Some("b")));
        assert_eq!(a.grad_array(), Some(array![1.0, 2.0].into_dyn()), "nothing clipped");
        assert_eq!(clip_grad_norm([&a, &b], 1.0, 2.0, false), Ok(f64::INFINITY));
    }

    #[test]
    fn clamping_keeps_nan() {
        let a = Param::new(array![-2.0f32, 0.1, 5.0, f32::NAN]);
        a.set_grad(array![-2.0f32, 0.1, 5.0, f32::NAN]).expect("shape");
        clip_grad_value([&a], 1.0).expect("valid");
        let g = a.grad_array().expect("kept");
        assert_eq!(&g.as_slice().expect("standard")[..3], &[-1.0, 0.1, 1.0]);
        assert!(g[3].is_nan());
    }

    #[test]
    fn large_gradients_give_the_same_norm_on_any_number_of_threads() {
        let n = 3 * CHUNK + 17;
        let g: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 0.01).collect();
        let a = Param::new(ndarray::Array1::from(g.clone()));
        a.set_grad(ndarray::Array1::from(g)).expect("shape");
        let reference = get_total_norm([&a], 2.0, false).expect("valid");
        #[cfg(feature = "rayon")]
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a pool");
            let norm = pool.install(|| get_total_norm([&a], 2.0, false)).expect("valid");
            assert_eq!(norm.to_bits(), reference.to_bits(), "{threads} threads");
        }
    }
}
