//! The globals a pickle may name: the few this reader interprets, the rest of torch's
//! `weights_only` allowlist (refused as unsupported), and everything else (refused as forbidden).

use crate::pt::DType;

/// A global this reader interprets. Nothing is ever imported or called: a global is only
/// a tag that `REDUCE` and `BINPERSID` dispatch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Global {
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter(tensor, requires_grad, hooks)`
    RebuildParameter,
    /// `collections.OrderedDict`, called with no arguments.
    OrderedDict,
    /// A storage class in a persistent id: `torch.FloatStorage`, `torch.storage.UntypedStorage`, ...
    StorageClass(DType),
}

impl Global {
    /// What the error messages call it.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Global::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2",
            Global::RebuildParameter => "torch._utils._rebuild_parameter",
            Global::OrderedDict => "collections.OrderedDict",
            Global::StorageClass(_) => "storage class",
        }
    }
}

/// Why a global is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Outside torch's allowlist (or in a module torch blocks outright).
    Forbidden,
    /// On torch's allowlist, but it builds something outside this data model.
    Unsupported,
}

/// Modules torch refuses even when a user allowlists something in them.
const BLOCKED_MODULES: [&str; 4] = ["sys", "os", "posix", "nt"];

/// `torch._weights_only_unpickler._get_allowed_globals()` of torch 2.15, less what
/// [`resolve`] interprets; sorted, for a binary search.
const TORCH_ALLOWED: [&str; 116] = [
    "_codecs.encode",
    "builtins.bytearray",
    "builtins.complex",
    "builtins.set",
    "collections.Counter",
    "torch.BFloat16Tensor",
    "torch.BoolTensor",
    "torch.ByteTensor",
    "torch.CharTensor",
    "torch.DoubleTensor",
    "torch.FloatTensor",
    "torch.HalfTensor",
    "torch.IntTensor",
    "torch.LongTensor",
    "torch.QInt32Storage",
    "torch.QInt8Storage",
    "torch.QUInt2x4Storage",
    "torch.QUInt4x2Storage",
    "torch.QUInt8Storage",
    "torch.ShortTensor",
    "torch.Size",
    "torch.Tensor",
    "torch._tensor._rebuild_from_type_v2",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_wrapper_subclass",
    "torch.bcomplex32",
    "torch.bfloat16",
    "torch.bits16",
    "torch.bits1x8",
    "torch.bits2x4",
    "torch.bits4x2",
    "torch.bits8",
    "torch.bool",
    "torch.complex128",
    "torch.complex32",
    "torch.complex64",
    "torch.cuda.BFloat16Tensor",
    "torch.cuda.BoolTensor",
    "torch.cuda.ByteTensor",
    "torch.cuda.CharTensor",
    "torch.cuda.DoubleTensor",
    "torch.cuda.FloatTensor",
    "torch.cuda.HalfTensor",
    "torch.cuda.IntTensor",
    "torch.cuda.LongTensor",
    "torch.cuda.ShortTensor",
    "torch.cuda.sparse.BFloat16Tensor",
    "torch.cuda.sparse.ByteTensor",
    "torch.cuda.sparse.CharTensor",
    "torch.cuda.sparse.DoubleTensor",
    "torch.cuda.sparse.FloatTensor",
    "torch.cuda.sparse.HalfTensor",
    "torch.cuda.sparse.IntTensor",
    "torch.cuda.sparse.LongTensor",
    "torch.cuda.sparse.ShortTensor",
    "torch.device",
    "torch.float16",
    "torch.float32",
    "torch.float4_e2m1fn_x2",
    "torch.float64",
    "torch.float8_e4m3fn",
    "torch.float8_e4m3fnuz",
    "torch.float8_e5m2",
    "torch.float8_e5m2fnuz",
    "torch.float8_e8m0fnu",
    "torch.int1",
    "torch.int16",
    "torch.int2",
    "torch.int3",
    "torch.int32",
    "torch.int4",
    "torch.int5",
    "torch.int6",
    "torch.int64",
    "torch.int7",
    "torch.int8",
    "torch.nn.parameter.Parameter",
    "torch.per_channel_affine",
    "torch.per_channel_affine_float_qparams",
    "torch.per_channel_symmetric",
    "torch.per_tensor_affine",
    "torch.per_tensor_symmetric",
    "torch.qint32",
    "torch.qint8",
    "torch.quint2x4",
    "torch.quint4x2",
    "torch.quint8",
    "torch.serialization._get_layout",
    "torch.sparse.BFloat16Tensor",
    "torch.sparse.ByteTensor",
    "torch.sparse.CharTensor",
    "torch.sparse.DoubleTensor",
    "torch.sparse.FloatTensor",
    "torch.sparse.HalfTensor",
    "torch.sparse.IntTensor",
    "torch.sparse.LongTensor",
    "torch.sparse.ShortTensor",
    "torch.storage.TypedStorage",
    "torch.uint1",
    "torch.uint16",
    "torch.uint2",
    "torch.uint3",
    "torch.uint32",
    "torch.uint4",
    "torch.uint5",
    "torch.uint6",
    "torch.uint64",
    "torch.uint7",
    "torch.uint8",
];

/// The global `module.name`, or why it is refused.
pub(crate) fn resolve(module: &str, name: &str) -> Result<Global, Refusal> {
    if BLOCKED_MODULES.contains(&module) {
        return Err(Refusal::Forbidden);
    }
    match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2") => return Ok(Global::RebuildTensorV2),
        ("torch._utils", "_rebuild_parameter") => return Ok(Global::RebuildParameter),
        ("collections", "OrderedDict") => return Ok(Global::OrderedDict),
        ("torch.storage", "UntypedStorage") => return Ok(Global::StorageClass(DType::UInt8)),
        // torch.save names CPU and (in old files) CUDA storages by the same classes; the
        // location tag, not the class, says where the data lived.
        ("torch" | "torch.cuda", class) if class != "UntypedStorage" => {
            if let Some(dtype) = DType::from_storage_class(class) {
                return Ok(Global::StorageClass(dtype));
            }
        }
        _ => {}
    }
    let full = format!("{module}.{name}");
    if TORCH_ALLOWED.binary_search(&full.as_str()).is_ok() {
        Err(Refusal::Unsupported)
    } else {
        Err(Refusal::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_only_tensors_parameters_ordered_dicts_and_storages() {
        assert_eq!(
            resolve("torch._utils", "_rebuild_tensor_v2"),
            Ok(Global::RebuildTensorV2)
        );
        assert_eq!(
            resolve("torch._utils", "_rebuild_parameter"),
            Ok(Global::RebuildParameter)
        );
        assert_eq!(resolve("collections", "OrderedDict"), Ok(Global::OrderedDict));
        assert_eq!(
            resolve("torch", "FloatStorage"),
            Ok(Global::StorageClass(DType::Float32))
        );
        assert_eq!(
            resolve("torch.cuda", "BFloat16Storage"),
            Ok(Global::StorageClass(DType::BFloat16))
        );
        assert_eq!(
            resolve("torch.storage", "UntypedStorage"),
            Ok(Global::StorageClass(DType::UInt8))
        );
    }

    #[test]
    fn refuses_the_rest_of_torchs_allowlist_as_unsupported() {
        assert_eq!(resolve("torch._utils", "_rebuild_tensor_v3"), Err(Refusal::Unsupported));
        assert_eq!(resolve("torch", "QInt8Storage"), Err(Refusal::Unsupported));
        assert_eq!(resolve("torch", "Size"), Err(Refusal::Unsupported));
        assert_eq!(resolve("builtins", "set"), Err(Refusal::Unsupported));
    }

    #[test]
    fn refuses_everything_else_as_forbidden() {
        assert_eq!(resolve("posix", "system"), Err(Refusal::Forbidden));
        assert_eq!(resolve("os", "system"), Err(Refusal::Forbidden));
        assert_eq!(resolve("builtins", "eval"), Err(Refusal::Forbidden));
        assert_eq!(resolve("torch", "load"), Err(Refusal::Forbidden));
        assert_eq!(resolve("torch", "UntypedStorage"), Err(Refusal::Forbidden));
        assert_eq!(resolve("subprocess", "Popen"), Err(Refusal::Forbidden));
    }
}
