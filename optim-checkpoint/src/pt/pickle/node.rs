//! The arena's objects: what the interpreter builds before `STOP`, with handles for
//! references, and the key and size rules shared by the interpreter and the tree builder.

use std::borrow::Cow;

use indexmap::IndexMap;

use super::MAX_DEPTH;
use super::globals::Global;
use crate::pt::{DType, Key, Tensor};
use crate::{Error, Result};

/// How many objects the tree (and the dict keys) may hold after shared references are
/// copied: linear in the pickle's size, so a file of shared references to shared
/// references cannot expand exponentially. torch's own files expand by less than 3x.
pub(super) fn expansion_limit(pickle_len: usize) -> usize {
    pickle_len.saturating_mul(8).saturating_add(1 << 16).min(1 << 26)
}

pub(super) type Handle = usize;

/// One Python object in the arena.
pub(super) enum Node<'a> {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Tuple(Vec<Handle>),
    List(Vec<Handle>),
    Dict(Box<DictNode<'a>>),
    Tensor(Box<Tensor<'a>>),
    Global(Global),
    Storage(Box<StorageNode<'a>>),
}

pub(super) struct DictNode<'a> {
    pub(super) ordered: bool,
    /// Keys are immutable (Python hashes only immutable values), so they are copied in when
    /// set; values stay handles, so later mutation of a value is seen through the dict.
    pub(super) entries: IndexMap<Key<'a>, Handle>,
    pub(super) attributes: IndexMap<Cow<'a, str>, Handle>,
}

/// What `BINPERSID` resolves to: a storage record's bytes, typed.
pub(super) struct StorageNode<'a> {
    pub(super) dtype: DType,
    pub(super) bytes: &'a [u8],
    pub(super) location: &'a str,
}

impl Node<'_> {
    /// What error messages call it.
    pub(super) fn describe(&self) -> String {
        match self {
            Node::None => "None".into(),
            Node::Bool(b) => format!("bool {}", if *b { "True" } else { "False" }),
            Node::Int(i) => format!("int {i}"),
            Node::Float(f) => format!("float {f}"),
            Node::Str(s) if s.len() <= 40 => format!("str {s:?}"),
            Node::Str(_) => "str".into(),
            Node::Tuple(items) => format!("tuple of {}", items.len()),
            Node::List(_) => "list".into(),
            Node::Dict(d) if d.ordered => "collections.OrderedDict".into(),
            Node::Dict(_) => "dict".into(),
            Node::Tensor(_) => "tensor".into(),
            Node::Global(g) => format!("global {}", g.describe()),
            Node::Storage(_) => "storage".into(),
        }
    }
}

/// Objects that may still be made by copying shared references (see [`expansion_limit`]).
pub(super) struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    pub(super) fn new(pickle_len: usize) -> Self {
        let limit = expansion_limit(pickle_len);
        Budget { left: limit, limit }
    }

    pub(super) fn spend(&mut self, objects: usize) -> Result<()> {
        self.left = self
            .left
            .checked_sub(objects)
            .ok_or(Error::TooLarge { limit: self.limit })?;
        Ok(())
    }
}

pub(super) fn new_dict<'a>(ordered: bool) -> Node<'a> {
    Node::Dict(Box::new(DictNode {
        ordered,
        entries: IndexMap::new(),
        attributes: IndexMap::new(),
    }))
}

/// The immutable value of a node used as a dict key, or `UnhashableKey`.
pub(super) fn key_of<'a>(
    arena: &[Node<'a>],
    handle: Handle,
    depth: usize,
    budget: &mut Budget,
    offset: usize,
) -> Result<Key<'a>> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep { limit: MAX_DEPTH });
    }
    budget.spend(1)?;
    Ok(match &arena[handle] {
        Node::None => Key::None,
        Node::Bool(b) => Key::Bool(*b),
        Node::Int(i) => Key::Int(*i),
        Node::Float(f) => Key::Float(*f),
        Node::Str(s) => Key::Str(Cow::Borrowed(s)),
        Node::Tuple(items) => Key::Tuple(
            items
                .iter()
                .map(|&item| key_of(arena, item, depth + 1, budget, offset))
                .collect::<Result<_>>()?,
        ),
        other => {
            return Err(Error::UnhashableKey {
                found: other.describe(),
                offset,
            });
        }
    })
}
