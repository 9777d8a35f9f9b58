//! One `optimizer.step(closure)` of torch's LBFGS.

use optim_core::isa::Kernel;
use optim_core::{Error, Float, Hyperparameters, Result};

use super::line_search::{GradSlot, strong_wolfe};
use super::objective::Objective;
use super::ops::{NonFinite, checked_max_abs, curvature_pair, dot, max_abs, max_abs_scaled, py_min, sum_abs};
use super::options::{Lbfgs, LineSearch};
use super::ring::Ring;
use super::state::{CurvaturePair, LbfgsState};
use super::two_loop::{HistoryView, direction};

/// A pair is stored only when `y·s` exceeds this (torch's literal `1e-10`).
const CURVATURE_EPS: f64 = 1e-10;

/// What an iteration decided, applied to the persistent state only once the iteration has
/// completed (so that a non-finite evaluation leaves the state of the previous iteration).
struct Iteration {
    /// Torch's first iteration of the run: `d = -g`, empty history, `H_diag = 1`.
    fresh: bool,
    /// The pair in `scratch.pending` is to be appended to the history.
    accept_pair: bool,
    /// `scratch.al` holds the new `al`.
    al_written: bool,
    h_diag: f64,
    t: f64,
    prev_loss: f64,
    /// `scratch.grad_next` holds the gradient at the new point.
    grad_updated: bool,
    /// `g · d`, when the two-loop recursion computed it.
    gtd: Option<f64>,
}

/// Performs one torch `LBFGS.step(closure)`: up to `cfg.max_iter` iterations on `obj`,
/// updating `state`, and returns the loss of the **first** evaluation of the step (the loss
/// at the parameters `obj` had on entry), like torch's `step` returns `orig_loss`.
///
/// The algorithm is torch 2.15's, branch for branch: early return when the first
/// evaluation has `max|g| <= tolerance_grad` (only `func_evals` grows); `d = -g` and
/// `t = min(1, 1/sum|g|) * lr` at the first iteration of the run (`n_iter == 1`), the
/// two-loop direction and `t = lr` afterwards; a curvature pair stored only when
/// `y·s > 1e-10`; `al` created at the second iteration with `history_size` empty slots;
/// with [`LineSearch::StrongWolfe`], `max_ls = max_eval - evaluations made in this step`
/// (up to `max_ls + 1` evaluations); without a line search no evaluation after the move of
/// the last iteration (`n_iter == max_iter`); stop tests in torch's order.
///
/// Scalars are `f64`; dot products accumulate in `f64`, in the fixed order of
/// `ops::dot`.
///
/// # Errors
///
/// - [`Error::InvalidOption`] if an option fails its check (options are checked wherever
///   they are set, but `Lbfgs`'s fields are public), and [`Error::StateShape`] if a vector
///   of `state` does not have `obj.len()` elements (a state built by hand for another
///   problem): nothing is evaluated and nothing changes.
/// - [`Error::NonFiniteClosure`] as soon as an evaluation returns a non-finite loss or a
///   non-finite gradient element. Then:
///   - the parameters are restored bit-exactly to the point from which that evaluation's
///     move started: the iteration's starting point for a line-search evaluation (torch's
///     `x_init`) or the point before the fixed-step move without a line search;
///   - `func_evals` counts every evaluation made, the failing one included (the error's
///     `evaluation` is that count), and `n_iter` counts the iteration that was under way;
///   - every other entry of the state (`d`, `t`, history, `H_diag`, `prev_flat_grad`,
///     `prev_loss`, `al`) is as at the end of the last completed iteration (as at entry if
///     none completed in this step);
///   - if the very first evaluation of the step is non-finite, nothing has moved and only
///     `func_evals` has grown (by one).
///
///   The state stays usable: a later `step` continues from there. If the iteration that
///   failed was the first of the run, the next one is again a first iteration (`d = -g`).
///
/// The function never panics on numerical values and every loop is bounded by `max_iter`
/// and the line-search budget.
///
/// # Differences from torch (outside its supported behaviour)
///
/// - If `history_size` differs from the capacity of the stored history (the option was
///   changed between steps), the history is rebuilt with the new capacity, keeping the
///   newest pairs (torch would keep more than `history_size` pairs if shrunk below the
///   current count), and `al` is extended with empty slots when more are needed (torch
///   would raise an `IndexError`). This happens after the first evaluation, and not if the
///   step returns early.
/// - An objective with no parameters returns after the first evaluation (torch raises).
pub(crate) fn step<A: Float>(cfg: &Lbfgs, state: &mut LbfgsState<A>, obj: &mut Objective<'_, '_, A>) -> Result<f64> {
    obj.problem.isa().run(Step { cfg, state, obj })
}

/// [`step_portable`] as a kernel, so that it runs compiled for the optimizer's instruction
/// set (the two-loop recursion and the vector kernels are inlined into it). The results are
/// bit-identical on every instruction set: see `two_loop::direction`.
struct Step<'s, 'p, 'a, A: Float> {
    cfg: &'s Lbfgs,
    state: &'s mut LbfgsState<A>,
    obj: &'s mut Objective<'p, 'a, A>,
}

impl<A: Float> Kernel for Step<'_, '_, '_, A> {
    type Output = Result<f64>;

    #[inline(always)]
    fn run(self) -> Result<f64> {
        step_portable(self.cfg, self.state, self.obj)
    }
}

/// One step, for any instruction set.
#[inline(always)]
fn step_portable<A: Float>(cfg: &Lbfgs, state: &mut LbfgsState<A>, obj: &mut Objective<'_, '_, A>) -> Result<f64> {
    cfg.validate(optim_core::Scope::Group(0))?;
    let n = obj.len();
    if let Some((key, found)) = state.mismatched_len(n) {
        return Err(Error::StateShape {
            index: 0,
            key: key.to_string(),
            expected: vec![n],
            found: vec![found],
        });
    }
    let use_line_search = cfg.line_search_fn == LineSearch::StrongWolfe;
    state.scratch.prepare(n, use_line_search);

    // evaluate f(x) and g(x)
    let orig_loss = obj.evaluate(&mut state.scratch.grad);
    state.func_evals = state.func_evals.saturating_add(1);
    let grad_max = match checked_max_abs(orig_loss, &state.scratch.grad) {
        Ok(m) => m,
        Err(culprit) => return Err(non_finite(culprit, state.func_evals)),
    };
    let mut current_evals: usize = 1;

    if n == 0 || grad_max <= cfg.tolerance_grad {
        return Ok(orig_loss);
    }

    if let Some(h) = state.history.ring.as_mut().filter(|h| h.capacity() != cfg.history_size) {
        h.set_capacity(cfg.history_size);
    }

    let mut loss = orig_loss;
    let mut n_iter = 0usize;
    while n_iter < cfg.max_iter {
        n_iter += 1;
        state.n_iter = state.n_iter.saturating_add(1);

        // ---- direction ----
        let mut it = compute_direction(cfg, state, n);
        it.prev_loss = loss;

        // ---- step length ----
        it.t = if it.fresh {
            py_min(1.0, 1.0 / sum_abs(&state.scratch.grad)) * cfg.lr
        } else {
            cfg.lr
        };

        // (the two-loop recursion computed g · d in its last pass)
        let gtd = match it.gtd {
            Some(gtd) => gtd,
            None => dot(&state.scratch.grad, &state.scratch.dir),
        };
        if gtd > -cfg.tolerance_change {
            commit(state, &it, cfg.history_size);
            break;
        }

        let mut opt_cond = false;
        let ls_func_evals: usize;
        if use_line_search {
            let s = &mut state.scratch;
            obj.read_params(&mut s.x_saved);
            let max_ls = cfg.max_eval.saturating_sub(current_evals);
            match strong_wolfe(obj, &s.x_saved, it.t, &s.dir, loss, gtd, max_ls, &mut s.pool) {
                Err(e) => {
                    state.func_evals = state.func_evals.saturating_add(e.evals as u64);
                    return Err(non_finite(e.culprit, state.func_evals));
                }
                Ok(found) => {
                    loss = found.loss;
                    it.t = found.t;
                    ls_func_evals = found.evals;
                    match found.grad {
                        GradSlot::Initial => s.grad_next.copy_from_slice(&s.grad),
                        GradSlot::Pool(i) => std::mem::swap(&mut s.grad_next, &mut s.pool[i]),
                    }
                    it.grad_updated = true;
                    obj.add_scaled(it.t, &s.dir);
                    opt_cond = max_abs(&s.grad_next) <= cfg.tolerance_grad;
                }
            }
        } else {
            let s = &mut state.scratch;
            if n_iter != cfg.max_iter {
                obj.read_params(&mut s.x_saved);
                obj.add_scaled(it.t, &s.dir);
                let new_loss = obj.evaluate(&mut s.grad_next);
                let grad_max = match checked_max_abs(new_loss, &s.grad_next) {
                    Ok(m) => m,
                    Err(culprit) => {
                        obj.write_params(&s.x_saved);
                        state.func_evals = state.func_evals.saturating_add(1);
                        return Err(non_finite(culprit, state.func_evals));
                    }
                };
                loss = new_loss;
                it.grad_updated = true;
                opt_cond = grad_max <= cfg.tolerance_grad;
                ls_func_evals = 1;
            } else {
                // last iteration: move without re-evaluating
                obj.add_scaled(it.t, &s.dir);
                ls_func_evals = 0;
            }
        }

        current_evals = current_evals.saturating_add(ls_func_evals);
        state.func_evals = state.func_evals.saturating_add(ls_func_evals as u64);
        commit(state, &it, cfg.history_size);

        // ---- stop tests, in torch's order ----
        if n_iter == cfg.max_iter {
            break;
        }
        if current_evals >= cfg.max_eval {
            break;
        }
        if opt_cond {
            break;
        }
        // (a `match`, not `map_or`: a closure would not be inlined into this function and
        // would miss its instruction set)
        let step_size = match state.d.as_deref() {
            Some(d) => max_abs_scaled(d, it.t),
            None => f64::NAN,
        };
        if step_size <= cfg.tolerance_change {
            break;
        }
        if (loss - it.prev_loss).abs() < cfg.tolerance_change {
            break;
        }
    }

    Ok(orig_loss)
}

/// The error for a non-finite evaluation, counted as evaluation `evaluation`.
fn non_finite(culprit: NonFinite, evaluation: u64) -> Error {
    Error::NonFiniteClosure {
        kind: Lbfgs::KIND,
        evaluation,
        what: culprit.what,
        value: culprit.value,
    }
}

#[inline(always)]
/// Builds the iteration's direction in `scratch.dir` (and the pending pair and `al` in
/// scratch) without touching the persistent state.
fn compute_direction<A: Float>(cfg: &Lbfgs, state: &mut LbfgsState<A>, n: usize) -> Iteration {
    let mut it = Iteration {
        fresh: false,
        accept_pair: false,
        al_written: false,
        h_diag: 1.0,
        t: 0.0,
        prev_loss: 0.0,
        grad_updated: false,
        gtd: None,
    };
    let s = &mut state.scratch;
    match (
        state.d.as_deref(),
        state.t,
        state.prev_flat_grad.as_deref(),
        state.history.ring.as_ref(),
        state.h_diag,
    ) {
        (Some(d_old), Some(t_old), Some(g_old), Some(history), Some(h_diag)) if state.n_iter != 1 => {
            // y = g - g_old, s = d_old * t_old, and y·s, y·y in the same pass
            let pending = s.pending.get_or_insert_with(|| CurvaturePair::zeros(n));
            let (ys, yy) = curvature_pair(&mut pending.y, &mut pending.s, &s.grad, g_old, d_old, t_old);
            it.h_diag = h_diag;
            if ys > CURVATURE_EPS {
                pending.ro = 1.0 / ys;
                it.h_diag = ys / yy;
                it.accept_pair = true;
            }
            let pending: &CurvaturePair<A> = pending;
            let view = HistoryView {
                stored: history,
                pending: it.accept_pair.then_some(pending),
            };

            // working copy of al (created with history_size empty slots)
            s.al.clear();
            match state.al.as_deref() {
                Some(al) => s.al.extend_from_slice(al),
                None => s.al.resize(cfg.history_size, None),
            }
            let num_old = view.len();
            if s.al.len() < num_old {
                s.al.resize(cfg.history_size.max(num_old), None);
            }
            it.gtd = Some(direction(&view, &s.grad, it.h_diag, &mut s.al, &mut s.dir));
            it.al_written = true;
        }
        _ => {
            it.fresh = true;
            for (q, &g) in s.dir.iter_mut().zip(&s.grad) {
                *q = -g;
            }
            // room for `al`, created at the next iteration, so that it does not allocate then
            s.al.reserve(cfg.history_size);
            s.al_spare.reserve(cfg.history_size);
        }
    }
    it
}

#[inline(always)]
/// Applies a completed iteration to the persistent state (swapping buffers, no allocation
/// once every entry exists).
fn commit<A: Float>(state: &mut LbfgsState<A>, it: &Iteration, history_size: usize) {
    let s = &mut state.scratch;

    match state.d.as_mut() {
        Some(d) => std::mem::swap(d, &mut s.dir),
        None => state.d = Some(s.dir.clone()),
    }
    state.t = Some(it.t);

    if it.fresh {
        match state.history.ring.as_mut() {
            Some(h) => {
                h.clear();
                h.set_capacity(history_size);
            }
            None => state.history.ring = Some(Ring::with_capacity(history_size)),
        }
    } else if it.accept_pair {
        // the evicted pair (if any) becomes the buffers of the next one
        s.pending = match (state.history.ring.as_mut(), s.pending.take()) {
            (Some(h), Some(pair)) => h.push(pair),
            (_, pair) => pair,
        };
    }
    state.h_diag = Some(it.h_diag);

    // prev_flat_grad = gradient at the start of the iteration; flat_grad = the new one
    match state.prev_flat_grad.as_mut() {
        Some(prev) => {
            if it.grad_updated {
                std::mem::swap(prev, &mut s.grad);
                std::mem::swap(&mut s.grad, &mut s.grad_next);
            } else {
                prev.copy_from_slice(&s.grad);
            }
        }
        None => {
            state.prev_flat_grad = Some(s.grad.clone());
            if it.grad_updated {
                std::mem::swap(&mut s.grad, &mut s.grad_next);
            }
        }
    }
    state.prev_loss = Some(it.prev_loss);

    if it.al_written {
        match state.al.as_mut() {
            Some(al) => std::mem::swap(al, &mut s.al),
            None => {
                let mut al = std::mem::take(&mut s.al_spare);
                al.clear();
                al.extend_from_slice(&s.al);
                state.al = Some(al);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use optim_core::ndarray;
    use optim_core::{Hyperparameters, Isa, Param, Problem};

    use super::*;

    fn options() -> Lbfgs {
        Lbfgs::complete(&Lbfgs::defaults(&Default::default())).expect("every option has a default")
    }

    /// Runs `steps` steps from `x0` on the loss `f` (a function of the flat parameters
    /// writing its gradient) with `isa`; returns each step's result and the final point.
    fn run(
        cfg: &Lbfgs,
        state: &mut LbfgsState<f64>,
        x0: &[f64],
        f: fn(&[f64], &mut [f64]) -> f64,
        isa: Isa,
        steps: usize,
    ) -> (Vec<Result<f64>>, Vec<f64>) {
        let x = [Param::new(ndarray::Array1::from(x0.to_vec()))];
        let mut closure = || {
            let v = x[0].to_array();
            let mut g = vec![0.0; v.len()];
            let loss = f(v.as_slice().expect("standard layout"), &mut g);
            x[0].set_grad_from_slice(&g).expect("one element per parameter");
            loss
        };
        let mut results = Vec::new();
        for _ in 0..steps {
            let mut problem = Problem::new(&x, &mut closure, isa);
            let mut obj = Objective {
                problem: &mut problem,
                maximize: false,
            };
            results.push(step(cfg, state, &mut obj));
        }
        (results, x[0].to_array().into_raw_vec_and_offset().0)
    }

    /// `sum (x_i - 1)^2`.
    fn bowl(x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi = 2.0 * (xi - 1.0);
            f += (xi - 1.0) * (xi - 1.0);
        }
        f
    }

    #[test]
    fn minimises_a_bowl_and_returns_the_first_loss() {
        let mut state = LbfgsState::new();
        let (losses, x) = run(&options(), &mut state, &[0.0; 3], bowl, Isa::best(), 1);
        assert_eq!(losses, [Ok(3.0)]);
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-12), "{x:?}");
    }

    /// Rosenbrock's function (sequential, as a user's closure would be).
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..x.len().saturating_sub(1) {
            let a = x[i + 1] - x[i] * x[i];
            let b = 1.0 - x[i];
            f += 100.0 * a * a + b * b;
            g[i] += -400.0 * x[i] * a - 2.0 * b;
            g[i + 1] += 200.0 * a;
        }
        f
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        // `step` runs compiled for the instruction set it is given: every one this CPU has
        // must follow the baseline's trajectory bit for bit
        for line_search_fn in [LineSearch::None, LineSearch::StrongWolfe] {
            let cfg = Lbfgs {
                line_search_fn,
                history_size: 4,
                ..options()
            };
            let x0: Vec<f64> = (0..37).map(|i| if i % 2 == 0 { -1.2 } else { 1.0 }).collect();
            let mut reference = LbfgsState::new();
            let (losses, x) = run(&cfg, &mut reference, &x0, rosenbrock, Isa::baseline(), 4);
            assert!(
                reference.n_iter > 20,
                "{line_search_fn:?}: {} iterations",
                reference.n_iter
            );
            for isa in Isa::available() {
                let mut state = LbfgsState::new();
                let (l, y) = run(&cfg, &mut state, &x0, rosenbrock, isa, 4);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let loss_bits = |v: &[Result<f64>]| v.iter().map(|l| l.clone().map(f64::to_bits)).collect::<Vec<_>>();
                assert_eq!(loss_bits(&l), loss_bits(&losses), "{isa}");
                assert_eq!(bits(&y), bits(&x), "{isa}");
                assert_eq!(state, reference, "{isa}");
            }
        }
    }

    #[test]
    fn invalid_options_are_rejected_before_any_evaluation() {
        let calls = std::cell::Cell::new(0);
        let x = [Param::new(ndarray::array![1.0f64, 2.0])];
        let mut closure = || {
            calls.set(calls.get() + 1);
            1.0
        };
        let mut problem = Problem::new(&x, &mut closure, Isa::best());
        let mut obj = Objective {
            problem: &mut problem,
            maximize: false,
        };
        let mut state = LbfgsState::new();
        let cfg = Lbfgs {
            history_size: 0,
            ..options()
        };
        let err = step(&cfg, &mut state, &mut obj).expect_err("history_size 0");
        assert!(err.to_string().contains("invalid history_size: 0"), "{err}");
        assert_eq!(state, LbfgsState::new());
        assert_eq!(calls.get(), 0);
    }

    #[test]
    fn state_of_another_problem_is_rejected() {
        let mut state = LbfgsState::new();
        let (results, _) = run(&options(), &mut state, &[-1.5, 2.0, 0.3], bowl, Isa::best(), 1);
        assert!(results[0].is_ok());
        let before = state.clone();
        let (results, x) = run(&options(), &mut state, &[0.0; 4], bowl, Isa::best(), 1);
        assert_eq!(
            results[0],
            Err(Error::StateShape {
                index: 0,
                key: "d".into(),
                expected: vec![4],
                found: vec![3]
            })
        );
        assert_eq!(state, before);
        assert_eq!(x, [0.0; 4]);
    }
}
