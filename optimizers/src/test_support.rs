//! What the unit tests of several optimizers share.

use optim_core::{DictTensor, DictValue, Float, Optimizer, Rule};

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
