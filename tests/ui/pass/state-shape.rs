//! `#[state(shape = rule)]`: state tensors not shaped like their parameter (a factored
//! second moment, as Adafactor keeps: one value per row and per column of a matrix), present
//! only for the parameters the rule gives a shape for, saved and loaded with shape checks.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, array};
use optimizers::{DictTensor, DictValue, Float, Optimizer, Param, PerTensor, State, StepCount};

/// One value per row of a matrix; nothing for other parameters.
fn rows(shape: &[usize]) -> Option<Vec<usize>> {
    (shape.len() == 2).then(|| vec![shape[0]])
}

/// One value per column of a matrix; nothing for other parameters.
fn cols(shape: &[usize]) -> Option<Vec<usize>> {
    (shape.len() == 2).then(|| vec![shape[1]])
}

/// Factored statistics of the squared gradient.
#[derive(State)]
pub struct FactoredState<A: Float> {
    /// Steps taken.
    pub step: StepCount,
    /// Row sums of the squared gradients, for a matrix.
    #[state(shape = rows)]
    pub row: Option<ArrayD<A>>,
    /// Column sums, for a matrix.
    #[state(shape = cols)]
    pub col: Option<ArrayD<A>>,
    /// The squared gradients of any other parameter, parameter-shaped.
    pub full: ArrayD<A>,
}

/// Accumulates the statistics; moves by the gradient.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = FactoredState, update = per_tensor)]
pub struct Factored {
    /// Learning rate.
    #[hyper(default = 0.1, range = 0.0..)]
    pub lr: f64,
}

impl PerTensor for Factored {
    fn update<A: Float>(&self, mut p: ArrayViewMutD<'_, A>, g: ArrayViewD<'_, A>, state: &mut FactoredState<A>, _: optimizers::isa::Isa) {
        state.step.increment();
        let squared = g.mapv(|x| x * x);
        match (&mut state.row, &mut state.col) {
            (Some(row), Some(col)) => {
                *row += &squared.sum_axis(Axis(1));
                *col += &squared.sum_axis(Axis(0));
            }
            _ => state.full += &squared,
        }
        let lr = A::from_f64(self.lr);
        p.zip_mut_with(&g, |p, &g| *p -= lr * g);
    }
}

fn main() {
    let matrix = Param::new(array![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn());
    let vector = Param::new(array![1.0f64, 2.0].into_dyn());
    let params = || [matrix.clone(), vector.clone()];
    let mut opt = Factored::new(params(), FactoredOptions::new()).expect("valid");
    matrix.set_grad(array![[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]].into_dyn()).expect("shape");
    vector.set_grad(array![3.0, 4.0].into_dyn()).expect("shape");
    opt.step().expect("step");

    let m = opt.state(&matrix).expect("state after a step");
    assert_eq!(m.row.as_ref().map(|r| r.shape().to_vec()), Some(vec![2]));
    assert_eq!(m.row.as_ref().map(|r| r.iter().copied().collect::<Vec<_>>()), Some(vec![3.0, 12.0]));
    assert_eq!(m.col.as_ref().map(|c| c.iter().copied().collect::<Vec<_>>()), Some(vec![5.0, 5.0, 5.0]));
    let v = opt.state(&vector).expect("state after a step");
    assert!(v.row.is_none() && v.col.is_none(), "no rows nor columns for a vector");
    assert_eq!(v.full.iter().copied().collect::<Vec<_>>(), [9.0, 16.0]);
    assert_eq!(<FactoredState<f64> as State<f64>>::keys(), ["step", "row", "col", "full"]);

    let dict = opt.state_dict().into_owned();
    assert_eq!(dict.state[&0].keys().collect::<Vec<_>>(), ["step", "row", "col", "full"]);
    assert_eq!(dict.state[&1].keys().collect::<Vec<_>>(), ["step", "full"]);

    // Saved and loaded: the run continues as if never stopped.
    let mut fresh = Factored::new(params(), FactoredOptions::new()).expect("valid");
    fresh.load_state_dict(&dict).expect("loads");
    assert_eq!(fresh.state(&matrix).and_then(|s| s.col.clone()), opt.state(&matrix).and_then(|s| s.col.clone()));

    // A shaped entry of the wrong shape, or where the rule gives none, does not load.
    let mut wrong = dict.clone();
    let three = DictTensor::owned(&[3], &[0.0f64; 3]).expect("three elements");
    if let Some(entry) = wrong.state.get_mut(&0) {
        entry.insert("row", DictValue::Tensor(three.clone()));
    }
    assert_eq!(
        fresh.load_state_dict(&wrong).expect_err("wrong shape").to_string(),
        "state of parameter 0: `row` has shape [3] but the parameter needs [2]"
    );
    let mut misplaced = dict.clone();
    if let Some(entry) = misplaced.state.get_mut(&1) {
        entry.insert("col", DictValue::Tensor(three));
    }
    assert_eq!(
        fresh.load_state_dict(&misplaced).expect_err("no columns for a vector").to_string(),
        "state of parameter 1: `col` is not kept for a parameter of shape [2]: this entry belongs to another parameter"
    );
}
