//! Trees compared bit for bit, and scratch directories for checkpoint files.

use std::path::{Path, PathBuf};

use optimizers::{DictValue, StateDict};

/// Checks that two trees are the same, strictly: the same variants (an integer is not a
/// float), floats bit for bit, maps in the same order, tensors of the same dtype, shape and
/// bytes. `Err` names the first difference by its path.
pub fn identical(path: &str, a: &DictValue<'_>, b: &DictValue<'_>) -> Result<(), String> {
    let differ = || Err(format!("{path}: {} vs {}", a.describe(), b.describe()));
    match (a, b) {
        (DictValue::Null, DictValue::Null) => Ok(()),
        (DictValue::Bool(x), DictValue::Bool(y)) if x == y => Ok(()),
        (DictValue::Int(x), DictValue::Int(y)) if x == y => Ok(()),
        (DictValue::Float(x), DictValue::Float(y)) if x.to_bits() == y.to_bits() => Ok(()),
        (DictValue::Str(x), DictValue::Str(y)) if x == y => Ok(()),
        (DictValue::List(x), DictValue::List(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (p, q))| identical(&format!("{path}[{i}]"), p, q)),
        (DictValue::Map(x), DictValue::Map(y)) => {
            let (kx, ky): (Vec<&str>, Vec<&str>) = (x.keys().collect(), y.keys().collect());
            if kx != ky {
                return Err(format!("{path}: keys {kx:?} vs {ky:?}"));
            }
            x.iter()
                .zip(y.iter())
                .try_for_each(|((k, p), (_, q))| identical(&format!("{path}.{k}"), p, q))
        }
        (DictValue::Tensor(x), DictValue::Tensor(y))
            if x.dtype() == y.dtype() && x.shape() == y.shape() && x.le_bytes() == y.le_bytes() =>
        {
            Ok(())
        }
        _ => differ(),
    }
}

/// [`identical`] for state dicts.
pub fn identical_dicts(a: &StateDict<'_>, b: &StateDict<'_>) -> Result<(), String> {
    identical("state_dict", &a.to_tree(), &b.to_tree())
}

/// A directory under the system's temporary directory, removed with everything in it when
/// dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
