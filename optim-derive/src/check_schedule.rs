//! Validation of a `#[derive(Schedule)]` input: the options as an optimizer's are checked
//! (`check::fields`), and what only a schedule can get wrong.

use crate::attr_schedule::ScheduleInput;
use crate::check;
use crate::ctxt::Ctxt;

/// The entries of every schedule's state dict besides its options: torch's counters and
/// what says which schedule wrote it.
pub const RESERVED: &[&str] = &[
    "kind",
    "version",
    "option",
    "base_lrs",
    "last_epoch",
    "_step_count",
    "_last_lr",
];

/// Checks a `#[derive(Schedule)]` input.
pub fn schedule(cx: &Ctxt, s: &ScheduleInput) {
    let h = &s.hyper;
    if !h.generics.params.is_empty() {
        cx.error_spanned_by(
            h.generics,
            "#[derive(Schedule)] does not support generic parameters: a schedule's options have concrete types (f64, u64, PerGroup<f64>, ...)",
        );
    }
    check::kind_and_version(cx, h, "schedule");
    check::fields(cx, h, |key| {
        RESERVED.contains(&key).then(|| {
            format!(
                "`{key}` is an entry of every schedule's state dict (torch's counters, or what says which schedule wrote it): rename the option with #[hyper(rename = \"...\")]"
            )
        })
    });
}
