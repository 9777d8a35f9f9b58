//! Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of
//! an interpolation between the momentum and the gradient, with decoupled weight decay.

// ANCHOR: optimizer
use optimizers::ndarray::ArrayD;
use optimizers::{Elementwise, Float, Optimizer, State};

/// Lion: `p ← p·(1 − lr·wd) − lr·sign(β₁m + (1 − β₁)g)`, then `m ← β₂m + (1 − β₂)g`.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = LionState, update = elementwise)]
pub struct Lion {
    /// Learning rate.
    #[hyper(required, range = 0.0..)]
    pub lr: f64,
    /// Interpolation (β₁) and momentum (β₂) coefficients, each in [0, 1).
    #[hyper(default = (0.9, 0.99), range(0.0..1.0, "invalid beta at index {index}: {value}"))]
    pub betas: (f64, f64),
    /// Decoupled weight decay.
    #[hyper(default = 0.0, range = 0.0..)]
    pub weight_decay: f64,
}

/// Lion's per-parameter state: the momentum.
#[derive(State)]
pub struct LionState<A: Float> {
    /// Running average of the gradient.
    pub exp_avg: ArrayD<A>,
}
// ANCHOR_END: optimizer

// ANCHOR: update
impl Elementwise for Lion {
    /// Learning rate, decay factor, β₁, β₂: computed once per parameter in `f64`, rounded to `A`.
    type Scalars<A: Float> = [A; 4];

    fn prepare<A: Float>(&self, _: &mut LionState<A>, _: &[usize]) -> [A; 4] {
        let (b1, b2) = self.betas;
        [self.lr, 1.0 - self.lr * self.weight_decay, b1, b2].map(A::from_f64)
    }

    fn element<A: Float>(s: &[A; 4], p: &mut A, g: A, state: LionStateElem<'_, A>) {
        let ([lr, decay, beta1, beta2], m) = (*s, state.exp_avg);
        let c = beta1 * *m + (A::one() - beta1) * g;
        let sign = if c > A::zero() {
            A::one()
        } else if c < A::zero() {
            -A::one()
        } else {
            A::zero()
        };
        *p = *p * decay - lr * sign;
        *m = beta2 * *m + (A::one() - beta2) * g;
    }
}
// ANCHOR_END: update
