//! Each thread's record of the parameter guards it holds, so that a lock found taken can be
//! told apart: held by another thread (wait for it) or by this one (waiting would never
//! end: report it instead).
//!
//! Guards add themselves when created and remove themselves when dropped; guards cannot
//! move to another thread (the standard lock guards inside them are not `Send`), so each
//! thread's record is exactly its own guards.
//!
//! An optimizer checks the calling thread's record once, before a step or `zero_grad`
//! touches anything ([`check`]): one thread-local read when the record is empty, as it
//! almost always is. This also covers parallel steps, whose locks are taken on worker
//! threads that cannot know what the caller holds. `Param`'s own methods instead try the
//! lock first and read the record only when it is taken.

use std::cell::RefCell;

use crate::error::GuardKind;
use crate::param::ParamId;

/// Which lock of a parameter: its value's or its gradient's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Value,
    Grad,
}

impl GuardKind {
    fn slot(self) -> Slot {
        match self {
            GuardKind::Value | GuardKind::ValueMut => Slot::Value,
            GuardKind::Grad | GuardKind::GradMut => Slot::Grad,
        }
    }
}

thread_local! {
    /// The guards this thread holds: rarely more than a handful.
    static HELD: RefCell<Vec<(ParamId, GuardKind)>> = const { RefCell::new(Vec::new()) };
}

/// A guard's entry in its thread's record, removed when dropped.
pub(crate) struct Held {
    id: ParamId,
    kind: GuardKind,
}

impl Held {
    /// Records that this thread now holds a `kind` guard of parameter `id`.
    pub(crate) fn new(id: ParamId, kind: GuardKind) -> Self {
        HELD.with(|held| held.borrow_mut().push((id, kind)));
        Held { id, kind }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // `try_with`: a guard dropped while its thread's locals are torn down has nothing
        // left to remove itself from.
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held.iter().rposition(|&entry| entry == (self.id, self.kind)) {
                held.swap_remove(i);
            }
        });
    }
}

/// The first parameter of `params` (with its position) of which this thread holds a guard,
/// and that guard.
pub(crate) fn check<'p, A: crate::float::Float + 'p>(
    params: impl Iterator<Item = (usize, usize, &'p crate::param::Param<A>)>,
) -> Option<(usize, usize, GuardKind)> {
    HELD.try_with(|held| {
        let held = held.borrow();
        if held.is_empty() {
            return None;
        }
        params
            .filter_map(|(g, i, p)| held.iter().find(|(id, _)| *id == p.id()).map(|&(_, kind)| (g, i, kind)))
            .next()
    })
    .ok()
    .flatten()
}

/// A guard of parameter `id`'s `slot` lock that this thread holds, if any.
pub(crate) fn find(id: ParamId, slot: Slot) -> Option<GuardKind> {
    HELD.try_with(|held| {
        held.borrow()
            .iter()
            .find(|&&(i, kind)| i == id && kind.slot() == slot)
            .map(|&(_, kind)| kind)
    })
    .ok()
    .flatten()
}
