//! Two schedules torch does not ship, as the chapter "Learning-rate schedules" writes them:
//! warmup-stable-decay, the schedule of recent LLM training runs, and the inverse square
//! root of the original Transformer.

// ANCHOR: wsd
use optimizers::Result;
use optimizers::lr_scheduler::{Schedule, Values};

/// Warmup-stable-decay (Hu et al., 2024; Hägele et al., 2024): a linear warmup to the base
/// lr, a long stable phase at it, then a short "1 − sqrt" decay to `min_factor` of it.
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "wsd")]
pub struct WarmupStableDecay {
    /// Steps of linear warmup.
    #[hyper(default = 0)]
    pub warmup: u64,
    /// Steps at the base lr.
    #[hyper(required)]
    pub stable: u64,
    /// Steps of the decay.
    #[hyper(required, range(1.., "the decay takes at least one step, not {decay}"))]
    pub decay: u64,
    /// The final lr, as a fraction of the base lr.
    #[hyper(default = 0.0, range(0.0..=1.0))]
    pub min_factor: f64,
}

impl Schedule for WarmupStableDecay {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let (t, warmup, stable) = (cx.epoch() as f64, self.warmup as f64, self.stable as f64);
        let factor = if t < warmup {
            (t + 1.0) / warmup
        } else {
            let done = ((t - warmup - stable) / self.decay as f64).clamp(0.0, 1.0);
            self.min_factor + (1.0 - self.min_factor) * (1.0 - done.sqrt())
        };
        Ok(cx.map_base(|_, base| base * factor))
    }
}
// ANCHOR_END: wsd

// ANCHOR: inverse_sqrt
/// The inverse square root of the step (Vaswani et al., 2017): a linear warmup over
/// `warmup_steps`, then `lr ∝ 1/√step`, continuous where they meet.
#[derive(Clone, Debug, PartialEq, Schedule)]
#[schedule(kind = "inverse_sqrt")]
pub struct InverseSqrt {
    /// Steps of linear warmup.
    #[hyper(required, range(1.., "warmup_steps must be at least 1, not {warmup_steps}"))]
    pub warmup_steps: u64,
}

impl Schedule for InverseSqrt {
    fn values(&self, _: &(), cx: &mut Values<'_>) -> Result<Vec<f64>> {
        let (step, warmup) = ((cx.epoch() + 1) as f64, self.warmup_steps as f64);
        let factor = (step / warmup).min((warmup / step).sqrt());
        Ok(cx.map_base(|_, base| base * factor))
    }
}
// ANCHOR_END: inverse_sqrt
