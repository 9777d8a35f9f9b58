//! What a schedule needs of an optimizer: its groups' options by name ([`Schedulable`]), a
//! path to one number among them ([`OptionPath`]: `lr`, `betas[0]`), and a journal of the
//! changes a schedule makes, so that a failed step or build undoes them ([`Journal`]).

use std::fmt;

use crate::dict::DictValue;
use crate::dyn_optimizer::DynOptimizer;
use crate::error::{Error, Result, Scope};
use crate::float::Float;
use crate::optimizer::Optimizer;
use crate::rule::Rule;

/// What a schedule needs of an optimizer: the number of groups and string-keyed access to
/// their options. Every optimizer has it ([`Optimizer`], `dyn DynOptimizer`, boxed or
/// borrowed), so one schedule works on every optimizer.
///
/// ```
/// use optim_core::schedule::Schedulable;
/// use optim_core::{DictValue, Result};
///
/// /// Halves every group's learning rate, on any optimizer.
/// fn halve(opt: &mut dyn Schedulable) -> Result<()> {
///     for g in 0..opt.num_groups() {
///         let lr = opt.option(g, "lr")?.as_f64().unwrap_or(0.0);
///         opt.set_option(g, "lr", DictValue::Float(lr / 2.0))?;
///     }
///     Ok(())
/// }
/// ```
pub trait Schedulable {
    /// The optimizer's kind (`"adam"`), for messages.
    fn kind(&self) -> &'static str;
    /// The number of parameter groups.
    fn num_groups(&self) -> usize;
    /// One option of group `group` by its state-dict name.
    fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>>;
    /// Sets one option of group `group` by its state-dict name (type-checked and validated
    /// by the optimizer; nothing changes on error).
    fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()>;
}

impl<R: Rule, A: Float> Schedulable for Optimizer<R, A> {
    fn kind(&self) -> &'static str {
        R::KIND
    }
    fn num_groups(&self) -> usize {
        Optimizer::num_groups(self)
    }
    fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>> {
        Optimizer::option(self, group, name)
    }
    fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()> {
        Optimizer::set_option(self, group, name, value)
    }
}

impl<A: Float> Schedulable for dyn DynOptimizer<A> + '_ {
    fn kind(&self) -> &'static str {
        DynOptimizer::kind(self)
    }
    fn num_groups(&self) -> usize {
        DynOptimizer::num_groups(self)
    }
    fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>> {
        DynOptimizer::option(self, group, name)
    }
    fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()> {
        DynOptimizer::set_option(self, group, name, value)
    }
}

macro_rules! forward {
    ($($t:ty),*) => {$(
        impl<T: Schedulable + ?Sized> Schedulable for $t {
            fn kind(&self) -> &'static str {
                (**self).kind()
            }
            fn num_groups(&self) -> usize {
                (**self).num_groups()
            }
            fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>> {
                (**self).option(group, name)
            }
            fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()> {
                (**self).set_option(group, name, value)
            }
        }
    )*};
}
forward!(Box<T>, &mut T);

/// One number among a group's options: an option (`lr`, `weight_decay`) or an item of a
/// list option (`betas[0]`, Adam's β₁, which torch's CyclicLR and OneCycleLR cycle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionPath {
    name: String,
    index: Option<usize>,
}

impl OptionPath {
    /// Reads `name` or `name[index]`; `None` when `text` is neither.
    pub fn parse(text: &str) -> Option<Self> {
        match text.split_once('[') {
            None if !text.is_empty() => Some(OptionPath {
                name: text.to_string(),
                index: None,
            }),
            Some((name, rest)) if !name.is_empty() => Some(OptionPath {
                name: name.to_string(),
                index: Some(rest.strip_suffix(']')?.parse().ok()?),
            }),
            _ => None,
        }
    }

    /// The option's name (`betas` for `betas[0]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of this number in group `group`.
    pub fn read(&self, opt: &(impl Schedulable + ?Sized), group: usize) -> Result<f64> {
        let value = opt.option(group, &self.name)?;
        let number = match (self.index, &value) {
            (None, v) => v.as_f64(),
            (Some(i), DictValue::List(items)) => items.get(i).and_then(DictValue::as_f64),
            (Some(_), _) => None,
        };
        number.ok_or_else(|| Error::OptionType {
            scope: Scope::Group(group),
            option: self.to_string(),
            expected: match self.index {
                None => "a number to be scheduled".into(),
                Some(i) => format!("a list with a number at index {i} to be scheduled"),
            },
            found: value.describe(),
        })
    }

    /// Sets this number in group `group` to `x` (for an item, the whole list is written
    /// back with that item replaced, as torch replaces the whole `betas` tuple).
    pub fn write(&self, opt: &mut (impl Schedulable + ?Sized), group: usize, x: f64) -> Result<()> {
        let value = match self.index {
            None => DictValue::Float(x),
            Some(i) => {
                let mut items = match opt.option(group, &self.name)? {
                    DictValue::List(items) if i < items.len() => items,
                    other => {
                        return Err(Error::OptionType {
                            scope: Scope::Group(group),
                            option: self.to_string(),
                            expected: format!("a list with a number at index {i} to be scheduled"),
                            found: other.describe(),
                        });
                    }
                };
                items[i] = DictValue::Float(x);
                DictValue::List(items)
            }
        };
        opt.set_option(group, &self.name, value)
    }
}

impl fmt::Display for OptionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            None => f.write_str(&self.name),
            Some(i) => write!(f, "{}[{i}]", self.name),
        }
    }
}

/// An optimizer seen through a log of the options changed through it: the first value of
/// each changed option is kept, so that [`Journal::rollback`] restores them all. Every
/// change a schedule makes while building or stepping goes through one, so that a failure
/// halfway (a child of a composite, a momentum the optimizer rejects) changes nothing.
pub struct Journal<'a> {
    target: &'a mut dyn Schedulable,
    saved: Vec<(usize, String, DictValue<'static>)>,
}

impl<'a> Journal<'a> {
    /// A journal over `target`, with nothing changed yet.
    pub fn new(target: &'a mut dyn Schedulable) -> Self {
        Journal {
            target,
            saved: Vec::new(),
        }
    }

    /// Puts back every option changed through the journal, newest first. Each value put
    /// back is one the optimizer held and accepted before, so none is refused.
    pub fn rollback(self) {
        for (group, name, value) in self.saved.into_iter().rev() {
            // The value was the option's own a moment ago: setting it back cannot fail.
            let _ = self.target.set_option(group, &name, value);
        }
    }
}

impl Schedulable for Journal<'_> {
    fn kind(&self) -> &'static str {
        self.target.kind()
    }
    fn num_groups(&self) -> usize {
        self.target.num_groups()
    }
    fn option(&self, group: usize, name: &str) -> Result<DictValue<'static>> {
        self.target.option(group, name)
    }
    fn set_option(&mut self, group: usize, name: &str, value: DictValue<'static>) -> Result<()> {
        if !self.saved.iter().any(|(g, n, _)| *g == group && n == name) {
            let old = self.target.option(group, name)?;
            self.saved.push((group, name.to_string(), old));
        }
        self.target.set_option(group, name, value)
    }
}

/// Runs `act` on `target` through a [`Journal`]: on error, every option `act` changed is
/// put back.
pub fn atomically<T>(target: &mut dyn Schedulable, act: impl FnOnce(&mut Journal<'_>) -> Result<T>) -> Result<T> {
    let mut journal = Journal::new(target);
    match act(&mut journal) {
        Ok(value) => Ok(value),
        Err(e) => {
            journal.rollback();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OptionPath;

    #[test]
    fn paths_read_names_and_items() {
        assert_eq!(OptionPath::parse("lr").unwrap().to_string(), "lr");
        let beta1 = OptionPath::parse("betas[0]").unwrap();
        assert_eq!((beta1.name(), beta1.to_string().as_str()), ("betas", "betas[0]"));
        for bad in ["", "betas[", "betas[x]", "[0]", "betas[-1]"] {
            assert!(OptionPath::parse(bad).is_none(), "{bad}");
        }
    }
}
