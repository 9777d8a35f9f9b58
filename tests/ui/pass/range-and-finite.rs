//! `range` and `finite` on every kind of numeric option (numbers, integers, tuples,
//! `Option`s), with the generated messages and custom ones using `{index}` and `{value}`;
//! and a plain `check`, which NaN fails but +inf passes.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::{ArrayViewD, ArrayViewMutD, array};
use optimizers::{Float, Optimizer, Param, PerTensor};

/// Options of every numeric kind, each with a `range` or `finite`.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Bounded {
    /// Bounded below.
    #[hyper(default = 1e-3, range = 0.0..)]
    pub lr: f64,
    /// Each element of a pair in [0, 1), with a message naming the element.
    #[hyper(default = (0.9, 0.999), range(0.0..1.0, "invalid beta parameter at index {index}: {value}"))]
    pub betas: (f64, f64),
    /// An `f32` in [0, 1].
    #[hyper(default = 0.5, range = 0.0..=1.0)]
    pub mix: f32,
    /// Bounded above, exclusive.
    #[hyper(default = 0.0, range = ..1.0)]
    pub dampening: f64,
    /// Bounded above, inclusive, with a message naming the option.
    #[hyper(default = 1.0, range(..=10.0, "invalid clip: {clip} (at most 10)"))]
    pub clip: f64,
    /// An integer with integer bounds.
    #[hyper(default = 100, range = 1..=1000)]
    pub history: usize,
    /// A signed integer.
    #[hyper(default = -1, range = -1..)]
    pub seed: i64,
    /// `None` has no numbers to check.
    #[hyper(range(0.0.., "invalid max_norm: {value}"))]
    pub max_norm: Option<f64>,
    /// An optional pair.
    #[hyper(range = 0.0..1.0)]
    pub window: Option<(f64, f64)>,
    /// Any finite number.
    #[hyper(default = 0.0, finite)]
    pub bias: f64,
    /// Any finite number, with a message.
    #[hyper(default = 0.0, finite("invalid offset: {offset:?}"))]
    pub offset: f64,
    /// A plain comparison: rejects NaN, accepts +inf.
    #[hyper(default = 0.0, check(weight_decay >= 0.0))]
    pub weight_decay: f64,
}

impl PerTensor for Bounded {
    fn update<A: Float>(&self, mut p: ArrayViewMutD<'_, A>, g: ArrayViewD<'_, A>, _: &mut (), _: optimizers::isa::Isa) {
        let lr = A::from_f64(self.lr);
        p.zip_mut_with(&g, |p, &g| *p -= lr * g);
    }
}

fn error(options: BoundedOptions) -> String {
    Bounded::new([Param::new(array![1.0f64])], options)
        .expect_err("invalid")
        .to_string()
}

fn main() {
    let o = BoundedOptions::new;
    assert_eq!(error(o().lr(-1.0)), "defaults: invalid lr: -1.0 (must be finite and at least 0.0)");
    assert_eq!(error(o().lr(f64::NAN)), "defaults: invalid lr: NaN (must be finite and at least 0.0)");
    assert_eq!(error(o().lr(f64::INFINITY)), "defaults: invalid lr: inf (must be finite and at least 0.0)");
    assert_eq!(error(o().betas((0.9, 1.0))), "defaults: invalid beta parameter at index 1: 1.0");
    assert_eq!(error(o().betas((f64::NAN, 0.5))), "defaults: invalid beta parameter at index 0: NaN");
    assert_eq!(error(o().mix(1.5)), "defaults: invalid mix: 1.5 (must be finite and in [0.0, 1.0])");
    assert_eq!(error(o().dampening(1.0)), "defaults: invalid dampening: 1.0 (must be finite and less than 1.0)");
    assert_eq!(error(o().clip(10.5)), "defaults: invalid clip: 10.5 (at most 10)");
    assert_eq!(error(o().history(0)), "defaults: invalid history: 0 (must be finite and in [1, 1000])");
    assert_eq!(error(o().seed(-2)), "defaults: invalid seed: -2 (must be finite and at least -1)");
    assert_eq!(error(o().max_norm(-1.0)), "defaults: invalid max_norm: -1.0");
    assert_eq!(
        error(o().window((0.5, 1.5))),
        "defaults: invalid window[1]: 1.5 (must be finite and in [0.0, 1.0))"
    );
    assert_eq!(error(o().bias(f64::NEG_INFINITY)), "defaults: invalid bias: -inf (must be finite)");
    assert_eq!(error(o().offset(f64::NAN)), "defaults: invalid offset: NaN");
    assert_eq!(
        error(o().weight_decay(f64::NAN)),
        "defaults: invalid weight_decay: NaN (must satisfy `weight_decay >= 0.0`)"
    );

    // The bounds themselves are in range where the range includes them; `None` passes.
    let p = Param::new(array![1.0f64]);
    let edges = o().lr(0.0).mix(1.0).clip(10.0).history(1000).seed(-1).max_norm(None).window(None);
    let mut opt = Bounded::new([p.clone()], edges).expect("the bounds are in range");
    // A plain `check(weight_decay >= 0.0)` lets +inf through: `range = 0.0..` would not.
    opt.set_option(0, "weight_decay", f64::INFINITY).expect("+inf passes a comparison");

    // The same rules run on every change, with the group as scope.
    assert_eq!(
        opt.set_option(0, "lr", f64::INFINITY).expect_err("invalid").to_string(),
        "group 0: invalid lr: inf (must be finite and at least 0.0)"
    );
    assert_eq!(opt.hyperparameters(0).expect("group 0").lr, 0.0, "a failed change changes nothing");
}
