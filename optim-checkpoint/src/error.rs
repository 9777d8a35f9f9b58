//! The one error enum of the crate.

use std::path::PathBuf;

use crate::pt::DType;

/// Everything that can go wrong reading or writing a checkpoint file.
///
/// Every variant carries what its message names: the record, the byte offset inside
/// `data.pkl`, the opcode, the global's `module.name`, the tensor, the shard, the sizes
/// found and expected. The functions that save and load state dicts return
/// `optim_core::Error::Checkpoint` holding one of these (see [`Error::at`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- the file -----
    /// Opening, mapping, writing, syncing or renaming a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done (`open`, `map`, `write`, `rename`, ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    // ----- the zip container -----
    /// The bytes are not a zip archive the reader can parse (not a zip, truncated, corrupt directory).
    #[error("not a readable zip archive: {detail}")]
    Zip {
        /// What the zip reader found wrong.
        detail: String,
    },
    /// The zip archive has no records at all.
    #[error("the zip archive holds no records")]
    EmptyArchive,
    /// The first record is not inside a folder, so the archive has no name to look records up under.
    #[error("zip record {name:?} is not inside an archive folder; torch keeps every record under <archive>/")]
    NoArchiveFolder {
        /// The first record's name.
        name: String,
    },
    /// A record the format needs is absent.
    #[error("missing record {record}")]
    MissingRecord {
        /// The full name of the record looked for.
        record: String,
    },
    /// A record is compressed or encrypted; torch writes every record stored as is.
    #[error("record {record} is {method}; torch writes records stored, uncompressed and unencrypted")]
    CompressedRecord {
        /// The full name of the record.
        record: String,
        /// The compression method or `encrypted`.
        method: String,
    },
    /// A record's data lies past the end of the file.
    #[error("record {record} ({size} bytes at offset {offset}) extends past the end of the {file_len}-byte file")]
    RecordOutOfBounds {
        /// The full name of the record.
        record: String,
        /// Where its data starts in the file.
        offset: u64,
        /// Its size according to the zip directory.
        size: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A record's bytes do not match the checksum in the zip directory.
    #[error("record {record} has checksum {found:08x}, the zip directory says {expected:08x}")]
    Checksum {
        /// The full name of the record.
        record: String,
        /// The CRC-32 stored in the zip directory.
        expected: u32,
        /// The CRC-32 of the bytes.
        found: u32,
    },
    /// The `byteorder` record names something other than `little`.
    #[error("byteorder record says {found:?}; only little-endian checkpoints are supported")]
    ByteOrder {
        /// The record's content.
        found: String,
    },
    /// The `version` record is not a file format version torch reads (1 to 10).
    #[error("version record says {found:?}; torch reads file format versions 1 to 10")]
    Version {
        /// The record's content.
        found: String,
    },

    // ----- the pickle interpreter -----
    /// `PROTO` names a protocol other than 2, the one torch.save writes.
    #[error("pickle protocol {found} at byte {offset}; torch.save writes protocol 2")]
    Protocol {
        /// The protocol number found.
        found: u8,
        /// The offset of the `PROTO` opcode in `data.pkl`.
        offset: usize,
    },
    /// An opcode outside the allowlist (another protocol's, or not an opcode at all).
    #[error("pickle opcode 0x{opcode:02x} ({name}) at byte {offset} is not one torch.save writes")]
    Opcode {
        /// The opcode byte.
        opcode: u8,
        /// Its name in Python's pickle module, or `unknown`.
        name: &'static str,
        /// Its offset in `data.pkl`.
        offset: usize,
    },
    /// A global outside torch's `weights_only` allowlist, such as `posix.system`.
    #[error("global {module}.{name} at byte {offset} is not in torch's weights_only allowlist")]
    ForbiddenGlobal {
        /// The module named by the `GLOBAL` opcode.
        module: String,
        /// The name inside that module.
        name: String,
        /// The offset of the opcode in `data.pkl`.
        offset: usize,
    },
    /// A global torch allows but that builds something outside this data model
    /// (sparse or quantized tensors, `torch.Size`, `builtins.set`, ...).
    #[error(
        "global {module}.{name} at byte {offset} is allowed by torch but not supported here \
         (supported: tensors, parameters, OrderedDict)"
    )]
    UnsupportedGlobal {
        /// The module named by the `GLOBAL` opcode.
        module: String,
        /// The name inside that module.
        name: String,
        /// The offset of the opcode in `data.pkl`.
        offset: usize,
    },
    /// The pickle ends inside an opcode's argument.
    #[error("pickle ends inside {opcode} at byte {offset}")]
    Truncated {
        /// The opcode whose argument is cut short.
        opcode: &'static str,
        /// The offset of the opcode in `data.pkl`.
        offset: usize,
    },
    /// The pickle ends without `STOP`.
    #[error("pickle ends at byte {offset} without STOP")]
    MissingStop {
        /// The length of `data.pkl`.
        offset: usize,
    },
    /// An opcode needs more items on the stack than there are.
    #[error("{opcode} at byte {offset} needs {needed} items on the stack, found {found}")]
    StackUnderflow {
        /// The opcode.
        opcode: &'static str,
        /// Its offset in `data.pkl`.
        offset: usize,
        /// How many items it pops or reads.
        needed: usize,
        /// How many there are since the last `MARK`.
        found: usize,
    },
    /// An opcode pops to a `MARK` that was never pushed.
    #[error("{opcode} at byte {offset} has no MARK to pop to")]
    MissingMark {
        /// The opcode.
        opcode: &'static str,
        /// Its offset in `data.pkl`.
        offset: usize,
    },
    /// `BINGET` or `LONG_BINGET` reads a memo slot that was never written.
    #[error("{opcode} at byte {offset} reads memo slot {index}, which was never written")]
    MemoMissing {
        /// The opcode.
        opcode: &'static str,
        /// Its offset in `data.pkl`.
        offset: usize,
        /// The memo slot.
        index: u32,
    },
    /// An opcode finds an object of the wrong kind (APPEND to a dict, REDUCE of a string, ...).
    #[error("{opcode} at byte {offset} expects {expected}, found {found}")]
    WrongType {
        /// The opcode.
        opcode: &'static str,
        /// Its offset in `data.pkl`.
        offset: usize,
        /// What it accepts.
        expected: &'static str,
        /// What it found.
        found: String,
    },
    /// A string is not valid UTF-8.
    #[error("string of {opcode} at byte {offset} is not valid UTF-8")]
    Utf8 {
        /// The opcode holding the string.
        opcode: &'static str,
        /// Its offset in `data.pkl`.
        offset: usize,
    },
    /// A `LONG1` integer does not fit in an `i64`.
    #[error("integer of {bytes} bytes at byte {offset} does not fit in 64 bits")]
    IntegerOverflow {
        /// The integer's length in bytes.
        bytes: usize,
        /// The offset of the opcode in `data.pkl`.
        offset: usize,
    },
    /// `STOP` finds other than exactly one object on the stack (or an open `MARK`).
    #[error("STOP at byte {offset} finds {found} objects on the stack and {marks} open MARKs; expected one object")]
    LeftoverStack {
        /// The offset of `STOP` in `data.pkl`.
        offset: usize,
        /// Objects on the stack.
        found: usize,
        /// `MARK`s never popped.
        marks: usize,
    },
    /// Bytes follow `STOP`.
    #[error("{found} bytes follow STOP at byte {offset}")]
    TrailingBytes {
        /// The offset of `STOP` in `data.pkl`.
        offset: usize,
        /// How many bytes follow it.
        found: usize,
    },
    /// The pickle builds more objects than the reader holds for one file.
    #[error("the pickle builds more than {limit} objects")]
    TooManyObjects {
        /// The limit.
        limit: usize,
    },
    /// Objects nest deeper than the reader (and Python's own pickler) goes.
    #[error("objects nest deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Shared references expand to a tree far larger than the pickle (a "billion laughs" file).
    #[error("shared references expand to more than {limit} objects")]
    TooLarge {
        /// The limit, which grows with the size of `data.pkl`.
        limit: usize,
    },
    /// A container holds itself, so the tree would be infinite.
    #[error("a {container} contains itself")]
    Recursive {
        /// The kind of container.
        container: &'static str,
    },
    /// Something that is not data (a class, a function, a bare storage) ends up in the result.
    #[error("the loaded tree would hold a {found}, which is not data")]
    NotData {
        /// What it is.
        found: &'static str,
    },
    /// A dict key of a kind Python cannot hash, or that this data model does not keep as a key.
    #[error("a {found} cannot be a dict key (byte {offset})")]
    UnhashableKey {
        /// The key's kind.
        found: String,
        /// The offset of `SETITEM(S)` in `data.pkl`.
        offset: usize,
    },

    // ----- storages and tensors -----
    /// A persistent id that is not `('storage', <storage class>, <key>, <location>, <numel>)`.
    #[error(
        "persistent id at byte {offset} is {found}; expected ('storage', <storage class>, <key>, <location>, <numel>)"
    )]
    PersistentId {
        /// The offset of `BINPERSID` in `data.pkl`.
        offset: usize,
        /// What was found.
        found: String,
    },
    /// A storage record's size differs from what its element count needs.
    #[error("storage record {record} holds {found} bytes; {numel} {dtype} elements need {expected}")]
    StorageSize {
        /// The full name of the record.
        record: String,
        /// The storage's element type.
        dtype: DType,
        /// The element count the pickle gives.
        numel: u64,
        /// The bytes that count needs.
        expected: u64,
        /// The record's size.
        found: u64,
    },
    /// Arguments of `_rebuild_tensor_v2` / `_rebuild_parameter` this reader does not accept.
    #[error("{function} at byte {offset}: {problem}")]
    TensorArgs {
        /// The rebuild function.
        function: &'static str,
        /// The offset of its `REDUCE` in `data.pkl`.
        offset: usize,
        /// What is wrong with the arguments.
        problem: String,
    },
    /// A tensor view (shape, strides, offset) that reads outside its storage.
    #[error(
        "tensor view with shape {shape:?}, strides {strides:?} and storage offset {storage_offset} \
         does not fit in a storage of {storage_len} elements"
    )]
    ViewOutOfBounds {
        /// The shape.
        shape: Vec<usize>,
        /// The strides, in elements.
        strides: Vec<usize>,
        /// The offset of the first element, in elements.
        storage_offset: usize,
        /// The storage's length, in elements.
        storage_len: usize,
    },
    /// Shape and strides of a tensor view have different lengths.
    #[error("tensor view has {shape_len} sizes but {strides_len} strides")]
    RankMismatch {
        /// Number of sizes.
        shape_len: usize,
        /// Number of strides.
        strides_len: usize,
    },
    /// Storage bytes that are not a whole number of elements, or too few for a contiguous tensor.
    #[error("{len} bytes of {dtype} data do not hold the {needed} elements of this tensor")]
    DataLength {
        /// The element type.
        dtype: DType,
        /// Bytes given.
        len: usize,
        /// Elements needed.
        needed: usize,
    },

    // ----- reading tensor data -----
    /// A tensor's dtype cannot be converted exactly to the requested element type.
    #[error("a {found} tensor cannot be read exactly as {requested}")]
    DTypeMismatch {
        /// The element type asked for.
        requested: &'static str,
        /// The tensor's dtype.
        found: DType,
    },
    /// The destination slice has another length than the tensor.
    #[error("the destination holds {found} elements, the tensor has {expected}")]
    LengthMismatch {
        /// The tensor's element count.
        expected: usize,
        /// The destination's length.
        found: usize,
    },

    // ----- state dicts and trees in any format -----
    /// A file name whose extension names no format this crate reads or writes.
    #[error("cannot tell the checkpoint format from the file name {name:?}: name it *.json, *.safetensors or *.pt")]
    UnknownFormat {
        /// The file name.
        name: String,
    },
    /// The file's root has no entry of the name the caller gave (torch's training
    /// checkpoints keep the optimizer's state dict under a key such as `optimizer`).
    #[error("the checkpoint has no entry {key:?} (its entries are: {found})")]
    MissingEntry {
        /// The key asked for.
        key: String,
        /// The keys the root has, comma-separated (or what the root is, if not a dict).
        found: String,
    },
    /// A dict key a state dict or tree cannot have (they are strings, and ints for torch's
    /// parameter indices).
    #[error("at {path}: a {found} key cannot be a key of a state dict or tree (keys are strings or ints)")]
    UnsupportedKey {
        /// Where, as a dotted path.
        path: String,
        /// The key's kind and value.
        found: String,
    },
    /// Two keys of one dict that a state dict tells apart only by their text (`1` and `"1"`).
    #[error("at {path}: the key {key:?} appears twice (once as an int, once as a string)")]
    DuplicateKey {
        /// Where, as a dotted path.
        path: String,
        /// The key.
        key: String,
    },
    /// A tensor of an element type a state dict does not hold.
    #[error(
        "tensor {tensor} is {dtype}; state dicts hold float32 and float64 tensors (convert it first, e.g. `.float()` in torch)"
    )]
    UnsupportedDType {
        /// The tensor's name or path.
        tensor: String,
        /// Its element type.
        dtype: String,
    },

    // ----- safetensors -----
    /// The bytes are not a safetensors file: the header's length, JSON or tensor offsets
    /// are wrong (as the `safetensors` crate reports them).
    #[error("not a readable safetensors file: {detail}")]
    Safetensors {
        /// What is wrong.
        detail: String,
    },
    /// The tree in the header's metadata is not valid JSON.
    #[error("the safetensors metadata's `{key}` is not a valid tree: {detail}")]
    Metadata {
        /// The metadata key.
        key: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The tree in the metadata and the tensor entries of the header disagree: a tensor the
    /// tree names is missing or has another dtype or shape, or an entry is named by nothing.
    #[error("tensor {tensor}: {problem}")]
    HeaderMismatch {
        /// The tensor's name in the file.
        tensor: String,
        /// How they disagree.
        problem: String,
    },
    /// The index of a sharded set is not a safetensors index (`weight_map` of tensor names
    /// to shard files).
    #[error("malformed safetensors index: {detail}")]
    Index {
        /// What is wrong.
        detail: String,
    },
    /// A shard the index lists cannot be opened.
    #[error("shard {shard} of the set cannot be read: {source}")]
    MissingShard {
        /// The shard's file name, as the index gives it.
        shard: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A shard that was written by another save than the index (a save interrupted while
    /// renaming its files, or shards copied from elsewhere): loading it would mix two states.
    #[error(
        "shard {shard} was written by save {found}, the index by save {expected}: the set is incomplete; save it again"
    )]
    ShardMismatch {
        /// The shard's file name.
        shard: String,
        /// The save id in the index.
        expected: String,
        /// The save id in the shard.
        found: String,
    },
    /// Splitting into shards was asked of a format that has no shards.
    #[error("{format} files are not split into shards; only safetensors are")]
    ShardingUnsupported {
        /// The format.
        format: &'static str,
    },

    // ----- writing -----
    /// Writing to the caller's writer failed.
    #[error("cannot write the checkpoint: {source}")]
    Write {
        /// The writer's error.
        #[source]
        source: std::io::Error,
    },
    /// A string or record too long for the pickle protocol 2 or the zip format torch reads.
    #[error("{what} of {len} bytes is longer than the format allows ({limit})")]
    TooLong {
        /// What is too long.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The format's limit.
        limit: u64,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// This error as the optimizers' error for the file at `path`: an I/O error stays an
    /// I/O error (`optim_core::Error::Io`, whose `source.kind()` tells a missing file),
    /// anything else is `optim_core::Error::Checkpoint` holding this error (match on it with
    /// `source.downcast_ref::<optim_checkpoint::Error>()`).
    pub fn at(self, path: impl AsRef<std::path::Path>) -> optim_core::Error {
        let path = path.as_ref().display().to_string();
        match self {
            Error::Io {
                action,
                path: file,
                source,
            } => optim_core::Error::Io {
                action,
                path: file.display().to_string(),
                source: optim_core::Shared::new(source),
            },
            other => optim_core::Error::Checkpoint {
                path,
                source: optim_core::Shared::any(other),
            },
        }
    }
}
