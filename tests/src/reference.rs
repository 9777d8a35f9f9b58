//! Straightforward implementations of torch's SGD and Adam/AdamW updates over plain
//! `Vec<f64>`, written from the formulas of `shared/fixtures/torch/README.md`, to check the
//! optimized library against.

/// SGD's options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdRef {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening.
    pub dampening: f64,
    /// L2 penalty.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Maximize instead of minimize.
    pub maximize: bool,
}

/// One SGD step of one parameter; `buf` is its momentum buffer (created on its first step
/// when momentum is used).
pub fn sgd_step(o: &SgdRef, p: &mut [f64], grad: &[f64], buf: &mut Option<Vec<f64>>) {
    let mut g: Vec<f64> = grad.iter().map(|&g| if o.maximize { -g } else { g }).collect();
    if o.weight_decay != 0.0 {
        for (g, p) in g.iter_mut().zip(p.iter()) {
            *g += o.weight_decay * p;
        }
    }
    if o.momentum != 0.0 {
        match buf {
            None => *buf = Some(g.clone()),
            Some(b) => {
                for (b, g) in b.iter_mut().zip(&g) {
                    *b = o.momentum * *b + (1.0 - o.dampening) * g;
                }
            }
        }
        let b = buf.as_ref().expect("just set");
        for (g, b) in g.iter_mut().zip(b) {
            *g = if o.nesterov { *g + o.momentum * b } else { *b };
        }
    }
    for (p, g) in p.iter_mut().zip(&g) {
        *p -= o.lr * g;
    }
}

/// Adam's and AdamW's options (AdamW is `decoupled: true`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamRef {
    /// Learning rate.
    pub lr: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Weight decay: L2, or decoupled.
    pub weight_decay: f64,
    /// AMSGrad.
    pub amsgrad: bool,
    /// Maximize instead of minimize.
    pub maximize: bool,
    /// Decoupled weight decay (AdamW).
    pub decoupled: bool,
}

/// Adam's per-parameter state.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamRefState {
    /// Steps taken.
    pub step: f64,
    /// First moment.
    pub exp_avg: Vec<f64>,
    /// Second moment.
    pub exp_avg_sq: Vec<f64>,
    /// Running maximum of the second moment, with AMSGrad.
    pub max_exp_avg_sq: Option<Vec<f64>>,
}

/// One Adam step of one parameter; `state` is created on its first step.
pub fn adam_step(o: &AdamRef, p: &mut [f64], grad: &[f64], state: &mut Option<AdamRefState>) {
    let n = p.len();
    let s = state.get_or_insert_with(|| AdamRefState {
        step: 0.0,
        exp_avg: vec![0.0; n],
        exp_avg_sq: vec![0.0; n],
        max_exp_avg_sq: None,
    });
    s.step += 1.0;
    if o.amsgrad && s.max_exp_avg_sq.is_none() {
        s.max_exp_avg_sq = Some(vec![0.0; n]);
    }
    let bias_correction1 = 1.0 - o.beta1.powf(s.step);
    let bias_correction2 = 1.0 - o.beta2.powf(s.step);
    for i in 0..n {
        let mut g = if o.maximize { -grad[i] } else { grad[i] };
        if o.decoupled {
            p[i] *= 1.0 - o.lr * o.weight_decay;
        } else if o.weight_decay != 0.0 {
            g += o.weight_decay * p[i];
        }
        s.exp_avg[i] += (1.0 - o.beta1) * (g - s.exp_avg[i]);
        s.exp_avg_sq[i] = o.beta2 * s.exp_avg_sq[i] + (1.0 - o.beta2) * g * g;
        let v = match &mut s.max_exp_avg_sq {
            Some(m) if o.amsgrad => {
                m[i] = m[i].max(s.exp_avg_sq[i]);
                m[i]
            }
            _ => s.exp_avg_sq[i],
        };
        let denom = v.sqrt() / bias_correction2.sqrt() + o.eps;
        p[i] -= (o.lr / bias_correction1) * s.exp_avg[i] / denom;
    }
}
