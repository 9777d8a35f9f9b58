//! Everything observable about an optimizer and its parameters, to show that an operation
//! that failed changed nothing.

use std::fmt::Debug;

use optimizers::{Float, Optimizer, Param, Rule};

/// One parameter as seen from outside: its value and gradient, bit for bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSnapshot {
    /// Its name, if any.
    pub name: Option<String>,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The bits of each element of its value (as `f64`, exact for `f32`).
    pub value: Vec<u64>,
    /// The bits of each element of its gradient, if it has one.
    pub grad: Option<Vec<u64>>,
}

impl ParamSnapshot {
    /// The parameter's current value and gradient.
    pub fn of<A: Float>(p: &Param<A>) -> Self {
        let bits = |it: &mut dyn Iterator<Item = &A>| it.map(|x| x.as_f64().to_bits()).collect::<Vec<_>>();
        ParamSnapshot {
            name: p.name().map(str::to_string),
            shape: p.shape().to_vec(),
            value: bits(&mut p.value().iter()),
            grad: p.grad().map(|g| bits(&mut g.iter())),
        }
    }
}

/// An optimizer's defaults, each group's resolved options and parameters, every
/// parameter's state (its `Debug` form, which for LBFGS leaves out the scratch buffers),
/// the state dict as JSON, and every parameter's value and gradient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The optimizer's kind (empty for a snapshot of parameters alone).
    pub kind: String,
    /// `Debug` of the defaults.
    pub defaults: String,
    /// `Debug` of each group's resolved options.
    pub options: Vec<String>,
    /// `Debug` of each parameter's state (`None` before its first step), group after group.
    pub states: Vec<Option<String>>,
    /// `state_dict().to_json()`.
    pub state_dict: String,
    /// Every parameter, group after group.
    pub params: Vec<ParamSnapshot>,
}

impl Snapshot {
    /// Everything about `opt`.
    pub fn of<R: Rule, A: Float>(opt: &Optimizer<R, A>) -> Self
    where
        R::State<A>: Debug,
    {
        let options = (0..opt.num_groups())
            .map(|g| format!("{:?}", opt.hyperparameters(g).expect("the group exists")))
            .collect();
        Snapshot {
            kind: opt.kind().to_string(),
            defaults: format!("{:?}", opt.defaults()),
            options,
            states: opt
                .all_params()
                .map(|p| opt.state(p).map(|s| format!("{s:?}")))
                .collect(),
            state_dict: opt.state_dict().to_json(),
            params: opt.all_params().map(ParamSnapshot::of).collect(),
        }
    }

    /// Parameters alone (for an optimizer that could not be built).
    pub fn of_params<A: Float>(params: &[Param<A>]) -> Self {
        Snapshot {
            kind: String::new(),
            defaults: String::new(),
            options: Vec::new(),
            states: Vec::new(),
            state_dict: String::new(),
            params: params.iter().map(ParamSnapshot::of).collect(),
        }
    }

    /// The first part that differs from `other`, for a failure message; `None` when equal.
    pub fn difference(&self, other: &Snapshot) -> Option<String> {
        fn field<T: PartialEq + Debug>(name: &str, a: &T, b: &T) -> Option<String> {
            (a != b).then(|| format!("{name} differs:\n  before: {a:?}\n  after:  {b:?}"))
        }
        field("kind", &self.kind, &other.kind)
            .or_else(|| field("defaults", &self.defaults, &other.defaults))
            .or_else(|| field("group options", &self.options, &other.options))
            .or_else(|| field("state", &self.states, &other.states))
            .or_else(|| field("state dict", &self.state_dict, &other.state_dict))
            .or_else(|| field("parameters", &self.params, &other.params))
    }
}
