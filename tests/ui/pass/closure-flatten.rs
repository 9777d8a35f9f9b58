//! A closure rule whose state flattens a multi-entry field and skips scratch.
#![deny(warnings, missing_docs)]

use optimizers::state::{ShapeCtx, StateEntries, StateError};
use optimizers::{ClosureRule, Float, Map, Optimizer, Param, Problem, Result, State};

/// Gradient descent that counts its evaluations.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = CountState, update = closure)]
pub struct Counting {
    /// Step length.
    #[hyper(default = 0.1)]
    pub lr: f64,
}

/// Two entries kept together.
#[derive(Default)]
pub struct Pair {
    /// First.
    pub first: Option<f64>,
    /// Second.
    pub second: Option<f64>,
}

impl<A: Float> StateEntries<A> for Pair {
    const KEYS: &'static [&'static str] = &["first", "second"];
    fn init(_: &ShapeCtx<'_>) -> Self {
        Pair::default()
    }
    fn pack(&self, entry: &mut Map) {
        if let (Some(a), Some(b)) = (self.first, self.second) {
            entry.insert("first", a);
            entry.insert("second", b);
        }
    }
    fn unpack(entry: &Map, _: &ShapeCtx<'_>) -> std::result::Result<Self, StateError> {
        Ok(Pair {
            first: entry.get("first").and_then(|v| v.as_f64()),
            second: entry.get("second").and_then(|v| v.as_f64()),
        })
    }
}

/// The state.
#[derive(State)]
pub struct CountState<A: Float> {
    /// Evaluations.
    pub func_evals: u64,
    /// The last direction.
    pub d: Option<Vec<A>>,
    /// Two numbers.
    #[state(flatten)]
    pub pair: Pair,
    /// Scratch.
    #[state(skip)]
    pub grad: Vec<A>,
}

impl ClosureRule for Counting {
    fn step<A: Float>(&self, s: &mut CountState<A>, problem: &mut Problem<'_, A>) -> Result<f64> {
        s.grad.resize(problem.len(), A::zero());
        let loss = problem.evaluate(&mut s.grad);
        s.func_evals += 1;
        let d: Vec<A> = s.grad.iter().map(|&g| -g).collect();
        problem.add_scaled(self.lr, &d);
        s.d = Some(d);
        s.pair = Pair { first: Some(loss), second: Some(self.lr) };
        Ok(loss)
    }
}

fn main() {
    let p = Param::new(optimizers::ndarray::array![1.0f64]);
    let mut opt = Counting::new([p.clone()], CountingOptions::new()).expect("valid");
    let q = p.clone();
    let loss = opt
        .step_with(|| {
            let x = q.value()[0];
            q.set_grad(optimizers::ndarray::array![2.0 * x]).expect("shape");
            x * x
        })
        .expect("step");
    assert_eq!(loss, 1.0);
    let keys: Vec<String> = opt.state_dict().state[&0].keys().map(String::from).collect();
    assert_eq!(keys, ["func_evals", "d", "first", "second"]);
}
