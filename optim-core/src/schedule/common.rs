//! What both engines do the same way: read and write the scheduled option of every group,
//! and read a state dict's common entries with every check before anything is loaded.

use crate::dict::{DictValue, Map};
use crate::error::{Error, Result, Scope};
use crate::schedule::rule::{Entries, ScheduleRule, ScheduleState};
use crate::schedule::target::{OptionPath, Schedulable, atomically};

/// The state-dict keys of every schedule, besides its options and state.
pub(crate) const KIND: &str = "kind";
pub(crate) const VERSION: &str = "version";
pub(crate) const OPTION: &str = "option";
pub(crate) const BASE: &str = "base_lrs";
pub(crate) const LAST_EPOCH: &str = "last_epoch";
pub(crate) const STEP_COUNT: &str = "_step_count";
pub(crate) const LAST: &str = "_last_lr";

/// Every group's value of `option`.
pub(crate) fn read_all(target: &dyn Schedulable, option: &OptionPath) -> Result<Vec<f64>> {
    (0..target.num_groups()).map(|g| option.read(target, g)).collect()
}

/// Sets every group's value of `option` (after the other writes of the step, as torch's
/// `get_lr` sets momentum before the step assigns the lr), all or nothing, and returns the
/// values now set (torch's `_last_lr`). Fewer values than groups is
/// [`Error::UnscheduledGroup`].
pub(crate) fn apply(
    target: &mut dyn Schedulable,
    kind: &'static str,
    option: &OptionPath,
    values: &[f64],
    writes: &[(usize, OptionPath, f64)],
    built_for: usize,
) -> Result<Vec<f64>> {
    let groups = target.num_groups();
    if values.len() != groups {
        return Err(Error::UnscheduledGroup {
            kind,
            group: values.len().min(groups),
            groups: built_for,
        });
    }
    atomically(target, |journal| {
        for (group, path, x) in writes {
            path.write(journal, *group, *x)?;
        }
        for (group, &x) in values.iter().enumerate() {
            option.write(journal, group, x)?;
        }
        read_all(journal, option)
    })
}

pub(crate) fn floats(values: &[f64]) -> DictValue<'static> {
    DictValue::List(values.iter().map(|&x| DictValue::Float(x)).collect())
}

/// The head of every schedule's state dict: kind, version, scheduled option, options.
pub(crate) fn head<S: ScheduleRule>(rule: &S, option: &OptionPath) -> Map<'static> {
    let mut map = Map::new();
    map.insert(KIND, S::KIND);
    map.insert(VERSION, DictValue::Int(S::VERSION.into()));
    map.insert(OPTION, option.to_string());
    for (key, value) in rule.to_map() {
        map.insert(key, value);
    }
    map
}

/// A schedule's state dict being read: every entry must be taken by the reader, or it is
/// reported as unknown by [`finish`](Reader::finish).
pub(crate) struct Reader<'m, 'a> {
    kind: &'static str,
    map: &'m Map<'a>,
    known: Vec<&'static str>,
}

impl<'m, 'a> Reader<'m, 'a> {
    /// Checks that `dict` is a map of this kind and a version this build reads.
    pub(crate) fn new<S: ScheduleRule>(dict: &'m DictValue<'a>) -> Result<Self> {
        let kind = S::KIND;
        let DictValue::Map(map) = dict else {
            return Err(Error::ScheduleStateDict {
                kind,
                entry: "(top)".into(),
                problem: format!("must be a map, found {}", dict.describe()),
            });
        };
        let reader = Reader {
            kind,
            map,
            known: vec![KIND, VERSION, OPTION],
        };
        match map.get(KIND) {
            None => {}
            Some(DictValue::Str(found)) if found == kind => {}
            Some(DictValue::Str(found)) => {
                return Err(Error::WrongSchedule {
                    expected: kind,
                    found: found.clone(),
                });
            }
            Some(other) => {
                return Err(reader
                    .entries()
                    .error(KIND, format!("must be a string, found {}", other.describe())));
            }
        }
        if map.contains_key(VERSION) {
            let version = reader.entries().int(VERSION)?;
            if version < 1 {
                return Err(reader
                    .entries()
                    .error(VERSION, format!("must be a version from 1, found {version}")));
            }
            if version > i64::from(S::VERSION) {
                return Err(Error::UnsupportedVersion {
                    kind,
                    found: u32::try_from(version).unwrap_or(u32::MAX),
                    supported: S::VERSION,
                });
            }
        }
        Ok(reader)
    }

    pub(crate) fn entries(&self) -> Entries<'m, 'a> {
        Entries {
            kind: self.kind,
            map: self.map,
        }
    }

    /// Checks that the scheduled option, if the dict names it, is `option`.
    pub(crate) fn option(&mut self, option: &OptionPath) -> Result<()> {
        match self.map.get(OPTION) {
            None => Ok(()),
            Some(DictValue::Str(s)) if *s == option.to_string() => Ok(()),
            Some(other) => Err(self.entries().error(
                OPTION,
                format!(
                    "is {}, but this schedule drives `{option}`: load it into a schedule of the same option",
                    other.describe()
                ),
            )),
        }
    }

    /// The options: those the dict has, over `current`'s; checked, with what state dicts do
    /// not hold (functions) taken from `current`.
    pub(crate) fn options<S: ScheduleRule>(&mut self, current: &S) -> Result<S> {
        self.known.extend_from_slice(S::OPTION_NAMES);
        let given: Map<'_> = self
            .map
            .iter()
            .filter(|(k, _)| S::OPTION_NAMES.contains(k))
            .map(|(k, v)| (k, v.clone()))
            .collect();
        let scope = Scope::Schedule(S::KIND);
        let mut options = current.to_options();
        S::overlay(&mut options, &S::options_from_map(&given, scope)?);
        let mut rule =
            S::complete(&options).map_err(|option| Error::MissingScheduleOption { kind: S::KIND, option })?;
        rule.restore_unsaved(current);
        rule.validate(scope)?;
        Ok(rule)
    }

    pub(crate) fn int(&mut self, key: &'static str) -> Result<i64> {
        self.known.push(key);
        self.entries().int(key)
    }

    pub(crate) fn floats(&mut self, key: &'static str) -> Result<Vec<f64>> {
        self.known.push(key);
        self.entries().floats(key)
    }

    pub(crate) fn state<T: ScheduleState>(&mut self) -> Result<T> {
        self.known.extend_from_slice(T::KEYS);
        T::unpack(&self.entries())
    }

    /// Fails on an entry no one took.
    pub(crate) fn finish(self) -> Result<()> {
        match self.map.keys().find(|k| !self.known.contains(k)) {
            None => Ok(()),
            Some(unknown) => Err(self.entries().error(
                unknown,
                format!(
                    "is not an entry of this schedule (its entries are: {})",
                    self.known.join(", ")
                ),
            )),
        }
    }
}
