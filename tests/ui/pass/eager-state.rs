//! `eager_state` with an `init_state` override: state created when the optimizer is built,
//! from the constructor's options (torch's Adagrad fills `sum` with
//! `initial_accumulator_value`); a parameter added later gets its state at its first step.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::{ArrayD, array};
use optimizers::state::ShapeCtx;
use optimizers::{Elementwise, Float, Optimizer, Param, ParamGroup, State, StepCount};

/// Adagrad, without its decays.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = AdagradState, update = elementwise, eager_state)]
pub struct Adagrad {
    /// Learning rate.
    #[hyper(default = 1e-2, range = 0.0..)]
    pub lr: f64,
    /// What `sum` starts from.
    #[hyper(default = 0.0, range = 0.0..)]
    pub initial_accumulator_value: f64,
    /// Added to the denominator.
    #[hyper(default = 1e-10, range = 0.0..)]
    pub eps: f64,
}

/// Adagrad's state.
#[derive(State)]
pub struct AdagradState<A: Float> {
    /// Steps taken.
    pub step: StepCount,
    /// The sum of squared gradients.
    pub sum: ArrayD<A>,
}

impl Elementwise for Adagrad {
    type Scalars<A: Float> = (A, A);

    fn init_state<A: Float>(&self, defaults: &AdagradOptions, ctx: &ShapeCtx<'_>) -> AdagradState<A> {
        // The constructor's value, as torch: not the group's.
        let init = defaults.initial_accumulator_value.unwrap_or(self.initial_accumulator_value);
        AdagradState {
            step: StepCount::default(),
            sum: ArrayD::from_elem(ctx.shape, A::from_f64(init)),
        }
    }

    fn prepare<A: Float>(&self, state: &mut AdagradState<A>, _: &[usize]) -> (A, A) {
        state.step.increment();
        (A::from_f64(self.lr), A::from_f64(self.eps))
    }

    fn element<A: Float>(&(lr, eps): &(A, A), p: &mut A, g: A, state: AdagradStateElem<'_, A>) {
        *state.sum += g * g;
        *p -= lr * g / (state.sum.sqrt() + eps);
    }
}

fn main() {
    let p = Param::new(array![1.0f64, 2.0]);
    let options = AdagradOptions::new().lr(0.5).initial_accumulator_value(3.0);
    let mut opt = Adagrad::new([p.clone()], options).expect("valid");

    // Before any step: the state exists, filled from the constructor's options.
    let state = opt.state(&p).expect("created with the optimizer");
    assert_eq!(state.step.get(), 0.0);
    assert_eq!(state.sum.iter().copied().collect::<Vec<_>>(), [3.0, 3.0]);
    assert_eq!(opt.state_dict().state[&0].keys().collect::<Vec<_>>(), ["step", "sum"]);

    // A parameter added later: no state until its first step, then from `init_state` too.
    let q = Param::new(array![1.0f64]);
    opt.add_param_group(ParamGroup::new([q.clone()])).expect("valid group");
    assert!(opt.state(&q).is_none());
    p.set_grad(array![1.0, 1.0]).expect("shape");
    q.set_grad(array![1.0]).expect("shape");
    opt.step().expect("step");
    assert_eq!(opt.state(&q).map(|s| s.sum[0]), Some(3.0 + 1.0));
    assert_eq!(opt.state(&p).map(|s| s.step.get()), Some(1.0));
    assert_eq!(p.value()[0], 1.0 - 0.5 * 1.0 / (2.0 + 1e-10));
}
