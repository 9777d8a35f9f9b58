//! Per-parameter state: named tensors and scalars (`momentum_buffer`, `step`, `exp_avg`),
//! created on a parameter's first step with a gradient, packed into a state dict under
//! torch's names and unpacked with shape checks and dtype casts.
//!
//! A state is a struct whose fields implement [`StateField`]; `#[derive(State)]` implements
//! [`State`] for it. Field types and what they mean:
//!
//! | field type | in the state dict | shape rule | created as |
//! |---|---|---|---|
//! | `ArrayD<A>` | tensor of the parameter's dtype | the parameter's shape | zeros |
//! | `Vec<A>`, `Array1<A>` | tensor | flat: `[numel]` | zeros |
//! | [`StepCount`] | 0-d float32 tensor (as torch keeps `step`) | a whole number ≥ 0 | `0` |
//! | `f32` | 0-d float32 tensor (torch's float32 scalars: ASGD's `eta`, NAdam's `mu_product`) | — | `0` |
//! | `f64` | number (a Python float) | — | `0` |
//! | `u64`, `usize`, `u32`, `i64` | integer | — | `0` |
//! | `bool` | boolean | — | `false` |
//! | `Vec<Option<f64>>` | list of numbers (or one-element tensors) or `null`s | — | empty |
//! | `Vec<Vec<A>>` | list of flat tensors | each `[numel]` | empty |
//! | `Option<T>` | `T`, or absent | as `T` | `None` |
//!
//! Scalars load from a number or a one-element tensor of either float dtype, and are never
//! cast to the parameters' dtype: a float32 `step` stays a float32 count.
//!
//! A field marked `#[state(flatten)]` packs into several entries: its type implements
//! [`StateEntries`] (LBFGS keeps its curvature pairs in one ring and saves them as torch's
//! `old_dirs`, `old_stps` and `ro`).
//!
//! For an optimizer that sees all parameters as one flat vector (LBFGS), "the parameter's
//! shape" is `[total numel]`.

use ndarray::{Array1, ArrayD, IxDyn};

use crate::dict::{DictTensor, DictValue, Map};
use crate::float::Float;

/// What a state's tensors must match: the parameter's shape and element count.
#[derive(Clone, Copy, Debug)]
pub struct ShapeCtx<'a> {
    /// The parameter's shape (for flat-vector optimizers, `[numel]`).
    pub shape: &'a [usize],
    /// The product of `shape`.
    pub numel: usize,
}

impl<'a> ShapeCtx<'a> {
    /// The context of a parameter of this shape.
    pub fn of(shape: &'a [usize]) -> Self {
        ShapeCtx {
            shape,
            numel: shape.iter().product(),
        }
    }
}

/// Why one state entry could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldError {
    /// The entry is required and absent.
    Missing,
    /// The state dict has an entry the state does not declare.
    Unknown,
    /// The entry has the wrong type.
    Type {
        /// What the field accepts.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A tensor of the wrong shape.
    Shape {
        /// The shape the parameter needs.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// The right type with an impossible value.
    Value(String),
}

/// A [`FieldError`] with the entry it concerns.
#[derive(Clone, Debug, PartialEq)]
pub struct StateError {
    /// The entry's key.
    pub key: String,
    /// What is wrong with it.
    pub error: FieldError,
}

/// One field of a per-parameter state: how it starts, packs and unpacks.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a field of optimizer state",
    label = "not a state field type",
    note = "state fields can be ArrayD<A> (parameter-shaped), Vec<A> or Array1<A> (flat), Vec<Vec<A>>, StepCount, f32, f64, integers, bool, Vec<Option<f64>>, Option<T>, or a type implementing `StateField<A>`; mark scratch buffers #[state(skip)]"
)]
pub trait StateField<A: Float>: Sized + Send + Sync + 'static {
    /// The value a fresh state starts with.
    fn init(ctx: &ShapeCtx<'_>) -> Self;
    /// The state dict entry (borrowing this field's tensors), or `None` to leave it out.
    fn pack(&self) -> Option<DictValue<'_>>;
    /// Reads the entry back (`None`: absent), checking shapes against `ctx` and casting
    /// tensors to `A`.
    fn unpack(value: Option<&DictValue<'_>>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError>;
}

fn type_error(expected: &str, found: &DictValue<'_>) -> FieldError {
    FieldError::Type {
        expected: expected.to_string(),
        found: found.describe(),
    }
}

/// A state tensor as a state dict entry, borrowing its elements.
pub fn pack_tensor<A: Float>(tensor: &ArrayD<A>) -> DictValue<'_> {
    let packed = match tensor.as_slice() {
        Some(values) => DictTensor::borrowed(tensor.shape(), values),
        // A rule may have replaced a tensor with one of another layout.
        None => DictTensor::owned(tensor.shape(), &tensor.iter().copied().collect::<Vec<_>>()),
    };
    DictValue::Tensor(packed.expect("an array's elements always fit its own shape"))
}

/// Reads a tensor of exactly `shape`, cast to `A`: one copy, straight from the entry.
pub fn unpack_tensor<A: Float>(value: Option<&DictValue<'_>>, shape: &[usize]) -> Result<ArrayD<A>, FieldError> {
    let t = match value {
        None => return Err(FieldError::Missing),
        Some(DictValue::Tensor(t)) => t,
        Some(other) => return Err(type_error("a tensor", other)),
    };
    if t.shape() != shape {
        return Err(FieldError::Shape {
            expected: shape.to_vec(),
            found: t.shape().to_vec(),
        });
    }
    let mut out = ArrayD::zeros(IxDyn(shape));
    t.copy_into(crate::param::as_slice_mut(&mut out));
    Ok(out)
}

impl<A: Float> StateField<A> for ArrayD<A> {
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        ArrayD::zeros(IxDyn(ctx.shape))
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(pack_tensor(self))
    }
    fn unpack(value: Option<&DictValue<'_>>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        unpack_tensor(value, ctx.shape)
    }
}

/// Reads a flat tensor of `ctx.numel` elements (LBFGS's `d`, `prev_flat_grad`, ...).
pub fn flat_vector<A: Float>(value: &DictValue<'_>, ctx: &ShapeCtx<'_>) -> Result<Vec<A>, FieldError> {
    let DictValue::Tensor(t) = value else {
        return Err(type_error("a flat tensor", value));
    };
    if t.shape() != [ctx.numel] {
        return Err(FieldError::Shape {
            expected: vec![ctx.numel],
            found: t.shape().to_vec(),
        });
    }
    Ok(t.to_vec::<A>())
}

/// A slice as a flat tensor entry, borrowing its elements.
pub fn pack_flat<A: Float>(v: &[A]) -> DictValue<'_> {
    DictValue::Tensor(DictTensor::borrowed(&[v.len()], v).expect("`[len]` holds `len` elements"))
}

impl<A: Float> StateField<A> for Vec<A> {
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        vec![A::zero(); ctx.numel]
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(pack_flat(self))
    }
    fn unpack(value: Option<&DictValue<'_>>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        flat_vector(value.ok_or(FieldError::Missing)?, ctx)
    }
}

impl<A: Float> StateField<A> for Array1<A> {
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        Array1::zeros(ctx.numel)
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(match self.as_slice() {
            Some(s) => pack_flat(s),
            None => DictValue::Tensor(
                DictTensor::owned(&[self.len()], &self.to_vec()).expect("`[len]` holds `len` elements"),
            ),
        })
    }
    fn unpack(value: Option<&DictValue<'_>>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        flat_vector(value.ok_or(FieldError::Missing)?, ctx).map(Array1::from)
    }
}

impl<A: Float> StateField<A> for Vec<Vec<A>> {
    fn init(_: &ShapeCtx<'_>) -> Self {
        Vec::new()
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(DictValue::List(self.iter().map(|v| pack_flat(v)).collect()))
    }
    fn unpack(value: Option<&DictValue<'_>>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value.ok_or(FieldError::Missing)? {
            DictValue::List(items) => items.iter().map(|v| flat_vector(v, ctx)).collect(),
            other => Err(type_error("a list of flat tensors", other)),
        }
    }
}

/// A scalar entry: a number, or a one-element tensor (torch keeps some scalars, Adam's
/// `step`, as 0-d tensors), read without casting to the parameters' dtype.
fn scalar(value: Option<&DictValue<'_>>) -> Result<f64, FieldError> {
    let v = value.ok_or(FieldError::Missing)?;
    v.as_scalar().ok_or_else(|| type_error("a number", v))
}

impl<A: Float> StateField<A> for f64 {
    fn init(_: &ShapeCtx<'_>) -> Self {
        0.0
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(DictValue::Float(*self))
    }
    fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        scalar(value)
    }
}

/// A float32 scalar of state, kept as torch keeps them: a 0-d float32 tensor, whatever the
/// parameters' dtype. It loads from a float32 value only: a number or tensor that float32
/// cannot hold exactly would silently change the run.
impl<A: Float> StateField<A> for f32 {
    fn init(_: &ShapeCtx<'_>) -> Self {
        0.0
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(DictValue::Tensor(DictTensor::scalar(*self)))
    }
    fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        let x = scalar(value)?;
        let narrow = x as f32;
        if narrow as f64 == x || x.is_nan() {
            Ok(narrow)
        } else {
            Err(FieldError::Value(format!("must be a float32 value, found {x:?}")))
        }
    }
}

/// A count of steps, as torch keeps Adam's `step`: saved as a 0-d float32 tensor (float64
/// beyond 2²⁴ steps, which float32 cannot count exactly). It loads only from a whole,
/// finite, non-negative number (an integer, a float or a 0-d tensor): a negative,
/// fractional or NaN count would silently corrupt the bias corrections computed from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct StepCount(f64);

impl StepCount {
    /// The largest count kept exactly (2⁵³): beyond it a float cannot count by ones.
    pub const MAX: f64 = 9_007_199_254_740_992.0;

    /// The count.
    pub fn get(self) -> f64 {
        self.0
    }

    /// Adds one step and returns the new count.
    pub fn increment(&mut self) -> f64 {
        self.0 += 1.0;
        self.0
    }
}

impl<A: Float> StateField<A> for StepCount {
    fn init(_: &ShapeCtx<'_>) -> Self {
        StepCount(0.0)
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        let narrow = self.0 as f32;
        Some(DictValue::Tensor(if narrow as f64 == self.0 {
            DictTensor::scalar(narrow)
        } else {
            DictTensor::scalar(self.0)
        }))
    }
    fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        let x = scalar(value)?;
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= StepCount::MAX {
            Ok(StepCount(x))
        } else {
            Err(FieldError::Value(format!(
                "must be a whole number of steps from 0 to 2^53, found {x:?}"
            )))
        }
    }
}

macro_rules! count_field {
    ($($t:ty),*) => {$(
        impl<A: Float> StateField<A> for $t {
            fn init(_: &ShapeCtx<'_>) -> Self {
                0
            }
            fn pack(&self) -> Option<DictValue<'_>> {
                Some(i64::try_from(*self).map_or(DictValue::Float(*self as f64), DictValue::Int))
            }
            fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
                let v = value.ok_or(FieldError::Missing)?;
                match v {
                    DictValue::Int(i) if *i < 0 => Err(FieldError::Value(format!("must not be negative, found {i}"))),
                    _ => v
                        .as_u64()
                        .and_then(|u| <$t>::try_from(u).ok())
                        .ok_or_else(|| type_error("a non-negative integer", v)),
                }
            }
        }
    )*};
}
count_field!(u32, u64, usize);

impl<A: Float> StateField<A> for i64 {
    fn init(_: &ShapeCtx<'_>) -> Self {
        0
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(DictValue::Int(*self))
    }
    fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value.ok_or(FieldError::Missing)? {
            DictValue::Int(i) => Ok(*i),
            v => Err(type_error("an integer", v)),
        }
    }
}

impl<A: Float> StateField<A> for bool {
    fn init(_: &ShapeCtx<'_>) -> Self {
        false
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(DictValue::Bool(*self))
    }
    fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value.ok_or(FieldError::Missing)? {
            DictValue::Bool(b) => Ok(*b),
            v => Err(type_error("a boolean", v)),
        }
    }
}

impl<A: Float> StateField<A> for Vec<Option<f64>> {
    fn init(_: &ShapeCtx<'_>) -> Self {
        Vec::new()
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        Some(DictValue::List(
            self.iter()
                .map(|x| x.map_or(DictValue::Null, DictValue::Float))
                .collect(),
        ))
    }
    fn unpack(value: Option<&DictValue<'_>>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        let expected = "a list of numbers or nulls";
        match value.ok_or(FieldError::Missing)? {
            DictValue::List(items) => items
                .iter()
                .map(|v| match v {
                    DictValue::Null => Ok(None),
                    v => v.as_scalar().map(Some).ok_or_else(|| type_error(expected, v)),
                })
                .collect(),
            v => Err(type_error(expected, v)),
        }
    }
}

impl<A: Float, T: StateField<A>> StateField<A> for Option<T> {
    fn init(_: &ShapeCtx<'_>) -> Self {
        None
    }
    fn pack(&self) -> Option<DictValue<'_>> {
        self.as_ref().and_then(T::pack)
    }
    fn unpack(value: Option<&DictValue<'_>>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value {
            None => Ok(None),
            Some(v) => T::unpack(Some(v), ctx).map(Some),
        }
    }
}

/// A state tensor not shaped like its parameter (`#[state(shape = rule)]`): zeros of the
/// rule's shape, or absent where the rule gives none.
pub fn init_shaped<A: Float>(shape: Option<Vec<usize>>) -> Option<ArrayD<A>> {
    shape.map(|s| ArrayD::zeros(IxDyn(&s)))
}

/// Reads a tensor with a shape rule: present exactly when the rule gives a shape for this
/// parameter (`param` is its shape), and then of that shape.
pub fn unpack_shaped<A: Float>(
    value: Option<&DictValue<'_>>,
    shape: Option<Vec<usize>>,
    param: &[usize],
) -> Result<Option<ArrayD<A>>, FieldError> {
    match (shape, value) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(FieldError::Value(format!(
            "is not kept for a parameter of shape {param:?}: this entry belongs to another parameter"
        ))),
        (Some(shape), value) => unpack_tensor(value, &shape).map(Some),
    }
}

/// Checks that an entry has no key outside `keys`: what derived [`State::unpack`] calls first.
pub fn check_state_keys(entry: &Map<'_>, keys: &[&str]) -> Result<(), StateError> {
    match entry.keys().find(|k| !keys.contains(k)) {
        Some(unknown) => Err(StateError {
            key: unknown.to_string(),
            error: FieldError::Unknown,
        }),
        None => Ok(()),
    }
}

/// The contiguous row-major elements of a state tensor. Tensors the framework creates are
/// always contiguous; one that a rule replaced with a non-standard layout is made
/// contiguous first.
pub fn tensor_slice_mut<A: Float>(a: &mut ArrayD<A>) -> &mut [A] {
    if !a.is_standard_layout() {
        *a = a.as_standard_layout().into_owned();
    }
    crate::param::as_slice_mut(a)
}

/// Several entries of a state that belong together, packed from one field marked
/// `#[state(flatten)]` (as serde's `flatten`): LBFGS keeps its curvature pairs in one ring
/// and saves them as torch's three lists.
pub trait StateEntries<A: Float>: Sized + Send + Sync + 'static {
    /// The entries' names.
    const KEYS: &'static [&'static str];
    /// The value a fresh state starts with.
    fn init(ctx: &ShapeCtx<'_>) -> Self;
    /// Adds the entries to `entry`, borrowing this value's tensors (none, to leave them out).
    fn pack<'a>(&'a self, entry: &mut Map<'a>);
    /// Reads the entries back from `entry`, which may hold other entries too.
    fn unpack(entry: &Map<'_>, ctx: &ShapeCtx<'_>) -> Result<Self, StateError>;
}

/// A parameter's optimizer state: implemented by `#[derive(State)]`.
///
/// Besides packing, a state exposes its parameter-shaped tensors (`ArrayD<A>` fields, and
/// `Option<ArrayD<A>>` ones) element by element, which is how elementwise update rules
/// run as one fused pass over the parameter, its gradient and every state tensor.
pub trait State<A: Float>: Send + Sync + Sized + 'static {
    /// The entry names, in state dict order.
    fn keys() -> Vec<&'static str>;

    /// One element of each parameter-shaped tensor: a struct of `&mut A` (or
    /// `Option<&mut A>` for optional tensors), generated as `{State}Elem`.
    type Elem<'a>;

    /// The parameter-shaped tensors as slices, splittable into chunks.
    type Slices<'a>: Slices<'a, A, Elem = Self::Elem<'a>>;

    /// The state of a parameter on its first step with a gradient.
    fn init(ctx: &ShapeCtx<'_>) -> Self;

    /// The state dict entries, borrowing the state's tensors (absent optional fields are
    /// left out).
    fn pack(&self) -> Map<'_>;

    /// Reads a state back, rejecting unknown and missing entries, mis-shaped tensors and
    /// wrong types, and casting tensors to `A`.
    fn unpack(entry: &Map<'_>, ctx: &ShapeCtx<'_>) -> Result<Self, StateError>;

    /// The parameter-shaped tensors as slices.
    fn slices(&mut self) -> Self::Slices<'_>;

    /// Starts loading the first elements of the parameter-shaped tensors into cache; a step
    /// calls it one parameter ahead. Generated by `#[derive(State)]`; doing nothing is
    /// always correct.
    #[inline(always)]
    fn prefetch(&self) {}
}

/// Prefetches a state tensor (what derived [`State::prefetch`] calls per tensor field).
#[inline(always)]
pub fn prefetch_tensor<A: Float>(tensor: &ArrayD<A>) {
    crate::isa::prefetch(tensor.as_ptr(), tensor.len());
}

/// The parameter-shaped tensors of a state as mutable slices (generated as `{State}Slices`).
pub trait Slices<'a, A: Float>: Send + Sized {
    /// One element of each tensor.
    type Elem;

    /// Splits every slice at `mid` (for processing chunks in parallel).
    fn split_at(self, mid: usize) -> (Self, Self);

    /// Calls `f` once per element with the parameter's element, the gradient's element and
    /// the state's elements, in one pass.
    ///
    /// # Panics
    /// If a slice does not have `param.len()` elements (a rule replaced a state tensor with
    /// one of another shape): a shorter tensor would otherwise leave part of the parameter
    /// silently without its update.
    fn for_each<F: FnMut(&'a mut A, A, Self::Elem)>(self, param: &'a mut [A], grad: &'a [A], f: F);
}

/// The state of a stateless rule.
impl<A: Float> State<A> for () {
    fn keys() -> Vec<&'static str> {
        Vec::new()
    }
    type Elem<'a> = ();
    type Slices<'a> = ();

    fn init(_: &ShapeCtx<'_>) -> Self {}
    fn pack(&self) -> Map<'_> {
        Map::new()
    }
    fn unpack(entry: &Map<'_>, _: &ShapeCtx<'_>) -> Result<Self, StateError> {
        check_state_keys(entry, &[])
    }
    fn slices(&mut self) -> Self::Slices<'_> {}
}

impl<'a, A: Float> Slices<'a, A> for () {
    type Elem = ();

    fn split_at(self, _: usize) -> (Self, Self) {
        ((), ())
    }

    #[inline(always)]
    fn for_each<F: FnMut(&'a mut A, A, ())>(self, param: &'a mut [A], grad: &'a [A], mut f: F) {
        assert_eq!(param.len(), grad.len(), "a gradient has its parameter's element count");
        for (p, &g) in param.iter_mut().zip(grad) {
            f(p, g, ());
        }
    }
}

/// The length check of a fused pass (generated `for_each` calls it for every tensor).
#[inline(always)]
pub fn check_pass_len(key: &str, len: usize, param: usize) {
    assert!(
        len == param,
        "state tensor `{key}` has {len} elements but its parameter has {param}: a rule replaced it with a tensor of another shape"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn ctx(shape: &[usize]) -> ShapeCtx<'_> {
        ShapeCtx::of(shape)
    }

    #[test]
    fn tensor_field_checks_shape_and_casts() {
        let shape = [2usize, 2];
        let tensor = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
        let packed = <ArrayD<f64> as StateField<f64>>::pack(&tensor).expect("packs");
        let back: ArrayD<f32> = StateField::<f32>::unpack(Some(&packed), &ctx(&shape)).expect("unpacks");
        assert_eq!(back, array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn());
        let err = <ArrayD<f32> as StateField<f32>>::unpack(Some(&packed), &ctx(&[4])).expect_err("shape");
        assert_eq!(
            err,
            FieldError::Shape {
                expected: vec![4],
                found: vec![2, 2]
            }
        );
        let err = <ArrayD<f32> as StateField<f32>>::unpack(None, &ctx(&[4])).expect_err("missing");
        assert_eq!(err, FieldError::Missing);
    }

    #[test]
    fn counts_reject_negative_and_fractional_values() {
        let c = ctx(&[1]);
        assert_eq!(
            <u64 as StateField<f32>>::unpack(Some(&DictValue::Float(3.0)), &c),
            Ok(3)
        );
        assert!(matches!(
            <u64 as StateField<f32>>::unpack(Some(&DictValue::Int(-2)), &c),
            Err(FieldError::Value(_))
        ));
        assert!(matches!(
            <u64 as StateField<f32>>::unpack(Some(&DictValue::Float(2.5)), &c),
            Err(FieldError::Type { .. })
        ));
    }

    #[test]
    fn step_counts_load_only_from_whole_non_negative_numbers() {
        let c = ctx(&[1]);
        let load = |v: DictValue<'static>| <StepCount as StateField<f32>>::unpack(Some(&v), &c);
        assert_eq!(load(DictValue::Float(10.0)).map(StepCount::get), Ok(10.0));
        assert_eq!(load(DictValue::Int(3)).map(StepCount::get), Ok(3.0));
        for bad in [
            DictValue::Float(-1.0),
            DictValue::Float(2.5),
            DictValue::Float(f64::NAN),
            DictValue::Float(1e300),
        ] {
            assert!(matches!(load(bad.clone()), Err(FieldError::Value(_))), "{bad:?}");
        }
        assert_eq!(
            StateField::<f32>::pack(&StepCount(7.0)),
            Some(DictValue::Tensor(DictTensor::scalar(7.0f32)))
        );
        let beyond_f32 = StepCount((1u64 << 24) as f64 + 1.0);
        assert_eq!(
            StateField::<f32>::pack(&beyond_f32),
            Some(DictValue::Tensor(DictTensor::scalar(beyond_f32.0)))
        );
    }

    #[test]
    fn scalar_accepts_a_zero_d_tensor() {
        let t = DictValue::Tensor(DictTensor::scalar(7.0f32));
        assert_eq!(<f64 as StateField<f32>>::unpack(Some(&t), &ctx(&[3])), Ok(7.0));
    }

    #[test]
    fn optional_fields_are_absent_when_none() {
        let none: Option<ArrayD<f64>> = None;
        assert_eq!(StateField::<f64>::pack(&none), None);
        let back: Option<ArrayD<f64>> = StateField::<f64>::unpack(None, &ctx(&[2])).expect("absent is fine");
        assert!(back.is_none());
    }

    #[test]
    fn flat_vectors_check_their_length() {
        let v: Vec<f64> = vec![1.0, 2.0, 3.0];
        let packed = StateField::<f64>::pack(&v).expect("packs").into_owned();
        let back: Vec<f32> = StateField::<f32>::unpack(Some(&packed), &ctx(&[3])).expect("unpacks");
        assert_eq!(back, [1.0f32, 2.0, 3.0]);
        let err = <Vec<f32> as StateField<f32>>::unpack(Some(&packed), &ctx(&[2, 2])).expect_err("length");
        assert_eq!(
            err,
            FieldError::Shape {
                expected: vec![4],
                found: vec![3]
            }
        );
        let list: Vec<Vec<f64>> = vec![v.clone(), v];
        let packed = StateField::<f64>::pack(&list).expect("packs");
        let back: Vec<Vec<f64>> = StateField::<f64>::unpack(Some(&packed), &ctx(&[3])).expect("unpacks");
        assert_eq!(back, list);
    }

    #[test]
    fn nullable_lists_keep_null_positions() {
        let v: Vec<Option<f64>> = vec![Some(1.0), None];
        let packed = StateField::<f64>::pack(&v).expect("packs");
        let back: Vec<Option<f64>> = StateField::<f64>::unpack(Some(&packed), &ctx(&[1])).expect("unpacks");
        assert_eq!(back, v);
    }

    #[test]
    fn tensor_slice_mut_makes_layouts_contiguous() {
        let mut a = array![[1.0f64, 2.0], [3.0, 4.0]].reversed_axes().into_dyn();
        assert_eq!(tensor_slice_mut(&mut a), &[1.0, 3.0, 2.0, 4.0]);
    }
}
