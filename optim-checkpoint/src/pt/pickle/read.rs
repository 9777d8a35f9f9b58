//! The unpickler: an interpreter of exactly the opcodes and globals torch.save writes for a
//! weights-only checkpoint. Nothing is imported or called; globals are tags, storages are
//! byte ranges, and every length, index and count is checked.
//!
//! Python objects are references: a dict memoized by `BINPUT` and filled later by `SETITEMS`
//! is the same dict wherever `BINGET` fetches it. So the machine builds a graph of nodes in
//! an arena (the stack and memo hold handles), and only at `STOP` turns the graph into the
//! owned [`Object`] tree, copying what is shared, refusing cycles, and bounding the growth.

use std::collections::HashMap;

use super::globals::{self, Global, Refusal};
use super::materialize::materialize;
use super::node::{Budget, Handle, Node, StorageNode, key_of, new_dict};
use super::opcodes::{self as op, name};
use super::{MAX_DEPTH, rebuild};
use crate::pt::{DType, Key, Object};
use crate::{Error, Result};

/// Where persistent ids lead: the bytes of storage `key`.
pub(crate) trait StorageSource<'a> {
    /// The bytes of storage `key`, which holds `numel` elements of `dtype`; checked against
    /// that size, in place in the file.
    fn storage(&mut self, key: &str, dtype: DType, numel: u64) -> Result<&'a [u8]>;
}
/// At most this many objects per pickle: each opcode makes at most one, and this is ~30 per
/// tensor for ~500 000 tensors, far above any optimizer or model state.
pub(crate) const MAX_OBJECTS: usize = 1 << 24;

/// Interprets `pickle` and returns the object it builds.
pub(crate) fn unpickle<'a>(pickle: &'a [u8], storages: &mut dyn StorageSource<'a>) -> Result<Object<'a>> {
    let mut machine = Machine {
        data: pickle,
        pos: 0,
        op_start: 0,
        opcode: op::STOP,
        arena: Vec::new(),
        stack: Vec::new(),
        metastack: Vec::new(),
        memo: HashMap::new(),
        storages,
        key_budget: Budget::new(pickle.len()),
    };
    let root = machine.run()?;
    materialize(&machine.arena, root, pickle.len())
}

struct Machine<'a, 's> {
    data: &'a [u8],
    pos: usize,
    /// Offset and byte of the opcode being run, for errors.
    op_start: usize,
    opcode: u8,
    arena: Vec<Node<'a>>,
    /// Objects pushed since the last MARK; `metastack` holds the stacks under the open MARKs,
    /// as Python's unpickler keeps them.
    stack: Vec<Handle>,
    metastack: Vec<Vec<Handle>>,
    memo: HashMap<u32, Handle>,
    storages: &'s mut dyn StorageSource<'a>,
    key_budget: Budget,
}

impl<'a> Machine<'a, '_> {
    fn run(&mut self) -> Result<Handle> {
        loop {
            self.op_start = self.pos;
            let Some(&opcode) = self.data.get(self.pos) else {
                return Err(Error::MissingStop { offset: self.pos });
            };
            self.opcode = opcode;
            self.pos += 1;
            match opcode {
                op::PROTO => {
                    let [version] = self.take::<1>()?;
                    if version != 2 {
                        return Err(Error::Protocol {
                            found: version,
                            offset: self.op_start,
                        });
                    }
                }
                op::STOP => return self.stop(),
                op::MARK => {
                    if self.metastack.len() >= MAX_DEPTH {
                        return Err(Error::TooDeep { limit: MAX_DEPTH });
                    }
                    self.metastack.push(std::mem::take(&mut self.stack));
                }
                op::NONE => self.push(Node::None)?,
                op::NEWTRUE => self.push(Node::Bool(true))?,
                op::NEWFALSE => self.push(Node::Bool(false))?,
                op::BININT1 => {
                    let [b] = self.take::<1>()?;
                    self.push(Node::Int(i64::from(b)))?;
                }
                op::BININT2 => {
                    let b = self.take::<2>()?;
                    self.push(Node::Int(i64::from(u16::from_le_bytes(b))))?;
                }
                op::BININT => {
                    let b = self.take::<4>()?;
                    self.push(Node::Int(i64::from(i32::from_le_bytes(b))))?;
                }
                op::LONG1 => {
                    let [len] = self.take::<1>()?;
                    let bytes = self.take_slice(usize::from(len))?;
                    let value = decode_long(bytes).ok_or(Error::IntegerOverflow {
                        bytes: usize::from(len),
                        offset: self.op_start,
                    })?;
                    self.push(Node::Int(value))?;
                }
                op::BINFLOAT => {
                    let b = self.take::<8>()?;
                    self.push(Node::Float(f64::from_be_bytes(b)))?;
                }
                op::BINUNICODE => {
                    let len = u32::from_le_bytes(self.take::<4>()?);
                    // A length past the end is caught by take_slice before any allocation.
                    let bytes = self.take_slice(usize::try_from(len).unwrap_or(usize::MAX))?;
                    let text = std::str::from_utf8(bytes).map_err(|_| self.utf8_error())?;
                    self.push(Node::Str(text))?;
                }
                op::EMPTY_TUPLE => self.push(Node::Tuple(Vec::new()))?,
                op::EMPTY_LIST => self.push(Node::List(Vec::new()))?,
                op::EMPTY_DICT => self.push(new_dict(false))?,
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?;
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = usize::from(opcode - op::TUPLE1 + 1);
                    self.require(n)?;
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Node::Tuple(items))?;
                }
                op::APPEND => {
                    self.require(2)?;
                    let item = self.pop();
                    self.append(&[item])?;
                }
                op::APPENDS => {
                    let items = self.pop_mark()?;
                    self.append(&items)?;
                }
                op::SETITEM => {
                    self.require(3)?;
                    let value = self.pop();
                    let key = self.pop();
                    self.set_items(&[key, value])?;
                }
                op::SETITEMS => {
                    let items = self.pop_mark()?;
                    self.set_items(&items)?;
                }
                op::BINGET => {
                    let [index] = self.take::<1>()?;
                    self.get(u32::from(index))?;
                }
                op::LONG_BINGET => {
                    let index = u32::from_le_bytes(self.take::<4>()?);
                    self.get(index)?;
                }
                op::BINPUT => {
                    let [index] = self.take::<1>()?;
                    self.put(u32::from(index))?;
                }
                op::LONG_BINPUT => {
                    let index = u32::from_le_bytes(self.take::<4>()?);
                    self.put(index)?;
                }
                op::GLOBAL => self.global()?,
                op::REDUCE => self.reduce()?,
                op::BUILD => self.build()?,
                op::BINPERSID => self.persistent_load()?,
                _ => {
                    return Err(Error::Opcode {
                        opcode,
                        name: name(opcode),
                        offset: self.op_start,
                    });
                }
            }
        }
    }

    fn stop(&mut self) -> Result<Handle> {
        let result = match (self.stack.as_slice(), self.metastack.len()) {
            ([result], 0) => *result,
            ([], 0) => return Err(self.underflow(1)),
            (stack, marks) => {
                return Err(Error::LeftoverStack {
                    offset: self.op_start,
                    found: stack.len(),
                    marks,
                });
            }
        };
        let trailing = self.data.len() - self.pos;
        if trailing != 0 {
            return Err(Error::TrailingBytes {
                offset: self.op_start,
                found: trailing,
            });
        }
        Ok(result)
    }

    // ----- reading the opcode's argument -----

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take_slice(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn take_slice(&mut self, len: usize) -> Result<&'a [u8]> {
        let data = self.data;
        let bytes = self
            .pos
            .checked_add(len)
            .and_then(|end| data.get(self.pos..end))
            .ok_or(Error::Truncated {
                opcode: name(self.opcode),
                offset: self.op_start,
            })?;
        self.pos += len;
        Ok(bytes)
    }

    /// A `\n`-terminated line, as `GLOBAL` gives its module and name.
    fn line(&mut self) -> Result<&'a str> {
        let data = self.data;
        let rest = data.get(self.pos..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == b'\n').ok_or(Error::Truncated {
            opcode: name(self.opcode),
            offset: self.op_start,
        })?;
        let line = self.take_slice(len)?;
        self.pos += 1;
        std::str::from_utf8(line).map_err(|_| self.utf8_error())
    }

    fn utf8_error(&self) -> Error {
        Error::Utf8 {
            opcode: name(self.opcode),
            offset: self.op_start,
        }
    }

    // ----- the stack, the memo and the arena -----

    fn alloc(&mut self, node: Node<'a>) -> Result<Handle> {
        if self.arena.len() >= MAX_OBJECTS {
            return Err(Error::TooManyObjects { limit: MAX_OBJECTS });
        }
        self.arena.push(node);
        Ok(self.arena.len() - 1)
    }

    fn push(&mut self, node: Node<'a>) -> Result<()> {
        let handle = self.alloc(node)?;
        self.stack.push(handle);
        Ok(())
    }

    fn underflow(&self, needed: usize) -> Error {
        Error::StackUnderflow {
            opcode: name(self.opcode),
            offset: self.op_start,
            needed,
            found: self.stack.len(),
        }
    }

    /// Checks that `n` objects were pushed since the last MARK.
    fn require(&self, n: usize) -> Result<()> {
        if self.stack.len() < n {
            Err(self.underflow(n))
        } else {
            Ok(())
        }
    }

    /// Pops the top; only called after `require`.
    fn pop(&mut self) -> Handle {
        self.stack.pop().unwrap_or_default()
    }

    fn top(&self) -> Result<Handle> {
        self.stack.last().copied().ok_or_else(|| self.underflow(1))
    }

    fn pop_mark(&mut self) -> Result<Vec<Handle>> {
        let below = self.metastack.pop().ok_or(Error::MissingMark {
            opcode: name(self.opcode),
            offset: self.op_start,
        })?;
        Ok(std::mem::replace(&mut self.stack, below))
    }

    fn get(&mut self, index: u32) -> Result<()> {
        let handle = *self.memo.get(&index).ok_or(Error::MemoMissing {
            opcode: name(self.opcode),
            offset: self.op_start,
            index,
        })?;
        self.stack.push(handle);
        Ok(())
    }

    fn put(&mut self, index: u32) -> Result<()> {
        let handle = self.top()?;
        // Bounded: one entry per opcode at most, and MAX_OBJECTS bounds the opcodes that matter.
        self.memo.insert(index, handle);
        Ok(())
    }

    fn wrong_type(&self, expected: &'static str, found: Handle) -> Error {
        Error::WrongType {
            opcode: name(self.opcode),
            offset: self.op_start,
            expected,
            found: self.arena[found].describe(),
        }
    }

    // ----- containers -----

    fn append(&mut self, items: &[Handle]) -> Result<()> {
        let list = self.top()?;
        match &mut self.arena[list] {
            Node::List(existing) => {
                existing.extend_from_slice(items);
                Ok(())
            }
            _ => Err(self.wrong_type("a list", list)),
        }
    }

    fn set_items(&mut self, items: &[Handle]) -> Result<()> {
        let dict = self.top()?;
        if !matches!(self.arena[dict], Node::Dict(_)) {
            return Err(self.wrong_type("a dict", dict));
        }
        if !items.len().is_multiple_of(2) {
            return Err(Error::WrongType {
                opcode: name(self.opcode),
                offset: self.op_start,
                expected: "key-value pairs",
                found: format!("{} items", items.len()),
            });
        }
        for pair in items.chunks_exact(2) {
            let key = key_of(&self.arena, pair[0], 0, &mut self.key_budget, self.op_start)?;
            if let Node::Dict(d) = &mut self.arena[dict] {
                d.entries.insert(key, pair[1]);
            }
        }
        Ok(())
    }

    // ----- the risky opcodes, each limited to the allowlist -----

    fn global(&mut self) -> Result<()> {
        let module = self.line()?;
        let global_name = self.line()?;
        let global = globals::resolve(module, global_name).map_err(|refusal| {
            let (module, name, offset) = (module.to_owned(), global_name.to_owned(), self.op_start);
            match refusal {
                Refusal::Forbidden => Error::ForbiddenGlobal { module, name, offset },
                Refusal::Unsupported => Error::UnsupportedGlobal { module, name, offset },
            }
        })?;
        self.push(Node::Global(global))
    }

    fn reduce(&mut self) -> Result<()> {
        self.require(2)?;
        let args = self.pop();
        let callable = self.top()?;
        let Node::Global(global) = self.arena[callable] else {
            return Err(self.wrong_type("a global to call", callable));
        };
        let Node::Tuple(args) = &self.arena[args] else {
            return Err(self.wrong_type("an argument tuple", args));
        };
        let node = match global {
            Global::OrderedDict if args.is_empty() => new_dict(true),
            Global::OrderedDict => {
                return Err(Error::WrongType {
                    opcode: name(self.opcode),
                    offset: self.op_start,
                    expected: "OrderedDict() with no arguments",
                    found: format!("{} arguments", args.len()),
                });
            }
            Global::RebuildTensorV2 => Node::Tensor(Box::new(rebuild::tensor_v2(&self.arena, args, self.op_start)?)),
            Global::RebuildParameter => Node::Tensor(Box::new(rebuild::parameter(&self.arena, args, self.op_start)?)),
            Global::StorageClass(_) => return Err(self.wrong_type("a callable global", callable)),
        };
        let result = self.alloc(node)?;
        // The callable is replaced by its result, as in Python's REDUCE.
        if let Some(top) = self.stack.last_mut() {
            *top = result;
        }
        Ok(())
    }

    /// `BUILD` on an `OrderedDict`: `inst.__dict__.update(state)`, the only BUILD torch's
    /// weights-only unpickler allows for plain data (a module's `state_dict()` has `_metadata`).
    fn build(&mut self) -> Result<()> {
        self.require(2)?;
        let state = self.pop();
        let target = self.top()?;
        if !matches!(&self.arena[target], Node::Dict(d) if d.ordered) {
            return Err(self.wrong_type("an OrderedDict", target));
        }
        let Node::Dict(state_dict) = &self.arena[state] else {
            return Err(self.wrong_type("a dict of attributes", state));
        };
        let mut attributes = Vec::with_capacity(state_dict.entries.len());
        for (key, &value) in &state_dict.entries {
            let Key::Str(attribute) = key else {
                return Err(Error::WrongType {
                    opcode: name(self.opcode),
                    offset: self.op_start,
                    expected: "str attribute names",
                    found: format!("{key:?}"),
                });
            };
            attributes.push((attribute.clone(), value));
        }
        if let Node::Dict(d) = &mut self.arena[target] {
            d.attributes.extend(attributes);
        }
        Ok(())
    }

    /// `BINPERSID` of `('storage', <storage class>, <key>, <location>, <numel>)`, the only
    /// persistent id torch.save writes (and torch's weights-only unpickler accepts).
    fn persistent_load(&mut self) -> Result<()> {
        self.require(1)?;
        let pid = self.pop();
        let found = || self.arena[pid].describe();
        let Node::Tuple(items) = &self.arena[pid] else {
            return Err(Error::PersistentId {
                offset: self.op_start,
                found: found(),
            });
        };
        let parts: Vec<&Node<'a>> = items.iter().map(|&h| &self.arena[h]).collect();
        let (dtype, key, location, numel) = match parts.as_slice() {
            [
                Node::Str("storage"),
                Node::Global(Global::StorageClass(dtype)),
                Node::Str(key),
                Node::Str(location),
                Node::Int(numel),
            ] if *numel >= 0 => (*dtype, *key, *location, numel.unsigned_abs()),
            parts => {
                let shown: Vec<String> = parts.iter().map(|node| node.describe()).collect();
                return Err(Error::PersistentId {
                    offset: self.op_start,
                    found: format!("({})", shown.join(", ")),
                });
            }
        };
        let bytes = self.storages.storage(key, dtype, numel)?;
        self.push(Node::Storage(Box::new(StorageNode { dtype, bytes, location })))
    }
}

/// A `LONG1` integer: little-endian two's complement of 0 to 255 bytes, if it fits in an `i64`.
fn decode_long(bytes: &[u8]) -> Option<i64> {
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0x00 };
    // Bytes past the eighth must only repeat the sign, and the eighth must carry it.
    if bytes.len() > 8 {
        let (low, high) = bytes.split_at(8);
        if high.iter().any(|&b| b != fill) || (low[7] & 0x80 != 0) != negative {
            return None;
        }
    }
    let mut buf = [fill; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    Some(i64::from_le_bytes(buf))
}

#[cfg(test)]
mod tests;
