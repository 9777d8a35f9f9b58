//! # optim-mpi
//!
//! Training beyond one machine with the optimizers of [`optimizers`], over MPI (rsmpi on
//! OpenMPI):
//!
//! | torch / Horovod | here |
//! |---|---|
//! | `hvd.DistributedOptimizer(opt)` (gradients averaged by all-reduce, small tensors fused) | [`DataParallel`] |
//! | `hvd.broadcast_parameters(model.state_dict(), root_rank=0)` | done by [`DataParallel::new`] and [`ZeroRedundancy::new`] |
//! | `ZeroRedundancyOptimizer(params, optimizer_class=Adam)` | [`ZeroRedundancy`] |
//! | `zero.consolidate_state_dict(to=0); zero.state_dict()` | [`ZeroRedundancy::consolidate_state_dict`] |
//!
//! Both wrap any optimizer of the library (any [`DynOptimizer`](optimizers::DynOptimizer):
//! an `Optimizer<R, A>`, or a `Box<dyn DynOptimizer<A>>`), and agree on failures before
//! anything changes: when a rank's gradient is non-finite or its optimizer fails, every
//! rank returns the same [`Error`] from the same step, and no rank's parameters move. No
//! rank is left waiting in a collective.
//!
//! Run the programs under `mpirun -n N`. Every method that communicates is collective:
//! every rank calls it, in the same order.

mod core;
mod data_parallel;
mod error;
mod zero;

pub use data_parallel::DataParallel;
pub use error::{Error, Result};
pub use zero::{SHARD_INDEX, ZeroRedundancy, partition};

/// The re-exported `mpi` crate (rsmpi), so that users need no version match.
pub use mpi;

/// An element type that both the optimizers and MPI know: `f32` and `f64`.
pub trait MpiFloat: optimizers::Float + mpi::datatype::Equivalence {}

impl<A: optimizers::Float + mpi::datatype::Equivalence> MpiFloat for A {}
