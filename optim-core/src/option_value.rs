//! The types an optimizer option can have, and how each converts to and from a state
//! dict [`DictValue`].

use std::fmt::Debug;

use crate::dict::DictValue;

/// A type usable as an optimizer option: `f64`, `f32`, `bool`, integers, `String`,
/// tuples of options (`betas: (f64, f64)` is a JSON list of two numbers), `Vec<T>` (a list),
/// `Option<T>` (`None` is JSON `null`), and any type of yours that implements this trait, typically a
/// small enum such as a line-search choice.
///
/// ```
/// use optim_core::{DictValue, OptionValue};
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum Schedule { Constant, Cosine }
///
/// impl OptionValue for Schedule {
///     fn expected() -> String { "\"constant\" or \"cosine\"".into() }
///     fn to_value(&self) -> DictValue<'static> {
///         match self { Schedule::Constant => "constant".into(), Schedule::Cosine => "cosine".into() }
///     }
///     fn from_value(v: &DictValue<'_>) -> Option<Self> {
///         match v {
///             DictValue::Str(s) if s == "constant" => Some(Schedule::Constant),
///             DictValue::Str(s) if s == "cosine" => Some(Schedule::Cosine),
///             _ => None,
///         }
///     }
/// }
/// assert_eq!(Schedule::from_value(&Schedule::Cosine.to_value()), Some(Schedule::Cosine));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of an optimizer option",
    label = "not an option type",
    note = "options can be f64, f32, bool, integers, String, tuples and Vecs of options, Option<T>, or a type that implements `OptionValue`"
)]
pub trait OptionValue: Clone + Debug + PartialEq + Send + Sync + 'static {
    /// What the option accepts, for error messages: `"a number"`, `"a list of 2 numbers"`.
    fn expected() -> String;
    /// The value as a state dict holds it.
    fn to_value(&self) -> DictValue<'static>;
    /// Reads the value back; `None` when it has the wrong type or range.
    fn from_value(value: &DictValue<'_>) -> Option<Self>;

    /// After `self` was read from a state dict, takes back from `current` what a state dict
    /// does not hold (a schedule's functions, written as `null`). Nothing, for every type
    /// whose value a state dict holds whole.
    fn restore_unsaved(&mut self, current: &Self) {
        let _ = current;
    }
}

impl OptionValue for f64 {
    fn expected() -> String {
        "a number".into()
    }
    fn to_value(&self) -> DictValue<'static> {
        DictValue::Float(*self)
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        value.as_f64()
    }
}

impl OptionValue for f32 {
    fn expected() -> String {
        "a number".into()
    }
    fn to_value(&self) -> DictValue<'static> {
        DictValue::Float(*self as f64)
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        value.as_f64().map(|x| x as f32)
    }
}

impl OptionValue for bool {
    fn expected() -> String {
        "a boolean".into()
    }
    fn to_value(&self) -> DictValue<'static> {
        DictValue::Bool(*self)
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        match value {
            DictValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl OptionValue for String {
    fn expected() -> String {
        "a string".into()
    }
    fn to_value(&self) -> DictValue<'static> {
        DictValue::Str(self.clone())
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        match value {
            DictValue::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}

macro_rules! unsigned_option {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            fn expected() -> String {
                "a non-negative integer".into()
            }
            fn to_value(&self) -> DictValue<'static> {
                i64::try_from(*self).map_or(DictValue::Float(*self as f64), DictValue::Int)
            }
            fn from_value(value: &DictValue<'_>) -> Option<Self> {
                value.as_u64().and_then(|u| <$t>::try_from(u).ok())
            }
        }
    )*};
}
unsigned_option!(u8, u16, u32, u64, usize);

macro_rules! signed_option {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            fn expected() -> String {
                "an integer".into()
            }
            fn to_value(&self) -> DictValue<'static> {
                DictValue::Int(*self as i64)
            }
            fn from_value(value: &DictValue<'_>) -> Option<Self> {
                let i = match value {
                    DictValue::Int(i) => *i,
                    DictValue::Float(x) if x.fract() == 0.0 && x.abs() < 2f64.powi(62) => *x as i64,
                    _ => return None,
                };
                <$t>::try_from(i).ok()
            }
        }
    )*};
}
signed_option!(i8, i16, i32, i64, isize);

impl<T: OptionValue> OptionValue for Option<T> {
    fn expected() -> String {
        format!("null or {}", T::expected())
    }
    fn to_value(&self) -> DictValue<'static> {
        match self {
            Some(v) => v.to_value(),
            None => DictValue::Null,
        }
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        match value {
            DictValue::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
    fn restore_unsaved(&mut self, current: &Self) {
        if let (Some(x), Some(c)) = (self, current) {
            x.restore_unsaved(c);
        }
    }
}

impl<T: OptionValue> OptionValue for Vec<T> {
    fn expected() -> String {
        format!("a list of {}", T::expected())
    }
    fn to_value(&self) -> DictValue<'static> {
        DictValue::List(self.iter().map(T::to_value).collect())
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        match value {
            DictValue::List(items) => items.iter().map(T::from_value).collect(),
            _ => None,
        }
    }
    fn restore_unsaved(&mut self, current: &Self) {
        if self.len() == current.len() {
            for (x, c) in self.iter_mut().zip(current) {
                x.restore_unsaved(c);
            }
        }
    }
}

macro_rules! tuple_option {
    ($n:literal: $($t:ident $i:tt),*) => {
        impl<$($t: OptionValue),*> OptionValue for ($($t,)*) {
            fn expected() -> String {
                let parts: Vec<String> = vec![$($t::expected()),*];
                format!("a list of {} items ({})", $n, parts.join(", "))
            }
            fn to_value(&self) -> DictValue<'static> {
                DictValue::List(vec![$(self.$i.to_value()),*])
            }
            fn from_value(value: &DictValue<'_>) -> Option<Self> {
                match value {
                    DictValue::List(items) if items.len() == $n => {
                        Some(($($t::from_value(&items[$i])?,)*))
                    }
                    _ => None,
                }
            }
        }
    };
}
tuple_option!(2: T0 0, T1 1);
tuple_option!(3: T0 0, T1 1, T2 2);
tuple_option!(4: T0 0, T1 1, T2 2, T3 3);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: OptionValue>(v: T) {
        assert_eq!(T::from_value(&v.to_value()), Some(v));
    }

    #[test]
    fn every_builtin_option_type_round_trips() {
        round_trip(0.1f64);
        round_trip(0.5f32);
        round_trip(true);
        round_trip(25usize);
        round_trip(-3i32);
        round_trip((0.9f64, 0.999f64));
        round_trip(Some(4u64));
        round_trip(None::<u64>);
        round_trip(String::from("strong_wolfe"));
        round_trip((1u8, false, 2.5f64));
        round_trip(vec![20u64, 8, 35, 8]);
    }

    #[test]
    fn torch_ints_read_as_floats_and_whole_floats_as_ints() {
        assert_eq!(f64::from_value(&DictValue::Int(0)), Some(0.0));
        assert_eq!(usize::from_value(&DictValue::Float(25.0)), Some(25));
        assert_eq!(usize::from_value(&DictValue::Float(2.5)), None);
        assert_eq!(usize::from_value(&DictValue::Int(-1)), None);
        assert_eq!(u8::from_value(&DictValue::Int(300)), None);
    }

    #[test]
    fn wrong_types_are_refused() {
        assert_eq!(f64::from_value(&DictValue::Str("0.1".into())), None);
        assert_eq!(bool::from_value(&DictValue::Int(1)), None);
        assert_eq!(
            <(f64, f64)>::from_value(&DictValue::List(vec![DictValue::Float(0.9)])),
            None
        );
        assert_eq!(<(f64, f64)>::expected(), "a list of 2 items (a number, a number)");
    }
}
