//! Muon, as `torch.optim.Muon`: momentum, then the Newton–Schulz orthogonalisation of
//! [`crate::newton_schulz`], then a step scaled by the matrix's shape.

use std::cell::RefCell;

use optim_core::isa::Isa;
use optim_core::ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMutD};
use optim_core::{Float, PerTensor};
use optim_derive::{Optimizer, OptionValue, State};

use crate::newton_schulz::{MAX_STEPS_EXCLUSIVE, NewtonSchulz, NsScratch};
use crate::torch_ops::Lerp;

/// How [`Muon`] scales its learning rate by the shape `[A, B]` of a matrix (torch's
/// `adjust_lr_fn`).
///
/// In a state dict: `null` for [`AdjustLr::None`], otherwise torch's string
/// (`"original"`, `"match_rms_adamw"`, `"spectral_unclamped"`); any other value is a type
/// error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, OptionValue)]
pub enum AdjustLr {
    /// torch's `None`: the same as [`AdjustLr::Original`].
    #[default]
    #[option(null)]
    None,
    /// `lr · √max(1, A / B)`: Keller Jordan's original scaling.
    Original,
    /// `lr · 0.2 · √max(A, B)`: an update of about the RMS of AdamW's, so that AdamW's
    /// learning rate and weight decay can be reused (Moonshot AI).
    MatchRmsAdamw,
    /// `lr · √(A / B)`: the spectral-norm scaling without the clamp at 1.
    SpectralUnclamped,
}

impl AdjustLr {
    /// The factor by which the learning rate of a `rows × cols` matrix is multiplied, in
    /// `f64` as torch computes it (Python floats).
    pub fn ratio(self, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        match self {
            AdjustLr::None | AdjustLr::Original => {
                let r = a / b;
                if r > 1.0 { r } else { 1.0 }.sqrt() // Python's max(1, A / B)
            }
            AdjustLr::MatchRmsAdamw => 0.2 * if a > b { a } else { b }.sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        }
    }
}

/// Muon (Keller Jordan et al., 2024): SGD with momentum whose update is orthogonalised,
/// exactly as `torch.optim.Muon` (torch 2.15). For 2-D parameters only (the hidden layers'
/// weight matrices); optimize biases, gains and embeddings with another optimizer, such as
/// [`AdamW`](crate::AdamW).
///
/// For each parameter `p` of shape `[A, B]` with gradient `g` (`b` is `momentum_buffer`,
/// `μ` is `momentum`):
///
/// ```text
/// b ← b + (1 − μ) (g − b)                        (torch's lerp: an EMA, not μ b + g)
/// u ← g + μ (b − g)                              if nesterov (torch's lerp)
/// u ← b                                          otherwise
/// O ← NS(u)                                      bfloat16, see NewtonSchulz
/// lr' ← lr · √max(1, A / B)                      adjust_lr_fn None or "original"
///       lr · 0.2 · √max(A, B)                    "match_rms_adamw"
///       lr · √(A / B)                            "spectral_unclamped"
/// p ← p · (1 − lr · weight_decay)                (the unadjusted lr)
/// p ← p − lr' · O
/// ```
///
/// `NS` is [`NewtonSchulz`] with `ns_coefficients`, `ns_steps` and `eps`: `ns_steps`
/// quintic iterations in bfloat16 that push the singular values of `u / ‖u‖_F` towards 1,
/// bit for bit as torch's CPU kernels compute them. `lr'` and the decay factor are `f64`
/// (Python floats), rounded to the element type where they meet a tensor; `O`'s bfloat16
/// values are exact in `f32` and `f64`.
///
/// | option | default | valid |
/// |---|---|---|
/// | `lr` | 1e-3 | ≥ 0, finite |
/// | `momentum` | 0.95 | ≥ 0, finite |
/// | `weight_decay` | 0.1 | ≥ 0, finite |
/// | `nesterov` | true | |
/// | `ns_coefficients` | (3.4445, -4.775, 2.0315) | |
/// | `eps` | 1e-7 | |
/// | `ns_steps` | 5 | < 100 |
/// | `adjust_lr_fn` | [`AdjustLr::None`] (`null`) | `null`, `"original"`, `"match_rms_adamw"`, `"spectral_unclamped"` |
///
/// Every parameter must be 2-D: the constructor and `add_param_group` refuse any other
/// with [`Error::InvalidParam`](crate::Error::InvalidParam), naming the group and the
/// parameter (torch checks only the constructor's parameters).
///
/// State: `momentum_buffer` (the gradient's shape, zeros at a parameter's first step with
/// a gradient); no `step`.
///
/// Differs from torch: NaN and infinite `lr`, `momentum` and `weight_decay` are refused
/// (torch accepts infinities), with a message of torch's form (`learning rate should be
/// finite but is: inf`); `ns_steps` of 100 or more is refused with the options (torch
/// accepts it there and raises at the first step); `adjust_lr_fn` takes only the values
/// above (torch accepts any string assigned to a group later, and then uses ratio 1). The
/// options are declared, and so written in a state dict's groups, in the order torch checks
/// them: `momentum` before `weight_decay`, where torch's groups list `weight_decay` first
/// (both load either way: entries are found by name).
///
/// ```
/// use optimizers::{Muon, MuonOptions, Param, ParamGroup, ndarray::array};
///
/// let w = Param::named("fc.weight", array![[0.5f32, -1.0, 2.0], [0.25, 1.0, -0.5]]);
/// let mut opt = Muon::new([w.clone()], MuonOptions::new().lr(0.02))?;
/// w.set_grad(w.value().mapv(|x| 2.0 * x))?;
/// opt.step()?;
/// assert_eq!(opt.state(&w).expect("a step was taken").momentum_buffer.shape(), &[2, 3]);
///
/// let bias = Param::named("fc.bias", array![0.0f32, 0.0]);
/// let error = opt.add_param_group(ParamGroup::new([bias])).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     r#"parameter 0 of group 1 ("fc.bias") cannot be optimized by muon: muon only supports 2D parameters whereas we found a parameter with size: [2]"#
/// );
/// # Ok::<(), optimizers::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Optimizer)]
#[optimizer(
    kind = "muon",
    state = MuonState,
    update = per_tensor,
    param_check(
        shape.len() == 2,
        "muon only supports 2D parameters whereas we found a parameter with size: {shape:?}"
    )
)]
// The options are declared in the order torch checks them (`momentum` before
// `weight_decay`); torch's groups list `weight_decay` first.
pub struct Muon {
    /// Learning rate, before the shape adjustment of `adjust_lr_fn`.
    #[hyper(
        default = 1e-3,
        finite("learning rate should be finite but is: {lr:?}"),
        range(0.0.., "learning rate should be >= 0 but is: {lr:?}")
    )]
    pub lr: f64,
    /// The momentum buffer's averaging weight (an EMA: `b ← μ b + (1 − μ) g`).
    #[hyper(
        default = 0.95,
        finite("momentum should be finite but is: {momentum:?}"),
        range(0.0.., "momentum should be >= 0 but is: {momentum:?}")
    )]
    pub momentum: f64,
    /// Decoupled weight decay, scaled by the unadjusted `lr`.
    #[hyper(
        default = 0.1,
        finite("weight decay should be finite but is: {weight_decay:?}"),
        range(0.0.., "weight decay should be >= 0 but is: {weight_decay:?}")
    )]
    pub weight_decay: f64,
    /// Orthogonalise the Nesterov look-ahead `g + μ (b − g)` instead of the buffer.
    #[hyper(default = true)]
    pub nesterov: bool,
    /// The quintic's coefficients `(a, b, c)`.
    #[hyper(default = (3.4445, -4.775, 2.0315))]
    pub ns_coefficients: (f64, f64, f64),
    /// The floor of the Frobenius norm that the orthogonalisation divides by.
    #[hyper(default = 1e-7)]
    pub eps: f64,
    /// The Newton–Schulz iterations per step.
    #[hyper(
        default = 5,
        check(
            ns_steps < MAX_STEPS_EXCLUSIVE,
            "number of steps must be less than 100 for computational efficiency, found ns_steps {ns_steps}"
        )
    )]
    pub ns_steps: usize,
    /// How the learning rate is scaled by the matrix's shape.
    #[hyper(default = AdjustLr::None)]
    pub adjust_lr_fn: AdjustLr,
}

/// Muon's per-parameter state.
#[derive(Clone, Debug, PartialEq, State)]
pub struct MuonState<A: Float> {
    /// The running average of the gradient (torch's `momentum_buffer`).
    pub momentum_buffer: ArrayD<A>,
}

/// The work buffers of one thread's Muon updates, kept between steps: the orthogonalisation's
/// input and output (`f32`) and its scratch.
#[derive(Default)]
struct Work {
    input: Vec<f32>,
    output: Vec<f32>,
    ns: NsScratch,
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

impl Muon {
    /// The orthogonalisation this group's options describe.
    pub fn newton_schulz(&self) -> NewtonSchulz {
        let (a, b, c) = self.ns_coefficients;
        NewtonSchulz {
            coefficients: [a, b, c],
            steps: self.ns_steps,
            eps: self.eps,
        }
    }

    /// The learning rate of a `rows × cols` matrix, `lr · adjust_lr_fn.ratio(rows, cols)`.
    pub fn adjusted_lr(&self, rows: usize, cols: usize) -> f64 {
        self.lr * self.adjust_lr_fn.ratio(rows, cols)
    }

    /// Updates the momentum buffer `b` with `g` and writes the orthogonalisation's input
    /// (the Nesterov look-ahead or `b`) into `input` as `f32`: torch converts an `f64`
    /// input to `f32` before bfloat16, so this loses nothing.
    fn momentum<A: Float>(&self, g: &[A], b: &mut [A], input: &mut [f32]) {
        let ema = Lerp::<A>::new(1.0 - self.momentum);
        let look_ahead = Lerp::<A>::new(self.momentum);
        for ((&g, b), u) in g.iter().zip(b.iter_mut()).zip(input.iter_mut()) {
            *b = ema.apply(*b, g);
            let v = if self.nesterov { look_ahead.apply(g, *b) } else { *b };
            *u = v.as_f64() as f32;
        }
    }
}

impl PerTensor for Muon {
    /// `momentum_buffer` starts at zeros (the derive's default).
    fn update<A: Float>(
        &self,
        mut param: ArrayViewMutD<'_, A>,
        grad: ArrayViewD<'_, A>,
        state: &mut MuonState<A>,
        _isa: Isa,
    ) {
        // `param_check` admits only 2-D parameters, and gradients have their parameter's shape.
        let &[rows, cols] = param.shape() else {
            unreachable!("Muon's param_check admits only 2-D parameters")
        };
        let n = rows * cols;
        // The per-tensor driver passes standard-layout views, and the state is created so.
        let contiguous = "the per-tensor driver passes contiguous tensors";
        let p = param.as_slice_mut().expect(contiguous);
        let g = grad.as_slice().expect(contiguous);
        let b = state.momentum_buffer.as_slice_mut().expect(contiguous);
        let decay = A::from_f64(1.0 - self.lr * self.weight_decay);
        let step = A::from_f64(-self.adjusted_lr(rows, cols));
        WORK.with_borrow_mut(|work| {
            let Work { input, output, ns } = work;
            input.resize(n, 0.0);
            output.resize(n, 0.0);
            self.momentum(g, b, input);
            let u = ArrayView2::from_shape((rows, cols), &input[..n]).expect("n = rows · cols elements");
            let o = ArrayViewMut2::from_shape((rows, cols), &mut output[..n]).expect("n = rows · cols elements");
            // `ns_steps < 100` is a check on the options, and `o` has `u`'s shape: it cannot fail.
            self.newton_schulz()
                .orthogonalize(u, o, ns)
                .expect("the options' check bounds ns_steps, and the output has the input's shape");
            for (p, &o) in p.iter_mut().zip(&output[..n]) {
                *p = *p * decay + step * A::from_f64(f64::from(o));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use optim_core::ndarray::{Array2, array};
    use optim_core::{Optimizer, Param, ParamGroup};

    use super::*;

    fn matrix() -> Param<f32> {
        Param::new(array![[1.0f32, -0.5, 0.25], [0.5, 2.0, -1.0]])
    }

    fn error(options: MuonOptions) -> Option<String> {
        Optimizer::<Muon, f32>::new([matrix()], options)
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn checks_run_in_torchs_order_with_its_messages() {
        let cases = [
            (
                MuonOptions::new().lr(-1.0).momentum(-1.0),
                Some("defaults: learning rate should be >= 0 but is: -1.0"),
            ),
            (
                MuonOptions::new().lr(f64::INFINITY),
                Some("defaults: learning rate should be finite but is: inf"),
            ),
            (
                MuonOptions::new().momentum(-0.5).weight_decay(-1.0),
                Some("defaults: momentum should be >= 0 but is: -0.5"),
            ),
            (
                MuonOptions::new().weight_decay(-1.0).ns_steps(100),
                Some("defaults: weight decay should be >= 0 but is: -1.0"),
            ),
            (
                MuonOptions::new().weight_decay(f64::NAN),
                Some("defaults: weight decay should be finite but is: NaN"),
            ),
            (
                MuonOptions::new().ns_steps(100),
                Some(
                    "defaults: number of steps must be less than 100 for computational efficiency, found ns_steps 100",
                ),
            ),
            (MuonOptions::new().ns_steps(99).momentum(1.5), None),
        ];
        for (options, expected) in cases {
            assert_eq!(error(options.clone()).as_deref(), expected, "{options:?}");
        }
    }

    #[test]
    fn every_parameter_must_be_a_matrix_at_construction_and_when_added() -> optim_core::Result<()> {
        let cube = Param::named("conv", ArrayD::<f32>::zeros(vec![2, 3, 4]));
        let error = Muon::new([matrix(), cube], MuonOptions::new()).expect_err("3-D");
        assert_eq!(
            error.to_string(),
            r#"parameter 1 of group 0 ("conv") cannot be optimized by muon: muon only supports 2D parameters whereas we found a parameter with size: [2, 3, 4]"#
        );
        let mut opt = Muon::new([matrix()], MuonOptions::new())?;
        let scalar = Param::new(ArrayD::<f32>::zeros(vec![]));
        let error = opt
            .add_param_group(ParamGroup::new([matrix(), scalar]))
            .expect_err("0-D");
        assert!(error.to_string().starts_with("parameter 1 of group 1 "), "{error}");
        assert_eq!(opt.num_groups(), 1, "a refused group is not added");
        Ok(())
    }

    #[test]
    fn the_buffer_is_an_ema_and_the_step_uses_the_orthogonalised_look_ahead() -> optim_core::Result<()> {
        let p = matrix();
        let before = p.value().to_owned();
        let options = MuonOptions::new().lr(0.1).momentum(0.5).weight_decay(0.2);
        let mut opt = Muon::new([p.clone()], options)?;
        let g = array![[1.0f32, 2.0, -1.0], [0.5, -0.5, 3.0]];
        p.set_grad(g.clone())?;
        opt.step()?;
        // b = 0 + (1 - 0.5)(g - 0) = g / 2, not 0.5 * 0 + g.
        let buf = &opt.state(&p).expect("created").momentum_buffer;
        assert_eq!(buf, &(&g / 2.0).into_dyn());
        // u = g + 0.5 (b - g) = 0.75 g; the orthogonalisation is scale-invariant up to eps.
        let mut o = Array2::<f32>::zeros((2, 3));
        let u = g.mapv(|x| x * 0.75);
        opt.hyperparameters(0)?
            .newton_schulz()
            .orthogonalize(u.view(), o.view_mut(), &mut NsScratch::new())
            .expect("5 steps");
        // A wide matrix: the ratio is 1, so lr' = lr.
        let expected = (&before * (1.0 - 0.1f32 * 0.2)) - &(o * 0.1f32);
        assert_eq!(p.value().to_owned(), expected.into_dyn());
        Ok(())
    }

    #[test]
    fn the_learning_rate_is_adjusted_by_the_shape() {
        assert_eq!(AdjustLr::None.ratio(8, 2), 2.0);
        assert_eq!(AdjustLr::Original.ratio(2, 8), 1.0);
        assert_eq!(AdjustLr::MatchRmsAdamw.ratio(4, 25), 0.2 * 5.0);
        assert_eq!(AdjustLr::SpectralUnclamped.ratio(2, 8), 0.5);
    }

    #[test]
    fn adjust_lr_fn_is_torchs_string_or_null_in_state_dicts() -> optim_core::Result<()> {
        let mut opt = Muon::new([matrix()], MuonOptions::new())?;
        assert!(opt.state_dict().to_json().contains(r#""adjust_lr_fn":null"#));
        opt.set_option(0, "adjust_lr_fn", "match_rms_adamw")?;
        assert_eq!(opt.hyperparameters(0)?.adjust_lr_fn, AdjustLr::MatchRmsAdamw);
        assert!(
            opt.state_dict()
                .to_json()
                .contains(r#""adjust_lr_fn":"match_rms_adamw""#)
        );
        let error = opt.set_option(0, "adjust_lr_fn", "spectral").expect_err("unknown");
        assert!(error.to_string().contains(r#""spectral_unclamped""#), "{error}");
        Ok(())
    }
}
