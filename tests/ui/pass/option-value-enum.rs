//! `#[derive(OptionValue)]`: an enum as an option, with a `null` variant and a renamed one,
//! written in state dicts as strings and `null`, and read back.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::{ArrayViewD, ArrayViewMutD, array};
use optimizers::{DictValue, Float, Optimizer, OptionValue, Param, PerTensor, StateDict};

/// How the iterates are averaged.
#[derive(Clone, Copy, Debug, Default, PartialEq, OptionValue)]
pub enum Averaging {
    /// No averaging: `null` (torch's `None`).
    #[default]
    #[option(null)]
    None,
    /// `"polyak"`.
    Polyak,
    /// `"exponential_moving"`: the name in snake case.
    ExponentialMoving,
    /// `"ema-debiased"`: renamed.
    #[option(rename = "ema-debiased")]
    Debiased,
}

/// Gradient descent with an averaging choice.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(state = (), update = per_tensor)]
pub struct Averaged {
    /// Learning rate.
    #[hyper(default = 0.1)]
    pub lr: f64,
    /// The averaging.
    #[hyper(default = Averaging::None)]
    pub averaging: Averaging,
}

impl PerTensor for Averaged {
    fn update<A: Float>(&self, mut p: ArrayViewMutD<'_, A>, g: ArrayViewD<'_, A>, _: &mut (), _: optimizers::isa::Isa) {
        let lr = A::from_f64(self.lr);
        p.zip_mut_with(&g, |p, &g| *p -= lr * g);
    }
}

fn main() {
    assert_eq!(
        Averaging::expected(),
        r#"null, "polyak", "exponential_moving" or "ema-debiased""#
    );
    for (variant, written) in [
        (Averaging::None, DictValue::Null),
        (Averaging::Polyak, DictValue::from("polyak")),
        (Averaging::ExponentialMoving, DictValue::from("exponential_moving")),
        (Averaging::Debiased, DictValue::from("ema-debiased")),
    ] {
        assert_eq!(variant.to_value(), written);
        assert_eq!(Averaging::from_value(&written), Some(variant));
    }
    assert_eq!(Averaging::from_value(&DictValue::from("Polyak")), None);

    let p = Param::named("w", array![1.0f64]);
    let mut opt = Averaged::new([p.clone()], AveragedOptions::new()).expect("valid");
    assert_eq!(opt.option(0, "averaging").expect("an option"), DictValue::Null);
    opt.set_option(0, "averaging", "ema-debiased").expect("a value it takes");
    assert_eq!(opt.hyperparameters(0).expect("group 0").averaging, Averaging::Debiased);
    assert_eq!(
        opt.set_option(0, "averaging", "ema").expect_err("not a value it takes").to_string(),
        r#"group 0: option `averaging` must be null, "polyak", "exponential_moving" or "ema-debiased", found a string ("ema")"#
    );

    // Through a state dict and its JSON, into a fresh optimizer.
    let json = opt.state_dict().to_json();
    assert!(json.contains(r#""averaging":"ema-debiased""#), "{json}");
    let mut fresh = Averaged::new([Param::named("w", array![1.0f64])], AveragedOptions::new()).expect("valid");
    fresh
        .load_state_dict(&StateDict::from_json(&json).expect("JSON"))
        .expect("loads");
    assert_eq!(fresh.hyperparameters(0).expect("group 0").averaging, Averaging::Debiased);
    fresh.set_option(0, "averaging", DictValue::Null).expect("null is `None`");
    assert!(fresh.state_dict().to_json().contains(r#""averaging":null"#));
}
