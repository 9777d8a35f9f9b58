//! What SequentialLR and ChainedScheduler share: their children's state dicts, loaded all
//! or none, their children's entries in the param groups, and their `DynSchedule` impl.

use optim_core::schedule::{DynSchedule, Entries};
use optim_core::{DictValue, Error, Map, Result};

/// The state-dict entries of every composite.
pub(crate) const KIND: &str = "kind";
pub(crate) const VERSION: &str = "version";
pub(crate) const LAST: &str = "_last_lr";
pub(crate) const CHILDREN: &str = "_schedulers";

/// The head of a composite's state dict.
pub(crate) fn head(kind: &'static str) -> Map<'static> {
    let mut map = Map::new();
    map.insert(KIND, kind);
    map.insert(VERSION, DictValue::Int(1));
    map
}

pub(crate) fn floats(values: &[f64]) -> DictValue<'static> {
    DictValue::List(values.iter().map(|&x| DictValue::Float(x)).collect())
}

pub(crate) fn children_dicts(children: &[Box<dyn DynSchedule>]) -> DictValue<'static> {
    DictValue::List(children.iter().map(|c| c.state_dict()).collect())
}

/// A composite's state dict, checked: a map of this kind and version, with only `known`
/// entries.
pub(crate) fn entries<'m, 'a>(kind: &'static str, dict: &'m DictValue<'a>, known: &[&str]) -> Result<Entries<'m, 'a>> {
    let DictValue::Map(map) = dict else {
        return Err(Error::ScheduleStateDict {
            kind,
            entry: "(top)".into(),
            problem: format!("must be a map, found {}", dict.describe()),
        });
    };
    let entries = Entries::new(kind, map);
    match map.get(KIND) {
        None => {}
        Some(DictValue::Str(s)) if s == kind => {}
        Some(DictValue::Str(s)) => {
            return Err(Error::WrongSchedule {
                expected: kind,
                found: s.clone(),
            });
        }
        Some(other) => return Err(entries.error(KIND, format!("must be a string, found {}", other.describe()))),
    }
    if map.contains_key(VERSION) {
        let version = entries.int(VERSION)?;
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                kind,
                found: u32::try_from(version).unwrap_or(0),
                supported: 1,
            });
        }
    }
    if let Some(unknown) = map.keys().find(|k| ![KIND, VERSION].contains(k) && !known.contains(k)) {
        return Err(entries.error(
            unknown,
            format!(
                "is not an entry of this schedule (its entries are: kind, version, {})",
                known.join(", ")
            ),
        ));
    }
    Ok(entries)
}

/// Loads the children's state dicts into copies of `children`, all or none.
pub(crate) fn load_children(
    kind: &'static str,
    children: &[Box<dyn DynSchedule>],
    entries: &Entries<'_, '_>,
) -> Result<Vec<Box<dyn DynSchedule>>> {
    let dicts = match entries.get(CHILDREN)? {
        DictValue::List(dicts) => dicts,
        other => return Err(entries.error(CHILDREN, format!("must be a list, found {}", other.describe()))),
    };
    if dicts.len() != children.len() {
        return Err(entries.error(
            CHILDREN,
            format!("has {} schedule(s) but this {kind} has {}", dicts.len(), children.len()),
        ));
    }
    let mut loaded: Vec<Box<dyn DynSchedule>> = children.to_vec();
    for (child, dict) in loaded.iter_mut().zip(dicts) {
        child.load_state_dict(dict)?;
    }
    Ok(loaded)
}

/// The children's entries in param group `group`; of two with the same key, the first's (as
/// torch's `setdefault("initial_lr", ..)` keeps the first scheduler's).
pub(crate) fn group_entries(children: &[Box<dyn DynSchedule>], group: usize) -> Map<'static> {
    let mut out = Map::new();
    for child in children {
        for (key, value) in child.group_entries(group) {
            if !out.contains_key(&key) {
                out.insert(key, value);
            }
        }
    }
    out
}

/// `DynSchedule` for a composite `$ty` (named `$name` in messages), from its inherent
/// `step_dyn`, `option_name`, `get_last_lr`, `group_entries`, `state_dict`,
/// `load_state_dict` and its `children`. A composite undoes by undoing its children, takes
/// its initial step as a step, and cannot restart (torch raises `NotImplementedError`).
macro_rules! composite_schedule {
    ($ty:ty, $name:literal) => {
        impl DynSchedule for $ty {
            fn kind(&self) -> &'static str {
                KIND
            }
            fn option_name(&self) -> String {
                <$ty>::option_name(self)
            }
            fn step(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
                self.step_dyn(opt)
            }
            fn get_last_lr(&self) -> &[f64] {
                <$ty>::get_last_lr(self)
            }
            fn group_entries(&self, group: usize) -> Map<'static> {
                <$ty>::group_entries(self, group)
            }
            fn state_dict(&self) -> DictValue<'static> {
                <$ty>::state_dict(self)
            }
            fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
                <$ty>::load_state_dict(self, dict)
            }
            fn clone_box(&self) -> Box<dyn DynSchedule> {
                Box::new(self.clone())
            }
            fn undo(&mut self) {
                for child in &mut self.children {
                    child.undo();
                }
            }
            fn initial_step(&mut self, opt: &mut dyn Schedulable) -> Result<()> {
                self.step_dyn(opt)
            }
            fn restart(&mut self, _: &mut dyn Schedulable) -> Result<()> {
                Err(Error::InvalidOptions {
                    scope: Scope::Schedule(KIND),
                    message: concat!(
                        "a ",
                        $name,
                        " cannot restart at a milestone of a SequentialLR (torch raises NotImplementedError)"
                    )
                    .into(),
                })
            }
            fn can_restart(&self) -> bool {
                false
            }
        }
    };
}
pub(crate) use composite_schedule;
