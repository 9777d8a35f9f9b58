//! The persistent state of [`Lbfgs`](super::Lbfgs) (torch's `optimizer.state[params[0]]`),
//! its curvature history, and the scratch buffers of a step.

use optim_core::{DictValue, FieldError, Float, Map, ShapeCtx, StateEntries, StateError, flat_vector, pack_flat};
use optim_derive::State;

use super::ring::{Iter, Ring};

/// One stored curvature pair: torch's `old_dirs[i]` (`y`), `old_stps[i]` (`s`) and `ro[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvaturePair<A> {
    /// The gradient difference `y = g_new − g_old` (an entry of torch's `old_dirs`).
    pub y: Vec<A>,
    /// The step `s = t · d` (an entry of torch's `old_stps`).
    pub s: Vec<A>,
    /// `1 / (y · s)` (an entry of torch's `ro`).
    pub ro: f64,
}

impl<A: Float> CurvaturePair<A> {
    pub(crate) fn zeros(n: usize) -> Self {
        CurvaturePair {
            y: vec![A::zero(); n],
            s: vec![A::zero(); n],
            ro: 0.0,
        }
    }
}

/// The curvature history: torch's `old_dirs`, `old_stps` and `ro` as one ring of pairs,
/// oldest first. Torch creates (and saves) the three lists together at the end of the first
/// iteration; before that the history is absent.
///
/// In a state dict it is the three entries `old_dirs` (list of flat tensors), `old_stps`
/// (list of flat tensors) and `ro` (list of numbers), oldest first.
pub struct CurvatureHistory<A> {
    /// `None` while absent. The ring's capacity follows `history_size` (set by the step).
    pub(crate) ring: Option<Ring<CurvaturePair<A>>>,
}

impl<A> Default for CurvatureHistory<A> {
    /// An absent history (a fresh state).
    fn default() -> Self {
        CurvatureHistory { ring: None }
    }
}

impl<A: Clone> Clone for CurvatureHistory<A> {
    fn clone(&self) -> Self {
        CurvatureHistory {
            ring: self.ring.clone(),
        }
    }
}

impl<A: std::fmt::Debug> std::fmt::Debug for CurvatureHistory<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ring {
            None => f.write_str("CurvatureHistory(absent)"),
            Some(ring) => f.debug_list().entries(ring.iter()).finish(),
        }
    }
}

impl<A: PartialEq> PartialEq for CurvatureHistory<A> {
    /// The same presence and the same pairs in the same order (how the ring stores them
    /// and the capacity, which follows the options, do not matter).
    fn eq(&self, other: &Self) -> bool {
        match (&self.ring, &other.ring) {
            (None, None) => true,
            (Some(a), Some(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
            _ => false,
        }
    }
}

impl<A> CurvatureHistory<A> {
    /// Whether the history exists (torch has created `old_dirs`, `old_stps` and `ro`).
    pub fn is_present(&self) -> bool {
        self.ring.is_some()
    }

    /// The number of stored pairs (0 when absent).
    pub fn len(&self) -> usize {
        self.ring.as_ref().map_or(0, Ring::len)
    }

    /// Whether no pair is stored (absent or empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored pairs, oldest first (none when absent); `.rev()` gives newest first.
    pub fn pairs(&self) -> impl DoubleEndedIterator<Item = &CurvaturePair<A>> + ExactSizeIterator {
        self.ring.as_ref().map_or_else(Iter::empty, Ring::iter)
    }

    /// Torch's `old_dirs`: the `y` vectors, oldest first.
    pub fn old_dirs(&self) -> impl DoubleEndedIterator<Item = &[A]> + ExactSizeIterator {
        self.pairs().map(|p| p.y.as_slice())
    }

    /// Torch's `old_stps`: the `s` vectors, oldest first.
    pub fn old_stps(&self) -> impl DoubleEndedIterator<Item = &[A]> + ExactSizeIterator {
        self.pairs().map(|p| p.s.as_slice())
    }

    /// Torch's `ro`, oldest first.
    pub fn ro(&self) -> impl DoubleEndedIterator<Item = f64> + ExactSizeIterator + '_ {
        self.pairs().map(|p| p.ro)
    }
}

/// The entries torch saves together with the history at the end of the first iteration.
const SAVED_TOGETHER: [&str; 8] = [
    "d",
    "t",
    "old_dirs",
    "old_stps",
    "ro",
    "H_diag",
    "prev_flat_grad",
    "prev_loss",
];

fn value_error(key: &str, message: String) -> StateError {
    StateError {
        key: key.to_string(),
        error: FieldError::Value(message),
    }
}

fn type_error(key: &str, expected: &str, found: &DictValue<'_>) -> StateError {
    StateError {
        key: key.to_string(),
        error: FieldError::Type {
            expected: expected.to_string(),
            found: found.describe(),
        },
    }
}

/// The items of the list under `key`.
fn list<'v, 'a>(entry: &'v Map<'a>, key: &str, expected: &str) -> Result<&'v [DictValue<'a>], StateError> {
    match entry.get(key) {
        Some(DictValue::List(items)) => Ok(items),
        Some(other) => Err(type_error(key, expected, other)),
        None => Err(StateError {
            key: key.to_string(),
            error: FieldError::Missing,
        }),
    }
}

/// A list of flat tensors of `ctx.numel` elements each.
fn vectors<A: Float>(entry: &Map<'_>, key: &str, ctx: &ShapeCtx<'_>) -> Result<Vec<Vec<A>>, StateError> {
    let items = list(entry, key, "a list of flat tensors")?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            flat_vector(v, ctx).map_err(|error| match error {
                FieldError::Shape { found, .. } => value_error(
                    key,
                    format!(
                        "item {i} has shape {found:?} but the parameters have {} element(s) in all (expected [{}])",
                        ctx.numel, ctx.numel
                    ),
                ),
                FieldError::Type { found, .. } => {
                    value_error(key, format!("item {i} must be a flat tensor, found {found}"))
                }
                other => StateError {
                    key: key.to_string(),
                    error: other,
                },
            })
        })
        .collect()
}

/// Checks that the entries torch saves together at the end of the first iteration (`d`,
/// `t`, the three lists, `H_diag`, `prev_flat_grad`, `prev_loss`) are all present or all
/// absent. The history's `unpack` is the one place that sees the whole entry, so the checks
/// across entries live here; without them a malformed state would load, and only fail or
/// silently misbehave at the next step.
fn check_saved_together(entry: &Map<'_>) -> Result<(), StateError> {
    let Some(present) = SAVED_TOGETHER.iter().find(|k| entry.contains_key(k)) else {
        return Ok(());
    };
    match SAVED_TOGETHER.iter().find(|k| !entry.contains_key(k)) {
        Some(missing) => Err(value_error(
            missing,
            format!(
                "is missing although `{present}` is present (L-BFGS saves d, t, old_dirs, old_stps, ro, H_diag, \
                 prev_flat_grad and prev_loss together)"
            ),
        )),
        None => Ok(()),
    }
}

/// Checks `al` against the history (`pairs`: its length, `None` when absent): torch creates
/// `al` at the second iteration, after the history, with a slot for every pair the two-loop
/// recursion may use (`history_size` slots).
fn check_al(entry: &Map<'_>, pairs: Option<usize>) -> Result<(), StateError> {
    match (entry.get("al"), pairs) {
        (Some(_), None) => Err(value_error(
            "al",
            "is present without the curvature history (`old_dirs`, `old_stps`, `ro`), which L-BFGS creates first"
                .to_string(),
        )),
        (Some(DictValue::List(slots)), Some(pairs)) if slots.len() < pairs => Err(value_error(
            "al",
            format!(
                "has {} slot(s) but the history holds {pairs} curvature pair(s): it needs one slot per pair",
                slots.len()
            ),
        )),
        // An `al` that is not a list is reported by its own field.
        _ => Ok(()),
    }
}

impl<A: Float> StateEntries<A> for CurvatureHistory<A> {
    const KEYS: &'static [&'static str] = &["old_dirs", "old_stps", "ro"];

    fn init(_: &ShapeCtx<'_>) -> Self {
        CurvatureHistory::default()
    }

    fn pack<'a>(&'a self, entry: &mut Map<'a>) {
        let Some(ring) = &self.ring else { return };
        entry.insert(
            "old_dirs",
            DictValue::List(ring.iter().map(|p| pack_flat(&p.y)).collect()),
        );
        entry.insert(
            "old_stps",
            DictValue::List(ring.iter().map(|p| pack_flat(&p.s)).collect()),
        );
        entry.insert(
            "ro",
            DictValue::List(ring.iter().map(|p| DictValue::Float(p.ro)).collect()),
        );
    }

    /// Reads the three lists (all present or all absent, of equal lengths, each vector of
    /// the parameters' total element count) and checks the entries that must agree with
    /// them. More pairs than `history_size` are accepted: the next step keeps the newest.
    fn unpack(entry: &Map<'_>, ctx: &ShapeCtx<'_>) -> Result<Self, StateError> {
        check_saved_together(entry)?;
        if !entry.contains_key("old_dirs") {
            // then none of the eight entries saved together is present
            check_al(entry, None)?;
            return Ok(CurvatureHistory::default());
        }
        let y: Vec<Vec<A>> = vectors(entry, "old_dirs", ctx)?;
        let s: Vec<Vec<A>> = vectors(entry, "old_stps", ctx)?;
        let ro: Vec<f64> = list(entry, "ro", "a list of numbers")?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                // torch keeps each `ro` as a 0-d tensor; a number reads the same.
                v.as_scalar()
                    .ok_or_else(|| value_error("ro", format!("item {i} must be a number, found {}", v.describe())))
            })
            .collect::<Result<_, _>>()?;
        for (key, len) in [("old_stps", s.len()), ("ro", ro.len())] {
            if len != y.len() {
                return Err(value_error(
                    key,
                    format!(
                        "has {len} item(s) but `old_dirs` has {}: the three lists hold one curvature pair per item",
                        y.len()
                    ),
                ));
            }
        }
        check_al(entry, Some(y.len()))?;
        let pairs: Vec<CurvaturePair<A>> = y
            .into_iter()
            .zip(s)
            .zip(ro)
            .map(|((y, s), ro)| CurvaturePair { y, s, ro })
            .collect();
        // The capacity is provisional: the step sets it to `history_size`.
        Ok(CurvatureHistory {
            ring: Some(Ring::from_vec(pairs.len(), pairs)),
        })
    }
}

/// The persistent state of [`Lbfgs`](super::Lbfgs): torch's `state[params[0]]`, entry for
/// entry, with torch's presence semantics (an entry torch has not created yet is `None`).
///
/// - `func_evals`, `n_iter`: cumulative counters, from the first step.
/// - `d`, `t`, the history (`old_dirs`, `old_stps`, `ro`), `H_diag`, `prev_flat_grad`,
///   `prev_loss`: from the end of the first iteration, all together.
/// - `al`: from the second iteration, with `history_size` slots; only the first
///   `history.len()` slots are ever written, the others stay `null`.
///
/// Loading a state dict checks, besides each entry's type and length, that these entries
/// agree: the eight entries saved together are all present or all absent, the three lists
/// have equal lengths, and `al` exists only with the history and has a slot for every
/// pair. Non-finite numbers are accepted (JSON writes them as `"NaN"`, `"Infinity"`): they
/// are what the algorithm computed.
///
/// Memory: `history_size + 1` pairs of `2 n` elements (one spare pair recycles the evicted
/// one) plus about `9 n` for `d`, `prev_flat_grad` and the scratch buffers (`6 n` without
/// a line search). After the first iteration a step allocates only while the history fills
/// up; once it is full, nothing.
#[derive(State)]
pub struct LbfgsState<A> {
    /// Loss evaluations so far (torch's `func_evals`).
    pub func_evals: u64,
    /// Iterations so far (torch's `n_iter`).
    pub n_iter: u64,
    /// The two-loop coefficients (torch's `al`): `history_size` slots, `None` where never
    /// written.
    pub al: Option<Vec<Option<f64>>>,
    /// The last search direction (torch's `d`).
    pub d: Option<Vec<A>>,
    /// The last step length (torch's `t`).
    pub t: Option<f64>,
    /// The curvature pairs (torch's `old_dirs`, `old_stps` and `ro`).
    #[state(flatten)]
    pub history: CurvatureHistory<A>,
    /// The scale of the initial inverse Hessian approximation (torch's `H_diag`).
    #[state(rename = "H_diag")]
    pub h_diag: Option<f64>,
    /// The gradient at the start of the last iteration (torch's `prev_flat_grad`).
    pub prev_flat_grad: Option<Vec<A>>,
    /// The loss at the start of the last iteration (torch's `prev_loss`).
    pub prev_loss: Option<f64>,
    /// Working buffers, not saved: created at the first step, reused afterwards.
    #[state(skip)]
    pub(crate) scratch: Scratch<A>,
}

impl<A> Default for LbfgsState<A> {
    /// A fresh state, as torch's before the first step.
    fn default() -> Self {
        LbfgsState {
            func_evals: 0,
            n_iter: 0,
            al: None,
            d: None,
            t: None,
            history: CurvatureHistory::default(),
            h_diag: None,
            prev_flat_grad: None,
            prev_loss: None,
            scratch: Scratch::default(),
        }
    }
}

impl<A: Float> LbfgsState<A> {
    /// A fresh state (counters 0, nothing else present).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks that every vector of the state has `n` elements; the key of the first that
    /// does not, with its length.
    pub(crate) fn mismatched_len(&self, n: usize) -> Option<(&'static str, usize)> {
        let wrong = |len: usize| len != n;
        if let Some(d) = self.d.as_ref().filter(|d| wrong(d.len())) {
            return Some(("d", d.len()));
        }
        if let Some(g) = self.prev_flat_grad.as_ref().filter(|g| wrong(g.len())) {
            return Some(("prev_flat_grad", g.len()));
        }
        for p in self.history.pairs() {
            if wrong(p.y.len()) {
                return Some(("old_dirs", p.y.len()));
            }
            if wrong(p.s.len()) {
                return Some(("old_stps", p.s.len()));
            }
        }
        None
    }
}

impl<A: Clone> Clone for LbfgsState<A> {
    /// Clones the persistent state; the clone gets its own scratch buffers at its next step.
    fn clone(&self) -> Self {
        LbfgsState {
            func_evals: self.func_evals,
            n_iter: self.n_iter,
            al: self.al.clone(),
            d: self.d.clone(),
            t: self.t,
            history: self.history.clone(),
            h_diag: self.h_diag,
            prev_flat_grad: self.prev_flat_grad.clone(),
            prev_loss: self.prev_loss,
            scratch: Scratch::default(),
        }
    }
}

impl<A: std::fmt::Debug> std::fmt::Debug for LbfgsState<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LbfgsState")
            .field("func_evals", &self.func_evals)
            .field("n_iter", &self.n_iter)
            .field("al", &self.al)
            .field("d", &self.d)
            .field("t", &self.t)
            .field("history", &self.history)
            .field("h_diag", &self.h_diag)
            .field("prev_flat_grad", &self.prev_flat_grad)
            .field("prev_loss", &self.prev_loss)
            .finish_non_exhaustive()
    }
}

impl<A: PartialEq> PartialEq for LbfgsState<A> {
    /// Compares the persistent state (the scratch buffers are not state).
    fn eq(&self, other: &Self) -> bool {
        self.func_evals == other.func_evals
            && self.n_iter == other.n_iter
            && self.al == other.al
            && self.d == other.d
            && self.t == other.t
            && self.history == other.history
            && self.h_diag == other.h_diag
            && self.prev_flat_grad == other.prev_flat_grad
            && self.prev_loss == other.prev_loss
    }
}

/// Working buffers of a step; none of this is persistent state. Each is (re)sized to the
/// problem's length at the start of a step, which allocates only the first time.
pub(crate) struct Scratch<A> {
    /// The current flat gradient (torch's `flat_grad`).
    pub grad: Vec<A>,
    /// The gradient produced by the current iteration's evaluations, swapped into `grad`
    /// when the iteration completes.
    pub grad_next: Vec<A>,
    /// The direction being built by the current iteration (torch's `q`, `r`, new `d`);
    /// swapped into `LbfgsState::d` when the iteration completes.
    pub dir: Vec<A>,
    /// The parameters at the start of the current move (torch's `x_init`), for the line
    /// search and for restoring them after a non-finite evaluation.
    pub x_saved: Vec<A>,
    /// Gradient buffers of the line search.
    pub pool: [Vec<A>; 3],
    /// Buffers for the next curvature pair (an evicted pair is recycled here).
    pub pending: Option<CurvaturePair<A>>,
    /// Working copy of `al`, swapped into `LbfgsState::al` when the iteration completes.
    pub al: Vec<Option<f64>>,
    /// Storage reserved at the first iteration for `LbfgsState::al`, created at the second.
    pub al_spare: Vec<Option<f64>>,
}

impl<A> Default for Scratch<A> {
    fn default() -> Self {
        Scratch {
            grad: Vec::new(),
            grad_next: Vec::new(),
            dir: Vec::new(),
            x_saved: Vec::new(),
            pool: [Vec::new(), Vec::new(), Vec::new()],
            pending: None,
            al: Vec::new(),
            al_spare: Vec::new(),
        }
    }
}

impl<A: Float> Scratch<A> {
    /// Gives every buffer the length `n` (allocates only when a length changes).
    pub(crate) fn prepare(&mut self, n: usize, line_search: bool) {
        let fit = |v: &mut Vec<A>| {
            if v.len() != n {
                v.clear();
                v.resize(n, A::zero());
            }
        };
        fit(&mut self.grad);
        fit(&mut self.grad_next);
        fit(&mut self.dir);
        fit(&mut self.x_saved);
        if line_search {
            self.pool.iter_mut().for_each(fit);
        }
        if self.pending.as_ref().is_some_and(|p| p.y.len() != n || p.s.len() != n) {
            self.pending = None;
        }
    }
}
