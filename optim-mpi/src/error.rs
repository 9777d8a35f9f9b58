//! The crate's error type.

use std::path::PathBuf;

/// What a distributed step, load or save can fail with. Every variant of a collective
/// operation is returned by *every* rank, from the same call: a rank that fails makes all
/// ranks fail, and says which rank it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rank's gradient held a NaN or an infinity before averaging. No parameter changed
    /// on any rank.
    #[error(
        "step {step}: rank {rank}'s gradient of parameter {index} of group {group} has a non-finite value ({value}) at element {position}; no rank changed its parameters"
    )]
    NonFiniteGrad {
        /// The wrapper's step number (1 for the first call of `step`).
        step: u64,
        /// The rank whose gradient it was (the lowest, when several).
        rank: usize,
        /// The parameter's group.
        group: usize,
        /// The parameter's index in its group.
        index: usize,
        /// The element's row-major position in the gradient.
        position: usize,
        /// The value found.
        value: f64,
    },
    /// The closure of a rank returned a non-finite loss at its first evaluation. No
    /// parameter changed on any rank.
    #[error("step {step}: rank {rank}'s closure returned a non-finite loss ({loss}); no rank changed its parameters")]
    NonFiniteLoss {
        /// The wrapper's step number.
        step: u64,
        /// The rank whose loss it was (the lowest, when several).
        rank: usize,
        /// The loss.
        loss: f64,
    },
    /// The ranks do not have gradients for the same parameters: averaging needs every
    /// rank to hold a gradient for exactly the same parameters. No parameter changed.
    #[error(
        "step {step}: rank {rank} has gradients for other parameters than rank 0 ({count} against {count0}); every rank must set the same gradients"
    )]
    GradientsDiffer {
        /// The wrapper's step number.
        step: u64,
        /// The first rank that differs from rank 0.
        rank: usize,
        /// How many gradients that rank has.
        count: usize,
        /// How many gradients rank 0 has.
        count0: usize,
    },
    /// The wrapped optimizer of a rank failed (its own error, rendered, is `message`). No
    /// rank changed its parameters: the failing rank's optimizer changes nothing on error,
    /// and the others either failed too or rolled back.
    #[error("step {step}: the optimizer of rank {rank} failed: {message}; no rank changed its parameters")]
    RankFailed {
        /// The wrapper's step number (0 for a collective load).
        step: u64,
        /// The failing rank (the lowest, when several).
        rank: usize,
        /// That rank's error message.
        message: String,
    },
    /// The wrapped optimizer failed on some ranks only, after the others had stepped, and
    /// rollback was off ([`DataParallel::set_rollback`](crate::DataParallel::set_rollback)):
    /// the ranks that stepped keep their step. Only a rank-local cause (a hook, a guard held
    /// by the caller) can do this, since every rank steps the same state with the same
    /// averaged gradients.
    #[error(
        "step {step}: the optimizer failed on ranks {failed:?} only (rank {}: {message}); the other ranks stepped (turn rollback on to undo them)", failed.first().copied().unwrap_or_default()
    )]
    Diverged {
        /// The wrapper's step number.
        step: u64,
        /// The ranks that failed.
        failed: Vec<usize>,
        /// The first failing rank's error message.
        message: String,
    },
    /// A local error of the wrapped optimizer or of the library (an option, a state dict
    /// that does not fit), before any collective step.
    #[error(transparent)]
    Optimizer(#[from] optimizers::Error),
    /// Shards saved by a different number of ranks.
    #[error(
        "the shards in {path} were saved by {saved} ranks, this run has {current}: load them with `load_shards_resharded`, or consolidate them first"
    )]
    WorldSize {
        /// The shard directory.
        path: PathBuf,
        /// The world size that saved them.
        saved: usize,
        /// This run's world size.
        current: usize,
    },
    /// A shard directory whose index is missing, unreadable or does not fit this optimizer.
    #[error("shard index {path}: {message}")]
    ShardIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An I/O failure writing or reading a shard index.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
