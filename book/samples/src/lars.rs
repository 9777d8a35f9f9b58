//! LARS, layer-wise adaptive rate scaling (You, Gitman and Ginsburg, 2017): SGD with
//! momentum whose step for each tensor is scaled by a trust ratio `‖p‖ / ‖g‖`, so that
//! every layer moves by about the same fraction of its weights. A rule that needs a whole
//! tensor (its norm) before it can update any element: the per-tensor form.

// ANCHOR: options
use optimizers::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Zip};
use optimizers::{Float, Optimizer, PerTensor, State};

/// LARS: SGD with momentum, each tensor's step scaled by its trust ratio.
///
/// For each parameter tensor `p` with gradient `g`:
///
/// ```text
/// trust ← η ‖p‖ / (‖g‖ + weight_decay · ‖p‖ + eps)   if ‖p‖ > 0 and ‖g‖ > 0, else 1
/// d ← trust · (g + weight_decay · p)
/// if momentum ≠ 0:  b ← momentum · b + d;  d ← d + momentum · b if nesterov, else b
/// p ← p − lr · d
/// ```
///
/// | option | default | valid |
/// |---|---|---|
/// | `batch_size` | 256 | ≥ 1 |
/// | `lr` | `0.1 · batch_size / 256` | ≥ 0 |
/// | `momentum` | 0.9 | in [0, 1) |
/// | `weight_decay` | 0 | ≥ 0 |
/// | `trust_coefficient` (η) | 1e-3 | > 0 |
/// | `eps` | 1e-8 | ≥ 0 |
/// | `nesterov` | false | needs `momentum` > 0 |
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(
    kind = "lars",
    state = LarsState,
    update = per_tensor,
    check(!nesterov || momentum > 0.0, "nesterov momentum needs a momentum: set momentum above 0 or turn nesterov off")
)]
pub struct Lars {
    /// The batch size that the default learning rate is scaled for.
    #[hyper(default = 256, check(batch_size >= 1, "invalid batch_size: {batch_size} (must be at least 1)"))]
    pub batch_size: usize,
    /// Learning rate: by default 0.1 for every 256 examples of a batch (the linear
    /// scaling rule that large-batch training with LARS follows).
    #[hyper(default = 0.1 * batch_size as f64 / 256.0, check(lr >= 0.0, "invalid learning rate: {lr}"))]
    pub lr: f64,
    /// Momentum factor.
    #[hyper(default = 0.9, check(0.0 <= momentum && momentum < 1.0, "invalid momentum value: {momentum}"))]
    pub momentum: f64,
    /// Weight decay (an L2 penalty, scaled by the trust ratio with the gradient).
    #[hyper(default = 0.0, check(weight_decay >= 0.0))]
    pub weight_decay: f64,
    /// The trust coefficient η: how far a step may move a tensor, relative to its norm.
    #[hyper(default = 1e-3, check(trust_coefficient > 0.0))]
    pub trust_coefficient: f64,
    /// Added to the trust ratio's denominator.
    #[hyper(default = 1e-8, check(eps >= 0.0))]
    pub eps: f64,
    /// Nesterov momentum.
    #[hyper(default = false)]
    pub nesterov: bool,
}

/// LARS's per-parameter state.
#[derive(Clone, Debug, PartialEq, State)]
pub struct LarsState<A: Float> {
    /// The momentum buffer, while `momentum` is not 0.
    pub momentum_buffer: Option<ArrayD<A>>,
    /// The trust ratio of the last step (saved, so that a checkpoint shows it).
    pub trust_ratio: f64,
}
// ANCHOR_END: options

// ANCHOR: update
/// The Euclidean norm of a tensor, summed in `f64`.
fn norm<A: Float>(t: ArrayViewD<'_, A>) -> f64 {
    t.iter().map(|x| x.as_f64() * x.as_f64()).sum::<f64>().sqrt()
}

impl PerTensor for Lars {
    fn update<A: Float>(
        &self,
        mut param: ArrayViewMutD<'_, A>,
        grad: ArrayViewD<'_, A>,
        state: &mut LarsState<A>,
        _: optimizers::isa::Isa,
    ) {
        // Whole-tensor quantities first, in f64 ...
        let (p_norm, g_norm) = (norm(param.view()), norm(grad.view()));
        let trust = if p_norm > 0.0 && g_norm > 0.0 {
            self.trust_coefficient * p_norm / (g_norm + self.weight_decay * p_norm + self.eps)
        } else {
            1.0
        };
        state.trust_ratio = trust;
        // ... rounded to the element type once, then one pass over the elements.
        let (lr, wd, trust) = (A::from_f64(self.lr), A::from_f64(self.weight_decay), A::from_f64(trust));
        if self.momentum == 0.0 {
            state.momentum_buffer = None;
            Zip::from(&mut param).and(&grad).for_each(|p, &g| {
                let d = trust * (g + wd * *p);
                *p -= lr * d;
            });
            return;
        }
        let (momentum, nesterov) = (A::from_f64(self.momentum), self.nesterov);
        let buffer = state
            .momentum_buffer
            .get_or_insert_with(|| ArrayD::zeros(param.shape()));
        Zip::from(&mut param).and(&grad).and(buffer).for_each(|p, &g, b| {
            let d = trust * (g + wd * *p);
            *b = momentum * *b + d;
            let d = if nesterov { d + momentum * *b } else { *b };
            *p -= lr * d;
        });
    }
}
// ANCHOR_END: update
