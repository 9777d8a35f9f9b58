//! Per-parameter state: named tensors and scalars (`momentum_buffer`, `step`, `exp_avg`),
//! created on a parameter's first step with a gradient, packed into a state dict under
//! torch's names and unpacked with shape checks and dtype casts.
//!
//! A state is a struct whose fields implement [`StateField`]; `#[derive(State)]` implements
//! [`State`] for it. Field types and what they mean:
//!
//! | field type | in the state dict | shape rule | created as |
//! |---|---|---|---|
//! | `ArrayD<A>` ([`Tensor`](crate::Tensor) alias) | tensor | the parameter's shape | zeros |
//! | `Vec<A>`, `Array1<A>` | tensor | flat: `[numel]` | zeros |
//! | `f64`, `f32` | number (a 0-d tensor is accepted) | — | `0` |
//! | [`StepCount`] | number (`10.0`, as torch keeps Adam's `step`) | a whole number ≥ 0 | `0` |
//! | `u64`, `usize`, `u32`, `i64` | integer | — | `0` |
//! | `bool` | boolean | — | `false` |
//! | `Vec<Option<f64>>` | list of numbers or `null`s | — | empty |
//! | `Vec<Vec<A>>` | list of flat tensors | each `[numel]` | empty |
//! | `Option<T>` | `T`, or absent | as `T` | `None` |
//!
//! A field marked `#[state(flatten)]` packs into several entries: its type implements
//! [`StateEntries`] (LBFGS keeps its curvature pairs in one ring and saves them as torch's
//! `old_dirs`, `old_stps` and `ro`).
//!
//! For an optimizer that sees all parameters as one flat vector (LBFGS), "the parameter's
//! shape" is `[total numel]`.

use ndarray::{Array1, ArrayD, IxDyn};

use crate::float::Float;
use crate::value::{Map, Tensor, Value};

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
    note = "state fields can be ArrayD<A> (parameter-shaped), Vec<A> or Array1<A> (flat), Vec<Vec<A>>, f64, f32, integers, bool, Vec<Option<f64>>, Option<T>, or a type implementing `StateField<A>`; mark scratch buffers #[state(skip)]"
)]
pub trait StateField<A: Float>: Sized + Send + Sync + 'static {
    /// The value a fresh state starts with.
    fn init(ctx: &ShapeCtx<'_>) -> Self;
    /// The state dict entry, or `None` to leave the entry out.
    fn pack(&self) -> Option<Value>;
    /// Reads the entry back (`None`: absent), checking shapes against `ctx` and casting
    /// tensors to `A`.
    fn unpack(value: Option<&Value>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError>;
}

fn type_error(expected: &str, found: &Value) -> FieldError {
    FieldError::Type {
        expected: expected.to_string(),
        found: found.describe(),
    }
}

fn tensor_of<'v>(value: Option<&'v Value>, expected: &str) -> Result<&'v Tensor, FieldError> {
    match value {
        None => Err(FieldError::Missing),
        Some(Value::Tensor(t)) => Ok(t),
        Some(other) => Err(type_error(expected, other)),
    }
}

impl<A: Float> StateField<A> for ArrayD<A> {
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        ArrayD::zeros(IxDyn(ctx.shape))
    }
    fn pack(&self) -> Option<Value> {
        let data = tensor_slice(self);
        Tensor::from_slice(self.shape(), &data).map(Value::Tensor)
    }
    fn unpack(value: Option<&Value>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        let t = tensor_of(value, "a tensor")?;
        if t.shape() != ctx.shape {
            return Err(FieldError::Shape {
                expected: ctx.shape.to_vec(),
                found: t.shape().to_vec(),
            });
        }
        ArrayD::from_shape_vec(IxDyn(ctx.shape), t.to_vec()).map_err(|e| FieldError::Value(e.to_string()))
    }
}

/// The elements of an array in row-major order, borrowed when it is contiguous.
fn tensor_slice<A: Float>(a: &ArrayD<A>) -> std::borrow::Cow<'_, [A]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().copied().collect()),
    }
}

/// Reads a flat tensor of `ctx.numel` elements (LBFGS's `d`, `prev_flat_grad`, ...).
pub fn flat_vector<A: Float>(value: &Value, ctx: &ShapeCtx<'_>) -> Result<Vec<A>, FieldError> {
    let Value::Tensor(t) = value else {
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

/// Packs a slice as a flat tensor.
pub fn pack_flat<A: Float>(v: &[A]) -> Value {
    // `[len]` always fits `len` elements.
    Tensor::from_slice(&[v.len()], v).map_or(Value::Null, Value::Tensor)
}

impl<A: Float> StateField<A> for Vec<A> {
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        vec![A::zero(); ctx.numel]
    }
    fn pack(&self) -> Option<Value> {
        Some(pack_flat(self))
    }
    fn unpack(value: Option<&Value>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        flat_vector(value.ok_or(FieldError::Missing)?, ctx)
    }
}

impl<A: Float> StateField<A> for Array1<A> {
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        Array1::zeros(ctx.numel)
    }
    fn pack(&self) -> Option<Value> {
        Some(match self.as_slice() {
            Some(s) => pack_flat(s),
            None => pack_flat(&self.to_vec()),
        })
    }
    fn unpack(value: Option<&Value>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        flat_vector(value.ok_or(FieldError::Missing)?, ctx).map(Array1::from)
    }
}

impl<A: Float> StateField<A> for Vec<Vec<A>> {
    fn init(_: &ShapeCtx<'_>) -> Self {
        Vec::new()
    }
    fn pack(&self) -> Option<Value> {
        Some(Value::List(self.iter().map(|v| pack_flat(v)).collect()))
    }
    fn unpack(value: Option<&Value>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value.ok_or(FieldError::Missing)? {
            Value::List(items) => items.iter().map(|v| flat_vector(v, ctx)).collect(),
            other => Err(type_error("a list of flat tensors", other)),
        }
    }
}

fn scalar(value: Option<&Value>) -> Result<f64, FieldError> {
    match value.ok_or(FieldError::Missing)? {
        // torch keeps some scalars (Adam's `step`) as 0-d tensors: accept those too.
        Value::Tensor(t) if t.len() == 1 => Ok(t.to_vec::<f64>()[0]),
        v => v.as_f64().ok_or_else(|| type_error("a number", v)),
    }
}

impl<A: Float> StateField<A> for f64 {
    fn init(_: &ShapeCtx<'_>) -> Self {
        0.0
    }
    fn pack(&self) -> Option<Value> {
        Some(Value::Float(*self))
    }
    fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        scalar(value)
    }
}

impl<A: Float> StateField<A> for f32 {
    fn init(_: &ShapeCtx<'_>) -> Self {
        0.0
    }
    fn pack(&self) -> Option<Value> {
        Some(Value::Float(*self as f64))
    }
    fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        scalar(value).map(|x| x as f32)
    }
}

/// A count of steps kept as a float, as torch keeps Adam's `step` (saved as `10.0`). It
/// loads only from a whole, finite, non-negative number (an integer, a float or a 0-d
/// tensor): a negative, fractional or NaN count would silently corrupt the bias
/// corrections computed from it.
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
    fn pack(&self) -> Option<Value> {
        Some(Value::Float(self.0))
    }
    fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        let x = scalar(value)?;
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= StepCount::MAX {
            Ok(StepCount(x))
        } else {
            Err(FieldError::Value(format!(
                "must be a whole number of steps from 0 to 2^53, found {x}"
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
            fn pack(&self) -> Option<Value> {
                Some(i64::try_from(*self).map_or(Value::Float(*self as f64), Value::Int))
            }
            fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
                let v = value.ok_or(FieldError::Missing)?;
                match v {
                    Value::Int(i) if *i < 0 => Err(FieldError::Value(format!("must not be negative, found {i}"))),
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
    fn pack(&self) -> Option<Value> {
        Some(Value::Int(*self))
    }
    fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value.ok_or(FieldError::Missing)? {
            Value::Int(i) => Ok(*i),
            v => Err(type_error("an integer", v)),
        }
    }
}

impl<A: Float> StateField<A> for bool {
    fn init(_: &ShapeCtx<'_>) -> Self {
        false
    }
    fn pack(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
    fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value.ok_or(FieldError::Missing)? {
            Value::Bool(b) => Ok(*b),
            v => Err(type_error("a boolean", v)),
        }
    }
}

impl<A: Float> StateField<A> for Vec<Option<f64>> {
    fn init(_: &ShapeCtx<'_>) -> Self {
        Vec::new()
    }
    fn pack(&self) -> Option<Value> {
        Some(Value::List(
            self.iter().map(|x| x.map_or(Value::Null, Value::Float)).collect(),
        ))
    }
    fn unpack(value: Option<&Value>, _: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        let expected = "a list of numbers or nulls";
        match value.ok_or(FieldError::Missing)? {
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    v => v.as_f64().map(Some).ok_or_else(|| type_error(expected, v)),
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
    fn pack(&self) -> Option<Value> {
        self.as_ref().and_then(T::pack)
    }
    fn unpack(value: Option<&Value>, ctx: &ShapeCtx<'_>) -> Result<Self, FieldError> {
        match value {
            None => Ok(None),
            Some(v) => T::unpack(Some(v), ctx).map(Some),
        }
    }
}

/// Reads one field of a state from its entry: what derived [`State::unpack`] calls per field.
pub fn unpack_field<A: Float, T: StateField<A>>(entry: &Map, key: &str, ctx: &ShapeCtx<'_>) -> Result<T, StateError> {
    T::unpack(entry.get(key), ctx).map_err(|error| StateError {
        key: key.to_string(),
        error,
    })
}

/// Checks that an entry has no key outside `keys`: what derived [`State::unpack`] calls first.
pub fn check_state_keys(entry: &Map, keys: &[&str]) -> Result<(), StateError> {
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
/// contiguous first, so this never fails.
pub fn tensor_slice_mut<A: Float>(a: &mut ArrayD<A>) -> &mut [A] {
    if !a.is_standard_layout() {
        *a = a.as_standard_layout().into_owned();
    }
    match a.as_slice_mut() {
        Some(s) => s,
        // Unreachable: the array was just made standard-layout, which is contiguous.
        None => &mut [],
    }
}

/// Several entries of a state that belong together, packed from one field marked
/// `#[state(flatten)]` (as serde's `flatten`): LBFGS keeps its curvature pairs in one ring
/// and saves them as torch's three lists.
pub trait StateEntries<A: Float>: Sized + Send + Sync + 'static {
    /// The entries' names.
    const KEYS: &'static [&'static str];
    /// The value a fresh state starts with.
    fn init(ctx: &ShapeCtx<'_>) -> Self;
    /// Adds the entries to `entry` (none, to leave them out).
    fn pack(&self, entry: &mut Map);
    /// Reads the entries back from `entry`, which may hold other entries too.
    fn unpack(entry: &Map, ctx: &ShapeCtx<'_>) -> Result<Self, StateError>;
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

    /// The state dict entries (absent optional fields are left out).
    fn pack(&self) -> Map;

    /// Reads a state back, rejecting unknown and missing entries, mis-shaped tensors and
    /// wrong types, and casting tensors to `A`.
    fn unpack(entry: &Map, ctx: &ShapeCtx<'_>) -> Result<Self, StateError>;

    /// The parameter-shaped tensors as slices.
    fn slices(&mut self) -> Self::Slices<'_>;

    /// Starts loading the first elements of the parameter-shaped tensors into cache (see
    /// [`kernel::prefetch`](crate::kernel::prefetch)); a step calls it one parameter ahead.
    /// Generated by `#[derive(State)]`; doing nothing is always correct.
    #[inline(always)]
    fn prefetch(&self) {}
}

/// Prefetches a state tensor (what derived [`State::prefetch`] calls per tensor field).
#[inline(always)]
pub fn prefetch_tensor<A: Float>(tensor: &ArrayD<A>) {
    crate::kernel::prefetch(tensor.as_ptr(), tensor.len());
}

/// The parameter-shaped tensors of a state as mutable slices (generated as `{State}Slices`).
pub trait Slices<'a, A: Float>: Send + Sized {
    /// One element of each tensor.
    type Elem;

    /// Splits every slice at `mid` (for processing chunks in parallel).
    fn split_at(self, mid: usize) -> (Self, Self);

    /// Calls `f` once per element with the parameter's element, the gradient's element and
    /// the state's elements, in one pass. Every slice has `param.len()` elements.
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
    fn pack(&self) -> Map {
        Map::new()
    }
    fn unpack(entry: &Map, _: &ShapeCtx<'_>) -> Result<Self, StateError> {
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
        for (p, &g) in param.iter_mut().zip(grad) {
            f(p, g, ());
        }
    }
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
        let packed = <ArrayD<f64> as StateField<f64>>::pack(&array![[1.0, 2.0], [3.0, 4.0]].into_dyn()).expect("packs");
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
        assert_eq!(<u64 as StateField<f32>>::unpack(Some(&Value::Float(3.0)), &c), Ok(3));
        assert!(matches!(
            <u64 as StateField<f32>>::unpack(Some(&Value::Int(-2)), &c),
            Err(FieldError::Value(_))
        ));
        assert!(matches!(
            <u64 as StateField<f32>>::unpack(Some(&Value::Float(2.5)), &c),
            Err(FieldError::Type { .. })
        ));
    }

    #[test]
    fn step_counts_load_only_from_whole_non_negative_numbers() {
        let c = ctx(&[1]);
        let load = |v: Value| <StepCount as StateField<f32>>::unpack(Some(&v), &c);
        assert_eq!(load(Value::Float(10.0)).map(StepCount::get), Ok(10.0));
        assert_eq!(load(Value::Int(3)).map(StepCount::get), Ok(3.0));
        for bad in [
            Value::Float(-1.0),
            Value::Float(2.5),
            Value::Float(f64::NAN),
            Value::Float(1e300),
        ] {
            assert!(matches!(load(bad.clone()), Err(FieldError::Value(_))), "{bad:?}");
        }
        assert_eq!(StateField::<f32>::pack(&StepCount(7.0)), Some(Value::Float(7.0)));
    }

    #[test]
    fn scalar_accepts_a_zero_d_tensor() {
        let t = Value::Tensor(Tensor::from_slice(&[], &[7.0f32]).expect("fits"));
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
        let packed = StateField::<f64>::pack(&v).expect("packs");
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
