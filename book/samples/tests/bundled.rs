//! The samples of the chapter "The bundled optimizers": building each one, and where they
//! differ from torch (SGD's required `lr`, NaN options, AdamW's decoupled decay, LBFGS's
//! computed `max_eval`).

use std::error::Error as StdError;

use optimizers::ndarray::array;
use optimizers::{
    Adam, AdamOptions, AdamW, AdamWOptions, DictValue, Lbfgs, LbfgsOptions, LineSearch, Param, Sgd, SgdOptions,
};

type Result<T = (), E = Box<dyn StdError>> = std::result::Result<T, E>;

#[test]
fn building_each_optimizer() -> Result {
    let p = || Param::new(array![1.0f32, 2.0]);
    // ANCHOR: build
    // torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True)
    let sgd = Sgd::new([p()], SgdOptions::new().lr(0.1).momentum(0.9).nesterov(true))?;
    // torch.optim.Adam(params, lr=3e-4, betas=(0.9, 0.98), amsgrad=True)
    let adam = Adam::new([p()], AdamOptions::new().lr(3e-4).betas((0.9, 0.98)).amsgrad(true))?;
    // torch.optim.AdamW(params, weight_decay=0.05)
    let adamw = AdamW::new([p()], AdamWOptions::new().weight_decay(0.05))?;
    // torch.optim.LBFGS(params, history_size=10, max_iter=4, line_search_fn="strong_wolfe")
    let options = LbfgsOptions::new()
        .history_size(10)
        .max_iter(4)
        .line_search_fn(LineSearch::StrongWolfe);
    let lbfgs = Lbfgs::new([Param::new(array![1.0f64, 2.0])], options)?;
    // ANCHOR_END: build
    assert_eq!(sgd.hyperparameters(0)?.dampening, 0.0);
    assert_eq!(adam.hyperparameters(0)?.eps, 1e-8);
    assert!(adamw.hyperparameters(0)?.decoupled_weight_decay);
    assert_eq!(lbfgs.hyperparameters(0)?.max_eval, 5); // 4 · 5 / 4
    Ok(())
}

#[test]
fn where_the_bundled_optimizers_differ_from_torch() -> Result {
    let p = || Param::new(array![1.0f32]);
    // ANCHOR: differences
    // SGD's learning rate is required (torch 2.x defaults it to 1e-3).
    let err = Sgd::new([p()], SgdOptions::new().momentum(0.9)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("group 0 does not set the required option `lr`")
    );

    // Messages are lowercase, and a NaN fails every range check: torch's SGD accepts
    // lr, momentum and weight_decay of NaN, and its LBFGS NaN tolerances.
    let err = Sgd::new([p()], SgdOptions::new().lr(f64::NAN)).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid learning rate: NaN");
    let err = Sgd::new([p()], SgdOptions::new().lr(0.1).momentum(f64::NAN)).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid momentum value: NaN");
    let nan_tolerance = LbfgsOptions::new().tolerance_grad(f64::NAN);
    let err = Lbfgs::new([Param::new(array![1.0f64])], nan_tolerance).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: invalid tolerance_grad: NaN (must be at least 0)"
    );
    let err = Adam::new([p()], AdamOptions::new().betas((0.9, 1.0))).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid beta parameter at index 1: 1.0");

    // AdamW's decay is decoupled by definition: Adam is the one with an L2 penalty.
    let err = AdamW::new([p()], AdamWOptions::new().decoupled_weight_decay(false)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: AdamW always decouples weight decay: use Adam for an L2 penalty"
    );

    // Nesterov momentum needs a momentum and no dampening (the same rule as torch's).
    let err = Sgd::new([p()], SgdOptions::new().lr(0.1).nesterov(true)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: Nesterov momentum requires a momentum and zero dampening"
    );

    // LBFGS's max_eval is computed from the max_iter given to the constructor.
    let lbfgs = Lbfgs::new([Param::new(array![1.0f64])], LbfgsOptions::new().max_iter(100))?;
    assert_eq!(lbfgs.option(0, "max_eval")?, DictValue::Int(125));
    // ANCHOR_END: differences
    Ok(())
}
