//! A tensor: a view (shape, strides, offset) of storage bytes borrowed from the file or the caller.

use std::borrow::Cow;
use std::fmt;

use super::{DType, Element};
use crate::{Error, Result};

/// A tensor as `torch.load` rebuilds it: a dtype, a view (shape, strides and storage offset,
/// in elements) and the storage the view reads, whose bytes are borrowed, never copied.
///
/// Read from a file, the storage is the bytes of its `data/<key>` record inside the mapped
/// file, so each tensor's data can be copied exactly once, straight into its destination
/// ([`Tensor::copy_into`]), or used in place ([`Tensor::contiguous_bytes`]). Written to a
/// file, the storage is streamed from the slice the caller gave.
///
/// Every view is checked against its storage when the tensor is built: any element the
/// view can reach lies inside the storage.
///
/// ```
/// use optim_checkpoint::pt::Tensor;
///
/// let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let t = Tensor::from_slice(&[2, 3], &data)?;
/// assert_eq!(t.to_vec::<f64>()?, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
///
/// // The transpose: same storage, other strides.
/// let tt = Tensor::strided(t.dtype(), vec![3, 2], vec![1, 3], 0, t.storage_bytes())?;
/// assert!(!tt.is_contiguous());
/// assert_eq!(tt.to_vec::<f32>()?, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// # Ok::<(), optim_checkpoint::Error>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor<'a> {
    dtype: DType,
    shape: Vec<usize>,
    strides: Vec<usize>,
    storage_offset: usize,
    storage: &'a [u8],
    location: Cow<'a, str>,
    requires_grad: bool,
    parameter: bool,
}

impl<'a> Tensor<'a> {
    /// A view of `storage` (little-endian `dtype` elements) with the given shape, strides and
    /// offset, all in elements; on the CPU, not requiring grad, not a parameter.
    ///
    /// Fails if the storage is not a whole number of elements, if shape and strides differ in
    /// length, or if the view reaches past the storage.
    pub fn strided(
        dtype: DType,
        shape: Vec<usize>,
        strides: Vec<usize>,
        storage_offset: usize,
        storage: &'a [u8],
    ) -> Result<Self> {
        let size = dtype.element_size();
        if !storage.len().is_multiple_of(size) {
            return Err(Error::DataLength {
                dtype,
                len: storage.len(),
                needed: storage.len().div_ceil(size),
            });
        }
        check_view(&shape, &strides, storage_offset, storage.len() / size)?;
        Ok(Tensor {
            dtype,
            shape,
            strides,
            storage_offset,
            storage,
            location: Cow::Borrowed("cpu"),
            requires_grad: false,
            parameter: false,
        })
    }

    /// A contiguous (row-major) tensor over exactly `bytes`, little-endian `dtype` elements.
    pub fn from_bytes(dtype: DType, shape: &[usize], bytes: &'a [u8]) -> Result<Self> {
        let numel = checked_numel(shape).ok_or_else(|| too_many_elements(shape, bytes.len() / dtype.element_size()))?;
        let needed = numel.checked_mul(dtype.element_size());
        if needed != Some(bytes.len()) {
            return Err(Error::DataLength {
                dtype,
                len: bytes.len(),
                needed: numel,
            });
        }
        Tensor::strided(dtype, shape.to_vec(), contiguous_strides(shape), 0, bytes)
    }

    /// A contiguous (row-major) tensor over exactly `data`, without copying it.
    /// `shape` `[]` makes a 0-d tensor of one element.
    ///
    /// Only on little-endian targets, where a slice's memory is already torch's byte order;
    /// elsewhere build the bytes and use [`Tensor::from_bytes`].
    #[cfg(target_endian = "little")]
    pub fn from_slice<T: Element>(shape: &[usize], data: &'a [T]) -> Result<Self> {
        Tensor::from_bytes(T::DTYPE, shape, bytemuck::cast_slice(data))
    }

    /// The same tensor with `requires_grad` set, as torch will rebuild it.
    pub fn with_requires_grad(mut self, requires_grad: bool) -> Self {
        self.requires_grad = requires_grad;
        self
    }

    /// The same tensor, saved as a `torch.nn.Parameter` (`true`) or a plain tensor (`false`).
    pub fn with_parameter(mut self, parameter: bool) -> Self {
        self.parameter = parameter;
        self
    }

    /// The same tensor with another storage location tag (`cpu`, `cuda:0`, ...), which
    /// `torch.load` uses to place the storage unless given a `map_location`.
    pub fn with_location(mut self, location: impl Into<Cow<'a, str>>) -> Self {
        self.location = location.into();
        self
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The sizes of the dimensions; `[]` for a 0-d tensor.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The index of the first element in the storage, in elements.
    pub fn storage_offset(&self) -> usize {
        self.storage_offset
    }

    /// The whole storage the view reads, as little-endian bytes borrowed from the file (or
    /// from the caller, for tensors built to be written).
    pub fn storage_bytes(&self) -> &'a [u8] {
        self.storage
    }

    /// The storage's location tag as saved (`cpu`, `cuda:0`, ...).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether torch rebuilds the tensor with `requires_grad`.
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }

    /// Whether the tensor was saved as a `torch.nn.Parameter`.
    pub fn is_parameter(&self) -> bool {
        self.parameter
    }

    /// The number of elements (1 for a 0-d tensor).
    pub fn numel(&self) -> usize {
        // Checked when the view was built: the product fits, or a size is zero.
        checked_numel(&self.shape).unwrap_or(0)
    }

    /// Whether the elements lie in row-major order without gaps, as torch's `is_contiguous`
    /// says (dimensions of size 1 may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if size != 1 && stride != expected {
                return false;
            }
            expected = expected.saturating_mul(size);
        }
        true
    }

    /// The view's bytes in place, if the tensor is contiguous: borrowed from the mapped
    /// file, ready to be copied once to wherever they go.
    pub fn contiguous_bytes(&self) -> Option<&'a [u8]> {
        if !self.is_contiguous() {
            return None;
        }
        let size = self.dtype.element_size();
        let start = self.storage_offset.checked_mul(size)?;
        let end = start.checked_add(self.numel().checked_mul(size)?)?;
        self.storage.get(start..end)
    }

    /// Copies the elements in row-major order into `dst`, converting exactly (see
    /// [`Element`]); strided views are gathered run by run.
    pub fn copy_into<T: Element>(&self, dst: &mut [T]) -> Result<()> {
        if dst.len() != self.numel() {
            return Err(Error::LengthMismatch {
                expected: self.numel(),
                found: dst.len(),
            });
        }
        if !T::convert(self.dtype, &[], &mut []) {
            return Err(Error::DTypeMismatch {
                requested: T::DTYPE.name(),
                found: self.dtype,
            });
        }
        let size = self.dtype.element_size();
        let mut written = 0;
        self.for_each_run(|start, len| {
            let src = start
                .checked_mul(size)
                .zip((start + len).checked_mul(size))
                .and_then(|(from, to)| self.storage.get(from..to));
            let out = dst.get_mut(written..written + len);
            let (Some(src), Some(out)) = (src, out) else {
                // Unreachable: the view was checked against the storage when it was built.
                return false;
            };
            T::convert(self.dtype, src, out);
            written += len;
            true
        });
        if written != dst.len() {
            return Err(self.out_of_bounds());
        }
        Ok(())
    }

    /// The elements in row-major order, converted exactly (see [`Element`]).
    pub fn to_vec<T: Element + Default>(&self) -> Result<Vec<T>> {
        let mut out = vec![T::default(); self.numel()];
        self.copy_into(&mut out)?;
        Ok(out)
    }

    fn out_of_bounds(&self) -> Error {
        Error::ViewOutOfBounds {
            shape: self.shape.clone(),
            strides: self.strides.clone(),
            storage_offset: self.storage_offset,
            storage_len: self.storage.len() / self.dtype.element_size(),
        }
    }

    /// Calls `run(first_element, count)` for each stretch of elements that lie next to each
    /// other in the storage, in row-major order; stops early when `run` returns `false`.
    fn for_each_run(&self, mut run: impl FnMut(usize, usize) -> bool) {
        let numel = self.numel();
        if numel == 0 {
            return;
        }
        if self.is_contiguous() {
            run(self.storage_offset, numel);
            return;
        }
        // The innermost dimension is one run when its elements are adjacent.
        let ndim = self.shape.len();
        let (run_len, outer) = match (self.shape.last(), self.strides.last()) {
            (Some(&size), Some(1)) => (size, ndim - 1),
            _ => (1, ndim),
        };
        let mut index = vec![0usize; outer];
        loop {
            // In bounds and without overflow: checked when the view was built.
            let start = self.storage_offset
                + index
                    .iter()
                    .zip(&self.strides)
                    .map(|(i, stride)| i * stride)
                    .sum::<usize>();
            if !run(start, run_len) {
                return;
            }
            let mut dim = outer;
            loop {
                if dim == 0 {
                    return;
                }
                dim -= 1;
                index[dim] += 1;
                if index[dim] < self.shape[dim] {
                    break;
                }
                index[dim] = 0;
            }
        }
    }
}

impl fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .field("strides", &self.strides)
            .field("storage_offset", &self.storage_offset)
            .field("storage_bytes", &self.storage.len())
            .field("location", &self.location)
            .field("requires_grad", &self.requires_grad)
            .field("parameter", &self.parameter)
            .finish()
    }
}

/// Row-major strides for `shape`.
pub(crate) fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut step = 1usize;
    for (stride, &size) in strides.iter_mut().zip(shape).rev() {
        *stride = step;
        step = step.saturating_mul(size.max(1));
    }
    strides
}

fn checked_numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |n, &size| n.checked_mul(size))
}

fn too_many_elements(shape: &[usize], storage_len: usize) -> Error {
    Error::ViewOutOfBounds {
        shape: shape.to_vec(),
        strides: contiguous_strides(shape),
        storage_offset: 0,
        storage_len,
    }
}

/// Checks that every element the view can reach lies inside a storage of `storage_len` elements,
/// with no overflow anywhere on the way.
pub(crate) fn check_view(shape: &[usize], strides: &[usize], storage_offset: usize, storage_len: usize) -> Result<()> {
    if shape.len() != strides.len() {
        return Err(Error::RankMismatch {
            shape_len: shape.len(),
            strides_len: strides.len(),
        });
    }
    let out_of_bounds = || Error::ViewOutOfBounds {
        shape: shape.to_vec(),
        strides: strides.to_vec(),
        storage_offset,
        storage_len,
    };
    let numel = checked_numel(shape).ok_or_else(out_of_bounds)?;
    if numel == 0 {
        return Ok(());
    }
    let last = shape
        .iter()
        .zip(strides)
        .try_fold(storage_offset, |acc, (&size, &stride)| {
            acc.checked_add((size - 1).checked_mul(stride)?)
        });
    match last {
        Some(last) if last < storage_len => Ok(()),
        _ => Err(out_of_bounds()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_f32(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn views_past_the_storage_are_refused() {
        let storage = bytes_f32(&[0.0; 6]);
        assert!(Tensor::strided(DType::Float32, vec![2, 3], vec![3, 1], 0, &storage).is_ok());
        let err = Tensor::strided(DType::Float32, vec![2, 3], vec![3, 1], 1, &storage).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ViewOutOfBounds {
                    storage_len: 6,
                    storage_offset: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = Tensor::strided(DType::Float32, vec![2], vec![usize::MAX], 0, &storage).unwrap_err();
        assert!(matches!(err, Error::ViewOutOfBounds { .. }), "{err}");
        let err = Tensor::strided(DType::Float32, vec![2], vec![1, 1], 0, &storage).unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch {
                    shape_len: 1,
                    strides_len: 2
                }
            ),
            "{err}"
        );
        let err = Tensor::strided(DType::Float32, vec![1], vec![1], 0, &storage[..5]).unwrap_err();
        assert!(matches!(err, Error::DataLength { len: 5, .. }), "{err}");
        let huge = vec![usize::MAX, usize::MAX];
        let err = Tensor::strided(DType::Float32, huge, vec![0, 0], 0, &storage).unwrap_err();
        assert!(matches!(err, Error::ViewOutOfBounds { .. }), "{err}");
    }

    #[test]
    fn empty_views_need_no_storage() {
        let t = Tensor::strided(DType::Float64, vec![0, 5], vec![5, 1], 7, &[]).unwrap();
        assert_eq!(t.numel(), 0);
        assert_eq!(t.to_vec::<f64>().unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn strided_views_read_in_row_major_order() {
        // storage 0..12 as a 3x4 matrix; read column 1..3 of rows 0 and 2 (strides 8, 1, offset 1).
        let storage = bytes_f32(&(0..12).map(|v| v as f32).collect::<Vec<_>>());
        let t = Tensor::strided(DType::Float32, vec![2, 2], vec![8, 1], 1, &storage).unwrap();
        assert!(!t.is_contiguous());
        assert_eq!(t.contiguous_bytes(), None);
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 9.0, 10.0]);
        // A transposed view: innermost stride is not 1.
        let tt = Tensor::strided(DType::Float32, vec![4, 3], vec![1, 4], 0, &storage).unwrap();
        assert_eq!(
            tt.to_vec::<f64>().unwrap(),
            vec![0.0, 4.0, 8.0, 1.0, 5.0, 9.0, 2.0, 6.0, 10.0, 3.0, 7.0, 11.0]
        );
        // Broadcast (stride 0) repeats the element.
        let b = Tensor::strided(DType::Float32, vec![3], vec![0], 5, &storage).unwrap();
        assert_eq!(b.to_vec::<f32>().unwrap(), vec![5.0; 3]);
    }

    #[test]
    fn contiguous_views_are_borrowed_in_place() {
        let storage = bytes_f32(&[1.0, 2.0, 3.0, 4.0]);
        let t = Tensor::strided(DType::Float32, vec![2, 1], vec![1, 7], 2, &storage).unwrap();
        assert!(t.is_contiguous(), "size-1 dimensions may have any stride");
        assert_eq!(t.contiguous_bytes(), Some(&storage[8..16]));
        let scalar = Tensor::strided(DType::Float32, vec![], vec![], 3, &storage).unwrap();
        assert_eq!(scalar.numel(), 1);
        assert_eq!(scalar.to_vec::<f32>().unwrap(), vec![4.0]);
    }

    #[test]
    fn copy_into_checks_length_and_dtype() {
        let storage = bytes_f32(&[1.0, 2.0]);
        let t = Tensor::from_bytes(DType::Float32, &[2], &storage).unwrap();
        let mut short = [0.0f32; 1];
        assert!(matches!(
            t.copy_into(&mut short),
            Err(Error::LengthMismatch { expected: 2, found: 1 })
        ));
        let mut ints = [0i64; 2];
        assert!(matches!(
            t.copy_into(&mut ints),
            Err(Error::DTypeMismatch {
                requested: "int64",
                found: DType::Float32
            })
        ));
        assert!(matches!(
            Tensor::from_bytes(DType::Float32, &[3], &storage),
            Err(Error::DataLength { needed: 3, len: 8, .. })
        ));
    }

    #[test]
    fn typed_slices_are_viewed_without_copying() {
        let data = [7i64, -8];
        let t = Tensor::from_slice(&[2], &data).unwrap();
        assert_eq!(t.dtype(), DType::Int64);
        assert_eq!(t.storage_bytes().as_ptr(), data.as_ptr().cast::<u8>());
        assert_eq!(t.to_vec::<i64>().unwrap(), vec![7, -8]);
    }
}
