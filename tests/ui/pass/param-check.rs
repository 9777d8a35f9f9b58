//! `param_check`: requirements on a parameter's shape, checked where parameters enter the
//! optimizer (constructor and `add_param_group`), with the generated message and a custom
//! one.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::{ArrayViewD, ArrayViewMutD, array};
use optimizers::{Float, Optimizer, Param, ParamGroup, PerTensor};

/// An update for matrices only (as Muon's orthogonalized step).
#[derive(Clone, Debug, Optimizer)]
#[optimizer(
    state = (),
    update = per_tensor,
    param_check(shape.len() == 2),
    param_check(!shape.contains(&0), "its shape {shape:?} has an empty dimension")
)]
pub struct MatrixOnly {
    /// Learning rate.
    #[hyper(default = 0.02, range = 0.0..)]
    pub lr: f64,
}

impl PerTensor for MatrixOnly {
    fn update<A: Float>(&self, mut p: ArrayViewMutD<'_, A>, g: ArrayViewD<'_, A>, _: &mut (), _: optimizers::isa::Isa) {
        let lr = A::from_f64(self.lr);
        p.zip_mut_with(&g, |p, &g| *p -= lr * g);
    }
}

fn main() {
    let matrix = Param::named("w", array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn());
    let bias = Param::named("b", array![0.0f32, 0.0].into_dyn());
    assert_eq!(
        MatrixOnly::new([matrix.clone(), bias.clone()], MatrixOnlyOptions::new())
            .expect_err("a vector")
            .to_string(),
        r#"parameter 1 of group 0 ("b") cannot be optimized by matrixonly: its shape [2] must satisfy `shape.len() == 2`"#
    );

    let mut opt = MatrixOnly::new([matrix.clone()], MatrixOnlyOptions::new()).expect("a matrix");
    let empty = Param::named("e", optimizers::ndarray::Array2::<f32>::zeros((0, 3)).into_dyn());
    assert_eq!(
        opt.add_param_group(ParamGroup::new([empty])).expect_err("empty").to_string(),
        r#"parameter 0 of group 1 ("e") cannot be optimized by matrixonly: its shape [0, 3] has an empty dimension"#
    );
    assert_eq!(opt.num_groups(), 1, "a rejected group is not added");
}
