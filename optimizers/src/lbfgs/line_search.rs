//! Cubic interpolation and the strong-Wolfe line search (port of torch's
//! `_cubic_interpolate` and `_strong_wolfe`, themselves ported from minFunc / torch7's
//! `lswolfe.lua`).

use optim_core::Float;

use super::objective::Objective;
use super::ops::{NonFinite, checked_dot, max_abs, py_max, py_min};

/// Sufficient-decrease constant (torch passes the default `c1 = 1e-4`).
const C1: f64 = 1e-4;
/// Curvature constant (torch passes the default `c2 = 0.9`).
const C2: f64 = 0.9;
/// Bracket-width tolerance of the zoom phase (torch's default `tolerance_change=1e-9` of
/// `_strong_wolfe`; the group's `tolerance_change` is not passed down).
const TOLERANCE_CHANGE: f64 = 1e-9;

/// Minimiser of the cubic interpolating `(x1, f1, g1)` and `(x2, f2, g2)` (values and
/// derivatives), clamped to `bounds` (default: the interval between `x1` and `x2`). When the
/// cubic has no real minimiser (`d2_square < 0`), the middle of the bounds.
///
/// Comparisons and `min`/`max` follow Python's semantics exactly, including with NaN.
pub(crate) fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (xmin_bound, xmax_bound) = match bounds {
        Some(b) => b,
        None => {
            if x1 <= x2 {
                (x1, x2)
            } else {
                (x2, x1)
            }
        }
    };
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        py_min(py_max(min_pos, xmin_bound), xmax_bound)
    } else {
        (xmin_bound + xmax_bound) / 2.0
    }
}

/// Where a gradient of the line search lives: the caller's gradient at `t = 0`, or one of
/// the three pool buffers. Brackets hold handles, so "copying" a gradient is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GradSlot {
    Initial,
    Pool(usize),
}

/// A pool buffer that none of `live` refers to. At most two handles are ever live when a
/// new evaluation needs a buffer, so one of the three is always free.
fn free_slot(live: &[GradSlot]) -> usize {
    (0..3).find(|&i| !live.contains(&GradSlot::Pool(i))).unwrap_or(2)
}

/// Outcome of a successful search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    /// Loss at the returned step.
    pub loss: f64,
    /// The step length.
    pub t: f64,
    /// Evaluations made (torch's `ls_func_evals`).
    pub evals: usize,
    /// Where the gradient at the returned step is.
    pub grad: GradSlot,
}

/// An evaluation returned a non-finite loss or gradient; parameters are back at `x`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NonFiniteEval {
    /// What was not finite.
    pub culprit: NonFinite,
    /// Evaluations made, the failing one included.
    pub evals: usize,
}

/// Torch's `_directional_evaluate`: move to `x + t d`, evaluate, restore `x`.
fn directional_evaluate<A: Float>(obj: &mut Objective<'_, '_, A>, x: &[A], t: f64, d: &[A], grad: &mut [A]) -> f64 {
    obj.add_scaled(t, d);
    let loss = obj.evaluate(grad);
    obj.write_params(x);
    loss
}

/// One trial point of the search: evaluates at `x + t d` into a gradient buffer that none
/// of `live` refers to, counts the evaluation in `evals`, and returns the loss, where the
/// gradient is and `g · d` (torch's `obj_func`, `ls_func_evals += 1`, `g_new.dot(d)`),
/// or the first non-finite value with the count so far.
#[inline(always)]
fn trial<A: Float>(
    obj: &mut Objective<'_, '_, A>,
    x: &[A],
    t: f64,
    d: &[A],
    pool: &mut [Vec<A>; 3],
    live: &[GradSlot],
    evals: &mut usize,
) -> Result<(f64, GradSlot, f64), NonFiniteEval> {
    let slot = free_slot(live);
    let f = directional_evaluate(obj, x, t, d, &mut pool[slot]);
    *evals += 1;
    match checked_dot(f, &pool[slot], d) {
        Ok(gtd) => Ok((f, GradSlot::Pool(slot), gtd)),
        Err(culprit) => Err(NonFiniteEval { culprit, evals: *evals }),
    }
}

/// Strong-Wolfe line search from the parameters `x` (current parameters of `obj`) along
/// `d`, starting at step `t`, with loss `f` and `gtd = g·d` at `t = 0` (the gradient `g`
/// itself stays with the caller: [`GradSlot::Initial`] refers to it). At most
/// `max_ls + 1` evaluations. Parameters of `obj` are `x` again on return (also on error).
#[allow(clippy::too_many_arguments)]
#[inline(always)] // into the step, to be compiled with its instruction set
pub(crate) fn strong_wolfe<A: Float>(
    obj: &mut Objective<'_, '_, A>,
    x: &[A],
    t: f64,
    d: &[A],
    f: f64,
    gtd: f64,
    max_ls: usize,
    pool: &mut [Vec<A>; 3],
) -> Result<Found, NonFiniteEval> {
    let mut t = t;
    let d_norm = max_abs(d);

    // first trial step
    let mut ls_func_evals = 0usize;
    let (mut f_new, mut g_new, mut gtd_new) = trial(obj, x, t, d, pool, &[], &mut ls_func_evals)?;

    // bracketing phase
    let mut t_prev = 0.0f64;
    let mut f_prev = f;
    let mut g_prev = GradSlot::Initial;
    let mut gtd_prev = gtd;
    let mut done = false;
    let mut ls_iter = 0usize;

    // A one-point bracket (found a Wolfe point at once) is stored twice, with `single`.
    let mut bracket = [0.0f64; 2];
    let mut bracket_f = [0.0f64; 2];
    let mut bracket_g = [GradSlot::Initial; 2];
    let mut bracket_gtd = [0.0f64; 2];
    let mut single = false;

    while ls_iter < max_ls {
        if f_new > f + C1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            bracket = [t_prev, t];
            bracket_f = [f_prev, f_new];
            bracket_g = [g_prev, g_new];
            bracket_gtd = [gtd_prev, gtd_new];
            break;
        }

        if gtd_new.abs() <= -C2 * gtd {
            bracket = [t, t];
            bracket_f = [f_new, f_new];
            bracket_g = [g_new, g_new];
            single = true;
            done = true;
            break;
        }

        if gtd_new >= 0.0 {
            bracket = [t_prev, t];
            bracket_f = [f_prev, f_new];
            bracket_g = [g_prev, g_new];
            bracket_gtd = [gtd_prev, gtd_new];
            break;
        }

        // extrapolate with a cubic step, clamped to [t + 0.01 (t - t_prev), 10 t]
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, Some((min_step, max_step)));

        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new;
        gtd_prev = gtd_new;

        (f_new, g_new, gtd_new) = trial(obj, x, t, d, pool, &[g_prev], &mut ls_func_evals)?;
        ls_iter += 1;
    }

    // out of budget while bracketing: bracket [0, t] (the derivatives are left as they are;
    // the zoom loop cannot run any more)
    if ls_iter == max_ls {
        bracket = [0.0, t];
        bracket_f = [f, f_new];
        bracket_g = [GradSlot::Initial, g_new];
        single = false;
    }

    // zoom phase
    let mut insuf_progress = false;
    let last = if single { 0 } else { 1 };
    let (mut low_pos, mut high_pos) = if bracket_f[0] <= bracket_f[last] {
        (0, 1)
    } else {
        (1, 0)
    };
    while !done && ls_iter < max_ls {
        // bracket too small
        if (bracket[1] - bracket[0]).abs() * d_norm < TOLERANCE_CHANGE {
            break;
        }

        t = cubic_interpolate(
            bracket[0],
            bracket_f[0],
            bracket_gtd[0],
            bracket[1],
            bracket_f[1],
            bracket_gtd[1],
            None,
        );

        // keep away from the bracket ends: if t is within 10% of the bracket length of an end
        // and progress was insufficient last time (or t is at/outside an end), move it to
        // 10% from the nearest end
        let b_max = py_max(bracket[0], bracket[1]);
        let b_min = py_min(bracket[0], bracket[1]);
        let eps = 0.1 * (b_max - b_min);
        if py_min(b_max - t, t - b_min) < eps {
            if insuf_progress || t >= b_max || t <= b_min {
                t = if (t - b_max).abs() < (t - b_min).abs() {
                    b_max - eps
                } else {
                    b_min + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }

        (f_new, g_new, gtd_new) = trial(obj, x, t, d, pool, &bracket_g, &mut ls_func_evals)?;
        ls_iter += 1;

        if f_new > f + C1 * t * gtd || f_new >= bracket_f[low_pos] {
            // Armijo fails or not below the low end: new high end
            bracket[high_pos] = t;
            bracket_f[high_pos] = f_new;
            bracket_g[high_pos] = g_new;
            bracket_gtd[high_pos] = gtd_new;
            (low_pos, high_pos) = if bracket_f[0] <= bracket_f[1] { (0, 1) } else { (1, 0) };
        } else {
            if gtd_new.abs() <= -C2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0.0 {
                // the old low end becomes the high end
                bracket[high_pos] = bracket[low_pos];
                bracket_f[high_pos] = bracket_f[low_pos];
                bracket_g[high_pos] = bracket_g[low_pos];
                bracket_gtd[high_pos] = bracket_gtd[low_pos];
            }
            // the new point becomes the low end
            bracket[low_pos] = t;
            bracket_f[low_pos] = f_new;
            bracket_g[low_pos] = g_new;
            bracket_gtd[low_pos] = gtd_new;
        }
    }

    Ok(Found {
        loss: bracket_f[low_pos],
        t: bracket[low_pos],
        evals: ls_func_evals,
        grad: bracket_g[low_pos],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cubic through (0, 0, -1) and (1, f2, g2) for p(x) = a x^3 + b x^2 - x.
    fn cubic_points(a: f64, b: f64) -> (f64, f64) {
        (a + b - 1.0, 3.0 * a + 2.0 * b - 1.0)
    }

    #[test]
    fn exact_minimiser_of_a_cubic_x1_below_x2() {
        // p(x) = x^3 - x: minimiser at 1/sqrt(3)
        let (f2, g2) = cubic_points(1.0, 0.0);
        let t = cubic_interpolate(0.0, 0.0, -1.0, 1.0, f2, g2, None);
        assert!((t - 1.0 / 3f64.sqrt()).abs() < 1e-15, "{t}");
        // same points given in the other order (x1 > x2 branch)
        let t2 = cubic_interpolate(1.0, f2, g2, 0.0, 0.0, -1.0, None);
        assert!((t2 - 1.0 / 3f64.sqrt()).abs() < 1e-15, "{t2}");
    }

    #[test]
    fn quadratic_is_recovered() {
        // p(x) = (x - 0.3)^2 on [0, 2]: min at 0.3
        let p = |x: f64| (x - 0.3) * (x - 0.3);
        let dp = |x: f64| 2.0 * (x - 0.3);
        let t = cubic_interpolate(0.0, p(0.0), dp(0.0), 2.0, p(2.0), dp(2.0), None);
        assert!((t - 0.3).abs() < 1e-14, "{t}");
        let t = cubic_interpolate(2.0, p(2.0), dp(2.0), 0.0, p(0.0), dp(0.0), None);
        assert!((t - 0.3).abs() < 1e-14, "{t}");
    }

    #[test]
    fn negative_discriminant_gives_midpoint_of_bounds() {
        // d1 = 5 - 3 * (-2) / (-1) = -1, d2_square = 1 - 4 = -3 < 0
        let (x1, f1, g1, x2, f2, g2) = (0.0, 0.0, 1.0, 1.0, 2.0, 4.0);
        let d1: f64 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
        assert_eq!(d1, -1.0);
        assert!(d1 * d1 - g1 * g2 < 0.0);
        assert_eq!(cubic_interpolate(x1, f1, g1, x2, f2, g2, None), 0.5);
        assert_eq!(cubic_interpolate(x2, f2, g2, x1, f1, g1, None), 0.5);
        assert_eq!(cubic_interpolate(x1, f1, g1, x2, f2, g2, Some((2.0, 10.0))), 6.0);
    }

    #[test]
    fn bounds_clamp_both_sides() {
        // minimiser at 1/sqrt(3) ~ 0.577
        let (f2, g2) = cubic_points(1.0, 0.0);
        let lo = cubic_interpolate(0.0, 0.0, -1.0, 1.0, f2, g2, Some((0.7, 5.0)));
        assert_eq!(lo, 0.7);
        let hi = cubic_interpolate(0.0, 0.0, -1.0, 1.0, f2, g2, Some((0.1, 0.2)));
        assert_eq!(hi, 0.2);
        // extrapolation as in the bracketing phase: t_prev=0, t=1, both slopes negative
        let t = cubic_interpolate(0.0, 0.0, -1.0, 1.0, -0.9, -0.8, Some((1.01, 10.0)));
        assert!((1.01..=10.0).contains(&t), "{t}");
    }

    #[test]
    fn nan_inputs_follow_python_min_max() {
        // NaN derivative: d2_square is NaN, `>= 0` is false -> midpoint
        assert_eq!(cubic_interpolate(0.0, 0.0, f64::NAN, 1.0, 0.0, 1.0, None), 0.5);
        assert_eq!(cubic_interpolate(0.0, f64::NAN, -1.0, 1.0, 0.0, 1.0, None), 0.5);
        // flat with zero slopes: min_pos = 0/0 = NaN, and Python's max(NaN, lo) and
        // min(NaN, hi) both keep the NaN (Rust's f64::max would not)
        assert!(cubic_interpolate(0.0, 1.0, 0.0, 1.0, 1.0, 0.0, None).is_nan());
        assert!(cubic_interpolate(0.0, 1.0, 0.0, 1.0, 1.0, 0.0, Some((0.2, 0.4))).is_nan());
    }

    #[test]
    fn free_slot_avoids_live_handles() {
        assert_eq!(free_slot(&[GradSlot::Pool(0)]), 1);
        assert_eq!(free_slot(&[GradSlot::Initial]), 0);
        assert_eq!(free_slot(&[GradSlot::Pool(0), GradSlot::Pool(1)]), 2);
        assert_eq!(free_slot(&[GradSlot::Pool(2), GradSlot::Pool(0)]), 1);
        assert_eq!(free_slot(&[GradSlot::Pool(1), GradSlot::Pool(1)]), 0);
    }
}
