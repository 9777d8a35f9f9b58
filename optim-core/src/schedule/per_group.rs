//! Option types of schedules: one value or one per parameter group ([`PerGroup`], torch's
//! "float or list"), and a function of the step ([`Lambda`], torch's `lr_lambda`).

use std::fmt;
use std::sync::Arc;

use crate::dict::DictValue;
use crate::hyper::Numbers;
use crate::option_value::OptionValue;

/// One value for every parameter group, or one per group: torch's "float or list" options
/// (CyclicLR's `base_lr`, ReduceLROnPlateau's `min_lr`, SWALR's `swa_lr`). A list must
/// have one value per group of the optimizer the schedule is built on.
///
/// ```
/// use optim_core::schedule::PerGroup;
///
/// let all: PerGroup<f64> = 0.1.into();
/// let each: PerGroup<f64> = [0.1, 0.01].into();
/// assert_eq!(all.expand(2), [0.1, 0.1]);
/// assert_eq!(each.get(1), Some(&0.01));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum PerGroup<T> {
    /// The same value for every group (torch: a scalar).
    All(T),
    /// One value per group, in order (torch: a list).
    Each(Vec<T>),
}

impl<T: Clone> PerGroup<T> {
    /// Group `group`'s value; `None` past the end of a list.
    pub fn get(&self, group: usize) -> Option<&T> {
        match self {
            PerGroup::All(x) => Some(x),
            PerGroup::Each(xs) => xs.get(group),
        }
    }

    /// The length of a list; `None` for one value for all.
    pub fn list_len(&self) -> Option<usize> {
        match self {
            PerGroup::All(_) => None,
            PerGroup::Each(xs) => Some(xs.len()),
        }
    }

    /// One value per group for `groups` groups (a list as it is).
    pub fn expand(&self, groups: usize) -> Vec<T> {
        match self {
            PerGroup::All(x) => vec![x.clone(); groups],
            PerGroup::Each(xs) => xs.clone(),
        }
    }

    /// Every value given.
    pub fn values(&self) -> &[T] {
        match self {
            PerGroup::All(x) => std::slice::from_ref(x),
            PerGroup::Each(xs) => xs,
        }
    }
}

impl<T> From<T> for PerGroup<T> {
    fn from(x: T) -> Self {
        PerGroup::All(x)
    }
}

impl<T> From<Vec<T>> for PerGroup<T> {
    fn from(xs: Vec<T>) -> Self {
        PerGroup::Each(xs)
    }
}

impl<T, const N: usize> From<[T; N]> for PerGroup<T> {
    fn from(xs: [T; N]) -> Self {
        PerGroup::Each(xs.into())
    }
}

impl<T: OptionValue> OptionValue for PerGroup<T> {
    fn expected() -> String {
        format!("{} or a list of them (one per group)", T::expected())
    }
    fn to_value(&self) -> DictValue<'static> {
        match self {
            PerGroup::All(x) => x.to_value(),
            PerGroup::Each(xs) => DictValue::List(xs.iter().map(T::to_value).collect()),
        }
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        if let Some(x) = T::from_value(value) {
            return Some(PerGroup::All(x));
        }
        match value {
            DictValue::List(items) => items
                .iter()
                .map(T::from_value)
                .collect::<Option<_>>()
                .map(PerGroup::Each),
            _ => None,
        }
    }
    fn restore_unsaved(&mut self, current: &Self) {
        match (self, current) {
            (PerGroup::All(x), PerGroup::All(c)) => x.restore_unsaved(c),
            (PerGroup::Each(xs), PerGroup::Each(cs)) if xs.len() == cs.len() => {
                for (x, c) in xs.iter_mut().zip(cs) {
                    x.restore_unsaved(c);
                }
            }
            (this, current) => {
                // Saved as one value and now a list (or the converse): if what was read is
                // something not saved (a function), the schedule's own options are kept whole.
                let Some(first) = current.values().first() else { return };
                let mut restored = this.clone();
                for x in restored.values_mut() {
                    x.restore_unsaved(first);
                }
                if restored != *this {
                    *this = current.clone();
                }
            }
        }
    }
}

impl<T> PerGroup<T> {
    fn values_mut(&mut self) -> &mut [T] {
        match self {
            PerGroup::All(x) => std::slice::from_mut(x),
            PerGroup::Each(xs) => xs,
        }
    }
}

impl<T: Numbers> Numbers for PerGroup<T> {
    fn first_outside(&self, ok: &dyn Fn(f64) -> bool) -> Option<(Option<usize>, String)> {
        match self {
            PerGroup::All(x) => x.first_outside(ok),
            PerGroup::Each(xs) => xs
                .iter()
                .enumerate()
                .find_map(|(i, x)| x.first_outside(ok).map(|(_, v)| (Some(i), v))),
        }
    }
}

/// A function of the step count, given where torch takes a Python function (LambdaLR's and
/// MultiplicativeLR's `lr_lambda`, CyclicLR's `scale_fn`).
///
/// Like torch, which saves `None` for a plain function, a state dict holds `null` for it:
/// loading a state dict keeps the schedule's own functions. A `Lambda` read from a state
/// dict or config (`null`) is *no function*; a schedule built with one is refused
/// ("lr_lambda should be a function, but got NoneType").
///
/// ```
/// use optim_core::schedule::Lambda;
///
/// let warmup = Lambda::new(|epoch| ((epoch + 1) as f64 / 10.0).min(1.0));
/// assert_eq!(warmup.call(4), 0.5);
/// ```
#[derive(Clone, Default)]
pub struct Lambda(Option<Arc<dyn Fn(u64) -> f64 + Send + Sync>>);

impl Lambda {
    /// Wraps a function.
    pub fn new(f: impl Fn(u64) -> f64 + Send + Sync + 'static) -> Self {
        Lambda(Some(Arc::new(f)))
    }

    /// Whether this holds a function (not a `null` read from a state dict or config).
    pub fn is_function(&self) -> bool {
        self.0.is_some()
    }

    /// The function's value at `x`; NaN without a function (schedules refuse to be built
    /// without one, so they never see it).
    pub fn call(&self, x: u64) -> f64 {
        self.0.as_ref().map_or(f64::NAN, |f| f(x))
    }
}

impl fmt::Debug for Lambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Lambda(<function>)"
        } else {
            "Lambda(None)"
        })
    }
}

impl PartialEq for Lambda {
    /// The same function (the same allocation), or both none.
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
            _ => false,
        }
    }
}

impl OptionValue for Lambda {
    fn expected() -> String {
        "a function (written as null: functions are not saved)".into()
    }
    fn to_value(&self) -> DictValue<'static> {
        DictValue::Null
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        matches!(value, DictValue::Null).then(Lambda::default)
    }
    fn restore_unsaved(&mut self, current: &Self) {
        if self.0.is_none() {
            *self = current.clone();
        }
    }
}

impl PerGroup<Lambda> {
    /// Whether every value is a function (none is a `null` read from a state dict).
    pub fn are_functions(&self) -> bool {
        self.values().iter().all(Lambda::is_function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_group_values_read_back_as_given() {
        for v in [PerGroup::All(0.5), PerGroup::Each(vec![0.1, 0.2])] {
            assert_eq!(PerGroup::<f64>::from_value(&v.to_value()), Some(v));
        }
        assert_eq!(PerGroup::<f64>::from_value(&DictValue::Str("x".into())), None);
        let unit = |x: f64| (0.0..1.0).contains(&x);
        assert_eq!(
            PerGroup::Each(vec![0.5, 2.0]).first_outside(&unit),
            Some((Some(1), "2.0".into()))
        );
    }

    #[test]
    fn functions_are_saved_as_null_and_restored_from_the_schedule() {
        let f = Lambda::new(|e| e as f64);
        let mut loaded =
            PerGroup::<Lambda>::from_value(&PerGroup::Each(vec![f.clone(), f.clone()]).to_value()).unwrap();
        assert!(!loaded.are_functions());
        loaded.restore_unsaved(&PerGroup::All(f.clone()));
        assert_eq!(loaded, PerGroup::All(f.clone()));
        let mut one = PerGroup::<Lambda>::from_value(&DictValue::Null).unwrap();
        one.restore_unsaved(&PerGroup::All(f.clone()));
        assert_eq!(one.get(0).map(|l| l.call(3)), Some(3.0));
    }
}
