//! A variant: a tuple struct wrapping another optimizer, with its own kind, defaults and
//! checks; its options type is its base's, under the generated alias.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::array;
use optimizers::{Optimizer, Param, Sgd, SgdOptions};

/// SGD with Nesterov momentum unless told otherwise.
#[derive(Clone, Debug, Optimizer)]
#[optimizer(
    kind = "nesterov_sgd",
    update = elementwise,
    defaults(momentum = 0.9, nesterov = true),
    check(nesterov, "NesterovSgd always uses Nesterov momentum: use Sgd without it"),
    check(momentum >= 0.5)
)]
pub struct NesterovSgd(pub Sgd);

fn main() {
    // The generated alias is the base's options type.
    let options: SgdOptions = NesterovSgdOptions::new().lr(0.1);
    let p = Param::new(array![1.0f64]);
    let mut opt = NesterovSgd::new([p.clone()], options).expect("valid");
    assert_eq!(opt.kind(), "nesterov_sgd");

    // The variant's defaults, read through `Deref` to the base's hyperparameters.
    let h = opt.hyperparameters(0).expect("group 0");
    assert_eq!((h.lr, h.momentum, h.nesterov, h.dampening), (0.1, 0.9, true, 0.0));

    // The base's update: Nesterov momentum, b = g at the first step, g + 0.9 b.
    p.set_grad(array![2.0]).expect("shape");
    opt.step().expect("step");
    assert_eq!(p.value()[0], 1.0 - 0.1 * (2.0 + 0.9 * 2.0));
    let dict = opt.state_dict();
    assert_eq!(dict.kind.as_deref(), Some("nesterov_sgd"));
    assert_eq!(dict.state[&0].keys().collect::<Vec<_>>(), ["momentum_buffer"]);

    // The variant's checks, with and without a message, at construction and later.
    let q = || [Param::new(array![1.0f64])];
    let error = |options: SgdOptions| NesterovSgd::new(q(), options).expect_err("invalid").to_string();
    assert_eq!(
        error(SgdOptions::new().lr(0.1).nesterov(false)),
        "defaults: NesterovSgd always uses Nesterov momentum: use Sgd without it"
    );
    assert_eq!(
        error(SgdOptions::new().lr(0.1).momentum(0.25)),
        "defaults: invalid momentum: 0.25 (must satisfy `momentum >= 0.5`)"
    );
    assert_eq!(
        opt.set_option(0, "nesterov", false).expect_err("invalid").to_string(),
        "group 0: NesterovSgd always uses Nesterov momentum: use Sgd without it"
    );
    // The base's checks and required options still hold.
    assert_eq!(
        error(SgdOptions::new().lr(0.1).dampening(0.5)),
        "defaults: Nesterov momentum requires a momentum and zero dampening"
    );
    assert_eq!(
        error(SgdOptions::new()),
        "group 0 does not set the required option `lr` and the optimizer has no default for it: set it in the group or in the optimizer's options"
    );

    // A state dict names the variant: the base's does not load into it.
    let sgd = Sgd::new(q(), SgdOptions::new().lr(0.1)).expect("valid");
    let mut fresh = NesterovSgd::new(q(), SgdOptions::new().lr(0.1)).expect("valid");
    assert_eq!(
        fresh.load_state_dict(&sgd.state_dict()).expect_err("other kind").to_string(),
        "the state dict comes from `sgd` and cannot be loaded into `nesterov_sgd`: load it into the optimizer that saved it"
    );
}
