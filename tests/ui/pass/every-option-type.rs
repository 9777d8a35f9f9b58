//! Every kind of option, every key, checks with messages and arguments, a cross check, a
//! default computed from an earlier option; warning-free in a strict crate.
#![deny(warnings, missing_docs)]

use optimizers::ndarray::ArrayD;
use optimizers::{Elementwise, Float, Optimizer, OptionValue, Param, State, DictValue};

/// A user's enum as an option.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// Constant.
    Constant,
    /// Cosine.
    Cosine,
}

impl OptionValue for Schedule {
    fn expected() -> String {
        "\"constant\" or \"cosine\"".into()
    }
    fn to_value(&self) -> DictValue<'static> {
        match self {
            Schedule::Constant => "constant".into(),
            Schedule::Cosine => "cosine".into(),
        }
    }
    fn from_value(value: &DictValue<'_>) -> Option<Self> {
        match value {
            DictValue::Str(s) if s == "constant" => Some(Schedule::Constant),
            DictValue::Str(s) if s == "cosine" => Some(Schedule::Cosine),
            _ => None,
        }
    }
}

/// An optimizer with one option of each kind.
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(
    kind = "kitchen_sink",
    state = SinkState,
    update = elementwise,
    options = SinkConfig,
    version = 3,
    check(!nesterov || momentum > 0.0, "nesterov needs momentum"),
    check(warmup <= max_steps)
)]
pub struct Sink {
    /// f64, required.
    #[hyper(required, check(lr >= 0.0, "invalid learning rate: {lr}"))]
    pub lr: f64,
    /// f32.
    #[hyper(default = 0.9, check = momentum >= 0.0)]
    pub momentum: f32,
    /// bool.
    #[hyper(default = false)]
    pub nesterov: bool,
    /// A pair, checked with format arguments.
    #[hyper(default = (0.9, 0.999), check(betas.0 < 1.0, "beta 0 is {}", betas.0))]
    pub betas: (f64, f64),
    /// An integer.
    #[hyper(default = 100)]
    pub max_steps: usize,
    /// A default computed from an earlier option.
    #[hyper(default = max_steps / 10)]
    pub warmup: usize,
    /// Signed.
    #[hyper(default = -1)]
    pub seed: i32,
    /// Optional, `None` by default.
    pub clip: Option<f64>,
    /// A user's enum, renamed in state dicts.
    #[hyper(default = Schedule::Constant, rename = "schedule_fn")]
    pub schedule: Schedule,
}

/// State with a tensor, an optional tensor, a scalar, a renamed entry and a skipped field.
#[derive(State)]
pub struct SinkState<A: Float> {
    /// Steps.
    pub step: u64,
    /// A buffer.
    pub buffer: ArrayD<A>,
    /// Another, sometimes.
    #[state(rename = "second")]
    pub maybe: Option<ArrayD<A>>,
    /// Scratch, never saved.
    #[state(skip)]
    pub scratch: Vec<A>,
}

impl Elementwise for Sink {
    type Scalars<A: Float> = A;

    fn prepare<A: Float>(&self, state: &mut SinkState<A>, _: &[usize]) -> A {
        state.step += 1;
        A::from_f64(self.lr)
    }

    fn element<A: Float>(lr: &A, p: &mut A, g: A, state: SinkStateElem<'_, A>) {
        *state.buffer = g;
        if let Some(m) = state.maybe {
            *m = g;
        }
        *p = *p - *lr * g;
    }
}

fn main() {
    let p = Param::new(optimizers::ndarray::array![1.0f32]);
    let options = SinkConfig::new().lr(0.1).clip(1.0).schedule(Schedule::Cosine).momentum(0.5f32);
    let mut opt = Sink::new([p.clone()], options).expect("valid");
    p.set_grad(optimizers::ndarray::array![1.0f32]).expect("shape");
    opt.step().expect("step");
    let sd = opt.state_dict();
    assert_eq!(sd.kind.as_deref(), Some("kitchen_sink"));
    assert_eq!(sd.version, Some(3));
    assert_eq!(opt.hyperparameters(0).expect("group").warmup, 10);
    assert!(sd.param_groups[0].options.get("schedule_fn").is_some());
    assert_eq!(sd.state[&0].keys().collect::<Vec<_>>(), ["step", "buffer"]);
}
