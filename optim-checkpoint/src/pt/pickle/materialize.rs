//! Turning the arena's graph into the owned [`Object`] tree: shared references are copied,
//! cycles refused, and the growth bounded.

use std::borrow::Cow;

use super::MAX_DEPTH;
use super::node::{Budget, DictNode, Handle, Node};
use crate::pt::{Dict, Key, Object, Tensor};
use crate::{Error, Result};

/// The tree under `root`; `pickle_len` sets how far shared references may expand.
pub(super) fn materialize<'a>(arena: &[Node<'a>], root: Handle, pickle_len: usize) -> Result<Object<'a>> {
    let mut tree = Materializer {
        arena,
        visiting: vec![false; arena.len()],
        budget: Budget::new(pickle_len),
    };
    tree.build(root, 0)
}

/// Turns the graph under the root into an owned tree.
struct Materializer<'m, 'a> {
    arena: &'m [Node<'a>],
    /// Containers on the current path: meeting one again is a cycle.
    visiting: Vec<bool>,
    budget: Budget,
}

impl<'a> Materializer<'_, 'a> {
    fn spend(&mut self, objects: usize) -> Result<()> {
        self.budget.spend(objects)
    }

    fn build(&mut self, handle: Handle, depth: usize) -> Result<Object<'a>> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep { limit: MAX_DEPTH });
        }
        self.spend(1)?;
        let arena = self.arena;
        Ok(match &arena[handle] {
            Node::None => Object::None,
            Node::Bool(b) => Object::Bool(*b),
            Node::Int(i) => Object::Int(*i),
            Node::Float(f) => Object::Float(*f),
            Node::Str(s) => Object::Str(Cow::Borrowed(s)),
            Node::Tuple(items) => Object::Tuple(self.items(handle, items, depth, "tuple")?),
            Node::List(items) => Object::List(self.items(handle, items, depth, "list")?),
            Node::Dict(node) => Object::Dict(self.dict(handle, node, depth)?),
            Node::Tensor(tensor) => {
                self.spend(2 * tensor.shape().len())?;
                Object::Tensor(Tensor::clone(tensor))
            }
            Node::Global(_) => {
                return Err(Error::NotData {
                    found: "class or function (a global)",
                });
            }
            Node::Storage(_) => {
                return Err(Error::NotData {
                    found: "storage outside a tensor",
                });
            }
        })
    }

    fn enter(&mut self, handle: Handle, container: &'static str) -> Result<()> {
        if std::mem::replace(&mut self.visiting[handle], true) {
            return Err(Error::Recursive { container });
        }
        Ok(())
    }

    fn items(&mut self, handle: Handle, items: &[Handle], depth: usize, kind: &'static str) -> Result<Vec<Object<'a>>> {
        self.enter(handle, kind)?;
        let built = items
            .iter()
            .map(|&item| self.build(item, depth + 1))
            .collect::<Result<_>>()?;
        self.visiting[handle] = false;
        Ok(built)
    }

    fn dict(&mut self, handle: Handle, node: &DictNode<'a>, depth: usize) -> Result<Dict<'a>> {
        self.enter(
            handle,
            if node.ordered {
                "collections.OrderedDict"
            } else {
                "dict"
            },
        )?;
        let mut dict = if node.ordered { Dict::new_ordered() } else { Dict::new() };
        for (key, &value) in &node.entries {
            self.spend(key_len(key))?;
            dict.insert(key.clone(), self.build(value, depth + 1)?);
        }
        for (attribute, &value) in &node.attributes {
            dict.set_attribute(attribute.clone(), self.build(value, depth + 1)?);
        }
        self.visiting[handle] = false;
        Ok(dict)
    }
}

/// How many objects a key holds.
fn key_len(key: &Key<'_>) -> usize {
    match key {
        Key::Tuple(items) => 1 + items.iter().map(key_len).sum::<usize>(),
        _ => 1,
    }
}
