//! Weight averaging, as torch's `torch.optim.swa_utils.AveragedModel`: an exponential
//! moving average of the parameters (`get_ema_multi_avg_fn(decay)`) or their running mean
//! (SWA's default). The average is a set of [`Param`]s of its own, which a user evaluates
//! with as with the model's.
//!
//! ```
//! use optim_core::average::Averaged;
//! use optim_core::{Param, ndarray::array};
//!
//! let w = Param::named("w", array![1.0f64, 2.0]);
//! let mut ema = Averaged::ema([&w], 0.9)?;
//! ema.update([&w])?; // the first update copies
//! w.set_value(array![2.0, 2.0])?;
//! ema.update([&w])?;
//! assert_eq!(ema.params()[0].to_array(), array![1.1, 2.0].into_dyn());
//! assert_eq!(ema.n_averaged(), 2);
//! # Ok::<(), optim_core::Error>(())
//! ```

use ndarray::{ArrayD, IxDyn};

use crate::dict::{DictTensor, DictValue, Map};
use crate::error::{Error, ParamRef, Result};
use crate::float::Float;
use crate::held;
use crate::isa::{Isa, Kernel};
use crate::param::{Param, as_slice, as_slice_mut};
use crate::state::StepCount;

/// How the average follows the parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Averaging {
    /// `avg ← lerp(avg, p, 1 − decay)`: torch's `get_ema_multi_avg_fn(decay)`.
    Ema {
        /// The weight of the past, in [0, 1].
        decay: f64,
    },
    /// `avg ← avg + (p − avg) / (n + 1)` after `n` updates: the running mean, torch's
    /// default `AveragedModel` (stochastic weight averaging).
    Swa,
}

impl Averaging {
    fn name(self) -> &'static str {
        match self {
            Averaging::Ema { .. } => "ema",
            Averaging::Swa => "swa",
        }
    }
}

/// An average of a set of parameters, kept in parameters of its own (see the module docs).
#[derive(Debug)]
pub struct Averaged<A: Float> {
    averaging: Averaging,
    params: Vec<Param<A>>,
    n_averaged: u64,
}

fn copy_of<A: Float>(p: &Param<A>) -> Param<A> {
    let value = p.value_read_lock().clone();
    match p.name() {
        Some(name) => Param::named(name, value),
        None => Param::new(value),
    }
}

/// Names the `index`-th parameter of a sequence (as group 0).
fn at<A: Float>(index: usize, p: &Param<A>) -> ParamRef {
    ParamRef {
        group: 0,
        index,
        name: p.name().map(str::to_string),
    }
}

impl<A: Float> Averaged<A> {
    /// An average of `params` (copies of their current values, as torch deep-copies the
    /// model), following them as `averaging` says. An EMA's `decay` must be in [0, 1].
    pub fn new<'p>(params: impl IntoIterator<Item = &'p Param<A>>, averaging: Averaging) -> Result<Self> {
        if let Averaging::Ema { decay } = averaging
            && !(0.0..=1.0).contains(&decay)
        {
            return Err(Error::InvalidArgument {
                function: "Averaged::ema",
                argument: "decay",
                message: format!("must be in [0, 1], found {decay:?}"),
            });
        }
        let sources: Vec<&Param<A>> = params.into_iter().collect();
        check_guards(&sources, "Averaged::new")?;
        Ok(Averaged {
            averaging,
            params: sources.iter().map(|p| copy_of(p)).collect(),
            n_averaged: 0,
        })
    }

    /// An exponential moving average with weight `decay` for the past (torch's
    /// `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))`).
    pub fn ema<'p>(params: impl IntoIterator<Item = &'p Param<A>>, decay: f64) -> Result<Self> {
        Averaged::new(params, Averaging::Ema { decay })
    }

    /// A running mean (torch's `AveragedModel(model)`, stochastic weight averaging).
    pub fn swa<'p>(params: impl IntoIterator<Item = &'p Param<A>>) -> Result<Self> {
        Averaged::new(params, Averaging::Swa)
    }

    /// The averaged parameters, in the order of the parameters they follow.
    pub fn params(&self) -> &[Param<A>] {
        &self.params
    }

    /// How many updates the average has taken (torch's `n_averaged`).
    pub fn n_averaged(&self) -> u64 {
        self.n_averaged
    }

    /// How the average follows the parameters.
    pub fn averaging(&self) -> Averaging {
        self.averaging
    }

    /// Takes the parameters' current values into the average (torch's
    /// `update_parameters`): the first update copies them, later ones average. `params`
    /// must be the parameters the average was made of, in the same order and shapes;
    /// anything else is an error that changes nothing. One pass per tensor.
    pub fn update<'p>(&mut self, params: impl IntoIterator<Item = &'p Param<A>>) -> Result<()> {
        let sources: Vec<&Param<A>> = params.into_iter().collect();
        if sources.len() != self.params.len() {
            return Err(Error::InvalidArgument {
                function: "Averaged::update",
                argument: "params",
                message: format!(
                    "has {} parameter(s) but the average was made of {}",
                    sources.len(),
                    self.params.len()
                ),
            });
        }
        for (p, avg) in sources.iter().zip(&self.params) {
            if p.shape() != avg.shape() {
                return Err(Error::ShapeMismatch {
                    what: "parameter to average",
                    name: avg.name().map(str::to_string),
                    expected: avg.shape().to_vec(),
                    found: p.shape().to_vec(),
                });
            }
        }
        check_guards(&sources, "Averaged::update")?;
        let own: Vec<&Param<A>> = self.params.iter().collect();
        check_guards(&own, "Averaged::update")?;
        let step = match (self.n_averaged, self.averaging) {
            (0, _) => Step::Copy,
            (_, Averaging::Ema { decay }) => {
                let w = A::from_f64(1.0 - decay);
                Step::Lerp {
                    w,
                    small: w.abs() < A::from_f64(0.5),
                    complement: A::one() - w,
                }
            }
            (n, Averaging::Swa) => Step::Mean {
                count: A::from_f64((n + 1) as f64),
            },
        };
        let isa = Isa::best();
        let one = |(p, avg): (&&Param<A>, &Param<A>)| {
            let value = p.value_read_lock();
            let mut target = avg.value_lock();
            isa.run(Average {
                avg: as_slice_mut(&mut target),
                p: as_slice(&value),
                step,
            });
        };
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            sources.par_iter().zip(self.params.par_iter()).for_each(one);
        }
        #[cfg(not(feature = "rayon"))]
        sources.iter().zip(&self.params).for_each(one);
        self.n_averaged += 1;
        Ok(())
    }

    /// The average's state dict, a tree holding a copy of each averaged value: `kind`
    /// (`"ema"` or `"swa"`),
    /// `decay` for an EMA, `n_averaged` (a 0-d float32 tensor would lose counts past 2²⁴:
    /// an integer here), `params` (one tensor per averaged parameter) and `param_names`
    /// when they have names.
    pub fn state_dict(&self) -> DictValue<'_> {
        let mut map = Map::new();
        map.insert("kind", self.averaging.name());
        if let Averaging::Ema { decay } = self.averaging {
            map.insert("decay", decay);
        }
        map.insert(
            "n_averaged",
            DictValue::Int(i64::try_from(self.n_averaged).unwrap_or(i64::MAX)),
        );
        let values: Vec<DictValue<'_>> = self
            .params
            .iter()
            .map(|p| {
                let value = p.value_read_lock();
                // The lock ends here, so the tree holds a copy of each value.
                DictValue::Tensor(
                    DictTensor::owned(p.shape(), as_slice(&value)).expect("a parameter's values fit its shape"),
                )
            })
            .collect();
        map.insert("params", DictValue::List(values));
        let names: Option<Vec<DictValue<'_>>> = self.params.iter().map(|p| p.name().map(DictValue::from)).collect();
        if let Some(names) = names {
            map.insert("param_names", DictValue::List(names));
        }
        DictValue::Map(map)
    }

    /// Loads a state dict of [`state_dict`](Averaged::state_dict)'s layout: the same kind
    /// and decay, as many tensors as parameters, each of its parameter's shape (cast to
    /// `A`), names equal where both have them. Everything is checked before anything
    /// changes.
    pub fn load_state_dict(&mut self, dict: &DictValue<'_>) -> Result<()> {
        let format = |message: String| Error::Format { message };
        let DictValue::Map(map) = dict else {
            return Err(format(format!(
                "an average's state dict is a map, found {}",
                dict.describe()
            )));
        };
        for key in map.keys() {
            if !["kind", "decay", "n_averaged", "params", "param_names"].contains(&key) {
                return Err(format(format!("unexpected key `{key}` in an average's state dict")));
            }
        }
        match map.get("kind") {
            Some(DictValue::Str(kind)) if kind == self.averaging.name() => {}
            Some(DictValue::Str(kind)) => {
                return Err(Error::WrongOptimizer {
                    expected: self.averaging.name(),
                    found: kind.clone(),
                });
            }
            other => return Err(format(format!("`kind` must be \"ema\" or \"swa\", found {other:?}"))),
        }
        if let Averaging::Ema { decay } = self.averaging {
            match map.get("decay").and_then(DictValue::as_f64) {
                Some(d) if d == decay => {}
                found => {
                    return Err(format(format!(
                        "the average was saved with decay {found:?}, this one has decay {decay:?}"
                    )));
                }
            }
        }
        let n_averaged = map
            .get("n_averaged")
            .and_then(DictValue::as_u64)
            .filter(|&n| (n as f64) <= StepCount::MAX)
            .ok_or_else(|| format("`n_averaged` must be a whole number of updates".into()))?;
        let Some(DictValue::List(values)) = map.get("params") else {
            return Err(format("`params` must be a list of tensors".into()));
        };
        if values.len() != self.params.len() {
            return Err(Error::GroupSize {
                group: 0,
                expected: self.params.len(),
                found: values.len(),
            });
        }
        if let Some(DictValue::List(names)) = map.get("param_names") {
            for (i, (name, p)) in names.iter().zip(&self.params).enumerate() {
                if let (DictValue::Str(saved), Some(ours)) = (name, p.name())
                    && saved != ours
                {
                    return Err(Error::ParamNames {
                        problems: vec![format!(
                            "average parameter {i} is \"{ours}\" but the state dict has \"{saved}\""
                        )],
                    });
                }
            }
        }
        let mut new_values = Vec::with_capacity(values.len());
        for (i, (value, p)) in values.iter().zip(&self.params).enumerate() {
            let DictValue::Tensor(t) = value else {
                return Err(format(format!(
                    "average parameter {i} must be a tensor, found {}",
                    value.describe()
                )));
            };
            if t.shape() != p.shape() {
                return Err(Error::StateShape {
                    index: i,
                    key: "params".into(),
                    expected: p.shape().to_vec(),
                    found: t.shape().to_vec(),
                });
            }
            let mut array = ArrayD::<A>::zeros(IxDyn(p.shape()));
            t.copy_into(as_slice_mut(&mut array));
            new_values.push(array);
        }
        let own: Vec<&Param<A>> = self.params.iter().collect();
        check_guards(&own, "Averaged::load_state_dict")?;
        for (p, v) in self.params.iter().zip(new_values) {
            p.set_value(v).expect("the shape was checked");
        }
        self.n_averaged = n_averaged;
        Ok(())
    }
}

/// [`Error::GuardHeld`] for the first of `params` this thread holds a guard of.
fn check_guards<A: Float>(params: &[&Param<A>], operation: &'static str) -> Result<()> {
    match held::check(params.iter().enumerate().map(|(i, p)| (0, i, *p))) {
        None => Ok(()),
        Some((_, index, guard)) => Err(Error::GuardHeld {
            operation,
            param: at(index, params[index]),
            guard,
        }),
    }
}

/// What one update does to each element.
#[derive(Clone, Copy)]
enum Step<A> {
    /// The first update: `avg ← p`.
    Copy,
    /// torch's `lerp(avg, p, w)`: `avg + w (p − avg)` for `|w| < 0.5`, else
    /// `p − (p − avg)(1 − w)`.
    Lerp { w: A, small: bool, complement: A },
    /// `avg + (p − avg) / count`.
    Mean { count: A },
}

/// One fused pass over an averaged tensor and its parameter.
struct Average<'a, A> {
    avg: &'a mut [A],
    p: &'a [A],
    step: Step<A>,
}

impl<A: Float> Kernel for Average<'_, A> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        match self.step {
            Step::Copy => self.avg.copy_from_slice(self.p),
            Step::Lerp { w, small, complement } => {
                for (a, &p) in self.avg.iter_mut().zip(self.p) {
                    *a = if small {
                        *a + w * (p - *a)
                    } else {
                        p - (p - *a) * complement
                    };
                }
            }
            Step::Mean { count } => {
                for (a, &p) in self.avg.iter_mut().zip(self.p) {
                    *a += (p - *a) / count;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ema_and_swa_by_hand_in_both_precisions() {
        let w = Param::new(array![1.0f32, -2.0]);
        let mut ema = Averaged::ema([&w], 0.75).expect("valid");
        let mut swa = Averaged::swa([&w]).expect("valid");
        ema.update([&w]).expect("same params");
        swa.update([&w]).expect("same params");
        w.set_value(array![3.0f32, 2.0]).expect("shape");
        ema.update([&w]).expect("same params");
        swa.update([&w]).expect("same params");
        // EMA, weight 1 − 0.75 = 0.25 (< 0.5): 1 + 0.25·(3 − 1) = 1.5; −2 + 0.25·4 = −1.
        assert_eq!(ema.params()[0].to_array(), array![1.5f32, -1.0].into_dyn());
        // SWA: 1 + (3 − 1)/2 = 2; −2 + (2 + 2)/2 = 0.
        assert_eq!(swa.params()[0].to_array(), array![2.0f32, 0.0].into_dyn());
        w.set_value(array![5.0f32, 5.0]).expect("shape");
        swa.update([&w]).expect("same params");
        // (1 + 3 + 5) / 3 = 3, (−2 + 2 + 5) / 3 = 5/3 (as f32: 0 + (5 − 0)/3).
        assert_eq!(swa.params()[0].to_array(), array![3.0f32, 5.0 / 3.0].into_dyn());
        assert_eq!((ema.n_averaged(), swa.n_averaged()), (2, 3));

        let v = Param::new(array![0.0f64]);
        let mut heavy = Averaged::ema([&v], 0.1).expect("valid");
        heavy.update([&v]).expect("same");
        v.set_value(array![1.0f64]).expect("shape");
        heavy.update([&v]).expect("same");
        // weight 0.9 (≥ 0.5): p − (p − avg)(1 − w) = 1 − 1·(1 − 0.9) computed in f64.
        assert_eq!(heavy.params()[0].to_array()[0], 1.0 - (1.0 - 0.9));
    }

    #[test]
    fn state_dicts_round_trip_and_bad_ones_change_nothing() {
        let w = Param::named("w", array![1.0f64, 2.0]);
        let mut ema = Averaged::ema([&w], 0.5).expect("valid");
        ema.update([&w]).expect("same");
        let saved = ema.state_dict().into_owned();
        let mut other = Averaged::ema([&w], 0.5).expect("valid");
        other.load_state_dict(&saved).expect("same layout");
        assert_eq!(other.n_averaged(), 1);
        let mut swa = Averaged::swa([&w]).expect("valid");
        assert!(matches!(swa.load_state_dict(&saved), Err(Error::WrongOptimizer { .. })));
        assert_eq!(swa.n_averaged(), 0);
        let v = Param::named("v", array![1.0f64]);
        let mut wrong = Averaged::ema([&v], 0.5).expect("valid");
        assert!(wrong.load_state_dict(&saved).is_err());
        assert_eq!(wrong.params()[0].to_array(), array![1.0].into_dyn());
    }

    #[test]
    fn updating_with_other_parameters_is_an_error() {
        let a = Param::new(array![1.0f32]);
        let b = Param::new(array![1.0f32, 2.0]);
        let mut ema = Averaged::ema([&a], 0.9).expect("valid");
        assert!(matches!(ema.update([&a, &b]), Err(Error::InvalidArgument { .. })));
        assert!(matches!(ema.update([&b]), Err(Error::ShapeMismatch { .. })));
        assert_eq!(ema.n_averaged(), 0);
        assert!(Averaged::ema([&a], 1.5).is_err());
    }
}
