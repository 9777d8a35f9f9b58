//! What the data-parallel and the ZeRO-1 optimizers share: the parameter list, status
//! agreement between ranks, and bucketed gradient averaging and parameter broadcasts.

use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use optimizers::{DynOptimizer, Param};

use crate::MpiFloat;
use crate::error::{Error, Result};

/// One parameter of the wrapped optimizer, with where it sits in it.
pub(crate) struct Slot<A: MpiFloat> {
    pub(crate) group: usize,
    pub(crate) index: usize,
    pub(crate) param: Param<A>,
}

/// What a rank reports before the ranks commit to a step.
#[derive(Clone, Debug, Default)]
pub(crate) struct Status {
    pub(crate) code: u64,
    pub(crate) group: u64,
    pub(crate) index: u64,
    pub(crate) position: u64,
    pub(crate) value: f64,
    /// A hash of which parameters have a gradient, and how many.
    pub(crate) fingerprint: u64,
    pub(crate) count: u64,
    pub(crate) message: String,
}

pub(crate) const OK: u64 = 0;
pub(crate) const NON_FINITE_GRAD: u64 = 1;
pub(crate) const NON_FINITE_LOSS: u64 = 2;
pub(crate) const FAILED: u64 = 3;
/// A rank inside a closure evaluation of `step_with`, about to average.
pub(crate) const EVAL: u64 = 4;
/// A rank that gave up its `step_with` because another rank left its step (or the ranks'
/// gradients differed at an evaluation): its parameters may have moved.
pub(crate) const ABORTED: u64 = 5;
const WORDS: usize = 8;

impl Status {
    pub(crate) fn failed(message: String) -> Status {
        Status {
            code: FAILED,
            message,
            ..Status::default()
        }
    }
}

/// What the ranks agreed on after a step.
pub(crate) struct Verdict {
    /// The ranks whose step failed (and changed nothing).
    pub(crate) failed: Vec<usize>,
    /// The ranks that gave up a closure step midway (and may have changed something).
    pub(crate) aborted: Vec<usize>,
    /// The rank to name: the first that failed, else the first that gave up.
    pub(crate) rank: usize,
    /// That rank's message.
    pub(crate) message: String,
}

impl Verdict {
    pub(crate) fn ok(&self) -> bool {
        self.failed.is_empty() && self.aborted.is_empty()
    }
}

/// The default bucket size: 25 MiB, torch DDP's `bucket_cap_mb`.
pub(crate) const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

pub(crate) struct Core<A: MpiFloat> {
    pub(crate) comm: SimpleCommunicator,
    pub(crate) rank: usize,
    pub(crate) size: usize,
    pub(crate) slots: Vec<Slot<A>>,
    pub(crate) bucket_bytes: usize,
    pub(crate) steps: u64,
    pub(crate) rollback: bool,
    send: Vec<A>,
    recv: Vec<A>,
}

impl<A: MpiFloat> Core<A> {
    pub(crate) fn new<O: DynOptimizer<A> + ?Sized>(comm: SimpleCommunicator, inner: &O) -> Result<Self> {
        let mut slots = Vec::new();
        for group in 0..inner.num_groups() {
            for (index, param) in inner.params(group)?.into_iter().enumerate() {
                slots.push(Slot { group, index, param });
            }
        }
        let rank = comm.rank() as usize;
        let size = comm.size() as usize;
        Ok(Core {
            comm,
            rank,
            size,
            slots,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
            steps: 0,
            rollback: false,
            send: Vec::new(),
            recv: Vec::new(),
        })
    }

    /// Checks this rank's gradients: the first non-finite element, and which parameters
    /// have one. Returns the status and the flat indices of the parameters with a gradient.
    pub(crate) fn check_grads(&self) -> (Status, Vec<usize>) {
        let mut status = Status::default();
        let mut present = Vec::new();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(grad) = slot.param.grad() else { continue };
            present.push(i);
            for byte in (i as u64).to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
            let values = grad.as_slice().expect("gradients are contiguous");
            if status.code == OK
                && !all_finite(values)
                && let Some((position, value)) = values.iter().enumerate().find(|(_, x)| !x.is_finite())
            {
                status.code = NON_FINITE_GRAD;
                status.group = slot.group as u64;
                status.index = slot.index as u64;
                status.position = position as u64;
                status.value = value.as_f64();
            }
        }
        status.fingerprint = hash;
        status.count = present.len() as u64;
        (status, present)
    }

    /// Every rank's status, on every rank (one all-gather of a few words; a second one of
    /// the messages only when some rank failed).
    pub(crate) fn exchange(&self, local: &Status) -> Vec<Status> {
        let words = [
            local.code,
            local.group,
            local.index,
            local.position,
            local.value.to_bits(),
            local.fingerprint,
            local.count,
            local.message.len() as u64,
        ];
        let mut all = vec![0u64; WORDS * self.size];
        self.comm.all_gather_into(&words[..], &mut all[..]);
        let mut statuses: Vec<Status> = all
            .chunks_exact(WORDS)
            .map(|w| Status {
                code: w[0],
                group: w[1],
                index: w[2],
                position: w[3],
                value: f64::from_bits(w[4]),
                fingerprint: w[5],
                count: w[6],
                message: String::new(),
            })
            .collect();
        let lengths: Vec<usize> = all.chunks_exact(WORDS).map(|w| w[7] as usize).collect();
        if lengths.iter().any(|&n| n > 0) {
            let counts: Vec<i32> = lengths.iter().map(|&n| n as i32).collect();
            let displs: Vec<i32> = counts
                .iter()
                .scan(0, |at, &n| {
                    let d = *at;
                    *at += n;
                    Some(d)
                })
                .collect();
            let mut bytes = vec![0u8; lengths.iter().sum()];
            {
                let mut partition = PartitionMut::new(&mut bytes[..], &counts[..], &displs[..]);
                self.comm
                    .all_gather_varcount_into(local.message.as_bytes(), &mut partition);
            }
            let mut at = 0;
            for (status, n) in statuses.iter_mut().zip(lengths) {
                status.message = String::from_utf8_lossy(&bytes[at..at + n]).into_owned();
                at += n;
            }
        }
        statuses
    }

    /// Agrees on the gradient check before anything changes: every rank returns the same
    /// error when any rank's gradients are non-finite, or differ in which parameters have
    /// one.
    pub(crate) fn agree_before(&self, local: &Status) -> Result<()> {
        let all = self.exchange(local);
        let step = self.steps;
        if let Some((rank, s)) = all.iter().enumerate().find(|(_, s)| s.code != OK) {
            return Err(match s.code {
                NON_FINITE_GRAD => Error::NonFiniteGrad {
                    step,
                    rank,
                    group: s.group as usize,
                    index: s.index as usize,
                    position: s.position as usize,
                    value: s.value,
                },
                NON_FINITE_LOSS => Error::NonFiniteLoss {
                    step,
                    rank,
                    loss: s.value,
                },
                _ => Error::RankFailed {
                    step,
                    rank,
                    message: s.message.clone(),
                },
            });
        }
        if let Some((rank, s)) = all
            .iter()
            .enumerate()
            .find(|(_, s)| s.fingerprint != all[0].fingerprint || s.count != all[0].count)
        {
            return Err(Error::GradientsDiffer {
                step,
                rank,
                count: s.count as usize,
                count0: all[0].count as usize,
            });
        }
        Ok(())
    }

    /// The outcome of a step on every rank. A rank still evaluating a closure (`EVAL`)
    /// sees this rank's status in the same exchange, gives up its step and comes back
    /// with its own: so the exchange is repeated until no rank is evaluating.
    pub(crate) fn agree_after(&self, local: &Status) -> Verdict {
        loop {
            let all = self.exchange(local);
            if all.iter().any(|s| s.code == EVAL) {
                continue;
            }
            let failed: Vec<usize> = (0..self.size)
                .filter(|&r| all[r].code != OK && all[r].code != ABORTED)
                .collect();
            let aborted: Vec<usize> = (0..self.size).filter(|&r| all[r].code == ABORTED).collect();
            let (rank, message) = failed
                .first()
                .or(aborted.first())
                .map(|&r| (r, all[r].message.clone()))
                .unwrap_or_default();
            return Verdict {
                failed,
                aborted,
                rank,
                message,
            };
        }
    }

    /// Consecutive runs of `indices` of at most `bucket_bytes` each (a larger tensor alone).
    fn buckets(&self, indices: &[usize], fuse: bool) -> Vec<std::ops::Range<usize>> {
        let cap = (self.bucket_bytes / size_of::<A>()).max(1);
        let mut out = Vec::new();
        let mut start = 0;
        let mut len = 0;
        for (k, &i) in indices.iter().enumerate() {
            let n = self.slots[i].param.numel();
            if k > start && (!fuse || len + n > cap) {
                out.push(start..k);
                start = k;
                len = 0;
            }
            len += n;
        }
        if start < indices.len() {
            out.push(start..indices.len());
        }
        out
    }

    /// Replaces the gradients of the parameters `indices` (flat, the same on every rank)
    /// by their mean over the ranks: one all-reduce per bucket.
    pub(crate) fn average_grads(&mut self, indices: &[usize]) {
        let fuse = self.bucket_bytes > 0;
        let divisor = A::from_f64(self.size as f64);
        for bucket in self.buckets(indices, fuse) {
            let members = &indices[bucket];
            let total: usize = members.iter().map(|&i| self.slots[i].param.numel()).sum();
            // Grown, never cleared: the reduction overwrites it, no need to zero it each step.
            if self.recv.len() < total {
                self.recv.resize(total, A::zero());
            }
            if let [only] = members {
                // One tensor: reduce straight from its gradient, no packing.
                let grad = self.slots[*only].param.grad().expect("present: checked by every rank");
                let slice = grad.as_slice().expect("gradients are contiguous");
                self.comm
                    .all_reduce_into(slice, &mut self.recv[..total], SystemOperation::sum());
            } else {
                self.send.clear();
                for &i in members {
                    let grad = self.slots[i].param.grad().expect("present: checked by every rank");
                    self.send
                        .extend_from_slice(grad.as_slice().expect("gradients are contiguous"));
                }
                self.comm
                    .all_reduce_into(&self.send[..], &mut self.recv[..total], SystemOperation::sum());
            }
            let mut at = 0;
            for &i in members {
                let mut grad = self.slots[i].param.grad_mut().expect("present: checked by every rank");
                let out = grad.as_slice_mut().expect("gradients are contiguous");
                for (g, &s) in out.iter_mut().zip(&self.recv[at..]) {
                    *g = s / divisor;
                }
                at += out.len();
            }
        }
    }

    /// The mean of a scalar over the ranks.
    pub(crate) fn average_scalar(&self, x: f64) -> f64 {
        let mut sum = 0.0f64;
        self.comm.all_reduce_into(&x, &mut sum, SystemOperation::sum());
        sum / self.size as f64
    }

    /// Copies the values of the parameters `indices` from rank `root` to every rank: one
    /// broadcast per bucket.
    pub(crate) fn broadcast_values(&mut self, root: usize, indices: &[usize]) {
        let fuse = self.bucket_bytes > 0;
        let process = self.comm.process_at_rank(root as i32);
        for bucket in self.buckets(indices, fuse) {
            let members = &indices[bucket];
            if let [only] = members {
                let mut value = self.slots[*only].param.value_mut();
                process.broadcast_into(value.as_slice_mut().expect("values are contiguous"));
                continue;
            }
            self.send.clear();
            if self.rank == root {
                for &i in members {
                    let value = self.slots[i].param.value();
                    self.send
                        .extend_from_slice(value.as_slice().expect("values are contiguous"));
                }
            } else {
                let total: usize = members.iter().map(|&i| self.slots[i].param.numel()).sum();
                self.send.resize(total, A::zero());
            }
            process.broadcast_into(&mut self.send[..]);
            if self.rank != root {
                let mut at = 0;
                for &i in members {
                    let mut value = self.slots[i].param.value_mut();
                    let out = value.as_slice_mut().expect("values are contiguous");
                    let n = out.len();
                    out.copy_from_slice(&self.send[at..at + n]);
                    at += n;
                }
            }
        }
    }

    /// A copy of the values of the parameters `indices`, to roll a step back.
    pub(crate) fn snapshot(&self, indices: &[usize]) -> Vec<Vec<A>> {
        indices
            .iter()
            .map(|&i| {
                let value = self.slots[i].param.value();
                value.as_slice().expect("values are contiguous").to_vec()
            })
            .collect()
    }

    /// Puts back the values a [`snapshot`](Core::snapshot) took.
    pub(crate) fn restore(&self, indices: &[usize], saved: &[Vec<A>]) {
        for (&i, values) in indices.iter().zip(saved) {
            let mut value = self.slots[i].param.value_mut();
            value
                .as_slice_mut()
                .expect("values are contiguous")
                .copy_from_slice(values);
        }
    }
}

/// Whether every element is finite: `x · 0` is 0 for a finite `x` and NaN otherwise, summed
/// in 16 independent lanes that the compiler vectorizes (the position of a culprit is
/// looked for only when there is one).
fn all_finite<A: MpiFloat>(values: &[A]) -> bool {
    let mut lanes = [A::zero(); 16];
    let chunks = values.chunks_exact(16);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += x * A::zero();
        }
    }
    lanes.iter().chain(rest).all(|x| x.is_finite())
}

/// The bytes of the tensors in an optimizer's state (what ZeRO-1 divides among ranks).
pub(crate) fn state_bytes(dict: &optimizers::StateDict<'_>) -> usize {
    fn walk(value: &optimizers::DictValue<'_>) -> usize {
        match value {
            optimizers::DictValue::Tensor(t) => t.len() * t.dtype().size(),
            optimizers::DictValue::List(items) => items.iter().map(walk).sum(),
            optimizers::DictValue::Map(map) => map.iter().map(|(_, v)| walk(v)).sum(),
            _ => 0,
        }
    }
    dict.state
        .values()
        .map(|entry| entry.iter().map(|(_, v)| walk(v)).sum::<usize>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::all_finite;

    #[test]
    fn all_finite_finds_any_non_finite_element() {
        let mut values = vec![1.5f32; 100];
        assert!(all_finite(&values));
        for position in [0, 15, 16, 63, 95, 96, 99] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                values[position] = bad;
                assert!(!all_finite(&values), "{bad} at {position}");
                values[position] = -f32::MAX;
            }
        }
        assert!(all_finite(&values));
        assert!(all_finite::<f64>(&[]));
    }
}
