//! One optimizer that uses every key of `#[derive(Optimizer)]` and `#[derive(State)]`,
//! for the derive reference. Its update is a plain gradient step; what matters is what the
//! derives generate from it (see `tests/reference.rs`).

// ANCHOR: optimizer
use optimizers::ndarray::ArrayD;
use optimizers::{Elementwise, Float, Optimizer, OptionValue, State};

/// How the learning rate changes over a parameter's steps: an option of a type of ours,
/// written in state dicts as `"constant"` or `"linear"`.
#[derive(Clone, Copy, Debug, PartialEq, OptionValue)]
pub enum Warmup {
    /// The same learning rate at every step.
    Constant,
    /// The learning rate grows linearly to its value over `warmup_steps` steps.
    Linear,
}

/// Gradient descent with an optional warm-up and an optional gradient clip.
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(
    kind = "warmup_sgd",              // the name in state dicts (default: "warmupsgd")
    state = WarmupState,              // a struct with #[derive(State)], or ()
    update = elementwise,             // or per_tensor, or closure
    options = WarmupConfig,           // the options struct's name (default: WarmupSgdOptions)
    version = 2,                      // the state-dict format version (default: 1)
    check(warmup == Warmup::Constant || warmup_steps > 0, "a linear warm-up needs warmup_steps > 0")
)]
pub struct WarmupSgd {
    /// Learning rate, which every group must set.
    #[hyper(required, check(lr >= 0.0, "invalid learning rate: {lr}"))]
    pub lr: f64,
    /// The warm-up schedule, `"schedule"` in state dicts.
    #[hyper(default = Warmup::Constant, rename = "schedule")]
    pub warmup: Warmup,
    /// The planned length of the run, in steps.
    #[hyper(default = 100)]
    pub total_steps: u64,
    /// How many steps the warm-up lasts: by default a tenth of the run, a default
    /// computed from an option declared before it.
    #[hyper(default = total_steps / 10, check = warmup_steps <= total_steps)]
    pub warmup_steps: u64,
    /// An `Option` field: no default needed, `None` unless set.
    #[hyper(check(clip.is_none_or(|c| c > 0.0), "invalid clip: {clip:?} (must be above 0)"))]
    pub clip: Option<f64>,
}

/// Its state: a count, a parameter-shaped tensor, a renamed one that may be absent, and a
/// working buffer that is not saved.
#[derive(State)]
pub struct WarmupState<A: Float> {
    /// Steps taken.
    pub step: u64,
    /// The last update, parameter-shaped.
    pub last_update: ArrayD<A>,
    /// The gradient before clipping, while `clip` is set; `"raw_grad"` in state dicts.
    #[state(rename = "raw_grad")]
    pub unclipped: Option<ArrayD<A>>,
    /// Not saved: starts as `Default::default()` and is left out of state dicts.
    #[state(skip)]
    pub scratch: Vec<A>,
}
// ANCHOR_END: optimizer

/// The scalars of one step: the learning rate after warm-up, and the clip.
#[derive(Clone, Copy, Debug)]
pub struct WarmupScalars<A> {
    /// This step's learning rate.
    pub lr: A,
    /// The clip, if any.
    pub clip: Option<A>,
}

impl Elementwise for WarmupSgd {
    type Scalars<A: Float> = WarmupScalars<A>;

    fn prepare<A: Float>(&self, state: &mut WarmupState<A>, shape: &[usize]) -> WarmupScalars<A> {
        state.step += 1;
        let factor = match self.warmup {
            Warmup::Linear if state.step < self.warmup_steps => state.step as f64 / self.warmup_steps as f64,
            _ => 1.0,
        };
        match self.clip {
            Some(_) if state.unclipped.is_none() => state.unclipped = Some(ArrayD::zeros(shape)),
            None => state.unclipped = None,
            Some(_) => {}
        }
        WarmupScalars {
            lr: A::from_f64(self.lr * factor),
            clip: self.clip.map(A::from_f64),
        }
    }

    fn element<A: Float>(s: &WarmupScalars<A>, p: &mut A, g: A, state: WarmupStateElem<'_, A>) {
        if let Some(raw) = state.unclipped {
            *raw = g;
        }
        let g = match s.clip {
            Some(c) => g.max(-c).min(c),
            None => g,
        };
        *state.last_update = -s.lr * g;
        *p += *state.last_update;
    }
}
