//! Rust element types a tensor's data can be read into, and the exact conversions between them.

use half::{bf16, f16};

use super::DType;

mod sealed {
    pub trait Sealed {}
}

/// A Rust type a tensor's data can be copied into: `f64`, `f32`, [`f16`](struct@f16), [`bf16`](struct@bf16), `i64`,
/// `i32`, `i16`, `i8`, `u8`, `bool`.
///
/// Only exact conversions are made, the way torch never silently narrows: a type reads
/// its own dtype and the dtypes whose every value it represents (`f64` reads `float64`,
/// `float32`, `float16` and `bfloat16`; `f32` reads `float32`, `float16`, `bfloat16`; `i64`
/// reads every integer dtype; ...). Anything else is [`Error::DTypeMismatch`](crate::Error::DTypeMismatch).
pub trait Element: Copy + bytemuck::NoUninit + sealed::Sealed {
    /// The dtype whose storage holds exactly this type.
    const DTYPE: DType;

    /// Fills `dst` from `src`, little-endian elements of `dtype` (`src.len()` is
    /// `dst.len() * dtype.element_size()`); `false` if `dtype` does not convert exactly.
    #[doc(hidden)]
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool;
}

/// One pass over whole elements; the chunks are exact by construction, and `zip` stops at
/// the shorter side, so nothing here can index out of bounds.
fn fill<const N: usize, T>(src: &[u8], dst: &mut [T], read: impl Fn([u8; N]) -> T) -> bool {
    let (chunks, _) = src.as_chunks::<N>();
    for (d, chunk) in dst.iter_mut().zip(chunks) {
        *d = read(*chunk);
    }
    true
}

impl sealed::Sealed for f64 {}
impl Element for f64 {
    const DTYPE: DType = DType::Float64;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        match dtype {
            DType::Float64 => fill(src, dst, f64::from_le_bytes),
            DType::Float32 => fill(src, dst, |b| f64::from(f32::from_le_bytes(b))),
            DType::Float16 => fill(src, dst, |b| f16::from_le_bytes(b).to_f64()),
            DType::BFloat16 => fill(src, dst, |b| bf16::from_le_bytes(b).to_f64()),
            _ => false,
        }
    }
}

impl sealed::Sealed for f32 {}
impl Element for f32 {
    const DTYPE: DType = DType::Float32;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        match dtype {
            DType::Float32 => fill(src, dst, f32::from_le_bytes),
            DType::Float16 => fill(src, dst, |b| f16::from_le_bytes(b).to_f32()),
            DType::BFloat16 => fill(src, dst, |b| bf16::from_le_bytes(b).to_f32()),
            _ => false,
        }
    }
}

impl sealed::Sealed for f16 {}
impl Element for f16 {
    const DTYPE: DType = DType::Float16;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        dtype == DType::Float16 && fill(src, dst, f16::from_le_bytes)
    }
}

impl sealed::Sealed for bf16 {}
impl Element for bf16 {
    const DTYPE: DType = DType::BFloat16;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        dtype == DType::BFloat16 && fill(src, dst, bf16::from_le_bytes)
    }
}

impl sealed::Sealed for i64 {}
impl Element for i64 {
    const DTYPE: DType = DType::Int64;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        match dtype {
            DType::Int64 => fill(src, dst, i64::from_le_bytes),
            DType::Int32 => fill(src, dst, |b| i64::from(i32::from_le_bytes(b))),
            DType::Int16 => fill(src, dst, |b| i64::from(i16::from_le_bytes(b))),
            DType::Int8 => fill(src, dst, |b| i64::from(i8::from_le_bytes(b))),
            DType::UInt8 => fill(src, dst, |[b]: [u8; 1]| i64::from(b)),
            _ => false,
        }
    }
}

impl sealed::Sealed for i32 {}
impl Element for i32 {
    const DTYPE: DType = DType::Int32;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        match dtype {
            DType::Int32 => fill(src, dst, i32::from_le_bytes),
            DType::Int16 => fill(src, dst, |b| i32::from(i16::from_le_bytes(b))),
            DType::Int8 => fill(src, dst, |b| i32::from(i8::from_le_bytes(b))),
            DType::UInt8 => fill(src, dst, |[b]: [u8; 1]| i32::from(b)),
            _ => false,
        }
    }
}

impl sealed::Sealed for i16 {}
impl Element for i16 {
    const DTYPE: DType = DType::Int16;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        match dtype {
            DType::Int16 => fill(src, dst, i16::from_le_bytes),
            DType::Int8 => fill(src, dst, |b| i16::from(i8::from_le_bytes(b))),
            DType::UInt8 => fill(src, dst, |[b]: [u8; 1]| i16::from(b)),
            _ => false,
        }
    }
}

impl sealed::Sealed for i8 {}
impl Element for i8 {
    const DTYPE: DType = DType::Int8;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        dtype == DType::Int8 && fill(src, dst, i8::from_le_bytes)
    }
}

impl sealed::Sealed for u8 {}
impl Element for u8 {
    const DTYPE: DType = DType::UInt8;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        dtype == DType::UInt8 && fill(src, dst, |[b]: [u8; 1]| b)
    }
}

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn convert(dtype: DType, src: &[u8], dst: &mut [Self]) -> bool {
        // torch stores 0 or 1; any other byte reads as true, as a C++ bool cast would.
        dtype == DType::Bool && fill(src, dst, |[b]: [u8; 1]| b != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_float_conversions_are_exact() {
        let mut out = [0.0f64; 2];
        let src: Vec<u8> = [0.1f32, -3.5f32].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(f64::convert(DType::Float32, &src, &mut out));
        assert_eq!(out, [f64::from(0.1f32), -3.5]);

        let half_bits = f16::from_f32(0.333).to_le_bytes();
        let mut one = [0.0f32];
        assert!(f32::convert(DType::Float16, &half_bits, &mut one));
        assert_eq!(one[0], f16::from_f32(0.333).to_f32());

        let bf = bf16::from_f32(-2.75).to_le_bytes();
        assert!(f32::convert(DType::BFloat16, &bf, &mut one));
        assert_eq!(one[0], -2.75);
    }

    #[test]
    fn narrowing_and_cross_kind_conversions_are_refused() {
        let mut f = [0.0f32];
        assert!(!f32::convert(DType::Float64, &[0; 8], &mut f));
        assert!(!f32::convert(DType::Int32, &[0; 4], &mut f));
        let mut i = [0i32];
        assert!(!i32::convert(DType::Int64, &[0; 8], &mut i));
        assert!(!i32::convert(DType::Float32, &[0; 4], &mut i));
        let mut b = [false];
        assert!(!bool::convert(DType::UInt8, &[1], &mut b));
    }

    #[test]
    fn integers_sign_extend() {
        let mut out = [0i64; 3];
        assert!(i64::convert(DType::Int8, &[0xff, 0x7f, 0x80], &mut out));
        assert_eq!(out, [-1, 127, -128]);
        assert!(i64::convert(DType::UInt8, &[0xff, 0x7f, 0x80], &mut out));
        assert_eq!(out, [255, 127, 128]);
        let mut flags = [false; 3];
        assert!(bool::convert(DType::Bool, &[0, 1, 2], &mut flags));
        assert_eq!(flags, [false, true, true]);
    }
}
