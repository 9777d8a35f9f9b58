//! A checkpoint's tree as read from its files, its tensors held as references into the
//! mapped files: one parse at load, then any number of borrowing views
//! ([`Node::view`]), which is what lets a loaded checkpoint hand out a `StateDict<'_>`
//! whose tensors are the file's bytes.

use std::borrow::Cow;
use std::ops::Range;

use optim_core::{DType, DictTensor, DictValue};

use crate::file::Mapping;

/// One node of the tree: a scalar (`null`, bool, int, float, string), a list, a map, or a
/// tensor.
pub(crate) enum Node {
    /// A value without children (never a list, map or tensor).
    Leaf(DictValue<'static>),
    /// A list.
    List(Vec<Node>),
    /// A string-keyed map, in order.
    Map(Vec<(String, Node)>),
    /// A tensor.
    Tensor(TensorNode),
}

/// A tensor of the tree: bytes in a mapped file, or its own (a format without bytes to
/// borrow, JSON, or a strided view gathered when read).
pub(crate) enum TensorNode {
    /// `shape` elements of `dtype` at `range` of file `file`.
    Mapped {
        file: usize,
        range: Range<usize>,
        shape: Vec<usize>,
        dtype: DType,
    },
    /// A tensor owning its bytes.
    Owned(DictTensor<'static>),
}

impl TensorNode {
    /// A tensor over `range` of `files[file]`, or `None` when the range is not in the file
    /// or does not hold exactly the shape's elements: checked here, once, so that
    /// [`Node::view`] cannot fail.
    pub(crate) fn mapped(
        files: &[Mapping],
        file: usize,
        range: Range<usize>,
        shape: Vec<usize>,
        dtype: DType,
    ) -> Option<TensorNode> {
        let bytes = files.get(file)?.bytes().get(range.clone())?;
        DictTensor::from_le_bytes(shape.clone(), dtype, Cow::Borrowed(bytes))?;
        Some(TensorNode::Mapped {
            file,
            range,
            shape,
            dtype,
        })
    }
}

impl Node {
    /// A tree that owns its tensors (read from JSON).
    pub(crate) fn from_owned(value: DictValue<'static>) -> Node {
        match value {
            DictValue::List(items) => Node::List(items.into_iter().map(Node::from_owned).collect()),
            DictValue::Map(map) => Node::Map(map.into_iter().map(|(k, v)| (k, Node::from_owned(v))).collect()),
            DictValue::Tensor(t) => Node::Tensor(TensorNode::Owned(t)),
            leaf => Node::Leaf(leaf),
        }
    }

    /// The tree, its tensors borrowing the files' bytes (and releasing their pages once
    /// copied, see `Mapping`).
    pub(crate) fn view<'a>(&'a self, files: &'a [Mapping]) -> DictValue<'a> {
        match self {
            Node::Leaf(value) => value.clone(),
            Node::List(items) => DictValue::List(items.iter().map(|n| n.view(files)).collect()),
            Node::Map(entries) => DictValue::Map(entries.iter().map(|(k, n)| (k.as_str(), n.view(files))).collect()),
            Node::Tensor(TensorNode::Owned(t)) => DictValue::Tensor(t.borrow()),
            Node::Tensor(TensorNode::Mapped {
                file,
                range,
                shape,
                dtype,
            }) => {
                let mapping = &files[*file];
                let bytes = Cow::Borrowed(&mapping.bytes()[range.clone()]);
                // Checked when the node was made (`TensorNode::mapped`), and the files
                // never change.
                let tensor = DictTensor::from_le_bytes(shape.clone(), *dtype, bytes)
                    .expect("a mapped tensor's range holds its shape, checked when read");
                DictValue::Tensor(tensor.with_source(mapping))
            }
        }
    }

    /// The entry `key` of a map at the root.
    pub(crate) fn take_entry(self, key: &str) -> Result<Node, String> {
        match self {
            Node::Map(entries) => {
                let keys = entries
                    .iter()
                    .map(|(k, _)| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                entries
                    .into_iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, node)| node)
                    .ok_or(keys)
            }
            other => Err(format!("none: the root is {}", other.describe())),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Node::Leaf(_) => "a single value",
            Node::List(_) => "a list",
            Node::Map(_) => "a map",
            Node::Tensor(_) => "a tensor",
        }
    }
}
