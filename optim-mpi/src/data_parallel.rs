//! The data-parallel optimizer: gradients averaged across ranks, then the same step on
//! every rank (Horovod's `DistributedOptimizer`).

use mpi::topology::SimpleCommunicator;
use optimizers::{DynOptimizer, StateDict};

use crate::MpiFloat;
use crate::core::{ABORTED, Core, EVAL, NON_FINITE_LOSS, OK, Status, state_bytes};
use crate::error::{Error, Result};

/// Wraps any optimizer of the library for data-parallel training over MPI: every rank
/// computes gradients on its own slice of the data, [`step`](DataParallel::step) replaces
/// each gradient by its mean over the ranks (all-reduce, small gradients fused into
/// buckets) and then steps, so that every rank holds the same parameters after every step.
///
/// Parameters are broadcast from rank 0 at construction, so every rank starts equal.
/// Every method that communicates is collective: every rank calls it, in the same order.
///
/// Failures are agreed on before anything changes: when any rank's gradient is non-finite,
/// when the ranks do not have gradients for the same parameters, or when a rank's
/// optimizer fails, every rank returns the error from the same call, and no rank's
/// parameters change.
///
/// ```no_run
/// use optimizers::{Adam, AdamOptions, Param, ndarray::array};
/// use optim_mpi::DataParallel;
///
/// let universe = mpi::initialize().expect("MPI initializes once");
/// let w = Param::named("w", array![1.0f32, -2.0]);
/// let adam = Adam::new([w.clone()], AdamOptions::new().lr(0.1))?;
/// let mut opt = DataParallel::new(universe.world(), Box::new(adam))?;
/// for _ in 0..10 {
///     w.set_grad(w.value().mapv(|x| 2.0 * x))?; // this rank's gradient
///     opt.step()?; // averaged over the ranks, then Adam's step
/// }
/// # Ok::<(), optim_mpi::Error>(())
/// ```
pub struct DataParallel<A: MpiFloat, O: DynOptimizer<A> + ?Sized> {
    core: Core<A>,
    inner: Box<O>,
}

impl<A: MpiFloat, O: DynOptimizer<A> + ?Sized> DataParallel<A, O> {
    /// Wraps `inner` for the ranks of `comm`, and makes every rank's parameters rank 0's
    /// (collective). Every rank must build the same optimizer: the same groups, parameters
    /// of the same shapes, in the same order.
    pub fn new(comm: SimpleCommunicator, inner: Box<O>) -> Result<Self> {
        let mut core = Core::new(comm, &*inner)?;
        let all: Vec<usize> = (0..core.slots.len()).collect();
        core.broadcast_values(0, &all);
        Ok(DataParallel { core, inner })
    }

    /// Sets the bucket size in bytes: gradients are packed into buffers of at most this
    /// size, one all-reduce per buffer (a tensor larger than it gets its own). 0 turns
    /// fusion off: one all-reduce per tensor. Default: 25 MiB, as torch's DDP.
    pub fn set_bucket_bytes(&mut self, bytes: usize) {
        self.core.bucket_bytes = bytes;
    }

    /// The bucket size in bytes (0: no fusion).
    pub fn bucket_bytes(&self) -> usize {
        self.core.bucket_bytes
    }

    /// Makes a [`step`](DataParallel::step) atomic even when the optimizer fails on some
    /// ranks only (a hook, a guard held): each step first copies the parameters and the
    /// optimizer's state, to restore on the ranks that stepped. Off by default: every rank
    /// steps the same state with the same averaged gradients, so the optimizer's own checks
    /// fail on all ranks or none, and then nothing changed anywhere; with rollback off, a
    /// failure on some ranks only is [`Error::Diverged`] on every rank.
    /// [`step_with`](DataParallel::step_with) always keeps the copy.
    pub fn set_rollback(&mut self, rollback: bool) {
        self.core.rollback = rollback;
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.core.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.core.size
    }

    /// The number of `step` and `step_with` calls so far, failed ones included: the step
    /// number errors name.
    pub fn steps(&self) -> u64 {
        self.core.steps
    }

    /// The wrapped optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// Sets an option of a group of the wrapped optimizer (a schedule: every rank must set
    /// the same).
    pub fn set_option(
        &mut self,
        group: usize,
        name: &str,
        value: impl Into<optimizers::DictValue<'static>>,
    ) -> Result<()> {
        Ok(self.inner.set_option(group, name, value.into())?)
    }

    /// Drops every gradient.
    pub fn zero_grad(&self) -> Result<()> {
        Ok(self.inner.zero_grad()?)
    }

    /// The wrapped optimizer's state dict: the same on every rank, in the single-process
    /// format.
    pub fn state_dict(&self) -> StateDict<'_> {
        self.inner.state_dict()
    }

    /// Loads a state dict on every rank (collective): when it fails on any rank, it fails
    /// on every rank and no rank changes.
    pub fn load_state_dict(&mut self, dict: &StateDict<'_>) -> Result<()> {
        let before = self.inner.state_dict().into_owned();
        let local = match self.inner.load_state_dict(dict) {
            Ok(()) => Status::default(),
            Err(e) => Status::failed(e.to_string()),
        };
        let verdict = self.core.agree_after(&local);
        if !verdict.ok() {
            if local.code == OK {
                self.inner.load_state_dict(&before)?;
            }
            let (rank, message) = (verdict.rank, verdict.message);
            return Err(Error::RankFailed { step: 0, rank, message });
        }
        Ok(())
    }

    /// The bytes of the optimizer state this rank holds.
    pub fn state_bytes(&self) -> usize {
        state_bytes(&self.inner.state_dict())
    }

    /// One data-parallel step (collective): checks every rank's gradients and agrees on
    /// the result, replaces each gradient by its mean over the ranks, and steps the
    /// wrapped optimizer.
    pub fn step(&mut self) -> Result<()> {
        self.core.steps += 1;
        let (local, present) = self.core.check_grads();
        self.core.agree_before(&local)?;
        self.core.average_grads(&present);
        self.commit(&present, |inner| inner.step().map(|()| 0.0)).map(|_| ())
    }

    /// One data-parallel step with a closure that recomputes this rank's loss and
    /// gradients (LBFGS): every evaluation's loss and gradients are averaged over the
    /// ranks before the optimizer sees them, so every rank takes the same line-search
    /// decisions. The closure is evaluated once before the step, to check and agree on its
    /// result; the optimizer's first evaluation is that one. Returns the mean loss of the
    /// first evaluation.
    ///
    /// Every evaluation must set gradients for the same parameters on every rank (checked
    /// at each one); a non-finite value in a later evaluation reaches every rank's
    /// optimizer alike, which then takes the same decision on every rank. The ranks
    /// exchange a status word before each later evaluation's averaging, so that when one
    /// rank's optimizer fails, the others give up their step at their next evaluation
    /// instead of waiting for it: every rank returns the error, and every rank's
    /// parameters and state are restored from a copy taken before the step (always kept
    /// here, whatever [`set_rollback`](DataParallel::set_rollback) says).
    pub fn step_with(&mut self, mut closure: impl FnMut() -> f64) -> Result<f64> {
        self.core.steps += 1;
        let loss = closure();
        let (mut local, present) = self.core.check_grads();
        if local.code == OK && !loss.is_finite() {
            local.code = NON_FINITE_LOSS;
            local.value = loss;
        }
        self.core.agree_before(&local)?;
        self.core.average_grads(&present);
        let mut first = Some(self.core.average_scalar(loss));
        let core = &mut self.core;
        let inner = &mut self.inner;
        // Always: a closure step evaluates many times, the copy is small beside that, and
        // a rank that gives up midway (below) may have moved its parameters.
        let snapshot = Some((core.snapshot(&present), inner.state_dict().into_owned()));
        let mut abort: Option<String> = None;
        let result = inner.step_with(&mut || {
            if let Some(loss) = first.take() {
                return loss;
            }
            if abort.is_some() {
                return f64::NAN;
            }
            let loss = closure();
            let (mut local, present) = core.check_grads();
            local.code = EVAL;
            let all = core.exchange(&local);
            // Another rank left its step (it failed): give up ours, and tell it so.
            if let Some(r) = all.iter().position(|s| s.code != EVAL) {
                abort = Some(format!("gave up its step because rank {r} left it"));
                return f64::NAN;
            }
            if let Some(r) = all
                .iter()
                .position(|s| s.fingerprint != all[0].fingerprint || s.count != all[0].count)
            {
                abort = Some(format!(
                    "rank {r}'s closure set gradients for other parameters than rank 0's"
                ));
                return f64::NAN;
            }
            core.average_grads(&present);
            core.average_scalar(loss)
        });
        Self::settle(core, inner, &present, snapshot, result, abort)
    }

    fn commit(&mut self, present: &[usize], step: impl FnOnce(&mut O) -> optimizers::Result<f64>) -> Result<f64> {
        let snapshot = self
            .core
            .rollback
            .then(|| (self.core.snapshot(present), self.inner.state_dict().into_owned()));
        let result = step(&mut self.inner);
        Self::settle(&mut self.core, &mut self.inner, present, snapshot, result, None)
    }

    /// Agrees on the optimizer's result on every rank; undoes this rank's step when another
    /// rank's failed and this one's may have changed something (it succeeded, or gave up
    /// a closure step midway) and there is a copy to restore.
    fn settle(
        core: &mut Core<A>,
        inner: &mut O,
        present: &[usize],
        snapshot: Option<(Vec<Vec<A>>, StateDict<'static>)>,
        result: optimizers::Result<f64>,
        abort: Option<String>,
    ) -> Result<f64> {
        let local = match (&abort, &result) {
            (Some(why), _) => Status {
                code: ABORTED,
                message: why.clone(),
                ..Status::default()
            },
            (None, Ok(_)) => Status::default(),
            (None, Err(e)) => Status::failed(e.to_string()),
        };
        let verdict = core.agree_after(&local);
        let step = core.steps;
        if verdict.ok() {
            // This rank's own status was in the verdict: its step succeeded.
            return result.map_err(Error::from);
        }
        let (rank, message) = (verdict.rank, verdict.message);
        if verdict.failed.len() == core.size {
            // Every rank's optimizer failed, and a failed step changes nothing.
            return Err(Error::RankFailed { step, rank, message });
        }
        match snapshot {
            Some((values, state)) => {
                if result.is_ok() || abort.is_some() {
                    core.restore(present, &values);
                    inner.load_state_dict(&state)?;
                }
                Err(Error::RankFailed { step, rank, message })
            }
            None => {
                let mut failed = verdict.failed;
                failed.extend(verdict.aborted);
                failed.sort_unstable();
                Err(Error::Diverged { step, failed, message })
            }
        }
    }
}
