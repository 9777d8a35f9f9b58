//! The Python-object tree that `torch.load(weights_only=True)` returns, as plain data.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use indexmap::{Equivalent, IndexMap};

use super::Tensor;

/// One Python object of a weights-only checkpoint.
///
/// `'a` is the lifetime of the bytes tensors and strings borrow: the mapped file for a tree
/// that was read, the caller's data for a tree to be written.
#[derive(Clone, Debug, PartialEq)]
pub enum Object<'a> {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// A Python `int` that fits in 64 bits (larger ones are refused when read).
    Int(i64),
    /// A Python `float`.
    Float(f64),
    /// A `str`.
    Str(Cow<'a, str>),
    /// A `tuple`.
    Tuple(Vec<Object<'a>>),
    /// A `list`.
    List(Vec<Object<'a>>),
    /// A `dict` or a `collections.OrderedDict`.
    Dict(Dict<'a>),
    /// A `torch.Tensor` (or `torch.nn.Parameter`).
    Tensor(Tensor<'a>),
}

impl<'a> Object<'a> {
    /// The Python type's name: `NoneType`, `bool`, `int`, `float`, `str`, `tuple`, `list`,
    /// `dict`, `collections.OrderedDict`, `torch.Tensor` or `torch.nn.Parameter`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::None => "NoneType",
            Object::Bool(_) => "bool",
            Object::Int(_) => "int",
            Object::Float(_) => "float",
            Object::Str(_) => "str",
            Object::Tuple(_) => "tuple",
            Object::List(_) => "list",
            Object::Dict(dict) if dict.is_ordered() => "collections.OrderedDict",
            Object::Dict(_) => "dict",
            Object::Tensor(t) if t.is_parameter() => "torch.nn.Parameter",
            Object::Tensor(_) => "torch.Tensor",
        }
    }

    /// The dict, if this is a `dict` or an `OrderedDict`.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Object::Dict(dict) => Some(dict),
            _ => None,
        }
    }

    /// The items, if this is a `list` or a `tuple`.
    pub fn as_sequence(&self) -> Option<&[Object<'a>]> {
        match self {
            Object::List(items) | Object::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The tensor, if this is one.
    pub fn as_tensor(&self) -> Option<&Tensor<'a>> {
        match self {
            Object::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The string, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Object::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `int` (not a `bool`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Object::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is a `float` (an `int` is not converted).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Object::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The boolean, if this is a `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Object::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<bool> for Object<'_> {
    fn from(value: bool) -> Self {
        Object::Bool(value)
    }
}

impl From<i64> for Object<'_> {
    fn from(value: i64) -> Self {
        Object::Int(value)
    }
}

impl From<f64> for Object<'_> {
    fn from(value: f64) -> Self {
        Object::Float(value)
    }
}

impl<'a> From<&'a str> for Object<'a> {
    fn from(value: &'a str) -> Self {
        Object::Str(Cow::Borrowed(value))
    }
}

impl From<String> for Object<'_> {
    fn from(value: String) -> Self {
        Object::Str(Cow::Owned(value))
    }
}

impl<'a> From<Tensor<'a>> for Object<'a> {
    fn from(value: Tensor<'a>) -> Self {
        Object::Tensor(value)
    }
}

impl<'a> From<Dict<'a>> for Object<'a> {
    fn from(value: Dict<'a>) -> Self {
        Object::Dict(value)
    }
}

impl<'a> From<Key<'a>> for Object<'a> {
    fn from(key: Key<'a>) -> Self {
        match key {
            Key::None => Object::None,
            Key::Bool(b) => Object::Bool(b),
            Key::Int(i) => Object::Int(i),
            Key::Float(f) => Object::Float(f),
            Key::Str(s) => Object::Str(s),
            Key::Tuple(items) => Object::Tuple(items.into_iter().map(Object::from).collect()),
        }
    }
}

/// A dict key: the hashable part of the data model.
///
/// Keys compare and hash as Python's do, so that a dict holds what Python's would:
/// `1`, `1.0` and `True` are one key, as are `(1, 'a')` and `(1.0, 'a')`. (One difference:
/// NaN keys with the same bits are one key here, where Python keeps distinct NaN objects
/// apart.)
#[derive(Clone, Debug)]
pub enum Key<'a> {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`; torch's optimizer state dicts key `state` by parameter index.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(Cow<'a, str>),
    /// A tuple of keys.
    Tuple(Vec<Key<'a>>),
}

/// A key's value as Python compares it: bools and integral floats are integers.
#[derive(PartialEq)]
enum Numeric {
    Int(i64),
    Float(u64),
}

impl Key<'_> {
    fn numeric(&self) -> Option<Numeric> {
        match *self {
            Key::Bool(b) => Some(Numeric::Int(i64::from(b))),
            Key::Int(i) => Some(Numeric::Int(i)),
            Key::Float(f) => Some(float_numeric(f)),
            _ => None,
        }
    }
}

fn float_numeric(f: f64) -> Numeric {
    // -2^63 <= f < 2^63, both exactly representable, so the cast below is exact.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
        // `as` is exact here: f is integral and in range (and -0.0 becomes 0, as in Python).
        Numeric::Int(f as i64)
    } else {
        Numeric::Float(f.to_bits())
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        key_eq(self, other)
    }
}

impl Eq for Key<'_> {}

/// Tags that keep the kinds of key apart in the hash.
const HASH_NONE: u8 = 0;
const HASH_INT: u8 = 1;
const HASH_FLOAT: u8 = 2;
const HASH_STR: u8 = 3;
const HASH_TUPLE: u8 = 4;

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.numeric() {
            Some(Numeric::Int(i)) => hash_int(i, state),
            Some(Numeric::Float(bits)) => {
                HASH_FLOAT.hash(state);
                bits.hash(state);
            }
            None => match self {
                Key::Str(s) => hash_str(s, state),
                Key::Tuple(items) => {
                    HASH_TUPLE.hash(state);
                    items.hash(state);
                }
                _ => HASH_NONE.hash(state),
            },
        }
    }
}

fn hash_int<H: Hasher>(i: i64, state: &mut H) {
    HASH_INT.hash(state);
    i.hash(state);
}

fn hash_str<H: Hasher>(s: &str, state: &mut H) {
    HASH_STR.hash(state);
    s.hash(state);
}

impl From<i64> for Key<'_> {
    fn from(value: i64) -> Self {
        Key::Int(value)
    }
}

impl<'a> From<&'a str> for Key<'a> {
    fn from(value: &'a str) -> Self {
        Key::Str(Cow::Borrowed(value))
    }
}

impl From<String> for Key<'_> {
    fn from(value: String) -> Self {
        Key::Str(Cow::Owned(value))
    }
}

/// Looks up a `str` key without building a [`Key`]; hashes as [`Key::Str`] does.
struct StrKey<'s>(&'s str);

impl Hash for StrKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_str(self.0, state);
    }
}

impl Equivalent<Key<'_>> for StrKey<'_> {
    fn equivalent(&self, key: &Key<'_>) -> bool {
        matches!(key, Key::Str(s) if s == self.0)
    }
}

/// Looks up an `int` key without building a [`Key`]; hashes as [`Key::Int`] does.
struct IntKey(i64);

impl Hash for IntKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_int(self.0, state);
    }
}

impl Equivalent<Key<'_>> for IntKey {
    fn equivalent(&self, key: &Key<'_>) -> bool {
        key == &Key::Int(self.0)
    }
}

/// A `dict` or `collections.OrderedDict`: entries in insertion order, keyed as Python keys them.
///
/// An `OrderedDict` may also carry attributes (its `__dict__`): a module's `state_dict()`
/// sets `_metadata` there, and `torch.save` keeps it.
///
/// ```
/// use optim_checkpoint::pt::{Dict, Key, Object};
///
/// let mut state = Dict::new();
/// state.insert(Key::Int(0), Object::Float(0.5));
/// state.insert(Key::Float(0.0), Object::Float(0.25)); // 0.0 == 0: replaces the value
/// assert_eq!(state.len(), 1);
/// assert_eq!(state.get_int(0), Some(&Object::Float(0.25)));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dict<'a> {
    entries: IndexMap<Key<'a>, Object<'a>>,
    ordered: bool,
    attributes: IndexMap<Cow<'a, str>, Object<'a>>,
}

impl<'a> Dict<'a> {
    /// An empty `dict`.
    pub fn new() -> Self {
        Dict::default()
    }

    /// An empty `collections.OrderedDict`.
    pub fn new_ordered() -> Self {
        Dict {
            ordered: true,
            ..Dict::default()
        }
    }

    /// Whether this is a `collections.OrderedDict` rather than a `dict`.
    pub fn is_ordered(&self) -> bool {
        self.ordered
    }

    /// Sets `key` to `value` as Python's `d[key] = value` does: an equal key keeps its
    /// place (and its first spelling) and gets the new value, which returns the old one.
    pub fn insert(&mut self, key: impl Into<Key<'a>>, value: impl Into<Object<'a>>) -> Option<Object<'a>> {
        self.entries.insert(key.into(), value.into())
    }

    /// The value of `key`.
    pub fn get(&self, key: &Key<'_>) -> Option<&Object<'a>> {
        // Key<'a> and Key<'_> are the same type but for the lifetime of borrowed strings:
        // compare through `Equivalent` so that a short-lived key can look up.
        struct Any<'k, 'l>(&'k Key<'l>);
        impl Hash for Any<'_, '_> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }
        impl Equivalent<Key<'_>> for Any<'_, '_> {
            fn equivalent(&self, key: &Key<'_>) -> bool {
                key_eq(self.0, key)
            }
        }
        self.entries.get(&Any(key))
    }

    /// The value of the `str` key `key`.
    pub fn get_str(&self, key: &str) -> Option<&Object<'a>> {
        self.entries.get(&StrKey(key))
    }

    /// The value of the `int` key `key` (or of an equal `float` or `bool` key, as in Python).
    pub fn get_int(&self, key: i64) -> Option<&Object<'a>> {
        self.entries.get(&IntKey(key))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key<'a>, &Object<'a>)> {
        self.entries.iter()
    }

    /// The attributes of an `OrderedDict` (its `__dict__`), in insertion order.
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = (&str, &Object<'a>)> {
        self.attributes.iter().map(|(name, value)| (name.as_ref(), value))
    }

    /// Sets an attribute, as `setattr` would; only an `OrderedDict` keeps attributes
    /// (`false`, and nothing set, for a plain `dict`, which has no `__dict__` in Python).
    pub fn set_attribute(&mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Object<'a>>) -> bool {
        if !self.ordered {
            return false;
        }
        self.attributes.insert(name.into(), value.into());
        true
    }
}

/// Python's key equality across the lifetimes of borrowed strings.
fn key_eq(a: &Key<'_>, b: &Key<'_>) -> bool {
    if let (Some(x), Some(y)) = (a.numeric(), b.numeric()) {
        return x == y;
    }
    match (a, b) {
        (Key::None, Key::None) => true,
        (Key::Str(x), Key::Str(y)) => x == y,
        (Key::Tuple(x), Key::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| key_eq(p, q)),
        _ => false,
    }
}

impl<'a> IntoIterator for Dict<'a> {
    type Item = (Key<'a>, Object<'a>);
    type IntoIter = indexmap::map::IntoIter<Key<'a>, Object<'a>>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K: Into<Key<'a>>, V: Into<Object<'a>>> FromIterator<(K, V)> for Dict<'a> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut dict = Dict::new();
        for (key, value) in iter {
            dict.insert(key, value);
        }
        dict
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;

    fn hash_of(key: &Key<'_>) -> u64 {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    }

    #[test]
    fn keys_follow_python_equality() {
        assert_eq!(Key::Int(1), Key::Bool(true));
        assert_eq!(Key::Int(1), Key::Float(1.0));
        assert_eq!(Key::Int(0), Key::Float(-0.0));
        assert_ne!(Key::Int(1), Key::Float(1.5));
        assert_ne!(Key::from("1"), Key::Int(1));
        assert_eq!(
            Key::Tuple(vec![Key::Int(2), Key::from("a")]),
            Key::Tuple(vec![Key::Float(2.0), Key::from("a")])
        );
        assert_eq!(hash_of(&Key::Bool(true)), hash_of(&Key::Float(1.0)));
        assert_eq!(hash_of(&Key::Int(-3)), hash_of(&Key::Float(-3.0)));
        // 2^63 is not an i64: it stays a float, equal to no integer key.
        assert_ne!(Key::Float(9_223_372_036_854_775_808.0), Key::Int(i64::MIN));
        assert_eq!(Key::Float(-9_223_372_036_854_775_808.0), Key::Int(i64::MIN));
    }

    #[test]
    fn insert_keeps_first_key_and_position() {
        let mut d = Dict::new();
        d.insert(1, "a");
        d.insert("x", "b");
        assert_eq!(d.insert(Key::Bool(true), "c"), Some(Object::from("a")));
        let entries: Vec<_> = d.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert!(matches!(entries[0].0, Key::Int(1)), "the first key's spelling stays");
        assert_eq!(entries[0].1, Object::from("c"));
        assert_eq!(d.get_str("x"), Some(&Object::from("b")));
        assert_eq!(d.get_int(1), Some(&Object::from("c")));
        let name = String::from("x");
        assert_eq!(d.get(&Key::from(name.as_str())), Some(&Object::from("b")));
    }

    #[test]
    fn only_ordered_dicts_keep_attributes() {
        let mut plain = Dict::new();
        assert!(!plain.set_attribute("_metadata", Object::None));
        assert_eq!(plain.attributes().len(), 0);
        let mut ordered = Dict::new_ordered();
        assert!(ordered.set_attribute("_metadata", Object::None));
        assert_eq!(ordered.attributes().next(), Some(("_metadata", &Object::None)));
        assert_eq!(Object::Dict(ordered).type_name(), "collections.OrderedDict");
    }
}
