//! The optimizers the cases go wrong with: each trained for two steps (so that state,
//! options and gradients are all present and a change to any of them would show), over
//! parameters with fixed values; and [`MatrixSgd`], an optimizer that refuses parameters
//! that are not matrices.

use optimizers::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, array};
use optimizers::{
    Adafactor, AdafactorOptions, Adagrad, AdagradOptions, Adam, AdamOptions, AdamW, AdamWOptions, Asgd, AsgdOptions,
    Float, Lbfgs, LbfgsOptions, Muon, MuonOptions, NAdam, NAdamOptions, Optimizer, Param, ParamGroup, PerTensor,
    Rmsprop, RmspropOptions, Rprop, RpropOptions, Rule, Sgd, SgdOptions,
};

/// Writes a deterministic gradient, different for each parameter and `step`, into every
/// parameter.
pub fn set_grads(params: &[Param<f64>], step: usize) {
    for (k, p) in params.iter().enumerate() {
        let g: Vec<f64> = (0..p.numel())
            .map(|i| ((i * 7 + k * 3 + step * 5) % 11) as f64 / 11.0 - 0.4)
            .collect();
        p.set_grad_from_slice(&g).expect("a gradient of the parameter's length");
    }
}

/// Takes one step per item of `steps`, with [`set_grads`] before each.
pub fn train<R: Rule>(opt: &mut Optimizer<R, f64>, params: &[Param<f64>], steps: std::ops::Range<usize>) {
    for s in steps {
        set_grads(params, s);
        opt.step().expect("a valid step");
    }
}

/// `fc.weight` (2 × 3) and `fc.bias` (3), named.
pub fn named_params() -> Vec<Param<f64>> {
    vec![
        Param::named("fc.weight", array![[0.5, -1.0, 0.25], [2.0, 0.1, -0.3]]),
        Param::named("fc.bias", array![0.1, -0.2, 0.3]),
    ]
}

/// Two parameters (2 × 2 and 2) without names, as torch's `model.parameters()` gives them.
pub fn unnamed_params() -> Vec<Param<f64>> {
    vec![
        Param::new(array![[0.5, -1.0], [2.0, 0.1]]),
        Param::new(array![0.1, -0.2]),
    ]
}

/// Adam (with `amsgrad`) over [`named_params`] in two groups, the bias with its own `lr`;
/// two steps taken, gradients present.
pub fn adam() -> (Optimizer<Adam, f64>, Vec<Param<f64>>) {
    let params = named_params();
    let mut opt = Adam::with_groups(
        [
            ParamGroup::new([params[0].clone()]),
            ParamGroup::new([params[1].clone()]).options(AdamOptions::new().lr(1e-2)),
        ],
        AdamOptions::new().lr(1e-3).amsgrad(true),
    )
    .expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// AdamW over [`named_params`], two steps taken.
pub fn adamw() -> (Optimizer<AdamW, f64>, Vec<Param<f64>>) {
    let params = named_params();
    let mut opt = AdamW::new(params.clone(), AdamWOptions::new()).expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// SGD with momentum over [`unnamed_params`] (torch style: its state dicts load by
/// position), two steps taken.
pub fn sgd() -> (Optimizer<Sgd, f64>, Vec<Param<f64>>) {
    let params = unnamed_params();
    let mut opt = Sgd::new(params.clone(), SgdOptions::new().lr(0.1).momentum(0.9)).expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// LBFGS over two unnamed parameters (3 and 2 elements) with `history_size` 3 and
/// `max_iter` 3, two steps taken with [`quadratic`] (six evaluations).
pub fn lbfgs() -> (Optimizer<Lbfgs, f64>, Vec<Param<f64>>) {
    let params = vec![Param::new(array![0.0, 2.0, -1.0]), Param::new(array![3.0, 0.5])];
    let mut opt = Lbfgs::new(params.clone(), LbfgsOptions::new().history_size(3).max_iter(3)).expect("valid");
    let mut closure = quadratic(&params, None);
    for _ in 0..2 {
        opt.step_with(&mut closure).expect("a valid step");
    }
    (opt, params)
}

/// The optimizer `build` makes over [`unnamed_params`] (a 2 × 2 matrix and a vector, loaded
/// by position), two steps taken: the subject of one optimizer's own cases.
pub fn trained<R: Rule>(
    build: impl FnOnce(Vec<Param<f64>>) -> optimizers::Result<Optimizer<R, f64>>,
) -> (Optimizer<R, f64>, Vec<Param<f64>>) {
    let params = unnamed_params();
    let mut opt = build(params.clone()).expect("valid");
    train(&mut opt, &params, 0..2);
    (opt, params)
}

/// Adagrad with `lr_decay`, [`trained`].
pub fn adagrad() -> (Optimizer<Adagrad, f64>, Vec<Param<f64>>) {
    trained(|p| Adagrad::new(p, AdagradOptions::new().lr_decay(0.01)))
}

/// NAdam with its defaults, [`trained`]: its `mu_product` is a float32 value.
pub fn nadam() -> (Optimizer<NAdam, f64>, Vec<Param<f64>>) {
    trained(|p| NAdam::new(p, NAdamOptions::new()))
}

/// RMSprop, centered and with momentum (every state entry present), [`trained`].
pub fn rmsprop() -> (Optimizer<Rmsprop, f64>, Vec<Param<f64>>) {
    trained(|p| Rmsprop::new(p, RmspropOptions::new().momentum(0.9).centered(true)))
}

/// ASGD with its defaults, [`trained`]: its `eta` and `mu` are float32 values.
pub fn asgd() -> (Optimizer<Asgd, f64>, Vec<Param<f64>>) {
    trained(|p| Asgd::new(p, AsgdOptions::new()))
}

/// Rprop with its defaults, [`trained`].
pub fn rprop() -> (Optimizer<Rprop, f64>, Vec<Param<f64>>) {
    trained(|p| Rprop::new(p, RpropOptions::new()))
}

/// Adafactor with its defaults, [`trained`]: the matrix keeps `row_var` (`[2, 1]`) and
/// `col_var` (`[1, 2]`), the vector `variance`.
pub fn adafactor() -> (Optimizer<Adafactor, f64>, Vec<Param<f64>>) {
    trained(|p| Adafactor::new(p, AdafactorOptions::new()))
}

/// Muon over `fc.weight` of [`named_params`] alone (it takes matrices only), two steps
/// taken; returns both named parameters (`fc.bias`, a vector, is not in the optimizer).
pub fn muon() -> (Optimizer<Muon, f64>, Vec<Param<f64>>) {
    let params = named_params();
    let mut opt = Muon::new([params[0].clone()], MuonOptions::new().lr(0.02)).expect("valid");
    train(&mut opt, &params[..1], 0..2);
    (opt, params)
}

/// What a poisoned [`quadratic`] spoils at its chosen evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poison {
    /// Returns a NaN loss.
    Loss,
    /// Writes an infinite first gradient element of the first parameter.
    Gradient,
}

/// A closure for LBFGS: `f(x) = Σ (i + 1) (xᵢ − 1)²` over all parameters as one flat
/// vector, writing the gradients. `poison = Some((n, what))` spoils evaluation `n`
/// (counted from 1).
pub fn quadratic(params: &[Param<f64>], poison: Option<(usize, Poison)>) -> impl FnMut() -> f64 + use<> {
    let params = params.to_vec();
    let mut evaluations = 0;
    move || {
        evaluations += 1;
        let mut loss = 0.0;
        let mut i = 0;
        for p in &params {
            let grad: ArrayD<f64> = p.value().mapv(|x| {
                i += 1;
                let c = i as f64;
                loss += c * (x - 1.0) * (x - 1.0);
                2.0 * c * (x - 1.0)
            });
            p.set_grad(grad).expect("the parameter's shape");
        }
        match poison {
            Some((n, Poison::Loss)) if n == evaluations => f64::NAN,
            Some((n, Poison::Gradient)) if n == evaluations => {
                if let Some(mut g) = params[0].grad_mut() {
                    g[[0]] = f64::INFINITY;
                }
                loss
            }
            _ => loss,
        }
    }
}
/// Plain gradient descent that takes matrices only, standing for the optimizers that work
/// on a parameter as a matrix (Muon, Shampoo): its `param_check` is what makes
/// [`Error::InvalidParam`](optimizers::Error::InvalidParam).
#[derive(Clone, Debug, optimizers::Optimizer)]
#[optimizer(
    kind = "matrix_sgd",
    state = (),
    update = per_tensor,
    param_check(shape.len() == 2, "it takes matrices only, and this parameter has shape {shape:?}")
)]
pub struct MatrixSgd {
    /// Learning rate.
    #[hyper(default = 0.01)]
    pub lr: f64,
}

impl PerTensor for MatrixSgd {
    fn update<A: Float>(
        &self,
        mut param: ArrayViewMutD<'_, A>,
        grad: ArrayViewD<'_, A>,
        _: &mut (),
        _: optimizers::isa::Isa,
    ) {
        let lr = A::from_f64(self.lr);
        param.zip_mut_with(&grad, |p, &g| *p -= lr * g);
    }
}

/// [`MatrixSgd`] over `fc.weight` of [`named_params`] alone, two steps taken; returns both
/// named parameters (`fc.bias`, a vector, is not in the optimizer).
pub fn matrix_sgd() -> (Optimizer<MatrixSgd, f64>, Vec<Param<f64>>) {
    let params = named_params();
    let mut opt = MatrixSgd::new([params[0].clone()], MatrixSgdOptions::new()).expect("valid");
    train(&mut opt, &params[..1], 0..2);
    (opt, params)
}
