//! Rprop, as `torch.optim.Rprop`.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, ShapeCtx, State as _, StepCount};
use optim_derive::{Optimizer, State};

/// Resilient backpropagation (Riedmiller and Braun), exactly as `torch.optim.Rprop`
/// (torch 2.15, single-tensor path): every element has its own step size, which grows
/// while its gradient keeps its sign and shrinks when the sign flips; only signs are used.
///
/// For each parameter `p` with gradient `g`, `g_prev` the gradient kept from its last step:
///
/// ```text
/// g ← -g                                   if maximize
/// f ← etas.1   if g · g_prev > 0           (etaplus: the same sign again)
///     etas.0   if g · g_prev < 0           (etaminus: the sign flipped)
///     1        if g · g_prev = 0
/// s ← min(max(s · f, step_sizes.0), step_sizes.1)     (step_size, clamped)
/// g ← 0                                    where f = etas.0 (no move after a flip)
/// p ← p − sign(g) · s
/// g_prev ← g                               (prev)
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-2 | ≥ 0, finite |
/// | `etas` | (0.5, 1.2) | 0 < etas.0 < 1 < etas.1, finite |
/// | `step_sizes` | (1e-6, 50) | finite (not checked by torch) |
/// | `maximize` | false | |
///
/// State: `step` (a float, as torch keeps it, not used by the update), `prev` (`g_prev`,
/// starting at 0) and `step_size` (`s`).
///
/// `lr` is only the initial step size: `step_size` is filled with the group's `lr` **when
/// the parameter's state is created** (its first step with a gradient), as torch does.
/// Changing `lr` afterwards affects only parameters that have no state yet.
///
/// Differs from torch: NaN and infinite options are rejected (torch accepts an infinite
/// `lr`, `etas.1` and `step_sizes`).
///
/// ```
/// use optimizers::{Param, Rprop, RpropOptions, ndarray::array};
///
/// let p = Param::new(array![1.0f64, 1.0]);
/// let mut opt = Rprop::new([p.clone()], RpropOptions::new().lr(0.1))?;
/// for _ in 0..2 {
///     p.set_grad(array![3.0, -0.5])?; // only the signs matter
///     opt.step()?;
/// }
/// // Step 1 moves by lr = 0.1; step 2, same signs, by 0.1 · 1.2.
/// assert!((p.value()[0] - (1.0 - 0.1 - 0.12)).abs() < 1e-15);
/// assert!((p.value()[1] - (1.0 + 0.1 + 0.12)).abs() < 1e-15);
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "rprop", state = RpropState, update = elementwise)]
pub struct Rprop {
    /// The initial step size of every element (read when a parameter's state is created).
    #[hyper(default = 1e-2, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// `(etaminus, etaplus)`: the factors by which a step size shrinks when its gradient's
    /// sign flips, and grows when it stays.
    #[hyper(
        default = (0.5, 1.2),
        finite("invalid eta values: {:?}, {:?}", etas.0, etas.1),
        check(0.0 < etas.0 && etas.0 < 1.0 && 1.0 < etas.1, "invalid eta values: {:?}, {:?}", etas.0, etas.1)
    )]
    pub etas: (f64, f64),
    /// `(min, max)`: the bounds of every step size.
    #[hyper(default = (1e-6, 50.0), finite)]
    pub step_sizes: (f64, f64),
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// Rprop's per-parameter state.
#[derive(Clone, Debug, PartialEq, State)]
pub struct RpropState<A: Float> {
    /// Steps taken by this parameter (a float, as torch stores it).
    pub step: StepCount,
    /// The gradient of the last step, zeroed where its sign had flipped.
    pub prev: ArrayD<A>,
    /// Each element's step size, starting at the group's `lr` of the state's creation.
    pub step_size: ArrayD<A>,
}

/// Rprop's per-step scalars, rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct RpropScalars<A> {
    maximize: bool,
    etaminus: A,
    etaplus: A,
    min: A,
    max: A,
}

impl Elementwise for Rprop {
    type Scalars<A: Float> = RpropScalars<A>;

    /// `step_size` starts at this group's `lr` (`self` is the group's hyperparameters at the
    /// state's creation); `prev` at zero.
    fn init_state<A: Float>(&self, _: &RpropOptions, ctx: &ShapeCtx<'_>) -> RpropState<A> {
        let mut state = RpropState::init(ctx);
        state.step_size.fill(A::from_f64(self.lr));
        state
    }

    fn prepare<A: Float>(&self, state: &mut RpropState<A>, _: &[usize]) -> RpropScalars<A> {
        state.step.increment();
        RpropScalars {
            maximize: self.maximize,
            etaminus: A::from_f64(self.etas.0),
            etaplus: A::from_f64(self.etas.1),
            min: A::from_f64(self.step_sizes.0),
            max: A::from_f64(self.step_sizes.1),
        }
    }

    /// Branch-free: the sign logic selects values, every store is unconditional. NaN
    /// propagates as in torch (`sign(NaN)` and `clamp(NaN)` are NaN).
    #[inline(always)]
    fn element<A: Float>(s: &RpropScalars<A>, p: &mut A, g: A, state: RpropStateElem<'_, A>) {
        let zero = A::zero();
        let g = if s.maximize { -g } else { g };
        // torch: sign(g · prev), then > 0 → etaplus, < 0 → etaminus, = 0 → 1 (NaN stays).
        let product = g * *state.prev;
        let factor = if product > zero {
            s.etaplus
        } else if product < zero {
            s.etaminus
        } else if product == zero {
            A::one()
        } else {
            product
        };
        // clamp_(min, max): max first, then min; NaN propagates.
        let size = *state.step_size * factor;
        let size = if size < s.min { s.min } else { size };
        let size = if size > s.max { s.max } else { size };
        *state.step_size = size;
        // torch zeroes the gradient where the factor equals etaminus (in the element type).
        let g = if factor == s.etaminus { zero } else { g };
        // p.addcmul_(sign(g), step_size, value=-1): −sign(g) is −1, 1, or ±0 / NaN as g.
        let neg_sign = if g > zero {
            -A::one()
        } else if g < zero {
            A::one()
        } else {
            -g
        };
        *p += neg_sign * size;
        *state.prev = g;
    }
}
