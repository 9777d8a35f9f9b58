//! The parameter handle shared by a model and its optimizer.
//!
//! A [`Param`] is what a torch tensor with `requires_grad=True` is to `torch.optim`: the
//! model reads and writes its value, backpropagation writes its gradient, the optimizer
//! updates the value from the gradient. Cloning a `Param` clones the handle, not the data:
//! two clones are one parameter (the same identity, the same value), two parameters with
//! equal values are two parameters.
//!
//! The value and the gradient each sit behind their own lock, so that a thread may hold
//! the value for reading while it sets the gradient. A step takes each lock once, briefly,
//! and holds none while it calls a closure: a closure may read values and write gradients
//! freely.
//!
//! A guard ([`ValueGuard`], [`GradGuard`], ...) holds its lock until it is dropped, usually
//! at the end of its scope. A step that needs a parameter this thread still holds a guard
//! of would wait for itself forever; instead it returns [`Error::GuardHeld`] naming the
//! parameter and the guard (each thread keeps a small record of the guards it holds, read
//! only when a lock is found taken). Calling one of `Param`'s own methods while holding a
//! conflicting guard of the same parameter panics with the same explanation, as
//! `RefCell::borrow_mut` does on a second borrow. A guard held by *another* thread is
//! waited for, as any lock.
//!
//! Invariants, kept by construction: the value's shape never changes, it is always in
//! standard (row-major, contiguous) layout, and a gradient, when present, has the value's
//! shape and layout. So an update never meets a mismatched gradient.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use ndarray::{ArrayD, ArrayRef, ArrayRefD, Dimension, IxDyn};

use crate::error::{Error, GuardKind, Result};
use crate::float::Float;
use crate::held::{self, Held, Slot};

/// The identity of a parameter: unique for the life of the process, shared by all clones
/// of one [`Param`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct Inner<A> {
    id: ParamId,
    name: Option<String>,
    trainable: bool,
    shape: Box<[usize]>,
    value: RwLock<ArrayD<A>>,
    grad: RwLock<Option<ArrayD<A>>>,
    /// Where the value's and the gradient's elements start (null: no gradient), stored
    /// under the write lock whenever an array is replaced. Read without the lock, only as
    /// a prefetch hint for the step, where a stale address costs nothing.
    value_data: AtomicPtr<A>,
    grad_data: AtomicPtr<A>,
}

/// A shared, thread-safe handle to a parameter's value and optional gradient.
///
/// ```
/// use ndarray::array;
/// use optim_core::Param;
///
/// let w = Param::named("fc.weight", array![[1.0f32, 2.0], [3.0, 4.0]]);
/// let same = w.clone();
/// same.set_grad(array![[0.1f32, 0.1], [0.1, 0.1]]).unwrap();
/// assert!(w.has_grad()); // one parameter, two handles
/// assert!(w.set_grad(array![1.0f32, 2.0]).is_err()); // wrong shape: rejected where it is set
/// ```
pub struct Param<A: Float> {
    inner: Arc<Inner<A>>,
}

impl<A: Float> Clone for Param<A> {
    fn clone(&self) -> Self {
        Param {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A: Float> PartialEq for Param<A> {
    /// Identity, not value: true only for clones of one parameter.
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl<A: Float> Eq for Param<A> {}

impl<A: Float> Hash for Param<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state)
    }
}

impl<A: Float> fmt::Debug for Param<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param")
            .field("id", &self.inner.id.0)
            .field("name", &self.inner.name)
            .field("shape", &self.inner.shape)
            .field("dtype", &A::DTYPE)
            .field("trainable", &self.inner.trainable)
            .finish()
    }
}

// A panic while a guard was held cannot leave an array half-formed in a way that breaks
// its invariants (its shape is fixed), so a poisoned lock is still usable.

/// Takes `lock` for reading: at once when it is free; when it is taken, by waiting, unless
/// this thread holds a guard of it (`Err` names that guard: waiting would never end).
fn read<T>(lock: &RwLock<T>, id: ParamId, slot: Slot) -> Result<RwLockReadGuard<'_, T>, GuardKind> {
    match lock.try_read() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(TryLockError::WouldBlock) => match held::find(id, slot) {
            Some(kind) => Err(kind),
            None => Ok(lock.read().unwrap_or_else(PoisonError::into_inner)),
        },
    }
}

/// As [`read`], for writing.
fn write<T>(lock: &RwLock<T>, id: ParamId, slot: Slot) -> Result<RwLockWriteGuard<'_, T>, GuardKind> {
    match lock.try_write() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(TryLockError::WouldBlock) => match held::find(id, slot) {
            Some(kind) => Err(kind),
            None => Ok(lock.write().unwrap_or_else(PoisonError::into_inner)),
        },
    }
}

fn standard<A: Float, D: Dimension>(array: ndarray::Array<A, D>) -> ArrayD<A> {
    let array = array.into_dyn();
    if array.is_standard_layout() {
        array
    } else {
        array.as_standard_layout().into_owned()
    }
}

impl<A: Float> Param<A> {
    fn build<D: Dimension>(value: ndarray::Array<A, D>, name: Option<String>, trainable: bool) -> Self {
        let mut value = standard(value);
        Param {
            inner: Arc::new(Inner {
                id: ParamId(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
                name,
                trainable,
                shape: value.shape().into(),
                value_data: AtomicPtr::new(value.as_mut_ptr()),
                value: RwLock::new(value),
                grad: RwLock::new(None),
                grad_data: AtomicPtr::new(std::ptr::null_mut()),
            }),
        }
    }

    /// A trainable parameter with this initial value (any dimensionality; stored as a
    /// row-major `ArrayD`).
    pub fn new<D: Dimension>(value: ndarray::Array<A, D>) -> Self {
        Param::build(value, None, true)
    }

    /// A trainable parameter with a name, as torch's `named_parameters()` gives. Names are
    /// recorded in state dicts and let a checkpoint be matched by name on load.
    pub fn named<D: Dimension>(name: impl Into<String>, value: ndarray::Array<A, D>) -> Self {
        Param::build(value, Some(name.into()), true)
    }

    /// A non-trainable value (a derived tensor, torch's non-leaf): it can be shared like a
    /// parameter, but adding it to an optimizer is an error.
    pub fn derived<D: Dimension>(value: ndarray::Array<A, D>) -> Self {
        Param::build(value, None, false)
    }

    /// The parameter's identity, shared by all its clones.
    pub fn id(&self) -> ParamId {
        self.inner.id
    }

    /// Its name, if it was created with [`Param::named`].
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Whether an optimizer may update it.
    pub fn is_trainable(&self) -> bool {
        self.inner.trainable
    }

    /// Its shape, which never changes.
    pub fn shape(&self) -> &[usize] {
        &self.inner.shape
    }

    /// Its number of elements.
    pub fn numel(&self) -> usize {
        self.inner.shape.iter().product()
    }

    /// Takes a lock for one of this parameter's own methods; a conflicting guard held by
    /// this thread is a panic, as a second `RefCell` borrow is (see the module docs).
    fn own<G>(&self, lock: Result<G, GuardKind>, method: &str) -> G {
        lock.unwrap_or_else(|held| {
            let name = self.inner.name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default();
            panic!(
                "Param::{method} on parameter{name} while this thread holds its {held} guard: drop the guard first (a guard lives to the end of its scope)"
            )
        })
    }

    fn read_value(&self) -> Result<RwLockReadGuard<'_, ArrayD<A>>, GuardKind> {
        read(&self.inner.value, self.inner.id, Slot::Value)
    }

    fn write_value(&self) -> Result<RwLockWriteGuard<'_, ArrayD<A>>, GuardKind> {
        write(&self.inner.value, self.inner.id, Slot::Value)
    }

    fn read_grad(&self) -> Result<RwLockReadGuard<'_, Option<ArrayD<A>>>, GuardKind> {
        read(&self.inner.grad, self.inner.id, Slot::Grad)
    }

    fn write_grad(&self) -> Result<RwLockWriteGuard<'_, Option<ArrayD<A>>>, GuardKind> {
        write(&self.inner.grad, self.inner.id, Slot::Grad)
    }

    /// Reads the value. The guard dereferences to the array; drop it before stepping.
    ///
    /// # Panics
    /// If this thread holds this parameter's [`value_mut`](Param::value_mut) guard.
    pub fn value(&self) -> ValueGuard<'_, A> {
        let lock = self.own(self.read_value(), "value");
        ValueGuard {
            lock,
            _held: Held::new(self.inner.id, GuardKind::Value),
        }
    }

    /// Writes the value in place. The guard dereferences to an [`ArrayRefD`], which allows
    /// changing elements but not the shape.
    ///
    /// # Panics
    /// If this thread holds a guard of this parameter's value.
    pub fn value_mut(&self) -> ValueGuardMut<'_, A> {
        let lock = self.own(self.write_value(), "value_mut");
        ValueGuardMut {
            lock,
            _held: Held::new(self.inner.id, GuardKind::ValueMut),
        }
    }

    /// A copy of the value.
    pub fn to_array(&self) -> ArrayD<A> {
        self.own(self.read_value(), "to_array").clone()
    }

    /// Replaces the value with an array of the same shape.
    ///
    /// # Panics
    /// If this thread holds a guard of this parameter's value.
    pub fn set_value<D: Dimension>(&self, value: ndarray::Array<A, D>) -> Result<()> {
        self.check_shape("value", value.shape())?;
        let mut slot = self.own(self.write_value(), "set_value");
        *slot = standard(value);
        self.inner.value_data.store(slot.as_mut_ptr(), Ordering::Relaxed);
        Ok(())
    }

    /// Reads the gradient, if there is one. The guard dereferences to the array.
    ///
    /// # Panics
    /// If this thread holds this parameter's [`grad_mut`](Param::grad_mut) guard.
    pub fn grad(&self) -> Option<GradGuard<'_, A>> {
        let lock = self.own(self.read_grad(), "grad");
        lock.is_some().then(|| GradGuard {
            lock,
            _held: Held::new(self.inner.id, GuardKind::Grad),
        })
    }

    /// Writes the gradient in place, if there is one (its shape cannot change).
    ///
    /// # Panics
    /// If this thread holds a guard of this parameter's gradient.
    pub fn grad_mut(&self) -> Option<GradGuardMut<'_, A>> {
        let lock = self.own(self.write_grad(), "grad_mut");
        lock.is_some().then(|| GradGuardMut {
            lock,
            _held: Held::new(self.inner.id, GuardKind::GradMut),
        })
    }

    /// Whether the parameter has a gradient.
    pub fn has_grad(&self) -> bool {
        self.own(self.read_grad(), "has_grad").is_some()
    }

    /// A copy of the gradient, if there is one.
    pub fn grad_array(&self) -> Option<ArrayD<A>> {
        self.own(self.read_grad(), "grad_array").clone()
    }

    /// Sets the gradient, which must have the value's shape.
    ///
    /// # Panics
    /// If this thread holds a guard of this parameter's gradient (as every method that
    /// writes the gradient).
    pub fn set_grad<D: Dimension>(&self, grad: ndarray::Array<A, D>) -> Result<()> {
        self.check_shape("gradient", grad.shape())?;
        let mut slot = self.own(self.write_grad(), "set_grad");
        self.store_grad(&mut slot, Some(standard(grad)));
        Ok(())
    }

    /// Sets the gradient from a row-major slice of `numel()` elements, reusing the current
    /// gradient's allocation when there is one.
    pub fn set_grad_from_slice(&self, grad: &[A]) -> Result<()> {
        if grad.len() != self.numel() {
            return Err(Error::ShapeMismatch {
                what: "gradient",
                name: self.inner.name.clone(),
                expected: self.shape().to_vec(),
                found: vec![grad.len()],
            });
        }
        let mut slot = self.own(self.write_grad(), "set_grad_from_slice");
        match slot.as_mut() {
            Some(existing) => as_slice_mut(existing).copy_from_slice(grad),
            None => {
                let array = ArrayD::from_shape_vec(IxDyn(self.shape()), grad.to_vec())
                    .expect("the slice's length was checked against the shape");
                self.store_grad(&mut slot, Some(array));
            }
        }
        Ok(())
    }

    /// Adds `grad` to the gradient, creating it when there is none (what torch's backward
    /// does to a leaf's `.grad`).
    pub fn accumulate_grad<D: Dimension>(&self, grad: &ArrayRef<A, D>) -> Result<()> {
        self.check_shape("gradient", grad.shape())?;
        let mut slot = self.own(self.write_grad(), "accumulate_grad");
        match slot.as_mut() {
            Some(existing) => {
                let grad = grad.view().into_dyn();
                existing.zip_mut_with(&grad, |g, &d| *g += d);
            }
            None => self.store_grad(&mut slot, Some(standard(grad.to_owned()))),
        }
        Ok(())
    }

    /// Removes the gradient and returns it.
    pub fn take_grad(&self) -> Option<ArrayD<A>> {
        let mut slot = self.own(self.write_grad(), "take_grad");
        let grad = slot.take();
        self.store_grad(&mut slot, None);
        grad
    }

    /// Clears the gradient: drops it (`set_to_none`, torch 2.x's default) or fills it with
    /// zeros, keeping its allocation.
    ///
    /// # Panics
    /// If this thread holds a guard of this parameter's gradient.
    pub fn zero_grad(&self, set_to_none: bool) {
        let mut slot = self.own(self.write_grad(), "zero_grad");
        if set_to_none {
            self.store_grad(&mut slot, None);
        } else if let Some(g) = slot.as_mut() {
            g.fill(A::zero());
        }
    }

    /// Replaces the gradient (the caller holds its write lock) and publishes where its
    /// elements start.
    fn store_grad(&self, slot: &mut Option<ArrayD<A>>, grad: Option<ArrayD<A>>) {
        *slot = grad;
        let data = slot.as_mut().map_or(std::ptr::null_mut(), |g| g.as_mut_ptr());
        self.inner.grad_data.store(data, Ordering::Relaxed);
    }

    /// Starts loading the value's and the gradient's first elements into cache (see
    /// [`isa::prefetch`](crate::isa::prefetch)): no lock, no effect but speed.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        let n = self.numel();
        crate::isa::prefetch(self.inner.value_data.load(Ordering::Relaxed).cast_const(), n);
        let grad = self.inner.grad_data.load(Ordering::Relaxed);
        if !grad.is_null() {
            crate::isa::prefetch(grad.cast_const(), n);
        }
    }

    fn check_shape(&self, what: &'static str, found: &[usize]) -> Result<()> {
        if found == self.shape() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what,
                name: self.inner.name.clone(),
                expected: self.shape().to_vec(),
                found: found.to_vec(),
            })
        }
    }

    // The locks an optimizer takes. It has checked beforehand that the calling thread holds
    // no guard of its parameters (`held::check`), and steps may run on other threads (whose
    // records say nothing about the caller's guards), so these simply wait.

    /// Locks the value for writing and the gradient for reading, in that order (the one
    /// order every step uses). `None` when there is no gradient.
    pub(crate) fn lock_for_update(&self) -> Option<UpdateGuards<'_, A>> {
        let value = self.inner.value.write().unwrap_or_else(PoisonError::into_inner);
        let grad = self.inner.grad.read().unwrap_or_else(PoisonError::into_inner);
        grad.is_some().then_some(UpdateGuards { value, grad })
    }

    /// Reads the gradient lock (for gathering flat gradients).
    pub(crate) fn grad_lock(&self) -> RwLockReadGuard<'_, Option<ArrayD<A>>> {
        self.inner.grad.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the gradient lock (for clipping).
    pub(crate) fn grad_write_lock(&self) -> RwLockWriteGuard<'_, Option<ArrayD<A>>> {
        self.inner.grad.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the value lock (for copying flat parameters).
    pub(crate) fn value_read_lock(&self) -> RwLockReadGuard<'_, ArrayD<A>> {
        self.inner.value.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the value lock (for scattering flat parameters).
    pub(crate) fn value_lock(&self) -> RwLockWriteGuard<'_, ArrayD<A>> {
        self.inner.value.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clears the gradient for an optimizer (see the locks above).
    pub(crate) fn clear_grad(&self, set_to_none: bool) {
        let mut slot = self.inner.grad.write().unwrap_or_else(PoisonError::into_inner);
        if set_to_none {
            self.store_grad(&mut slot, None);
        } else if let Some(g) = slot.as_mut() {
            g.fill(A::zero());
        }
    }
}

/// The elements of an array the crate keeps in standard layout (values, gradients and
/// state tensors): the layout is an invariant, so its slice always exists.
pub(crate) fn as_slice<A>(array: &ArrayD<A>) -> &[A] {
    array
        .as_slice()
        .expect("parameters, gradients and state tensors are kept in standard layout")
}

/// As [`as_slice`], mutable.
pub(crate) fn as_slice_mut<A>(array: &mut ArrayD<A>) -> &mut [A] {
    array
        .as_slice_mut()
        .expect("parameters, gradients and state tensors are kept in standard layout")
}

/// The value (for writing) and the gradient (present, for reading) of one parameter,
/// locked for an update.
pub(crate) struct UpdateGuards<'a, A> {
    value: RwLockWriteGuard<'a, ArrayD<A>>,
    grad: RwLockReadGuard<'a, Option<ArrayD<A>>>,
}

impl<A> UpdateGuards<'_, A> {
    /// The value's and the gradient's elements, row-major.
    pub(crate) fn slices(&mut self) -> (&mut [A], &[A]) {
        let grad = self
            .grad
            .as_ref()
            .expect("UpdateGuards is built only over a present gradient");
        (as_slice_mut(&mut self.value), as_slice(grad))
    }
}

/// Read access to a parameter's value; dereferences to the array. Holds the value's lock
/// until dropped.
pub struct ValueGuard<'a, A> {
    lock: RwLockReadGuard<'a, ArrayD<A>>,
    _held: Held,
}

impl<A> Deref for ValueGuard<'_, A> {
    type Target = ArrayD<A>;
    fn deref(&self) -> &ArrayD<A> {
        &self.lock
    }
}

/// Write access to a parameter's value; dereferences to an [`ArrayRefD`] (elements can
/// change, the shape cannot). Holds the value's lock until dropped.
pub struct ValueGuardMut<'a, A> {
    lock: RwLockWriteGuard<'a, ArrayD<A>>,
    _held: Held,
}

impl<A> Deref for ValueGuardMut<'_, A> {
    type Target = ArrayRefD<A>;
    fn deref(&self) -> &ArrayRefD<A> {
        &self.lock
    }
}

impl<A> DerefMut for ValueGuardMut<'_, A> {
    fn deref_mut(&mut self) -> &mut ArrayRefD<A> {
        &mut self.lock
    }
}

/// Read access to a parameter's gradient; dereferences to the array. Holds the gradient's
/// lock until dropped.
pub struct GradGuard<'a, A> {
    lock: RwLockReadGuard<'a, Option<ArrayD<A>>>,
    _held: Held,
}

impl<A> Deref for GradGuard<'_, A> {
    type Target = ArrayD<A>;
    fn deref(&self) -> &ArrayD<A> {
        // Built only by `Param::grad` after checking that the gradient is present; the
        // lock keeps anyone from removing it meanwhile.
        self.lock
            .as_ref()
            .expect("GradGuard is built only over a present gradient")
    }
}

/// Write access to a parameter's gradient; dereferences to an [`ArrayRefD`]. Holds the
/// gradient's lock until dropped.
pub struct GradGuardMut<'a, A> {
    lock: RwLockWriteGuard<'a, Option<ArrayD<A>>>,
    _held: Held,
}

impl<A> Deref for GradGuardMut<'_, A> {
    type Target = ArrayRefD<A>;
    fn deref(&self) -> &ArrayRefD<A> {
        // As for `GradGuard`: checked present at construction, held under the lock.
        self.lock
            .as_ref()
            .expect("GradGuardMut is built only over a present gradient")
    }
}

impl<A> DerefMut for GradGuardMut<'_, A> {
    fn deref_mut(&mut self) -> &mut ArrayRefD<A> {
        self.lock
            .as_mut()
            .expect("GradGuardMut is built only over a present gradient")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn param_is_send_and_sync() {
        assert_send_sync::<Param<f32>>();
        assert_send_sync::<Param<f64>>();
    }

    #[test]
    fn identity_is_the_handle_not_the_value() {
        let a = Param::new(array![1.0f64, 2.0]);
        let b = Param::new(array![1.0f64, 2.0]);
        assert_eq!(a, a.clone());
        assert_ne!(a, b);
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn clones_share_value_and_grad() {
        let a = Param::new(array![1.0f32, 2.0]);
        let b = a.clone();
        b.value_mut()[0] = 5.0;
        b.set_grad(array![1.0f32, 1.0]).expect("same shape");
        assert_eq!(a.value()[0], 5.0);
        assert!(a.has_grad());
    }

    #[test]
    fn gradient_of_wrong_shape_is_rejected_where_set() {
        let p = Param::named("w", Array2::<f64>::zeros((4, 3)));
        let err = p.set_grad(Array2::<f64>::zeros((3, 4))).expect_err("wrong shape");
        assert_eq!(
            err.to_string(),
            "gradient of shape [3, 4] does not match the parameter \"w\"'s shape [4, 3]"
        );
        assert!(!p.has_grad(), "a rejected gradient leaves none behind");
        assert!(p.set_grad_from_slice(&[0.0; 11]).is_err());
        assert!(p.accumulate_grad(&array![1.0f64]).is_err());
        assert!(p.set_value(array![1.0f64]).is_err());
    }

    #[test]
    fn non_standard_layouts_are_stored_row_major() {
        let t = array![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]].reversed_axes();
        assert!(!t.is_standard_layout());
        let p = Param::new(t.clone());
        assert!(p.value().is_standard_layout());
        assert_eq!(*p.value(), t.clone().into_dyn());
        p.set_grad(t.clone()).expect("same shape");
        assert!(p.grad().expect("set").is_standard_layout());
    }

    #[test]
    fn zero_grad_drops_or_zeroes_in_place() {
        let p = Param::new(array![1.0f32, 2.0]);
        p.set_grad(array![3.0f32, 4.0]).expect("shape");
        let before = p.grad().expect("set").as_ptr();
        p.zero_grad(false);
        let g = p.grad().expect("kept");
        assert_eq!(g.as_ptr(), before, "allocation kept");
        assert_eq!(*g, array![0.0f32, 0.0].into_dyn());
        drop(g);
        p.zero_grad(true);
        assert!(!p.has_grad());
    }

    #[test]
    fn accumulate_adds_or_creates() {
        let p = Param::new(array![0.0f64, 0.0]);
        p.accumulate_grad(&array![1.0, 2.0]).expect("shape");
        p.accumulate_grad(&array![1.0, 2.0]).expect("shape");
        assert_eq!(*p.grad().expect("set"), array![2.0, 4.0].into_dyn());
    }

    #[test]
    fn holding_the_value_while_setting_the_grad_does_not_deadlock() {
        let p = Param::new(array![1.0f32, 2.0]);
        let v = p.value();
        p.set_grad(v.mapv(|x| 2.0 * x)).expect("shape");
        drop(v);
        assert_eq!(*p.grad().expect("set"), array![2.0f32, 4.0].into_dyn());
    }
}
