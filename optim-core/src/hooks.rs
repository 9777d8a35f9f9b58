//! Hooks on an optimizer, as torch's `register_step_pre_hook`, `register_step_post_hook`,
//! `register_state_dict_post_hook` and `register_load_state_dict_post_hook`: functions run
//! in registration order, each removable through the [`HookHandle`] its registration
//! returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::dict::StateDict;
use crate::error::Result;
use crate::float::Float;
use crate::optimizer::Optimizer;
use crate::rule::Rule;

/// Removes a hook: `handle.remove()` (torch's `RemovableHandle.remove()`). Dropping the
/// handle keeps the hook.
#[derive(Clone, Debug)]
pub struct HookHandle {
    removed: Arc<AtomicBool>,
}

impl HookHandle {
    /// Removes the hook; it runs no more (removing twice does nothing).
    pub fn remove(&self) {
        self.removed.store(true, Ordering::Relaxed);
    }

    /// Whether the hook was removed.
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }
}

/// A step pre- or post-hook, or a load post-hook: it sees the optimizer.
pub type StepHook<R, A> = Box<dyn FnMut(&Optimizer<R, A>) -> Result<()> + Send + Sync>;

/// A `state_dict` post-hook: it may change the dict before it is returned.
pub type StateDictHook = Box<dyn for<'a> Fn(&mut StateDict<'a>) + Send + Sync>;

/// Hooks in registration order, each with its removal flag.
pub(crate) struct HookList<H> {
    hooks: Vec<(Arc<AtomicBool>, H)>,
}

impl<H> Default for HookList<H> {
    fn default() -> Self {
        HookList { hooks: Vec::new() }
    }
}

impl<H> HookList<H> {
    pub(crate) fn add(&mut self, hook: H) -> HookHandle {
        let removed = Arc::new(AtomicBool::new(false));
        self.hooks.push((Arc::clone(&removed), hook));
        HookHandle { removed }
    }

    /// The hooks not removed, in registration order (removed ones are dropped first).
    pub(crate) fn live(&mut self) -> impl Iterator<Item = &mut H> {
        self.hooks.retain(|(removed, _)| !removed.load(Ordering::Relaxed));
        self.hooks.iter_mut().map(|(_, h)| h)
    }

    /// As [`live`](HookList::live), through a shared reference (for `Fn` hooks); removed
    /// hooks are skipped.
    pub(crate) fn each(&self) -> impl Iterator<Item = &H> {
        self.hooks
            .iter()
            .filter(|(removed, _)| !removed.load(Ordering::Relaxed))
            .map(|(_, h)| h)
    }

    pub(crate) fn len(&self) -> usize {
        self.hooks
            .iter()
            .filter(|(removed, _)| !removed.load(Ordering::Relaxed))
            .count()
    }
}

/// A list of step or load hooks.
pub(crate) type StepHooks<R, A> = HookList<StepHook<R, A>>;

/// Every hook of an optimizer.
pub(crate) struct Hooks<R: Rule, A: Float> {
    pub step_pre: StepHooks<R, A>,
    pub step_post: StepHooks<R, A>,
    pub state_dict_post: HookList<StateDictHook>,
    pub load_post: StepHooks<R, A>,
}

impl<R: Rule, A: Float> Default for Hooks<R, A> {
    fn default() -> Self {
        Hooks {
            step_pre: HookList::default(),
            step_post: HookList::default(),
            state_dict_post: HookList::default(),
            load_post: HookList::default(),
        }
    }
}

impl<R: Rule, A: Float> Hooks<R, A> {
    pub(crate) fn count(&self) -> usize {
        self.step_pre.len() + self.step_post.len() + self.state_dict_post.len() + self.load_post.len()
    }
}

/// Runs `list`'s hooks on `opt` in order, stopping at the first error: the list is taken out
/// of the optimizer for the call, so that a hook sees the whole optimizer.
pub(crate) fn run<R: Rule, A: Float>(
    opt: &mut Optimizer<R, A>,
    list: fn(&mut Hooks<R, A>) -> &mut StepHooks<R, A>,
) -> Result<()> {
    if list(&mut opt.hooks).hooks.is_empty() {
        return Ok(());
    }
    let mut taken = std::mem::take(list(&mut opt.hooks));
    let result = taken.live().try_for_each(|hook| hook(opt));
    // Hooks registered by a hook (through a handle-free path) cannot exist: registration
    // needs `&mut Optimizer`, which a hook does not get. So the list is put back whole.
    *list(&mut opt.hooks) = taken;
    result
}
