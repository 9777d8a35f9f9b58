//! What the unit tests of several optimizers share.

use optim_core::ndarray::array;
use optim_core::{DictTensor, DictValue, Float, Optimizer, Param, Rule};

/// Builds `R` over one `f32` parameter from each case's options and checks the outcome: the
/// message of the first check the defaults fail (without the `defaults: ` scope), or `None`
/// when they are valid.
pub(crate) fn assert_checks<R: Rule>(cases: impl IntoIterator<Item = (R::Options, Option<&'static str>)>) {
    for (options, expected) in cases {
        let built = Optimizer::<R, f32>::new([Param::new(array![1.0f32])], options.clone());
        let message = built.err().map(|e| e.to_string());
        let expected = expected.map(|m| format!("defaults: {m}"));
        assert_eq!(message, expected, "{options:?}");
    }
}

/// The state dict entry `key` of parameter `param` (numbered as in the state dict).
pub(crate) fn state_entry<R: Rule, A: Float>(
    opt: &Optimizer<R, A>,
    param: usize,
    key: &str,
) -> Option<DictValue<'static>> {
    let sd = opt.state_dict().into_owned();
    sd.state.get(&param)?.get(key).cloned()
}

/// A 0-d float32 tensor entry, as torch keeps `step` and other scalars.
pub(crate) fn f32_scalar(x: f32) -> DictValue<'static> {
    DictValue::Tensor(DictTensor::scalar(x))
}
