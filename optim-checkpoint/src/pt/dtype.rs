//! Element types, as torch's legacy storage classes name them.

use std::fmt;

/// The element type of a tensor's storage.
///
/// These are the dtypes that torch.save writes with a legacy storage class
/// (`torch.FloatStorage`, ...), the classes on torch's `weights_only` allowlist, less the
/// quantized ones. Data is stored little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// `torch.float64`, stored by `DoubleStorage`.
    Float64,
    /// `torch.float32`, stored by `FloatStorage`.
    Float32,
    /// `torch.float16`, stored by `HalfStorage`.
    Float16,
    /// `torch.bfloat16`, stored by `BFloat16Storage`.
    BFloat16,
    /// `torch.int64`, stored by `LongStorage`.
    Int64,
    /// `torch.int32`, stored by `IntStorage`.
    Int32,
    /// `torch.int16`, stored by `ShortStorage`.
    Int16,
    /// `torch.int8`, stored by `CharStorage`.
    Int8,
    /// `torch.uint8`, stored by `ByteStorage` (and `UntypedStorage`, whose elements are bytes).
    UInt8,
    /// `torch.bool`, stored by `BoolStorage`, one byte per element.
    Bool,
    /// `torch.complex64`, stored by `ComplexFloatStorage`: two `f32` per element.
    Complex64,
    /// `torch.complex128`, stored by `ComplexDoubleStorage`: two `f64` per element.
    Complex128,
}

/// (dtype, torch's name, storage class, element size in bytes)
const TABLE: [(DType, &str, &str, usize); 12] = [
    (DType::Float64, "float64", "DoubleStorage", 8),
    (DType::Float32, "float32", "FloatStorage", 4),
    (DType::Float16, "float16", "HalfStorage", 2),
    (DType::BFloat16, "bfloat16", "BFloat16Storage", 2),
    (DType::Int64, "int64", "LongStorage", 8),
    (DType::Int32, "int32", "IntStorage", 4),
    (DType::Int16, "int16", "ShortStorage", 2),
    (DType::Int8, "int8", "CharStorage", 1),
    (DType::UInt8, "uint8", "ByteStorage", 1),
    (DType::Bool, "bool", "BoolStorage", 1),
    (DType::Complex64, "complex64", "ComplexFloatStorage", 8),
    (DType::Complex128, "complex128", "ComplexDoubleStorage", 16),
];

impl DType {
    /// Every dtype, in a fixed order.
    pub const ALL: [DType; 12] = [
        DType::Float64,
        DType::Float32,
        DType::Float16,
        DType::BFloat16,
        DType::Int64,
        DType::Int32,
        DType::Int16,
        DType::Int8,
        DType::UInt8,
        DType::Bool,
        DType::Complex64,
        DType::Complex128,
    ];

    fn row(self) -> (DType, &'static str, &'static str, usize) {
        // Every variant has exactly one row; the test below checks it.
        TABLE[self as usize]
    }

    /// Bytes per element.
    pub fn element_size(self) -> usize {
        self.row().3
    }

    /// torch's name without the `torch.` prefix: `float32`, `int64`, `bool`, ...
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The legacy storage class torch.save names for this dtype, without the `torch.` module:
    /// `FloatStorage`, `LongStorage`, ...
    pub fn storage_class(self) -> &'static str {
        self.row().2
    }

    /// The dtype of a storage class in module `torch` (`FloatStorage` → `Float32`).
    /// `UntypedStorage` holds bytes, as torch reads it. Quantized classes give `None`.
    pub fn from_storage_class(class: &str) -> Option<DType> {
        if class == "UntypedStorage" {
            return Some(DType::UInt8);
        }
        TABLE.iter().find(|row| row.2 == class).map(|row| row.0)
    }

    /// The dtype of one of torch's names (`float32` → `Float32`), as [`DType::name`] gives them.
    pub fn from_name(name: &str) -> Option<DType> {
        TABLE.iter().find(|row| row.1 == name).map(|row| row.0)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_follow_the_enum_order() {
        for (i, dtype) in DType::ALL.iter().enumerate() {
            assert_eq!(TABLE[i].0, *dtype);
            assert_eq!(*dtype as usize, i);
        }
    }

    #[test]
    fn storage_classes_name_torch_dtypes() {
        assert_eq!(DType::from_storage_class("FloatStorage"), Some(DType::Float32));
        assert_eq!(DType::from_storage_class("DoubleStorage"), Some(DType::Float64));
        assert_eq!(DType::from_storage_class("BFloat16Storage"), Some(DType::BFloat16));
        assert_eq!(DType::from_storage_class("UntypedStorage"), Some(DType::UInt8));
        assert_eq!(DType::from_storage_class("QInt8Storage"), None);
        assert_eq!(DType::Complex128.element_size(), 16);
        assert_eq!(DType::Bool.storage_class(), "BoolStorage");
        assert_eq!(DType::from_name("int16"), Some(DType::Int16));
    }
}
