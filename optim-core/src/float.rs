//! The element types an optimizer works in: `f32` and `f64`.

use std::borrow::Cow;
use std::fmt::{Debug, Display};
use std::iter::Sum;

/// The precision of a tensor, as torch names it in a state dict (`"float32"`, `"float64"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float (`torch.float32`).
    F32,
    /// 64-bit IEEE float (`torch.float64`).
    F64,
}

impl DType {
    /// The name torch gives this dtype: `"float32"` or `"float64"`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    /// Parses torch's name (`"float32"`, `"float64"`) or the short forms `"f32"`, `"f64"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "float32" | "f32" => Some(DType::F32),
            "float64" | "f64" => Some(DType::F64),
            _ => None,
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type of parameters, gradients and state tensors: `f32` or `f64` (sealed).
///
/// Hyperparameters are always `f64` (as Python floats are in torch); scalars derived from
/// them are computed in `f64` and rounded to `A` with [`Float::from_f64`] only where they
/// meet a tensor, which is what keeps `f32` runs within torch's tolerances.
pub trait Float:
    num_traits::Float
    + Default
    + Debug
    + Display
    + Sum
    + Send
    + Sync
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + sealed::Sealed
    + 'static
{
    /// The dtype of this element type.
    const DTYPE: DType;
    /// Rounds an `f64` to this type (exact for `f64`, round-to-nearest for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Widens to `f64` (always exact).
    fn as_f64(self) -> f64;
    /// The elements as little-endian bytes: borrowed on little-endian targets (every
    /// target this crate is tested on), converted on big-endian ones.
    fn as_le_bytes(values: &[Self]) -> Cow<'_, [u8]>;
}

/// `values` as bytes in memory order. Sound for `f32` and `f64`: they have no padding and
/// every bit pattern of a `u8` is valid.
fn memory_bytes<A: Float>(values: &[A]) -> &[u8] {
    // SAFETY: the pointer and length describe exactly the memory of `values`, which stays
    // borrowed for the returned lifetime; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values)) }
}

/// `values` as mutable bytes in memory order. Sound for `f32` and `f64`: every bit pattern
/// written through the bytes is a valid float.
pub(crate) fn memory_bytes_mut<A: Float>(values: &mut [A]) -> &mut [u8] {
    // SAFETY: as `memory_bytes`; the slice is borrowed mutably for the returned lifetime, so
    // nothing else reads the floats while their bytes change.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), size_of_val(values)) }
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn as_le_bytes(values: &[Self]) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            Cow::Borrowed(memory_bytes(values))
        } else {
            Cow::Owned(values.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    fn as_le_bytes(values: &[Self]) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            Cow::Borrowed(memory_bytes(values))
        } else {
            Cow::Owned(values.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_names_round_trip() {
        for d in [DType::F32, DType::F64] {
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_name("float16"), None);
    }

    #[test]
    fn le_bytes_are_the_elements_in_order() {
        assert_eq!(
            &*f32::as_le_bytes(&[1.0f32, -2.0]),
            [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()
        );
        assert_eq!(&*f64::as_le_bytes(&[0.5f64]), 0.5f64.to_le_bytes());
    }

    #[test]
    fn f32_rounds_from_f64() {
        assert_eq!(f32::from_f64(0.1), 0.1f32);
        assert_eq!(0.1f32.as_f64(), 0.1f32 as f64);
    }
}
