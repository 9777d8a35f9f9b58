//! What `REDUCE` of torch's two tensor rebuild functions makes, from their pickled arguments.

use super::node::{Handle, Node};
use crate::pt::Tensor;
use crate::{Error, Result};

const TENSOR_V2: &str = "torch._utils._rebuild_tensor_v2";
const PARAMETER: &str = "torch._utils._rebuild_parameter";

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`:
/// a view of the storage, checked against it as torch's `set_` checks it.
pub(super) fn tensor_v2<'a>(arena: &[Node<'a>], args: &[Handle], offset: usize) -> Result<Tensor<'a>> {
    let problem = |problem: String| Error::TensorArgs {
        function: TENSOR_V2,
        offset,
        problem,
    };
    let (storage, storage_offset, size, stride, requires_grad, hooks, metadata) = match *args {
        [a, b, c, d, e, f] => (a, b, c, d, e, f, None),
        [a, b, c, d, e, f, g] => (a, b, c, d, e, f, Some(g)),
        _ => return Err(problem(format!("takes 6 or 7 arguments, got {}", args.len()))),
    };
    let Node::Storage(storage) = &arena[storage] else {
        return Err(problem(format!(
            "the storage argument is a {}",
            arena[storage].describe()
        )));
    };
    let storage_offset = index(&arena[storage_offset])
        .ok_or_else(|| problem(format!("the storage offset is a {}", arena[storage_offset].describe())))?;
    let shape = indices(arena, size).ok_or_else(|| {
        problem(format!(
            "the size is a {}, not non-negative ints",
            arena[size].describe()
        ))
    })?;
    let strides = indices(arena, stride).ok_or_else(|| {
        problem(format!(
            "the stride is a {}, not non-negative ints",
            arena[stride].describe()
        ))
    })?;
    let Node::Bool(requires_grad) = arena[requires_grad] else {
        return Err(problem(format!(
            "requires_grad is a {}",
            arena[requires_grad].describe()
        )));
    };
    if !is_empty_dict(&arena[hooks]) {
        return Err(problem(
            "backward hooks are not supported (torch.save writes an empty OrderedDict)".into(),
        ));
    }
    if let Some(metadata) = metadata
        && !(matches!(arena[metadata], Node::None) || is_empty_dict(&arena[metadata]))
    {
        return Err(problem(format!(
            "tensor metadata ({}) is not supported",
            arena[metadata].describe()
        )));
    }
    let tensor = Tensor::strided(storage.dtype, shape, strides, storage_offset, storage.bytes)?;
    Ok(tensor.with_location(storage.location).with_requires_grad(requires_grad))
}

/// `_rebuild_parameter(data, requires_grad, backward_hooks)`: the tensor, as a parameter.
pub(super) fn parameter<'a>(arena: &[Node<'a>], args: &[Handle], offset: usize) -> Result<Tensor<'a>> {
    let problem = |problem: String| Error::TensorArgs {
        function: PARAMETER,
        offset,
        problem,
    };
    let [data, requires_grad, hooks] = *args else {
        return Err(problem(format!("takes 3 arguments, got {}", args.len())));
    };
    let Node::Tensor(data) = &arena[data] else {
        return Err(problem(format!("the data argument is a {}", arena[data].describe())));
    };
    let Node::Bool(requires_grad) = arena[requires_grad] else {
        return Err(problem(format!(
            "requires_grad is a {}",
            arena[requires_grad].describe()
        )));
    };
    if !is_empty_dict(&arena[hooks]) {
        return Err(problem(
            "backward hooks are not supported (torch.save writes an empty OrderedDict)".into(),
        ));
    }
    Ok(Tensor::clone(data)
        .with_parameter(true)
        .with_requires_grad(requires_grad))
}

fn index(node: &Node<'_>) -> Option<usize> {
    match *node {
        Node::Int(i) => usize::try_from(i).ok(),
        _ => None,
    }
}

/// A `torch.Size` (pickled as a tuple) or a list of non-negative ints.
fn indices(arena: &[Node<'_>], handle: Handle) -> Option<Vec<usize>> {
    match &arena[handle] {
        Node::Tuple(items) | Node::List(items) => items.iter().map(|&item| index(&arena[item])).collect(),
        _ => None,
    }
}

fn is_empty_dict(node: &Node<'_>) -> bool {
    matches!(node, Node::Dict(d) if d.entries.is_empty())
}
