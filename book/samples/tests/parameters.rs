//! The samples of the chapter "Parameters and groups": shared parameters, names, per-layer
//! learning rates, options changed while training, schedules through `DynOptimizer`, and
//! groups added to unfreeze layers.

use std::error::Error as StdError;

use optimizers::ndarray::{Array1, Array2, array, s};
use optimizers::{Adam, AdamOptions, DictValue, DynOptimizer, Error, Param, ParamGroup, Sgd, SgdOptions, registry};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn a_param_is_shared_by_the_model_and_the_optimizer() -> Result {
    // ANCHOR: shared
    let w = Param::new(array![[1.0f32, 2.0], [3.0, 4.0]]);
    let model_side = w.clone(); // a second handle to the same parameter, not a copy
    let mut opt = Sgd::new([w.clone()], SgdOptions::new().lr(0.1))?;

    model_side.set_grad(array![[1.0f32, 1.0], [1.0, 1.0]])?; // "backward" on the model's side
    opt.step()?; // the optimizer updates the one value both handles see
    assert_eq!(model_side.value()[[0, 0]], 0.9);

    // Identity, not value: equal numbers are not the same parameter.
    let twin = Param::new(array![[0.9f32, 1.9], [2.9, 3.9]]);
    assert!(w == model_side && w != twin);
    assert_eq!(*twin.value(), *w.value());
    // ANCHOR_END: shared
    Ok(())
}

#[test]
fn values_and_gradients_are_read_and_written_through_guards() -> Result {
    // ANCHOR: guards
    let w = Param::new(Array2::<f64>::zeros((2, 3)));
    {
        let mut v = w.value_mut(); // a write guard: the value is locked until it drops
        v[[0, 1]] = 5.0;
        v.slice_mut(s![1, ..]).fill(1.0); // the second row
    } // dropped here
    let total: f64 = w.value().sum(); // a read guard, dropped at the end of the statement
    assert_eq!(total, 8.0);

    w.set_value(Array2::from_elem((2, 3), 0.5))?; // replace the whole value
    let copy = w.to_array(); // an owned copy, no guard held
    assert_eq!(copy.shape(), [2, 3]);

    // Shapes never change: a value or gradient of another shape is refused where it is set.
    let err = w.set_grad(Array1::<f64>::zeros(6)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gradient of shape [6] does not match the parameter's shape [2, 3]"
    );
    assert!(!w.has_grad());
    // ANCHOR_END: guards
    Ok(())
}

#[test]
fn names_are_all_or_none_and_derived_values_are_not_trainable() -> Result {
    // ANCHOR: names
    let weight = Param::named("fc.weight", array![1.0f32, 2.0]);
    let bias = Param::named("fc.bias", array![0.0f32]);
    let opt = Sgd::new([weight.clone(), bias], SgdOptions::new().lr(0.1))?;
    assert_eq!(opt.params(0)?[0].name(), Some("fc.weight"));

    // Names are all or none, and unique, so that a checkpoint can be matched by name.
    let anonymous = Param::new(array![1.0f32]);
    let err = Sgd::new([weight.clone(), anonymous], SgdOptions::new().lr(0.1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter 1 of group 0 has no name but other parameters do: \
         name every parameter of an optimizer or none, so that checkpoints can be matched by name"
    );

    // A derived value (torch's non-leaf tensor) can be shared, but not optimized.
    let scale = Param::derived(array![2.0f32]);
    let err = Sgd::new([scale], SgdOptions::new().lr(0.1)).unwrap_err();
    assert!(matches!(err, Error::NonTrainableParam { .. }));
    // ANCHOR_END: names
    Ok(())
}

// ANCHOR: model
/// A linear layer's parameters.
struct Linear {
    weight: Param<f32>,
    bias: Param<f32>,
}

impl Linear {
    fn new(name: &str, inputs: usize, outputs: usize) -> Self {
        Linear {
            weight: Param::named(format!("{name}.weight"), Array2::from_elem((outputs, inputs), 0.1)),
            bias: Param::named(format!("{name}.bias"), Array1::zeros(outputs)),
        }
    }

    /// torch's `module.parameters()`.
    fn parameters(&self) -> Vec<Param<f32>> {
        vec![self.weight.clone(), self.bias.clone()]
    }
}

/// A model with a feature extractor and a classifier, as in torch's documentation.
struct Model {
    base: Linear,
    classifier: Linear,
}
// ANCHOR_END: model

fn model() -> Model {
    Model {
        base: Linear::new("base", 8, 4),
        classifier: Linear::new("classifier", 4, 2),
    }
}

#[test]
fn per_layer_learning_rates() -> Result {
    let model = model();
    // ANCHOR: per_layer
    // torch: optim.SGD([{'params': model.base.parameters(), 'lr': 1e-2},
    //                   {'params': model.classifier.parameters()}], lr=1e-3, momentum=0.9)
    let opt = Sgd::with_groups(
        [
            ParamGroup::new(model.base.parameters()).options(SgdOptions::new().lr(1e-2)),
            ParamGroup::new(model.classifier.parameters()),
        ],
        SgdOptions::new().lr(1e-3).momentum(0.9),
    )?;
    assert_eq!(opt.hyperparameters(0)?.lr, 1e-2); // the group's own
    assert_eq!(opt.hyperparameters(1)?.lr, 1e-3); // the optimizer's
    assert_eq!(opt.hyperparameters(0)?.momentum, 0.9); // every group: from the optimizer's options
    assert_eq!(opt.defaults().lr, Some(1e-3));
    // ANCHOR_END: per_layer
    Ok(())
}

#[test]
fn options_change_while_training() -> Result {
    let model = model();
    // ANCHOR: set_options
    let mut opt = Adam::with_groups(
        [
            ParamGroup::new(model.base.parameters()),
            ParamGroup::new(model.classifier.parameters()),
        ],
        AdamOptions::new().lr(1e-3),
    )?;
    // Typed: lay overrides over group 0's options (torch: param_groups[0]['lr'] = 5e-4).
    opt.set_options(0, &AdamOptions::new().lr(5e-4).weight_decay(1e-4))?;
    // Typed, relative to the current values.
    opt.update_hyperparameters(1, |o| o.lr *= 0.1)?;
    // By name, as a config file or a scheduler gives it.
    opt.set_option(1, "betas", DictValue::List(vec![0.8.into(), 0.99.into()]))?;
    assert_eq!(opt.hyperparameters(0)?.lr, 5e-4);
    assert_eq!(opt.option(1, "lr")?, DictValue::Float(1e-4));
    assert_eq!(opt.hyperparameters(1)?.betas, (0.8, 0.99));

    // Every change is checked, and a rejected change changes nothing.
    let err = opt.update_hyperparameters(1, |o| o.betas.1 = 1.0).unwrap_err();
    assert_eq!(err.to_string(), "group 1: invalid beta parameter at index 1: 1.0");
    let err = opt.set_option(0, "lr", -1.0).unwrap_err();
    assert_eq!(err.to_string(), "group 0: invalid learning rate: -1.0");
    let err = opt.set_option(0, "learning_rate", 0.1).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("group 0: adam has no option `learning_rate`")
    );
    assert_eq!(opt.hyperparameters(1)?.betas, (0.8, 0.99));
    // ANCHOR_END: set_options
    Ok(())
}

// ANCHOR: schedule
/// Step decay, written once for every optimizer that has an `lr`: multiplies every
/// group's learning rate by `gamma` every `step_size` epochs (torch's `StepLR`).
fn step_lr(opt: &mut dyn DynOptimizer<f32>, epoch: usize, step_size: usize, gamma: f64) -> Result<(), Error> {
    if epoch > 0 && epoch.is_multiple_of(step_size) {
        for group in 0..opt.num_groups() {
            let lr = opt.lr(group)?;
            opt.set_lr(group, lr * gamma)?;
        }
    }
    Ok(())
}

#[test]
fn a_schedule_for_any_optimizer() -> Result {
    let model = model();
    let sgd = Sgd::new(model.base.parameters(), SgdOptions::new().lr(0.1))?;
    let adam = Adam::new(model.classifier.parameters(), AdamOptions::new().lr(0.01))?;
    let mut optimizers: Vec<Box<dyn DynOptimizer<f32>>> = vec![Box::new(sgd), Box::new(adam)];
    for epoch in 0..100 {
        for opt in &mut optimizers {
            // ... train one epoch with `opt.zero_grad()` and `opt.step()` ...
            step_lr(opt.as_mut(), epoch, 30, 0.1)?;
        }
    }
    assert!((optimizers[0].lr(0)? - 1e-4).abs() < 1e-15); // decayed at epochs 30, 60 and 90
    assert!((optimizers[1].lr(0)? - 1e-5).abs() < 1e-15);
    Ok(())
}
// ANCHOR_END: schedule

#[test]
fn an_optimizer_chosen_by_name() -> Result {
    let model = model();
    // ANCHOR: registry
    // From a config file: the optimizer's name and its options, as torch spells them.
    let defaults = [("lr", DictValue::Float(0.01)), ("momentum", DictValue::Float(0.9))]
        .into_iter()
        .collect();
    let mut opt = registry::build::<f32>("sgd", vec![(model.base.parameters(), Default::default())], &defaults)?;
    assert_eq!((opt.kind(), opt.lr(0)?), ("sgd", 0.01));
    opt.step()?; // no gradients yet: every parameter is skipped
    // ANCHOR_END: registry
    Ok(())
}

#[test]
fn a_group_added_later_unfreezes_a_layer() -> Result {
    let model = model();
    let set_grads = |m: &Model| -> Result {
        for p in m.base.parameters().iter().chain(&m.classifier.parameters()) {
            p.set_grad(p.value().mapv(|_| 0.5))?;
        }
        Ok(())
    };
    // ANCHOR: unfreeze
    // Fine-tuning: train the classifier alone first; the base stays frozen.
    let mut opt = Adam::new(model.classifier.parameters(), AdamOptions::new().lr(1e-3))?;
    for _ in 0..10 {
        opt.zero_grad()?;
        set_grads(&model)?; // backward computes every gradient ...
        opt.step()?; // ... but only the classifier's parameters are in the optimizer
    }
    assert_eq!(model.base.weight.value()[[0, 0]], 0.1); // untouched

    // Then unfreeze the base with a smaller learning rate (torch's add_param_group).
    opt.add_param_group(ParamGroup::new(model.base.parameters()).options(AdamOptions::new().lr(1e-4)))?;
    opt.zero_grad()?;
    set_grads(&model)?;
    opt.step()?;
    assert!(model.base.weight.value()[[0, 0]] < 0.1);
    assert_eq!(opt.num_groups(), 2);

    // A parameter belongs to one group only.
    let err = opt
        .add_param_group(ParamGroup::new([model.base.bias.clone()]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter 0 of group 2 (\"base.bias\") is already in group 1 (as its parameter 1): \
         a parameter may belong to one group only"
    );
    // ANCHOR_END: unfreeze
    Ok(())
}
