//! Adam and AdamW, as `torch.optim.Adam` and `torch.optim.AdamW`: one implementation, two
//! option sets.

use optim_core::ndarray::ArrayD;
use optim_core::{Elementwise, Float, StepCount};
use optim_derive::{Optimizer, State};

use crate::torch_ops::{LastValue, Lerp, Preamble, maximum};

/// Adam, exactly as `torch.optim.Adam` (torch 2.15, single-tensor path).
///
/// For each parameter `p` with gradient `g`, its step count `t` incremented first:
///
/// ```text
/// g ← -g                                         if maximize
/// p ← p · (1 − lr · weight_decay)                if decoupled_weight_decay   (AdamW)
/// g ← g + weight_decay · p                       otherwise, if weight_decay ≠ 0 (L2)
/// m ← m + (1 − β₁) (g − m)                       (torch's lerp)
/// v ← β₂ v + (1 − β₂) g²
/// v̂ ← max(v̂, v)  and use v̂ below                if amsgrad
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-3 | ≥ 0, finite |
/// | `betas` | (0.9, 0.999) | each in [0, 1) |
/// | `eps` | 1e-8 | ≥ 0, finite |
/// | `weight_decay` | 0 | ≥ 0, finite |
/// | `amsgrad` | false | |
/// | `maximize` | false | |
/// | `decoupled_weight_decay` | false | |
///
/// State: `step` (a float, as torch keeps it), `exp_avg`, `exp_avg_sq`, and
/// `max_exp_avg_sq` while `amsgrad` is on. Scalars (bias corrections, `1 − β`) are
/// computed in `f64` and rounded to the parameters' type once per step, as torch does.
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "adam", state = AdamState, update = elementwise)]
pub struct Adam {
    /// Learning rate.
    #[hyper(default = 1e-3, range(0.0.., "invalid learning rate: {lr:?}"))]
    pub lr: f64,
    /// Coefficients of the running averages of the gradient and its square.
    #[hyper(default = (0.9, 0.999), range(0.0..1.0, "invalid beta parameter at index {index}: {value}"))]
    pub betas: (f64, f64),
    /// Added to the denominator for numerical stability.
    #[hyper(default = 1e-8, range(0.0.., "invalid epsilon value: {eps:?}"))]
    pub eps: f64,
    /// Weight decay: an L2 penalty, or decoupled (AdamW) with `decoupled_weight_decay`.
    #[hyper(default = 0.0, range(0.0.., "invalid weight_decay value: {weight_decay:?}"))]
    pub weight_decay: f64,
    /// The AMSGrad variant (the maximum of past second moments).
    #[hyper(default = false)]
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing it.
    #[hyper(default = false)]
    pub maximize: bool,
    /// Decay the weights directly (AdamW) instead of adding an L2 term to the gradient.
    #[hyper(default = false)]
    pub decoupled_weight_decay: bool,
}

/// AdamW: [`Adam`] with decoupled weight decay, exactly as `torch.optim.AdamW` — the same
/// options, state and update, with other defaults (a variant: its options type is
/// [`AdamOptions`], and its hyperparameters dereference to [`Adam`]'s).
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-3 | ≥ 0, finite |
/// | `betas` | (0.9, 0.999) | each in [0, 1) |
/// | `eps` | 1e-8 | ≥ 0, finite |
/// | `weight_decay` | 1e-2 | ≥ 0, finite |
/// | `amsgrad` | false | |
/// | `maximize` | false | |
/// | `decoupled_weight_decay` | true | must stay true (use [`Adam`] for an L2 penalty) |
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(
    kind = "adamw",
    update = elementwise,
    defaults(weight_decay = 1e-2, decoupled_weight_decay = true),
    check(decoupled_weight_decay, "AdamW always decouples weight decay: use Adam for an L2 penalty")
)]
pub struct AdamW(pub Adam);

/// The per-parameter state of [`Adam`] and [`AdamW`].
#[derive(Clone, Debug, PartialEq, State)]
pub struct AdamState<A: Float> {
    /// Steps taken by this parameter (a float, as torch stores it; loads only from a whole,
    /// non-negative number).
    pub step: StepCount,
    /// Running average of the gradient.
    pub exp_avg: ArrayD<A>,
    /// Running average of the squared gradient.
    pub exp_avg_sq: ArrayD<A>,
    /// Running maximum of `exp_avg_sq`, while `amsgrad` is on.
    pub max_exp_avg_sq: Option<ArrayD<A>>,
}

/// Adam's per-step scalars, computed in `f64` and rounded to the element type once.
#[derive(Clone, Copy, Debug)]
pub struct AdamScalars<A> {
    preamble: Preamble<A>,
    lerp: Lerp<A>,
    beta2: A,
    one_minus_beta2: A,
    bias_correction2_sqrt: A,
    eps: A,
    neg_step_size: A,
    amsgrad: bool,
}

thread_local! {
    /// `(1 − β₁ᵗ, √(1 − β₂ᵗ))` for the last `(β₁, β₂, t)`: the parameters of a group almost
    /// always share their step count, so a step over many small tensors computes the two
    /// `powf` once (see [`LastValue`]).
    static BIAS_CORRECTIONS: LastValue<3, (f64, f64)> = const { LastValue::new() };
}

impl Adam {
    fn scalars<A: Float>(&self, state: &mut AdamState<A>, shape: &[usize]) -> AdamScalars<A> {
        let step = state.step.increment();
        let (beta1, beta2) = self.betas;
        let (bias_correction1, bias_correction2_sqrt) = BIAS_CORRECTIONS.with(|last| {
            last.get([beta1, beta2, step], || {
                (1.0 - beta1.powf(step), (1.0 - beta2.powf(step)).sqrt())
            })
        });
        if self.amsgrad && state.max_exp_avg_sq.is_none() {
            state.max_exp_avg_sq = Some(ArrayD::zeros(shape));
        }
        AdamScalars {
            preamble: Preamble::new(self.maximize, self.weight_decay, self.decoupled_weight_decay, self.lr),
            lerp: Lerp::new(1.0 - beta1),
            beta2: A::from_f64(beta2),
            one_minus_beta2: A::from_f64(1.0 - beta2),
            bias_correction2_sqrt: A::from_f64(bias_correction2_sqrt),
            eps: A::from_f64(self.eps),
            neg_step_size: A::from_f64(-(self.lr / bias_correction1)),
            amsgrad: self.amsgrad,
        }
    }
}

/// One element of Adam's update (AdamW's too: it is Adam with other defaults).
///
/// Written without branches on the element's data and with every store unconditional
/// (the options only choose between values), so that the pass vectorizes.
#[inline(always)]
fn adam_element<A: Float>(s: &AdamScalars<A>, p: &mut A, g: A, state: AdamStateElem<'_, A>) {
    let (param, g) = s.preamble.apply(*p, g);
    let m = state.exp_avg;
    let m_new = s.lerp.apply(*m, g);
    *m = m_new;
    let v = state.exp_avg_sq;
    let v_new = *v * s.beta2 + s.one_minus_beta2 * g * g;
    *v = v_new;
    let v_used = match state.max_exp_avg_sq {
        Some(mx) => {
            let max = maximum(*mx, v_new);
            *mx = if s.amsgrad { max } else { *mx };
            if s.amsgrad { max } else { v_new }
        }
        None => v_new,
    };
    let denom = v_used.sqrt() / s.bias_correction2_sqrt + s.eps;
    *p = param + s.neg_step_size * m_new / denom;
}

impl Elementwise for Adam {
    type Scalars<A: Float> = AdamScalars<A>;

    fn prepare<A: Float>(&self, state: &mut AdamState<A>, shape: &[usize]) -> AdamScalars<A> {
        self.scalars(state, shape)
    }

    #[inline(always)]
    fn element<A: Float>(s: &AdamScalars<A>, p: &mut A, g: A, state: AdamStateElem<'_, A>) {
        adam_element(s, p, g, state)
    }
}
