//! ZeRO stage 1: optimizer state sharded across ranks (torch's `ZeroRedundancyOptimizer`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use optimizers::dict::{tree_from_json, tree_to_json};
use optimizers::{DictValue, DynOptimizer, Map, StateDict, checkpoint};

use crate::MpiFloat;
use crate::core::{Core, OK, Status, state_bytes};
use crate::error::{Error, Result};

/// The name of a sharded checkpoint's index file.
pub const SHARD_INDEX: &str = "zero-index.json";

/// Partitions parameters across `world` ranks as torch's `ZeroRedundancyOptimizer` does:
/// group after group, each group's parameters from the largest to the smallest (ties in
/// their order), each to the rank that holds the fewest elements so far (ties to the
/// lowest rank). `groups[g][i]` is the number of elements of parameter `i` of group `g`;
/// the result is each parameter's rank, in the same layout flattened group after group.
pub fn partition(groups: &[Vec<usize>], world: usize) -> Vec<usize> {
    let mut sizes = vec![0usize; world.max(1)];
    let mut owner = Vec::new();
    for group in groups {
        let base = owner.len();
        owner.resize(base + group.len(), 0);
        let mut order: Vec<usize> = (0..group.len()).collect();
        order.sort_by(|&a, &b| group[b].cmp(&group[a]));
        for i in order {
            let rank = (0..sizes.len()).min_by_key(|&r| (sizes[r], r)).unwrap_or_default();
            owner[base + i] = rank;
            sizes[rank] += group[i];
        }
    }
    owner
}

/// Wraps any optimizer whose state is per parameter (SGD, Adam, ...; not LBFGS) for
/// data-parallel training with its state sharded (ZeRO stage 1): parameters are
/// partitioned across ranks ([`partition`]); [`step`](ZeroRedundancy::step) averages every
/// gradient over the ranks, each rank steps only its own parameters, so that it keeps
/// optimizer state only for them, and then each rank broadcasts its updated parameters to
/// the others. The result is bit-identical to the unsharded [`DataParallel`](crate::DataParallel).
///
/// Every rank builds the same optimizer over all the parameters; the wrapper keeps the
/// state of the others from ever being created. Every method that communicates is
/// collective. Failures are agreed on as in `DataParallel`: every rank returns the error
/// from the same call, and no rank's parameters change (rollback here costs a copy of this
/// rank's partition only, and is on by default).
pub struct ZeroRedundancy<A: MpiFloat, O: DynOptimizer<A> + ?Sized> {
    core: Core<A>,
    inner: Box<O>,
    owner: Vec<usize>,
}

impl<A: MpiFloat, O: DynOptimizer<A> + ?Sized> ZeroRedundancy<A, O> {
    /// Wraps `inner` for the ranks of `comm` (collective): partitions its parameters, makes
    /// every rank's parameters rank 0's, and drops any state `inner` holds for parameters
    /// of other ranks.
    pub fn new(comm: SimpleCommunicator, inner: Box<O>) -> Result<Self> {
        let mut core = Core::new(comm, &*inner)?;
        core.rollback = true;
        let all: Vec<usize> = (0..core.slots.len()).collect();
        core.broadcast_values(0, &all);
        let mut sizes: Vec<Vec<usize>> = Vec::new();
        for slot in &core.slots {
            if slot.index == 0 {
                sizes.push(Vec::new());
            }
            if let Some(group) = sizes.last_mut() {
                group.push(slot.param.numel());
            }
        }
        let owner = partition(&sizes, core.size);
        let mut zero = ZeroRedundancy { core, inner, owner };
        let own = zero.own_part(&zero.inner.state_dict()).into_owned();
        zero.inner.load_state_dict(&own)?;
        Ok(zero)
    }

    /// Sets the bucket size in bytes for averaging gradients and broadcasting parameters
    /// (0: one collective per tensor). Default: 25 MiB.
    pub fn set_bucket_bytes(&mut self, bytes: usize) {
        self.core.bucket_bytes = bytes;
    }

    /// Whether a step copies this rank's partition and state first, to undo it when
    /// another rank's optimizer fails (default on: the ranks step different parameters, so
    /// their optimizers can fail differently).
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

    /// The number of `step` calls so far, failed ones included.
    pub fn steps(&self) -> u64 {
        self.core.steps
    }

    /// The rank that owns each parameter, numbered across groups as state dicts number
    /// them.
    pub fn owners(&self) -> &[usize] {
        &self.owner
    }

    /// The wrapped optimizer (its state: this rank's partition only).
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// Sets an option of a group (every rank must set the same).
    pub fn set_option(&mut self, group: usize, name: &str, value: impl Into<DictValue<'static>>) -> Result<()> {
        Ok(self.inner.set_option(group, name, value.into())?)
    }

    /// Drops every gradient.
    pub fn zero_grad(&self) -> Result<()> {
        Ok(self.inner.zero_grad()?)
    }

    /// The bytes of the optimizer state this rank holds (≈ 1/N of the unsharded).
    pub fn state_bytes(&self) -> usize {
        state_bytes(&self.inner.state_dict())
    }

    /// The entries of `dict`'s state that belong to this rank's parameters: by name when
    /// both the dict and the parameters have names, otherwise by index.
    fn own_part<'d>(&self, dict: &'d StateDict<'d>) -> StateDict<'d> {
        let by_name: HashMap<&str, usize> = self
            .core
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.param.name().map(|n| (n, i)))
            .collect();
        let mut ours: HashMap<usize, usize> = HashMap::new();
        for group in &dict.param_groups {
            for (k, &index) in group.params.iter().enumerate() {
                let name = group.param_names.as_ref().and_then(|names| names.get(k));
                let flat = name.and_then(|n| by_name.get(n.as_str()).copied()).unwrap_or(index);
                ours.insert(index, flat);
            }
        }
        let mut own = dict.clone();
        own.state.retain(|index, _| {
            let flat = ours.get(index).copied().unwrap_or(*index);
            // An index that is no parameter of ours is kept: the load reports it.
            self.owner.get(flat).is_none_or(|&r| r == self.core.rank)
        });
        own
    }

    /// One ZeRO-1 step (collective): agrees on every rank's gradients, averages them, steps
    /// this rank's partition, agrees on the result, and broadcasts each rank's updated
    /// parameters to the others.
    pub fn step(&mut self) -> Result<()> {
        self.core.steps += 1;
        let (local, present) = self.core.check_grads();
        self.core.agree_before(&local)?;
        self.core.average_grads(&present);
        // The others' parameters step nowhere here: hide their gradients from the
        // optimizer, so that it neither updates them nor creates their state.
        let hidden: Vec<_> = present
            .iter()
            .filter(|&&i| self.owner[i] != self.core.rank)
            .map(|&i| (i, self.core.slots[i].param.take_grad()))
            .collect();
        let mine: Vec<usize> = present
            .iter()
            .copied()
            .filter(|&i| self.owner[i] == self.core.rank)
            .collect();
        let snapshot = self
            .core
            .rollback
            .then(|| (self.core.snapshot(&mine), self.inner.state_dict().into_owned()));
        let result = self.inner.step();
        // No early return between here and the agreement: the other ranks are waiting in it.
        for (i, grad) in hidden {
            if let Some(grad) = grad {
                self.core.slots[i]
                    .param
                    .set_grad(grad)
                    .expect("a gradient taken from a parameter fits it");
            }
        }
        let local = match &result {
            Ok(()) => Status::default(),
            Err(e) => Status::failed(e.to_string()),
        };
        let verdict = self.core.agree_after(&local);
        let step = self.core.steps;
        if !verdict.ok() {
            let (rank, message) = (verdict.rank, verdict.message);
            if verdict.failed.len() < self.core.size {
                match snapshot {
                    Some((values, state)) => {
                        if result.is_ok() {
                            self.core.restore(&mine, &values);
                            self.inner.load_state_dict(&state)?;
                        }
                    }
                    None => {
                        let failed = verdict.failed;
                        return Err(Error::Diverged { step, failed, message });
                    }
                }
            }
            return Err(Error::RankFailed { step, rank, message });
        }
        for rank in 0..self.core.size {
            let theirs: Vec<usize> = present.iter().copied().filter(|&i| self.owner[i] == rank).collect();
            self.core.broadcast_values(rank, &theirs);
        }
        Ok(())
    }

    /// Gathers the whole optimizer state on rank `root` (collective), in exactly the
    /// format of the single-process optimizer's `state_dict` (loadable by it); `None` on
    /// the other ranks. torch's `consolidate_state_dict(to=root)` followed by `state_dict()`.
    /// It travels as JSON: for large states, [`save_shards`](ZeroRedundancy::save_shards)
    /// is the scalable path.
    pub fn consolidate_state_dict(&self, root: usize) -> Result<Option<StateDict<'static>>> {
        let dict = self.inner.state_dict();
        let state: Map<'_> = dict
            .state
            .iter()
            .map(|(i, entry)| (i.to_string(), DictValue::Map(entry.clone())))
            .collect();
        let text = tree_to_json(&DictValue::Map(state));
        let parts = self.gather_bytes(root, text.as_bytes());
        let Some(parts) = parts else { return Ok(None) };
        let mut merged = dict.into_owned();
        merged.state = BTreeMap::new();
        for part in parts {
            let text = String::from_utf8_lossy(&part);
            let DictValue::Map(state) = tree_from_json(&text)? else {
                unreachable!("written above as a map")
            };
            for (key, entry) in state {
                let (Ok(index), DictValue::Map(entry)) = (key.parse::<usize>(), entry) else {
                    unreachable!("written above as index → map")
                };
                merged.state.insert(index, entry);
            }
        }
        Ok(Some(merged))
    }

    fn gather_bytes(&self, root: usize, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
        let process = self.core.comm.process_at_rank(root as i32);
        let len = bytes.len() as i32;
        if self.core.rank != root {
            process.gather_into(&len);
            process.gather_varcount_into(bytes);
            return None;
        }
        let mut lengths = vec![0i32; self.core.size];
        process.gather_into_root(&len, &mut lengths[..]);
        let displs: Vec<i32> = lengths
            .iter()
            .scan(0, |at, &n| {
                let d = *at;
                *at += n;
                Some(d)
            })
            .collect();
        let mut all = vec![0u8; lengths.iter().map(|&n| n as usize).sum()];
        {
            let mut partition = mpi::datatype::PartitionMut::new(&mut all[..], &lengths[..], &displs[..]);
            process.gather_varcount_into_root(bytes, &mut partition);
        }
        Some(
            lengths
                .iter()
                .zip(&displs)
                .map(|(&n, &d)| all[d as usize..(d + n) as usize].to_vec())
                .collect(),
        )
    }

    /// Loads a single-process state dict (collective): each rank keeps its partition's
    /// entries, for any world size. When it fails on any rank, every rank returns the
    /// error and none changes.
    pub fn load_state_dict(&mut self, dict: &StateDict<'_>) -> Result<()> {
        let own = self.own_part(dict);
        let before = self.inner.state_dict().into_owned();
        let local = match self.inner.load_state_dict(&own) {
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

    fn shard_name(rank: usize, world: usize) -> String {
        format!("shard-{rank:05}-of-{world:05}.safetensors")
    }

    /// Saves the state as one file per rank in `dir` (collective): each rank writes its
    /// partition's state dict (the library's safetensors format, loadable alone), and rank
    /// 0 writes a small index ([`SHARD_INDEX`]: the world size, the optimizer's kind, the
    /// shard files and each parameter's owner).
    pub fn save_shards(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let mut local = Status::default();
        if let Err(e) = std::fs::create_dir_all(dir) {
            local = Status::failed(format!("{}: {e}", dir.display()));
        } else if let Err(e) = checkpoint::save(
            dir.join(Self::shard_name(self.core.rank, self.core.size)),
            &self.inner.state_dict(),
        ) {
            local = Status::failed(e.to_string());
        } else if self.core.rank == 0 {
            let index = self.index_json();
            let path = dir.join(SHARD_INDEX);
            if let Err(e) = std::fs::write(&path, index) {
                local = Status::failed(format!("{}: {e}", path.display()));
            }
        }
        let verdict = self.core.agree_after(&local);
        match verdict.ok() {
            true => Ok(()),
            false => Err(Error::RankFailed {
                step: 0,
                rank: verdict.rank,
                message: verdict.message,
            }),
        }
    }

    fn index_json(&self) -> String {
        let mut index = Map::new();
        index.insert("format", "optim-mpi zero-1 shards");
        index.insert("world_size", DictValue::Int(self.core.size as i64));
        index.insert("kind", self.inner.kind());
        let shards = (0..self.core.size)
            .map(|r| DictValue::Str(Self::shard_name(r, self.core.size)))
            .collect();
        index.insert("shards", DictValue::List(shards));
        let owners = self.owner.iter().map(|&r| DictValue::Int(r as i64)).collect();
        index.insert("owners", DictValue::List(owners));
        tree_to_json(&DictValue::Map(index))
    }

    fn read_index(dir: &Path) -> Result<(PathBuf, usize, Vec<String>)> {
        let path = dir.join(SHARD_INDEX);
        let bad = |message: String| Error::ShardIndex {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let tree = tree_from_json(&text).map_err(|e| bad(e.to_string()))?;
        let DictValue::Map(index) = tree else {
            return Err(bad("not a map".into()));
        };
        let world = index
            .get("world_size")
            .and_then(DictValue::as_u64)
            .ok_or_else(|| bad("no world_size".into()))? as usize;
        let Some(DictValue::List(shards)) = index.get("shards") else {
            return Err(bad("no shard list".into()));
        };
        let shards = shards
            .iter()
            .map(|s| match s {
                DictValue::Str(s) => Ok(s.clone()),
                other => Err(bad(format!("a shard name is {}", other.describe()))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((path, world, shards))
    }

    /// Loads shards saved by [`save_shards`](ZeroRedundancy::save_shards) with the same
    /// number of ranks (collective): each rank reads its own shard only. Shards saved by
    /// another number of ranks are [`Error::WorldSize`], on every rank.
    pub fn load_shards(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let (path, world, shards) = Self::read_index(dir)?;
        if world != self.core.size {
            return Err(Error::WorldSize {
                path: dir.to_path_buf(),
                saved: world,
                current: self.core.size,
            });
        }
        if shards.len() != world {
            return Err(Error::ShardIndex {
                path,
                message: format!("{} shards for {world} ranks", shards.len()),
            });
        }
        let dict = checkpoint::load(dir.join(&shards[self.core.rank]))
            .and_then(|file| file.state_dict().map(StateDict::into_owned));
        match dict {
            Ok(dict) => self.load_state_dict(&dict),
            Err(e) => Err(self.fail_collectively(e.to_string())),
        }
    }

    /// This rank could not start a collective load: tells the others (who are in
    /// `load_state_dict`'s agreement) and returns the agreed error.
    fn fail_collectively(&self, message: String) -> Error {
        let verdict = self.core.agree_after(&Status::failed(message));
        Error::RankFailed {
            step: 0,
            rank: verdict.rank,
            message: verdict.message,
        }
    }

    /// Loads shards saved by any number of ranks (collective): each rank reads every shard
    /// and keeps its own partition's entries (re-sharding).
    pub fn load_shards_resharded(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let (_, _, shards) = Self::read_index(dir)?;
        let mut merged: Option<StateDict<'static>> = None;
        let mut error = None;
        for shard in &shards {
            match checkpoint::load(dir.join(shard)).and_then(|f| f.state_dict().map(|d| d.into_owned())) {
                Ok(dict) => match &mut merged {
                    None => merged = Some(dict),
                    Some(m) => m.state.extend(dict.state),
                },
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        match (error, merged) {
            (None, Some(dict)) => self.load_state_dict(&dict),
            (error, _) => Err(self.fail_collectively(error.unwrap_or_else(|| "the index lists no shard".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::partition;

    #[test]
    fn partitions_as_torch_does() {
        // Group 0 by size: 10 → rank 0 (0, 0), 7 → rank 1 (10, 0), 3 → rank 1 (10, 7);
        // group 1: 5 → rank 0 (10, 10: the tie to the lowest), 5 → rank 1 (15, 10).
        assert_eq!(partition(&[vec![10, 3, 7], vec![5, 5]], 2), [0, 1, 1, 0, 1]);
        // Equal sizes keep their order; one rank takes everything.
        assert_eq!(partition(&[vec![4, 4, 4, 4]], 3), [0, 1, 2, 0]);
        assert_eq!(partition(&[vec![1, 2, 3]], 1), [0, 0, 0]);
    }
}
