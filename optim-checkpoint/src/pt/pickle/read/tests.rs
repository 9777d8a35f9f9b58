//! The interpreter opcode by opcode, on hand-assembled pickles: what each supported opcode
//! builds, and the typed error of each refusal.

use std::borrow::Cow;

use super::*;
use crate::pt::Key;
use crate::pt::pickle::opcodes::*;

/// A pickle under construction.
struct Asm(Vec<u8>);

impl Asm {
    fn new() -> Self {
        Asm(vec![PROTO, 2])
    }
    fn raw() -> Self {
        Asm(Vec::new())
    }
    fn op(mut self, ops: &[u8]) -> Self {
        self.0.extend_from_slice(ops);
        self
    }
    fn str(mut self, s: &str) -> Self {
        self.0.push(BINUNICODE);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn int(self, i: u8) -> Self {
        self.op(&[BININT1, i])
    }
    fn global(mut self, module: &str, name: &str) -> Self {
        self.0.push(GLOBAL);
        self.0.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        self
    }
    /// `('storage', torch.FloatStorage, key, 'cpu', numel)` BINPERSID
    fn storage(self, key: &str, numel: u8) -> Self {
        self.op(&[MARK])
            .str("storage")
            .global("torch", "FloatStorage")
            .str(key)
            .str("cpu")
            .int(numel)
            .op(&[TUPLE, BINPERSID])
    }
    fn ordered_dict(self) -> Self {
        self.global("collections", "OrderedDict").op(&[EMPTY_TUPLE, REDUCE])
    }
    /// `_rebuild_tensor_v2(storage '0' of 6 floats, offset, (sizes), (strides), False, OrderedDict())`
    fn tensor(self, offset: u8, shape: &[u8], strides: &[u8]) -> Self {
        let mut a = self
            .global("torch._utils", "_rebuild_tensor_v2")
            .op(&[MARK])
            .storage("0", 6)
            .int(offset);
        for dims in [shape, strides] {
            a = a.op(&[MARK]);
            for &d in dims {
                a = a.int(d);
            }
            a = a.op(&[TUPLE]);
        }
        a.op(&[NEWFALSE]).ordered_dict().op(&[TUPLE, REDUCE])
    }
    fn stop(self) -> Vec<u8> {
        self.op(&[STOP]).0
    }
}

/// Storage `0`: 6 float32 values 0..6; any other key is missing.
struct FakeStorages;

static STORAGE: [u8; 24] = {
    let mut bytes = [0u8; 24];
    let values: [f32; 6] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
    let mut i = 0;
    while i < 6 {
        let b = values[i].to_le_bytes();
        bytes[4 * i] = b[0];
        bytes[4 * i + 1] = b[1];
        bytes[4 * i + 2] = b[2];
        bytes[4 * i + 3] = b[3];
        i += 1;
    }
    bytes
};

impl StorageSource<'static> for FakeStorages {
    fn storage(&mut self, key: &str, dtype: DType, numel: u64) -> Result<&'static [u8]> {
        if key != "0" {
            return Err(Error::MissingRecord {
                record: format!("archive/data/{key}"),
            });
        }
        let expected = numel * dtype.element_size() as u64;
        if expected != STORAGE.len() as u64 {
            return Err(Error::StorageSize {
                record: "archive/data/0".into(),
                dtype,
                numel,
                expected,
                found: STORAGE.len() as u64,
            });
        }
        Ok(&STORAGE)
    }
}

/// Interprets a copy of `pickle` that lives for the test (trees borrow their strings).
fn load(pickle: &[u8]) -> Result<Object<'static>> {
    let pickle: &'static [u8] = Box::leak(pickle.to_vec().into_boxed_slice());
    unpickle(pickle, &mut FakeStorages)
}

fn ok(pickle: &[u8]) -> Object<'static> {
    load(pickle).unwrap_or_else(|e| panic!("{e}"))
}

fn err(pickle: &[u8]) -> Error {
    match load(pickle) {
        Ok(tree) => panic!("expected an error, got {tree:?}"),
        Err(e) => e,
    }
}

fn s(text: &str) -> Object<'static> {
    Object::Str(Cow::Owned(text.to_owned()))
}

// ----- what each opcode builds -----

#[test]
fn none_and_booleans() {
    assert_eq!(ok(&Asm::new().op(&[NONE]).stop()), Object::None);
    assert_eq!(ok(&Asm::new().op(&[NEWTRUE]).stop()), Object::Bool(true));
    assert_eq!(ok(&Asm::new().op(&[NEWFALSE]).stop()), Object::Bool(false));
}

#[test]
fn integers_of_every_width() {
    assert_eq!(ok(&Asm::new().op(&[BININT1, 200]).stop()), Object::Int(200));
    assert_eq!(ok(&Asm::new().op(&[BININT2, 0x34, 0x12]).stop()), Object::Int(0x1234));
    assert_eq!(
        ok(&Asm::new().op(&[BININT, 0xfe, 0xff, 0xff, 0xff]).stop()),
        Object::Int(-2)
    );
    assert_eq!(ok(&Asm::new().op(&[LONG1, 0]).stop()), Object::Int(0));
    assert_eq!(
        ok(&Asm::new().op(&[LONG1, 5, 0, 0, 0, 0x80, 0]).stop()),
        Object::Int(1 << 31)
    );
    assert_eq!(ok(&Asm::new().op(&[LONG1, 1, 0xff]).stop()), Object::Int(-1));
    let min = [0, 0, 0, 0, 0, 0, 0, 0x80];
    assert_eq!(ok(&Asm::new().op(&[LONG1, 8]).op(&min).stop()), Object::Int(i64::MIN));
    // A redundant sign byte past the eighth still fits.
    assert_eq!(
        ok(&Asm::new().op(&[LONG1, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0]).stop()),
        Object::Int(1)
    );
}

#[test]
fn long_integers_past_64_bits_are_refused() {
    let e = err(&Asm::new().op(&[LONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0]).stop());
    assert!(matches!(e, Error::IntegerOverflow { bytes: 9, offset: 2 }), "{e}");
    let e = err(&Asm::new().op(&[LONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1]).stop());
    assert!(matches!(e, Error::IntegerOverflow { bytes: 9, .. }), "{e}");
}

#[test]
fn floats_are_big_endian() {
    let mut p = Asm::new().op(&[BINFLOAT]);
    p.0.extend_from_slice(&0.1f64.to_be_bytes());
    assert_eq!(ok(&p.stop()), Object::Float(0.1));
}

#[test]
fn strings_are_utf8() {
    assert_eq!(ok(&Asm::new().str("héllo").stop()), s("héllo"));
    let bad = Asm::new().op(&[BINUNICODE, 1, 0, 0, 0, 0xff]).stop();
    assert!(matches!(
        err(&bad),
        Error::Utf8 {
            opcode: "BINUNICODE",
            offset: 2
        }
    ));
}

#[test]
fn tuples_of_every_size() {
    assert_eq!(ok(&Asm::new().op(&[EMPTY_TUPLE]).stop()), Object::Tuple(vec![]));
    assert_eq!(
        ok(&Asm::new().int(1).op(&[TUPLE1]).stop()),
        Object::Tuple(vec![Object::Int(1)])
    );
    assert_eq!(
        ok(&Asm::new().int(1).int(2).op(&[TUPLE2]).stop()),
        Object::Tuple(vec![Object::Int(1), Object::Int(2)])
    );
    let three = Asm::new().int(1).int(2).int(3).op(&[TUPLE3]).stop();
    assert_eq!(
        ok(&three),
        Object::Tuple(vec![Object::Int(1), Object::Int(2), Object::Int(3)])
    );
    let four = Asm::new().op(&[MARK]).int(1).int(2).int(3).int(4).op(&[TUPLE]).stop();
    assert_eq!(ok(&four).as_sequence().map(<[_]>::len), Some(4));
}

#[test]
fn lists_append_one_or_many() {
    let p = Asm::new()
        .op(&[EMPTY_LIST])
        .int(1)
        .op(&[APPEND, MARK])
        .int(2)
        .int(3)
        .op(&[APPENDS])
        .stop();
    assert_eq!(
        ok(&p),
        Object::List(vec![Object::Int(1), Object::Int(2), Object::Int(3)])
    );
}

#[test]
fn dicts_keep_order_and_int_keys() {
    let p = Asm::new()
        .op(&[EMPTY_DICT])
        .int(7)
        .str("a")
        .op(&[SETITEM, MARK])
        .str("k")
        .int(1)
        .int(0)
        .int(2)
        .op(&[SETITEMS])
        .stop();
    let tree = ok(&p);
    let dict = tree.as_dict().unwrap();
    let keys: Vec<_> = dict.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, vec![Key::Int(7), Key::from("k"), Key::Int(0)]);
    assert!(matches!(keys[1], Key::Str(_)));
    assert_eq!(dict.get_int(0), Some(&Object::Int(2)));
    assert!(!dict.is_ordered());
}

#[test]
fn equal_keys_are_one_key_as_in_python() {
    // {1: 'a', True: 'b', 1.0: 'c'} is {1: 'c'} in Python.
    let mut p = Asm::new()
        .op(&[EMPTY_DICT, MARK])
        .int(1)
        .str("a")
        .op(&[NEWTRUE])
        .str("b")
        .op(&[BINFLOAT]);
    p.0.extend_from_slice(&1.0f64.to_be_bytes());
    let tree = ok(&p.str("c").op(&[SETITEMS]).stop());
    let dict = tree.as_dict().unwrap();
    assert_eq!(dict.len(), 1);
    assert!(matches!(dict.iter().next(), Some((Key::Int(1), Object::Str(c))) if c == "c"));
}

#[test]
fn tuple_keys_are_kept() {
    let p = Asm::new()
        .op(&[EMPTY_DICT])
        .int(1)
        .str("x")
        .op(&[TUPLE2])
        .op(&[NONE, SETITEM])
        .stop();
    let tree = ok(&p);
    assert_eq!(
        tree.as_dict()
            .unwrap()
            .get(&Key::Tuple(vec![Key::Int(1), Key::from("x")])),
        Some(&Object::None)
    );
}

#[test]
fn memo_shares_one_object_and_sees_later_mutation() {
    // d = {}; l = []; d[1] = l; d[2] = l; l.append(7); d[3] = l  ->  {1: [7], 2: [7], 3: [7]}
    let p = Asm::new()
        .op(&[EMPTY_DICT, MARK])
        .int(1)
        .op(&[EMPTY_LIST, BINPUT, 1])
        .int(2)
        .op(&[BINGET, 1, SETITEMS])
        .int(3)
        .op(&[BINGET, 1])
        .int(7)
        .op(&[APPEND, SETITEM])
        .stop();
    let tree = ok(&p);
    let dict = tree.as_dict().unwrap();
    for key in 1..=3 {
        assert_eq!(
            dict.get_int(key),
            Some(&Object::List(vec![Object::Int(7)])),
            "key {key}"
        );
    }
}

#[test]
fn long_memo_slots() {
    let p = Asm::new()
        .str("x")
        .op(&[LONG_BINPUT, 0, 1, 0, 0])
        .op(&[LONG_BINGET, 0, 1, 0, 0, TUPLE2])
        .stop();
    assert_eq!(ok(&p), Object::Tuple(vec![s("x"), s("x")]));
}

#[test]
fn ordered_dicts_with_attributes() {
    // OrderedDict([('w', 1)]) with _metadata = {'': {'version': 1}}, as module.state_dict() pickles.
    let p = Asm::new()
        .ordered_dict()
        .str("w")
        .int(1)
        .op(&[SETITEM, EMPTY_DICT])
        .str("_metadata")
        .op(&[EMPTY_DICT])
        .str("")
        .op(&[EMPTY_DICT])
        .str("version")
        .int(1)
        .op(&[SETITEM, SETITEM, SETITEM, BUILD])
        .stop();
    let tree = ok(&p);
    let dict = tree.as_dict().unwrap();
    assert!(dict.is_ordered());
    assert_eq!(dict.get_str("w"), Some(&Object::Int(1)));
    let (name, metadata) = dict.attributes().next().unwrap();
    assert_eq!(name, "_metadata");
    assert!(metadata.as_dict().unwrap().get_str("").is_some());
}

#[test]
fn tensors_are_views_of_their_storage() {
    let tree = ok(&Asm::new().tensor(0, &[2, 3], &[3, 1]).stop());
    let t = tree.as_tensor().unwrap();
    assert_eq!(
        (t.dtype(), t.shape(), t.strides(), t.location()),
        (DType::Float32, &[2, 3][..], &[3, 1][..], "cpu")
    );
    assert_eq!(t.to_vec::<f32>().unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert!(std::ptr::eq(t.storage_bytes(), &STORAGE[..]), "borrowed, not copied");

    let transposed = ok(&Asm::new().tensor(0, &[3, 2], &[1, 3]).stop());
    assert_eq!(
        transposed.as_tensor().unwrap().to_vec::<f64>().unwrap(),
        vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    );

    let scalar = ok(&Asm::new().tensor(4, &[], &[]).stop());
    assert_eq!(scalar.as_tensor().unwrap().to_vec::<f32>().unwrap(), vec![4.0]);
}

#[test]
fn parameters_wrap_tensors() {
    let p = Asm::new()
        .global("torch._utils", "_rebuild_parameter")
        .op(&[MARK])
        .tensor(0, &[6], &[1])
        .op(&[NEWTRUE])
        .ordered_dict()
        .op(&[TUPLE, REDUCE])
        .stop();
    let tree = ok(&p);
    let t = tree.as_tensor().unwrap();
    assert!(t.is_parameter() && t.requires_grad());
    assert_eq!(tree.type_name(), "torch.nn.Parameter");
}

// ----- refusals -----

#[test]
fn unknown_opcodes_are_refused_with_their_byte_and_offset() {
    let e = err(&Asm::new().op(&[NONE, 0xff]).stop());
    assert!(
        matches!(
            e,
            Error::Opcode {
                opcode: 0xff,
                name: "unknown",
                offset: 3
            }
        ),
        "{e}"
    );
    // Protocol 0 text opcodes and protocol 4/5 opcodes are outside the allowlist too.
    for (opcode, opname) in [
        (b'I', "INT"),
        (0x8c, "SHORT_BINUNICODE"),
        (0x94, "MEMOIZE"),
        (0x95, "FRAME"),
        (b'0', "POP"),
    ] {
        let e = err(&Asm::new().op(&[opcode]).stop());
        assert!(
            matches!(e, Error::Opcode { opcode: o, name, offset: 2 } if o == opcode && name == opname),
            "{e}"
        );
    }
    // Allowed by torch, but for objects outside this data model.
    let e = err(&Asm::new().op(&[0x8f]).stop());
    assert!(matches!(e, Error::Opcode { name: "EMPTY_SET", .. }), "{e}");
}

#[test]
fn protocols_other_than_2_are_refused() {
    for version in [0, 1, 3, 4, 5] {
        let e = err(&Asm::raw().op(&[PROTO, version, 0x95]).stop());
        assert!(
            matches!(e, Error::Protocol { found, offset: 0 } if found == version),
            "{e}"
        );
    }
}

#[test]
fn forbidden_globals_are_named_and_never_run() {
    let p = Asm::new()
        .global("posix", "system")
        .str("echo pwned")
        .op(&[TUPLE1, REDUCE])
        .stop();
    let e = err(&p);
    assert!(
        matches!(&e, Error::ForbiddenGlobal { module, name, offset: 2 } if module == "posix" && name == "system"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "global posix.system at byte 2 is not in torch's weights_only allowlist"
    );
    let e = err(&Asm::new().global("torch._utils", "_rebuild_tensor_v3").stop());
    assert!(
        matches!(&e, Error::UnsupportedGlobal { name, .. } if name == "_rebuild_tensor_v3"),
        "{e}"
    );
}

#[test]
fn stack_underflow_names_the_opcode() {
    let cases: [(&[u8], &str, usize); 6] = [
        (&[APPEND], "APPEND", 2),
        (&[NONE, TUPLE2], "TUPLE2", 2),
        (&[EMPTY_DICT, NONE, SETITEM], "SETITEM", 3),
        (&[BINPUT, 0], "BINPUT", 1),
        (&[NONE, REDUCE], "REDUCE", 2),
        (&[BINPERSID], "BINPERSID", 1),
    ];
    for (ops, opname, needed) in cases {
        let e = err(&Asm::new().op(ops).stop());
        assert!(
            matches!(e, Error::StackUnderflow { opcode, needed: n, .. } if opcode == opname && n == needed),
            "{e}"
        );
    }
    let e = err(&Asm::new().stop());
    assert!(
        matches!(
            e,
            Error::StackUnderflow {
                opcode: "STOP",
                needed: 1,
                found: 0,
                ..
            }
        ),
        "{e}"
    );
    // MARK hides what is under it.
    let e = err(&Asm::new().op(&[EMPTY_LIST, MARK]).int(1).op(&[APPEND]).stop());
    assert!(
        matches!(
            e,
            Error::StackUnderflow {
                opcode: "APPEND",
                found: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn popping_to_a_missing_mark_is_refused() {
    for (ops, opname) in [
        (&[NONE, TUPLE][..], "TUPLE"),
        (&[EMPTY_LIST, APPENDS], "APPENDS"),
        (&[EMPTY_DICT, SETITEMS], "SETITEMS"),
    ] {
        let e = err(&Asm::new().op(ops).stop());
        assert!(
            matches!(e, Error::MissingMark { opcode, .. } if opcode == opname),
            "{e}"
        );
    }
}

#[test]
fn unset_memo_slots_are_refused() {
    let e = err(&Asm::new().op(&[BINGET, 5]).stop());
    assert!(
        matches!(
            e,
            Error::MemoMissing {
                opcode: "BINGET",
                index: 5,
                offset: 2
            }
        ),
        "{e}"
    );
    let e = err(&Asm::new().op(&[LONG_BINGET, 0, 0, 0, 1]).stop());
    assert!(
        matches!(
            e,
            Error::MemoMissing {
                opcode: "LONG_BINGET",
                index: 0x0100_0000,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn truncated_streams_are_refused() {
    let cases: [(&[u8], &str); 6] = [
        (&[BININT, 1, 2], "BININT"),
        (&[BINFLOAT, 0, 0], "BINFLOAT"),
        (&[BINUNICODE, 0xff, 0xff, 0xff, 0xff, b'a'], "BINUNICODE"),
        (&[LONG1, 4, 1], "LONG1"),
        (b"ctorch._utils\n_rebuild", "GLOBAL"),
        (&[PROTO], "PROTO"),
    ];
    for (bytes, opname) in cases {
        let e = err(&Asm::new().op(bytes).0.clone()).to_string();
        assert!(e.contains(opname) && e.contains("ends inside"), "{opname}: {e}");
    }
    let e = err(&Asm::new().op(&[NONE]).0);
    assert!(matches!(e, Error::MissingStop { offset: 3 }), "{e}");
    assert!(matches!(err(&[]), Error::MissingStop { offset: 0 }));
}

#[test]
fn extra_objects_or_bytes_at_stop_are_refused() {
    let e = err(&Asm::new().op(&[NONE, NONE]).stop());
    assert!(matches!(e, Error::LeftoverStack { found: 2, marks: 0, .. }), "{e}");
    let e = err(&Asm::new().op(&[NONE, MARK, NONE]).stop());
    assert!(matches!(e, Error::LeftoverStack { found: 1, marks: 1, .. }), "{e}");
    let mut p = Asm::new().op(&[NONE]).stop();
    p.extend_from_slice(b"junk");
    assert!(matches!(err(&p), Error::TrailingBytes { found: 4, offset: 3 }));
}

#[test]
fn wrong_targets_are_refused() {
    let cases: [(&[u8], &str, &str); 6] = [
        (&[EMPTY_DICT, NONE, APPEND], "APPEND", "a list"),
        (&[EMPTY_LIST, NONE, NONE, SETITEM], "SETITEM", "a dict"),
        (&[EMPTY_DICT, MARK, NONE, SETITEMS], "SETITEMS", "key-value pairs"),
        (&[NONE, EMPTY_TUPLE, REDUCE], "REDUCE", "a global to call"),
        (&[EMPTY_DICT, EMPTY_DICT, BUILD], "BUILD", "an OrderedDict"),
        (b"ccollections\nOrderedDict\nNR", "REDUCE", "an argument tuple"),
    ];
    for (ops, opname, what) in cases {
        let e = err(&Asm::new().op(ops).stop());
        assert!(
            matches!(&e, Error::WrongType { opcode, expected, .. } if *opcode == opname && *expected == what),
            "{e}"
        );
    }
    let e = err(&Asm::new().ordered_dict().op(&[NONE, BUILD]).stop());
    assert!(
        matches!(
            e,
            Error::WrongType {
                expected: "a dict of attributes",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&Asm::new()
        .global("collections", "OrderedDict")
        .op(&[NONE, TUPLE1, REDUCE])
        .stop());
    assert!(
        matches!(
            e,
            Error::WrongType {
                expected: "OrderedDict() with no arguments",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn unhashable_keys_are_refused() {
    let e = err(&Asm::new().op(&[EMPTY_DICT, EMPTY_LIST, NONE, SETITEM]).stop());
    assert!(
        matches!(&e, Error::UnhashableKey { found, offset: 5 } if found == "list"),
        "{e}"
    );
    let e = err(&Asm::new().op(&[EMPTY_DICT, EMPTY_DICT, TUPLE1, NONE, SETITEM]).stop());
    assert!(
        matches!(&e, Error::UnhashableKey { found, .. } if found == "dict"),
        "{e}"
    );
}

#[test]
fn persistent_ids_other_than_storages_are_refused() {
    let e = err(&Asm::new().str("module").op(&[TUPLE1, BINPERSID]).stop());
    assert!(
        matches!(&e, Error::PersistentId { found, offset: 14 } if found == "(str \"module\")"),
        "{e}"
    );
    let e = err(&Asm::new().int(0).op(&[BINPERSID]).stop());
    assert!(
        matches!(&e, Error::PersistentId { found, .. } if found == "int 0"),
        "{e}"
    );
    let negative = Asm::new()
        .op(&[MARK])
        .str("storage")
        .global("torch", "FloatStorage")
        .str("0")
        .str("cpu")
        .op(&[BININT, 0xff, 0xff, 0xff, 0xff, TUPLE, BINPERSID])
        .stop();
    assert!(matches!(err(&negative), Error::PersistentId { .. }));
}

#[test]
fn storage_errors_surface() {
    let e = err(&Asm::new().storage("9", 6).stop());
    assert!(
        matches!(&e, Error::MissingRecord { record } if record == "archive/data/9"),
        "{e}"
    );
    let e = err(&Asm::new().storage("0", 7).stop());
    assert!(
        matches!(
            e,
            Error::StorageSize {
                numel: 7,
                expected: 28,
                found: 24,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn bad_tensor_arguments_are_refused() {
    let e = err(&Asm::new().tensor(1, &[2, 3], &[3, 1]).stop());
    assert!(
        matches!(
            e,
            Error::ViewOutOfBounds {
                storage_offset: 1,
                storage_len: 6,
                ..
            }
        ),
        "{e}"
    );
    let e = err(&Asm::new().tensor(0, &[2, 3], &[3]).stop());
    assert!(
        matches!(
            e,
            Error::RankMismatch {
                shape_len: 2,
                strides_len: 1
            }
        ),
        "{e}"
    );
    let few = Asm::new()
        .global("torch._utils", "_rebuild_tensor_v2")
        .op(&[MARK])
        .storage("0", 6)
        .op(&[TUPLE, REDUCE])
        .stop();
    let e = err(&few);
    assert!(
        matches!(&e, Error::TensorArgs { problem, .. } if problem.contains("got 1")),
        "{e}"
    );
    let hooks = Asm::new()
        .global("torch._utils", "_rebuild_tensor_v2")
        .op(&[MARK])
        .storage("0", 6)
        .int(0)
        .op(&[EMPTY_TUPLE, EMPTY_TUPLE, NEWFALSE, EMPTY_DICT])
        .int(1)
        .int(2)
        .op(&[SETITEM, TUPLE, REDUCE])
        .stop();
    let e = err(&hooks);
    assert!(
        matches!(&e, Error::TensorArgs { problem, .. } if problem.contains("hooks")),
        "{e}"
    );
}

#[test]
fn non_data_results_are_refused() {
    let e = err(&Asm::new().global("collections", "OrderedDict").stop());
    assert!(matches!(e, Error::NotData { .. }), "{e}");
    let e = err(&Asm::new().storage("0", 6).stop());
    assert!(
        matches!(
            e,
            Error::NotData {
                found: "storage outside a tensor"
            }
        ),
        "{e}"
    );
}

#[test]
fn a_list_holding_itself_is_refused() {
    let e = err(&Asm::new().op(&[EMPTY_LIST, BINPUT, 0, BINGET, 0, APPEND]).stop());
    assert!(matches!(e, Error::Recursive { container: "list" }), "{e}");
}

#[test]
fn nesting_is_bounded() {
    let mut p = Asm::new();
    for _ in 0..=MAX_DEPTH {
        p = p.op(&[MARK]);
    }
    assert!(matches!(err(&p.stop()), Error::TooDeep { limit: MAX_DEPTH }));

    // Deep nesting without MARKs: ((((),),),) ... one TUPLE1 per level.
    let p = Asm::new().op(&[EMPTY_TUPLE]).op(&[TUPLE1; MAX_DEPTH + 1]).stop();
    assert!(matches!(err(&p), Error::TooDeep { limit: MAX_DEPTH }));
    let p = Asm::new().op(&[EMPTY_TUPLE]).op(&[TUPLE1; MAX_DEPTH]).stop();
    assert!(load(&p).is_ok(), "the limit itself is fine");
}

#[test]
fn shared_references_cannot_expand_exponentially() {
    // t0 = (); t1 = (t0, t0); t2 = (t1, t1); ... 60 levels: 2^60 objects from ~300 bytes.
    let mut p = Asm::new().op(&[EMPTY_TUPLE]);
    for _ in 0..60 {
        p = p.op(&[BINPUT, 0, BINGET, 0, TUPLE2]);
    }
    let e = err(&p.stop());
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    // The same as a dict key.
    let mut p = Asm::new().op(&[EMPTY_DICT, EMPTY_TUPLE]);
    for _ in 0..60 {
        p = p.op(&[BINPUT, 0, BINGET, 0, TUPLE2]);
    }
    let e = err(&p.op(&[NONE, SETITEM]).stop());
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}
