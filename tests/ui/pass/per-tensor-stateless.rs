//! A per-tensor rule without state.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::{ArrayViewD, ArrayViewMutD};
use optimizers::{Float, Optimizer, Param, PerTensor};

/// Normalized gradient descent.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Normalized {
    /// Step length.
    #[hyper(default = 0.1)]
    pub lr: f64,
}

impl PerTensor for Normalized {
    fn update<A: Float>(&self, mut p: ArrayViewMutD<'_, A>, g: ArrayViewD<'_, A>, _: &mut (), _: optimizers::isa::Isa) {
        let norm = g.iter().map(|x| x.as_f64().powi(2)).sum::<f64>().sqrt();
        if norm > 0.0 {
            let s = A::from_f64(self.lr / norm);
            p.zip_mut_with(&g, |p, &g| *p -= s * g);
        }
    }
}

fn main() {
    let p = Param::new(optimizers::ndarray::array![3.0f64, 4.0]);
    let mut opt = Normalized::new([p.clone()], NormalizedOptions::new()).expect("valid");
    p.set_grad(optimizers::ndarray::array![3.0, 4.0]).expect("shape");
    opt.step().expect("step");
    assert!((p.value()[0] - (3.0 - 0.06)).abs() < 1e-12);
}
