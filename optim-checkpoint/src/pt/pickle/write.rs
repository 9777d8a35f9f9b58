//! The pickler: writes an [`Object`] tree as torch.save does, in protocol 2 with only the
//! globals `torch.load(weights_only=True)` allows, and lists the storages to write beside it.

use std::collections::HashMap;

use super::MAX_DEPTH;
use super::opcodes as op;
use crate::pt::{Dict, Key, Object, Tensor};
use crate::{Error, Result};

/// Python's pickler batches `APPENDS` and `SETITEMS` by this many items.
const BATCH: usize = 1000;

/// A storage to write as record `data/<key>`, `key` being its index in [`Pickled::storages`].
pub(crate) struct StorageOut<'a> {
    pub(crate) bytes: &'a [u8],
}

/// `data.pkl`, and the storages it refers to, in the order it first refers to them (the
/// order torch lays them out, and assumes when it computes their offsets).
pub(crate) struct Pickled<'a> {
    pub(crate) pickle: Vec<u8>,
    pub(crate) storages: Vec<StorageOut<'a>>,
}

/// Pickles `object`; fails (before anything is written anywhere) on a tree the format
/// cannot hold: nesting past [`MAX_DEPTH`], a string past 4 GiB.
pub(crate) fn pickle<'a>(object: &Object<'a>) -> Result<Pickled<'a>> {
    let mut writer = Pickler {
        out: vec![op::PROTO, 2],
        memo: HashMap::new(),
        storages: Vec::new(),
    };
    writer.object(object, 0)?;
    writer.out.push(op::STOP);
    Ok(Pickled {
        pickle: writer.out,
        storages: writer.storages,
    })
}

struct Pickler<'a> {
    out: Vec<u8>,
    /// Memo slots of the globals written so far: each is written once and fetched after.
    memo: HashMap<(&'static str, &'static str), u32>,
    /// One storage per tensor, never shared: tensors that share a storage are aliases in
    /// torch (an in-place update of one changes the other), and two Rust tensors over the
    /// same slice (one `step` value given for every parameter, say) must not become that.
    storages: Vec<StorageOut<'a>>,
}

impl<'a> Pickler<'a> {
    fn object(&mut self, object: &Object<'a>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep { limit: MAX_DEPTH });
        }
        match object {
            Object::None => self.out.push(op::NONE),
            Object::Bool(b) => self.out.push(if *b { op::NEWTRUE } else { op::NEWFALSE }),
            Object::Int(i) => self.int(*i),
            Object::Float(f) => {
                self.out.push(op::BINFLOAT);
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Object::Str(s) => self.str(s)?,
            Object::Tuple(items) => {
                self.tuple_items(items.len(), |p| {
                    items.iter().try_for_each(|item| p.object(item, depth + 1))
                })?;
            }
            Object::List(items) => {
                self.out.push(op::EMPTY_LIST);
                for batch in items.chunks(BATCH) {
                    if let [item] = batch {
                        self.object(item, depth + 1)?;
                        self.out.push(op::APPEND);
                    } else {
                        self.out.push(op::MARK);
                        batch.iter().try_for_each(|item| self.object(item, depth + 1))?;
                        self.out.push(op::APPENDS);
                    }
                }
            }
            Object::Dict(dict) => self.dict(dict, depth)?,
            Object::Tensor(tensor) => self.tensor(tensor)?,
        }
        Ok(())
    }

    /// Integers as Python's pickler writes them in protocol 2.
    fn int(&mut self, i: i64) {
        if let Ok(b) = u8::try_from(i) {
            self.out.extend_from_slice(&[op::BININT1, b]);
        } else if let Ok(b) = u16::try_from(i) {
            self.out.push(op::BININT2);
            self.out.extend_from_slice(&b.to_le_bytes());
        } else if let Ok(b) = i32::try_from(i) {
            self.out.push(op::BININT);
            self.out.extend_from_slice(&b.to_le_bytes());
        } else {
            let bytes = encode_long(i);
            self.out.push(op::LONG1);
            // At most 8 bytes: encode_long drops only redundant sign bytes.
            self.out.push(bytes.len() as u8);
            self.out.extend_from_slice(&bytes);
        }
    }

    fn str(&mut self, s: &str) -> Result<()> {
        let len = u32::try_from(s.len()).map_err(|_| Error::TooLong {
            what: "a string",
            len: s.len() as u64,
            limit: u64::from(u32::MAX),
        })?;
        self.out.push(op::BINUNICODE);
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// A tuple of `len` items that `items` writes.
    fn tuple_items(&mut self, len: usize, items: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        match len {
            0 => {
                items(self)?;
                self.out.push(op::EMPTY_TUPLE);
            }
            1..=3 => {
                items(self)?;
                self.out.push([op::TUPLE1, op::TUPLE2, op::TUPLE3][len - 1]);
            }
            _ => {
                self.out.push(op::MARK);
                items(self)?;
                self.out.push(op::TUPLE);
            }
        }
        Ok(())
    }

    fn global(&mut self, module: &'static str, name: &'static str) {
        if let Some(&slot) = self.memo.get(&(module, name)) {
            match u8::try_from(slot) {
                Ok(slot) => self.out.extend_from_slice(&[op::BINGET, slot]),
                Err(_) => {
                    self.out.push(op::LONG_BINGET);
                    self.out.extend_from_slice(&slot.to_le_bytes());
                }
            }
            return;
        }
        self.out.push(op::GLOBAL);
        for line in [module, name] {
            self.out.extend_from_slice(line.as_bytes());
            self.out.push(b'\n');
        }
        // A handful of distinct globals: the slot count never nears u32::MAX.
        let slot = self.memo.len() as u32;
        match u8::try_from(slot) {
            Ok(slot) => self.out.extend_from_slice(&[op::BINPUT, slot]),
            Err(_) => {
                self.out.push(op::LONG_BINPUT);
                self.out.extend_from_slice(&slot.to_le_bytes());
            }
        }
        self.memo.insert((module, name), slot);
    }

    /// `collections.OrderedDict()`, as torch writes backward hooks and OrderedDicts.
    fn new_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.out.extend_from_slice(&[op::EMPTY_TUPLE, op::REDUCE]);
    }

    fn dict(&mut self, dict: &Dict<'a>, depth: usize) -> Result<()> {
        if dict.is_ordered() {
            self.new_ordered_dict();
        } else {
            self.out.push(op::EMPTY_DICT);
        }
        let entries: Vec<_> = dict.iter().collect();
        for batch in entries.chunks(BATCH) {
            if let [(key, value)] = batch {
                self.key(key, depth + 1)?;
                self.object(value, depth + 1)?;
                self.out.push(op::SETITEM);
            } else {
                self.out.push(op::MARK);
                for (key, value) in batch {
                    self.key(key, depth + 1)?;
                    self.object(value, depth + 1)?;
                }
                self.out.push(op::SETITEMS);
            }
        }
        if dict.attributes().len() > 0 {
            // OrderedDict.__reduce__ gives the instance's __dict__ as the state of BUILD.
            self.out.extend_from_slice(&[op::EMPTY_DICT, op::MARK]);
            for (name, value) in dict.attributes() {
                self.str(name)?;
                self.object(value, depth + 2)?;
            }
            self.out.extend_from_slice(&[op::SETITEMS, op::BUILD]);
        }
        Ok(())
    }

    fn key(&mut self, key: &Key<'a>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep { limit: MAX_DEPTH });
        }
        match key {
            Key::None => self.out.push(op::NONE),
            Key::Bool(b) => self.out.push(if *b { op::NEWTRUE } else { op::NEWFALSE }),
            Key::Int(i) => self.int(*i),
            Key::Float(f) => {
                self.out.push(op::BINFLOAT);
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Key::Str(s) => self.str(s)?,
            Key::Tuple(items) => self.tuple_items(items.len(), |p| {
                items.iter().try_for_each(|item| p.key(item, depth + 1))
            })?,
        }
        Ok(())
    }

    /// `_rebuild_tensor_v2((storage persistent id), offset, size, stride, requires_grad, OrderedDict())`,
    /// wrapped in `_rebuild_parameter(tensor, requires_grad, OrderedDict())` for a parameter,
    /// exactly as torch.save writes them.
    fn tensor(&mut self, tensor: &Tensor<'a>) -> Result<()> {
        if tensor.is_parameter() {
            self.global("torch._utils", "_rebuild_parameter");
            self.out.push(op::MARK);
        }
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.out.push(op::MARK);
        self.persistent_id(tensor)?;
        self.int(to_i64(tensor.storage_offset()));
        let shape = tensor.shape();
        self.tuple_items(shape.len(), |p| {
            shape.iter().for_each(|&size| p.int(to_i64(size)));
            Ok(())
        })?;
        let strides = tensor.strides();
        self.tuple_items(strides.len(), |p| {
            strides.iter().for_each(|&stride| p.int(to_i64(stride)));
            Ok(())
        })?;
        // A parameter's data is a plain tensor; requires_grad is the parameter's.
        let inner_requires_grad = tensor.requires_grad() && !tensor.is_parameter();
        self.out
            .push(if inner_requires_grad { op::NEWTRUE } else { op::NEWFALSE });
        self.new_ordered_dict();
        self.out.extend_from_slice(&[op::TUPLE, op::REDUCE]);
        if tensor.is_parameter() {
            self.out.push(if tensor.requires_grad() {
                op::NEWTRUE
            } else {
                op::NEWFALSE
            });
            self.new_ordered_dict();
            self.out.extend_from_slice(&[op::TUPLE, op::REDUCE]);
        }
        Ok(())
    }

    /// `('storage', torch.<Class>Storage, '<key>', '<location>', numel)` and `BINPERSID`.
    fn persistent_id(&mut self, tensor: &Tensor<'a>) -> Result<()> {
        let bytes = tensor.storage_bytes();
        let dtype = tensor.dtype();
        let key = self.storages.len();
        self.storages.push(StorageOut { bytes });
        self.out.push(op::MARK);
        self.str("storage")?;
        self.global("torch", dtype.storage_class());
        self.str(&key.to_string())?;
        self.str(tensor.location())?;
        // Whole elements: a Tensor's storage length is checked when it is built.
        self.int(to_i64(bytes.len() / dtype.element_size()));
        self.out.extend_from_slice(&[op::TUPLE, op::BINPERSID]);
        Ok(())
    }
}

/// Sizes, strides and offsets of a valid view fit in `isize`, hence in `i64`.
fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Little-endian two's complement without redundant sign bytes, as Python's `encode_long`.
fn encode_long(i: i64) -> Vec<u8> {
    let mut bytes = i.to_le_bytes().to_vec();
    while let [.., below, top] = bytes[..] {
        let redundant = (top == 0x00 && below & 0x80 == 0) || (top == 0xff && below & 0x80 != 0);
        if !redundant {
            break;
        }
        bytes.pop();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_integers_are_minimal_twos_complement() {
        assert_eq!(encode_long(1 << 40), vec![0, 0, 0, 0, 0, 1]);
        assert_eq!(encode_long(-(1 << 40)), vec![0, 0, 0, 0, 0, 0xff]);
        assert_eq!(
            encode_long(i64::MAX),
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        );
        assert_eq!(encode_long(i64::MIN), vec![0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(encode_long(0x80_0000_0000), vec![0, 0, 0, 0, 0x80, 0]);
    }

    #[test]
    fn integers_use_the_smallest_opcode_python_uses() {
        let cases: [(i64, &[u8]); 5] = [
            (7, &[op::BININT1, 7]),
            (300, &[op::BININT2, 0x2c, 0x01]),
            (-1, &[op::BININT, 0xff, 0xff, 0xff, 0xff]),
            (70000, &[op::BININT, 0x70, 0x11, 0x01, 0x00]),
            (1 << 31, &[op::LONG1, 5, 0, 0, 0, 0x80, 0]),
        ];
        for (value, expected) in cases {
            let pickled = pickle(&Object::Int(value)).unwrap().pickle;
            assert_eq!(&pickled[2..pickled.len() - 1], expected, "{value}");
        }
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let mut deep = Object::None;
        for _ in 0..=MAX_DEPTH {
            deep = Object::List(vec![deep]);
        }
        assert!(matches!(pickle(&deep), Err(Error::TooDeep { limit: MAX_DEPTH })));
    }
}
