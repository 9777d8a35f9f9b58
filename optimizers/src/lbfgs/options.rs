//! The options of [`Lbfgs`] (torch's LBFGS parameter group) and the line-search choice.

use optim_derive::{Optimizer, OptionValue};

use super::state::LbfgsState;

/// The line search of [`Lbfgs`] (torch's `line_search_fn`).
///
/// In a state dict: `null` for [`LineSearch::None`], `"strong_wolfe"` for
/// [`LineSearch::StrongWolfe`]; any other value is a type error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, OptionValue)]
pub enum LineSearch {
    /// No line search: each iteration moves by `t = lr` along its direction (the first
    /// iteration of a run by `min(1, 1 / Σ|g|) · lr`). Torch's `line_search_fn=None`.
    #[default]
    #[option(null)]
    None,
    /// A strong-Wolfe line search with cubic interpolation (`c1 = 1e-4`, `c2 = 0.9`,
    /// bracket tolerance `1e-9`), as torch's `line_search_fn="strong_wolfe"`.
    StrongWolfe,
}

/// L-BFGS, exactly as `torch.optim.LBFGS` (torch 2.15): a quasi-Newton method that
/// re-evaluates the loss several times per step through a closure.
///
/// All parameters are seen as one flat vector `x` (each parameter flattened row-major, in
/// order) with gradient `g`. One [`step_with`](optim_core::Optimizer::step_with) runs up to
/// `max_iter` iterations:
///
/// ```text
/// f, g ← closure()                                  step_with returns this f
/// if max|g| ≤ tolerance_grad: return                (only func_evals grows)
/// repeat (n_iter += 1 each time):
///     if this is the first iteration of the run:   d ← −g,  H_diag ← 1
///     else:
///         y ← g − g_prev,  s ← t_prev · d_prev
///         if y·s > 1e-10: store (y, s, ρ = 1/(y·s)), dropping the oldest pair beyond
///                         history_size, and H_diag ← y·s / y·y
///         d ← −H g by the two-loop recursion over the stored pairs, H₀ = H_diag · I
///     t ← min(1, 1/Σ|g|) · lr at the run's first iteration, lr afterwards
///     if g·d > −tolerance_change: stop
///     strong_wolfe: (f, g, t) ← line search along d from t; x ← x + t·d
///     none:         x ← x + t·d;  f, g ← closure()  (skipped after the last iteration)
///     stop if max_iter iterations were made in this step, or max_eval evaluations,
///          or max|g| ≤ tolerance_grad, or max|t·d| ≤ tolerance_change,
///          or |f − f_prev| < tolerance_change
/// ```
///
/// Scalars (`t`, `ρ`, `H_diag`, losses, directional derivatives) are `f64`. Dot products
/// accumulate in `f64` as 8 interleaved partial sums added in a fixed order (as a
/// vectorized BLAS does; torch's own order differs in the last bits, which the reference
/// tolerances allow), the same on every CPU: runs are deterministic, and a run saved and
/// resumed from its state dict continues bit for bit. The state is torch's, under
/// parameter 0 ([`LbfgsState`]); the curvature pairs live in a ring, and after the first
/// step an iteration allocates nothing (see [`LbfgsState`]).
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1 | finite, ≥ 0 |
/// | `max_iter` | 20 | ≥ 1 |
/// | `max_eval` | `max_iter * 5 / 4` | ≥ 1 (with `strong_wolfe` a step may make one more evaluation) |
/// | `tolerance_grad` | 1e-7 | ≥ 0 |
/// | `tolerance_change` | 1e-9 | ≥ 0 |
/// | `history_size` | 100 | 1 to [`Lbfgs::MAX_HISTORY_SIZE`] |
/// | `line_search_fn` | [`LineSearch::None`] (`null`) | `null` or `"strong_wolfe"` |
/// | `maximize` | false | |
///
/// `max_eval`'s default is computed from the `max_iter` given to the constructor, as torch
/// does; changing `max_iter` later leaves `max_eval` as it is. With `max_iter = 1` it is 1,
/// which leaves a strong-Wolfe search no evaluation of its own beyond the one it always
/// makes: set `max_eval` too when you want a search in single-iteration steps. L-BFGS takes one parameter
/// group ([`Error::TooManyGroups`](optim_core::Error::TooManyGroups) otherwise) and needs a
/// closure: [`step`](optim_core::Optimizer::step) returns
/// [`Error::ClosureRequired`](optim_core::Error::ClosureRequired).
///
/// `maximize` (torch 2.15 accepts it) maximizes the closure's loss `f` by minimizing `−f`:
/// the algorithm sees the negated loss and gradient, so its state (`prev_loss`,
/// `prev_flat_grad`, `d`, the curvature pairs) is that of `−f`, while `step_with` returns
/// the closure's own first loss.
///
/// # The closure
///
/// The closure recomputes the loss at the parameters' current values, writes every
/// parameter's gradient (a parameter left without a gradient counts as zeros, as in torch)
/// and returns the loss. The optimizer holds no lock while it runs, so it reads values
/// ([`Param::value`](optim_core::Param::value)) and writes gradients
/// ([`Param::set_grad`](optim_core::Param::set_grad),
/// [`Param::set_grad_from_slice`](optim_core::Param::set_grad_from_slice)) freely. It is
/// called once at the start of each step and then once per function evaluation; between
/// calls the optimizer moves the parameters.
///
/// If the closure returns a non-finite loss, or writes a non-finite gradient element, the
/// step stops with [`Error::NonFiniteClosure`](optim_core::Error::NonFiniteClosure) (naming
/// the evaluation, `"loss"` or `"gradient"`, and the value) instead of propagating NaN as
/// torch does. Then the parameters are restored bit for bit to where that evaluation's move
/// started (the iteration's starting point), `func_evals` counts every evaluation made
/// (the failing one included), `n_iter` counts the iteration under way, and every other
/// state entry is as at the end of the last completed iteration. The optimizer stays
/// usable: the next step continues from there.
///
/// ```
/// use optimizers::{Lbfgs, LbfgsOptions, LineSearch, Param, ndarray::array};
///
/// // Rosenbrock's function in two dimensions, from (-1.5, 2); minimum 0 at (1, 1).
/// let x = Param::new(array![-1.5f64, 2.0]);
/// let options = LbfgsOptions::new()
///     .line_search_fn(LineSearch::StrongWolfe)
///     .max_iter(100);
/// let mut opt = Lbfgs::new([x.clone()], options)?;
/// let first_loss = opt.step_with(|| {
///     let (a, b) = {
///         let v = x.value();
///         (v[0], v[1])
///     };
///     let grad = array![-400.0 * a * (b - a * a) - 2.0 * (1.0 - a), 200.0 * (b - a * a)];
///     x.set_grad(grad).expect("the gradient has the parameter's shape");
///     100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2)
/// })?;
/// assert_eq!(first_loss, 12.5); // the loss at the starting point
/// let v = x.value();
/// assert!((v[0] - 1.0).abs() < 1e-4 && (v[1] - 1.0).abs() < 1e-4, "{:?}", *v);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "lbfgs", state = LbfgsState, update = closure)]
pub struct Lbfgs {
    /// Learning rate: the step length each iteration starts from.
    #[hyper(
        default = 1.0,
        check(lr.is_finite() && lr >= 0.0, "invalid learning rate: {lr:?} (must be finite and at least 0)")
    )]
    pub lr: f64,
    /// The most iterations per step.
    #[hyper(default = 20, check(max_iter >= 1, "invalid max_iter: {max_iter} (must be at least 1)"))]
    pub max_iter: usize,
    /// The most function evaluations per step (torch's default `max_iter * 5 // 4`).
    // `m + m / 4` is `floor(5 m / 4)` without the overflow of `m * 5` for huge `m`.
    #[hyper(
        default = max_iter.saturating_add(max_iter / 4),
        check(max_eval >= 1, "invalid max_eval: {max_eval} (must be at least 1)")
    )]
    pub max_eval: usize,
    /// Stop when the largest gradient element is at most this (in absolute value).
    #[hyper(
        default = 1e-7,
        check(tolerance_grad >= 0.0, "invalid tolerance_grad: {tolerance_grad:?} (must be at least 0)")
    )]
    pub tolerance_grad: f64,
    /// Stop on a directional derivative, step or loss change below this.
    #[hyper(
        default = 1e-9,
        check(tolerance_change >= 0.0, "invalid tolerance_change: {tolerance_change:?} (must be at least 0)")
    )]
    pub tolerance_change: f64,
    /// The most curvature pairs kept.
    #[hyper(
        default = 100,
        check(
            (1..=Lbfgs::MAX_HISTORY_SIZE).contains(&history_size),
            "invalid history_size: {history_size} (must be from 1 to {})",
            Lbfgs::MAX_HISTORY_SIZE
        )
    )]
    pub history_size: usize,
    /// The line search.
    #[hyper(default = LineSearch::None)]
    pub line_search_fn: LineSearch,
    /// Maximize the closure's loss instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

impl Lbfgs {
    /// The largest `history_size` accepted. Torch allocates `al` with `history_size` slots
    /// up front, so an absurd value only exhausts memory; 2²⁰ pairs is far beyond any
    /// useful history (a few to a few hundred pairs are usual).
    pub const MAX_HISTORY_SIZE: usize = 1 << 20;
}
