//! `crate = path`: the derives work when the library is reached under another name.
#![deny(warnings, missing_docs)]

use optimizers as renamed;
use renamed::ndarray::ArrayD;
use renamed::{Elementwise, Float, Optimizer, State};

/// Sign descent.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(crate = renamed, state = SignState, update = elementwise)]
pub struct Sign {
    /// Step length.
    #[hyper(default = 0.1, check(lr >= 0.0))]
    pub lr: f64,
}

/// A step counter and a last-sign buffer.
#[derive(State)]
#[state(crate = "renamed")]
pub struct SignState<A: Float> {
    /// Steps.
    pub step: u64,
    /// The last sign.
    pub last: ArrayD<A>,
}

impl Elementwise for Sign {
    type Scalars<A: Float> = A;
    fn prepare<A: Float>(&self, state: &mut SignState<A>, _: &[usize]) -> A {
        state.step += 1;
        A::from_f64(self.lr)
    }
    fn element<A: Float>(lr: &A, p: &mut A, g: A, state: SignStateElem<'_, A>) {
        *state.last = g.signum();
        *p = *p - *lr * g.signum();
    }
}

fn main() {
    let p = renamed::Param::new(renamed::ndarray::array![1.0f64]);
    let mut opt = Sign::new([p.clone()], SignOptions::new()).expect("valid");
    p.set_grad(renamed::ndarray::array![-3.0]).expect("shape");
    opt.step().expect("step");
    assert_eq!(p.value()[0], 1.1);
}
