//! Adafactor, as `torch.optim.Adafactor`: the options and state here, the passes over a
//! tensor in [`passes`].

mod passes;

use optim_core::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use optim_core::{Float, PerTensor, StepCount};
use optim_derive::{Optimizer, State};

use optim_core::isa::Isa;
use passes::{Lerp, Step};

/// Adafactor (Shazeer and Stern), exactly as `torch.optim.Adafactor` (torch 2.15,
/// single-tensor path): Adam-like steps from a second-moment estimate that, for a matrix,
/// keeps one value per row and one per column instead of one per element.
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first:
///
/// ```text
/// w ← t^beta2_decay                             (1 − β₂ₜ: 1 at t = 1)
/// ρ ← min(lr, 1 / √t)
/// α ← max(eps.1, ‖p‖ / √numel) · ρ              (p before the weight decay)
/// p ← p · (1 − lr · weight_decay)               if weight_decay ≠ 0
/// g ← -g                                        if maximize
/// ε₁ ← eps.0, or the machine epsilon of p's element type if it is None
/// if p has 2 or more dimensions, [..., m, n] (leading dimensions are a batch):
///     R ← lerp(R, ‖g[i, :]‖² / n, w)            (row_var, [..., m, 1])
///     C ← lerp(C, ‖g[:, j]‖² / m, w)            (col_var, [..., 1, n])
///     V[i, j] ← R[i] · C[j] / max(mean(R), ε₁)
/// else (1-d and 0-d):
///     v ← lerp(v, g², w);  V ← v                (variance, p's shape)
/// U ← (1 / √max(V, ε₁²)) · g
/// p ← p + (−α / max(1, ‖U‖ / (√numel · d))) · U
/// ```
///
/// `lerp(a, b, w)` is torch's: `a + w (b − a)` for `|w| < 0.5`, else `b − (b − a)(1 − w)`.
/// Norms are taken in the element type (as torch's `norm(...).item()`); `w`, `ρ`, `α` and
/// the clipping denominator are `f64` (Python floats), rounded to the element type where
/// they meet a tensor. `lr` is not a step size: it caps `ρ` and scales the weight decay.
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-2 | ≥ 0, finite |
/// | `beta2_decay` | -0.8 | ≤ 0, finite |
/// | `eps` | (None, 1e-3) | `eps.0` None or ≥ 0, `eps.1` ≥ 0; finite |
/// | `d` | 1 | ≥ 1, finite |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `maximize` | false | |
///
/// State: `step` (a float, as torch keeps it); for a parameter of 2 or more dimensions
/// `row_var` and `col_var`, for 1-d and 0-d ones `variance`. A 4096 × 4096 matrix keeps
/// 2 · 4096 values (0.002 bytes per element in `f32`, where Adam keeps 8).
///
/// `eps.0 = None` (JSON `null`) stays None in the options and state dicts. torch resolves
/// it at a group's first parameter with a gradient, from that parameter's dtype, and uses
/// that value for the group's other parameters; here every parameter of an optimizer has
/// the same element type, so resolving it per parameter gives the same value.
///
/// Differs from torch: NaN and infinite options are rejected (torch accepts an infinite
/// `lr`, `eps` or `d`), with a message of torch's form that says so (`learning rate should
/// be finite but is: inf`); the other messages are torch's.
///
/// ```
/// use optimizers::{Adafactor, AdafactorOptions, Param, ndarray::array};
///
/// let w = Param::new(array![[0.5f32, -1.0, 2.0], [0.25, 1.0, -0.5]]);
/// let mut opt = Adafactor::new([w.clone()], AdafactorOptions::new().lr(1e-2))?;
/// w.set_grad(w.value().mapv(|x| 2.0 * x))?;
/// opt.step()?;
/// let state = opt.state(&w).expect("a step was taken");
/// assert_eq!(state.row_var.as_ref().map(|r| r.shape().to_vec()), Some(vec![2, 1]));
/// assert_eq!(state.col_var.as_ref().map(|c| c.shape().to_vec()), Some(vec![1, 3]));
/// assert!(state.variance.is_none());
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "adafactor", state = AdafactorState, update = per_tensor)]
pub struct Adafactor {
    /// The cap of the relative step size `ρ`, and the scale of the weight decay.
    #[hyper(
        default = 1e-2,
        finite("learning rate should be finite but is: {lr:?}"),
        range(0.0.., "learning rate should be >= 0 but is: {lr:?}")
    )]
    pub lr: f64,
    /// The exponent of the second moment's averaging weight `t^beta2_decay`.
    #[hyper(
        default = -0.8,
        finite("beta2_decay should be finite but is: {beta2_decay:?}"),
        range(..=0.0, "beta2_decay should be <= 0 but is: {beta2_decay:?}")
    )]
    pub beta2_decay: f64,
    /// `(ε₁, ε₂)`: the floor of the variance estimate (`None`: the element type's machine
    /// epsilon), and of the parameter's RMS in the step size.
    #[hyper(
        default = (None, 1e-3),
        check(
            eps.0.is_none_or(f64::is_finite),
            "epsilon1 should be finite but is: {:?}",
            eps.0.unwrap_or_default()
        ),
        check(
            eps.0.is_none_or(|e| e >= 0.0),
            "epsilon1 should be >= 0 but is: {:?}",
            eps.0.unwrap_or_default()
        ),
        check(eps.1.is_finite(), "epsilon2 should be finite but is: {:?}", eps.1),
        check(eps.1 >= 0.0, "epsilon2 should be >= 0 but is: {:?}", eps.1)
    )]
    pub eps: (Option<f64>, f64),
    /// The clipping threshold of the update's RMS.
    #[hyper(
        default = 1.0,
        finite("clipping threshold d should be finite but is: {d:?}"),
        range(1.0.., "clipping threshold d should be >= 1 but is: {d:?}")
    )]
    pub d: f64,
    /// Decoupled weight decay, scaled by `lr`.
    #[hyper(
        default = 0.0,
        finite("weight_decay should be finite but is: {weight_decay:?}"),
        range(0.0.., "weight_decay should be >= 0 but is: {weight_decay:?}")
    )]
    pub weight_decay: f64,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
}

/// Adafactor's per-parameter state: factored for a parameter of 2 or more dimensions,
/// one value per element otherwise.
#[derive(Clone, Debug, PartialEq, State)]
pub struct AdafactorState<A: Float> {
    /// Steps taken by this parameter (a float, as torch stores it).
    pub step: StepCount,
    /// The running mean of the squared gradient over each row, `[..., m, 1]`: for a
    /// parameter of 2 or more dimensions.
    #[state(shape = row_var_shape)]
    pub row_var: Option<ArrayD<A>>,
    /// The running mean of the squared gradient over each column, `[..., 1, n]`: for a
    /// parameter of 2 or more dimensions.
    #[state(shape = col_var_shape)]
    pub col_var: Option<ArrayD<A>>,
    /// The running mean of the squared gradient, the parameter's shape: for a 1-d or 0-d
    /// parameter.
    #[state(shape = variance_shape)]
    pub variance: Option<ArrayD<A>>,
}

/// `row_var`'s shape for a parameter of `shape`: its last dimension made 1.
fn row_var_shape(shape: &[usize]) -> Option<Vec<usize>> {
    (shape.len() > 1).then(|| {
        let mut row = shape.to_vec();
        row[shape.len() - 1] = 1;
        row
    })
}

/// `col_var`'s shape for a parameter of `shape`: its second-to-last dimension made 1.
fn col_var_shape(shape: &[usize]) -> Option<Vec<usize>> {
    (shape.len() > 1).then(|| {
        let mut col = shape.to_vec();
        col[shape.len() - 2] = 1;
        col
    })
}

/// `variance`'s shape for a parameter of `shape`: the parameter's own, for 1-d and 0-d.
fn variance_shape(shape: &[usize]) -> Option<Vec<usize>> {
    (shape.len() <= 1).then(|| shape.to_vec())
}

impl Adafactor {
    /// The scalars of step `t` that the passes need before the norms.
    fn step<A: Float>(&self, t: f64) -> Step<A> {
        // torch resolves `None` from the dtype of the group's first parameter with a
        // gradient; all parameters here share `A` (see the type's docs).
        let eps1 = self.eps.0.unwrap_or_else(|| A::epsilon().as_f64());
        Step {
            lerp: Lerp::new(t.powf(self.beta2_decay)),
            eps1: A::from_f64(eps1),
            eps1_sq: A::from_f64(eps1 * eps1),
            decay: (self.weight_decay != 0.0).then(|| A::from_f64(1.0 - self.lr * self.weight_decay)),
            maximize: self.maximize,
        }
    }

    /// The update's factor at step `t`, `−α / max(1, ‖U‖ / (√numel · d))`, from `Σ p²` (before
    /// the decay) and `Σ U²`: Python floats, the norms rounded to `A` as torch's `.item()`.
    fn scale<A: Float>(&self, t: f64, numel: usize, param_sum_of_squares: f64, update_sum_of_squares: f64) -> A {
        let r = 1.0 / t.powf(0.5);
        let rho = if r < self.lr { r } else { self.lr }; // Python's min(lr, r)
        let sqrt_numel = (numel as f64).powf(0.5);
        let rms = passes::norm::<A>(param_sum_of_squares) / sqrt_numel;
        let alpha = if rms > self.eps.1 { rms } else { self.eps.1 } * rho; // max(eps2, rms)
        let clipped = passes::norm::<A>(update_sum_of_squares) / (sqrt_numel * self.d);
        let denom = if clipped > 1.0 { clipped } else { 1.0 }; // max(1.0, clipped)
        A::from_f64(-alpha / denom)
    }
}

impl PerTensor for Adafactor {
    fn update<A: Float>(
        &self,
        mut param: ArrayViewMutD<'_, A>,
        grad: ArrayViewD<'_, A>,
        state: &mut AdafactorState<A>,
        isa: Isa,
    ) {
        let shape = param.shape().to_vec();
        // The per-tensor driver passes standard-layout views (see `PerTensor`).
        let p = param
            .as_slice_mut()
            .expect("the per-tensor driver passes contiguous tensors");
        let g = grad
            .as_slice()
            .expect("the per-tensor driver passes contiguous tensors");
        let t = state.step.increment();
        let step = self.step::<A>(t);
        let scale = |param_sum, update_sum| self.scale::<A>(t, shape.iter().product(), param_sum, update_sum);
        // The state holds the tensors its shape rules give for this shape (`init_shaped` and
        // `unpack_shaped` see to it), created contiguous.
        let contiguous = "Adafactor's state tensors are created contiguous";
        match (&mut state.row_var, &mut state.col_var, &mut state.variance) {
            (Some(row), Some(col), None) if shape.len() > 1 => {
                let (m, n) = (shape[shape.len() - 2], shape[shape.len() - 1]);
                let row = row.as_slice_mut().expect(contiguous);
                let col = col.as_slice_mut().expect(contiguous);
                passes::factored(&step, scale, p, g, row, col, m, n, isa);
            }
            (None, None, Some(variance)) if shape.len() <= 1 => {
                passes::unfactored(&step, scale, p, g, variance.as_slice_mut().expect(contiguous), isa);
            }
            _ => unreachable!("an Adafactor state holds exactly the tensors its shape rules give"),
        }
    }
}
