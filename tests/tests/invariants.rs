//! A rule that breaks the framework's invariants is stopped with a message naming the
//! invariant, never left to update part of a parameter and report success.

use std::panic::{AssertUnwindSafe, catch_unwind};

use optimizers::isa::Isa;
use optimizers::ndarray::{ArrayD, IxDyn, array};
use optimizers::{ClosureRule, Elementwise, Float, Optimizer, Param, Problem, Result, State, StepCount};

/// Momentum whose `prepare` (a bug) replaces the buffer with one of another length.
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "shrinking", state = ShrinkingState, update = elementwise)]
pub struct Shrinking {
    /// Learning rate.
    #[hyper(default = 0.1, range = 0.0..)]
    pub lr: f64,
}

/// A buffer the rule replaces.
#[derive(Clone, Debug, PartialEq, State)]
pub struct ShrinkingState<A: Float> {
    /// Steps taken.
    pub step: StepCount,
    /// The buffer.
    pub buf: ArrayD<A>,
}

impl Elementwise for Shrinking {
    type Scalars<A: Float> = A;

    fn prepare<A: Float>(&self, state: &mut ShrinkingState<A>, shape: &[usize]) -> A {
        if state.step.increment() == 2.0 {
            let shorter = shape.iter().product::<usize>() - 1;
            state.buf = ArrayD::zeros(IxDyn(&[shorter]));
        }
        A::from_f64(self.lr)
    }

    fn element<A: Float>(lr: &A, p: &mut A, g: A, s: ShrinkingStateElem<'_, A>) {
        *s.buf = g;
        *p -= *lr * g;
    }
}

fn panic_text(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the invariant is checked");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_state_tensor_of_the_wrong_length_stops_the_pass() {
    let p = Param::new(array![1.0f32, 2.0, 3.0, 4.0]);
    let mut opt = Shrinking::new([p.clone()], ShrinkingOptions::new()).expect("valid");
    p.set_grad(array![1.0f32, 1.0, 1.0, 1.0]).expect("shape");
    opt.step().expect("the first step is sound");
    let before = p.to_array();
    let text = panic_text(|| {
        let _ = opt.step();
    });
    assert!(
        text.contains("state tensor `buf` has 3 elements but its parameter has 4"),
        "{text}"
    );
    // No element was updated: the check runs before the pass.
    assert_eq!(p.to_array(), before);
}

/// A closure rule that (a bug) hands the problem a vector of the wrong length.
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(kind = "wrong_length", state = (), update = closure)]
pub struct WrongLength {
    /// How far to move.
    #[hyper(default = 0.5)]
    pub t: f64,
}

impl ClosureRule for WrongLength {
    fn step<A: Float>(&self, _: &mut (), problem: &mut Problem<'_, A>) -> Result<f64> {
        let mut grad = vec![A::zero(); problem.len()];
        let loss = problem.evaluate(&mut grad);
        grad.pop();
        problem.add_scaled(-self.t, &grad);
        Ok(loss)
    }
}

#[test]
fn a_flat_vector_of_the_wrong_length_stops_the_move() {
    let x = Param::new(array![1.0f64, 2.0]);
    let y = Param::new(array![3.0f64]);
    let mut opt = WrongLength::new([x.clone(), y.clone()], WrongLengthOptions::new()).expect("valid");
    let text = panic_text(|| {
        let _ = opt.step_with(|| 0.0);
    });
    assert!(
        text.contains("a flat vector of the problem has one element per scalar parameter"),
        "{text}"
    );
    assert_eq!(
        (x.to_array(), y.to_array()),
        (array![1.0, 2.0].into_dyn(), array![3.0].into_dyn())
    );
}

#[test]
fn a_problem_built_by_a_test_reports_its_instruction_set() {
    let x = [Param::new(array![1.0f32])];
    let mut closure = || 0.0;
    let problem = Problem::new(&x, &mut closure, Isa::baseline());
    assert_eq!((problem.len(), problem.isa()), (1, Isa::baseline()));
}
