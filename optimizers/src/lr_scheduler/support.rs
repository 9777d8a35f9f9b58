//! What several bundled schedules share: torch's per-group list checks, the momentum that
//! CyclicLR and OneCycleLR cycle, the annealing strategy of OneCycleLR and SWALR, and
//! Python's `bisect_right`.

use optim_core::schedule::{Init, OptionPath, PerGroup};
use optim_core::{Error, Map, Result, Scope};
use optim_derive::OptionValue;

/// torch's `_format_param` check: a list must have one value per group ("{name} must have
/// the same length as optimizer.param_groups. {name} has {n} values, param_groups has {m}.").
pub(crate) fn check_len<T: Clone>(
    kind: &'static str,
    name: &'static str,
    values: &PerGroup<T>,
    groups: usize,
) -> Result<()> {
    match values.list_len() {
        Some(n) if n != groups => Err(Error::InvalidOption {
            scope: Scope::Schedule(kind),
            option: name,
            message: format!(
                "{name} must have the same length as optimizer.param_groups. {name} has {n} values, param_groups has {groups}"
            ),
        }),
        _ => Ok(()),
    }
}

/// An `InvalidOption` of schedule `kind` with `message`.
pub(crate) fn invalid(kind: &'static str, option: &'static str, message: String) -> Error {
    Error::InvalidOption {
        scope: Scope::Schedule(kind),
        option,
        message,
    }
}

/// The momentum that CyclicLR and OneCycleLR cycle: Adam's β₁ (`betas[0]`) if the optimizer
/// has `betas`, else `momentum` (torch: `use_beta1 = "betas" in optimizer.defaults`).
pub(crate) fn momentum_path(use_beta1: bool) -> OptionPath {
    // Both are valid paths: parsing cannot fail.
    OptionPath::parse(if use_beta1 { "betas[0]" } else { "momentum" }).unwrap_or_else(|| unreachable!())
}

/// torch's check for `cycle_momentum`, and `use_beta1`.
pub(crate) fn use_beta1(kind: &'static str, cx: &Init<'_, '_>) -> Result<bool> {
    if cx.has_option("betas") {
        Ok(true)
    } else if cx.has_option("momentum") {
        Ok(false)
    } else {
        Err(invalid(
            kind,
            "cycle_momentum",
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled".into(),
        ))
    }
}

/// Sets every group's momentum to its `max_momentum` (torch's CyclicLR and OneCycleLR
/// constructors); returns `use_beta1`.
pub(crate) fn start_momentum(kind: &'static str, cx: &mut Init<'_, '_>, max_momentum: &PerGroup<f64>) -> Result<bool> {
    let beta1 = use_beta1(kind, cx)?;
    let path = momentum_path(beta1);
    for (g, m) in max_momentum.expand(cx.groups()).into_iter().enumerate() {
        cx.write(g, &path, m)?;
    }
    Ok(beta1)
}

/// What torch's CyclicLR and OneCycleLR write into a group when they cycle the momentum.
pub(crate) fn momentum_entries(max: &PerGroup<f64>, base: &PerGroup<f64>, group: usize, out: &mut Map<'static>) {
    if let (Some(&high), Some(&low)) = (max.get(group), base.get(group)) {
        out.insert("max_momentum", high);
        out.insert("base_momentum", low);
    }
}

/// An epoch as the argument of a user's function (torch passes Python ints; the clock is
/// never negative when a function is called).
pub(crate) fn epoch_arg(epoch: i64) -> u64 {
    u64::try_from(epoch).unwrap_or(0)
}

/// How OneCycleLR and SWALR anneal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, OptionValue)]
pub enum AnnealStrategy {
    /// Cosine annealing (`"cos"`).
    Cos,
    /// Linear annealing (`"linear"`).
    Linear,
}

/// Python's `bisect.bisect_right(a, x)`, step for step (also on a list that is not sorted,
/// which torch's SequentialLR does not reject).
pub(crate) fn bisect_right(a: &[u64], x: i64) -> usize {
    let (mut lo, mut hi) = (0, a.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < a[mid] as i64 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}
