//! Update rules written by hand against optim-core's traits, exactly as
//! `#[derive(Optimizer)]` and `#[derive(State)]` expand them, so that the machinery is
//! tested on its own.
#![allow(dead_code)]
// Generated code clones generically and negates checks literally; written by hand, clippy
// notices. (It does not lint the expansion of a derive.)
#![allow(
    clippy::clone_on_copy,
    clippy::nonminimal_bool,
    clippy::neg_cmp_op_on_partial_ord,
    clippy::collapsible_if
)]

use optim_core::__private_0_1::{
    ClosureDriver, ElementwiseDriver, PerTensorDriver, Slices, check_option_keys, check_state_keys, option_type_error,
    tensor_slice_mut,
};
use optim_core::ndarray::{Array1, ArrayD, ArrayViewD, ArrayViewMutD};
use optim_core::{
    ClosureRule, Elementwise, Error, Float, Hyperparameters, Map, OptionValue, PerTensor, Problem, Result, Rule, Scope,
    ShapeCtx, State, StateError, StateField,
};

/// One option read from a map, as the derive's generated `options_from_map` reads it.
fn read_option<T: OptionValue>(map: &Map<'_>, key: &str, scope: Scope) -> Result<Option<T>> {
    match map.get(key) {
        None => Ok(None),
        Some(value) => T::from_value(value)
            .map(Some)
            .ok_or_else(|| option_type_error(scope, key, T::expected(), value)),
    }
}

/// One state field read from an entry, as the derive's generated `unpack` reads it.
fn unpack_field<A: Float, T: StateField<A>>(entry: &Map<'_>, key: &str, ctx: &ShapeCtx<'_>) -> Result<T, StateError> {
    T::unpack(entry.get(key), ctx).map_err(|error| StateError {
        key: key.to_string(),
        error,
    })
}

// ----- Momentum: an elementwise rule with a required option and a cross-option check ------

/// Heavy-ball SGD: `lr` is required, `nesterov` needs `momentum > 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MomentumOptions {
    pub lr: Option<f64>,
    pub momentum: Option<f64>,
    pub weight_decay: Option<f64>,
    pub nesterov: Option<bool>,
}

impl MomentumOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = Some(v);
        self
    }
    pub fn momentum(mut self, v: f64) -> Self {
        self.momentum = Some(v);
        self
    }
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = Some(v);
        self
    }
    pub fn nesterov(mut self, v: bool) -> Self {
        self.nesterov = Some(v);
        self
    }
}

impl Hyperparameters for Momentum {
    type Options = MomentumOptions;
    const KIND: &'static str = "momentum";
    const VERSION: u32 = 1;
    const OPTION_NAMES: &'static [&'static str] = &["lr", "momentum", "weight_decay", "nesterov"];

    fn defaults(given: &MomentumOptions) -> MomentumOptions {
        MomentumOptions {
            lr: given.lr.clone(),
            momentum: given.momentum.clone().or(Some(0.0)),
            weight_decay: given.weight_decay.clone().or(Some(0.0)),
            nesterov: given.nesterov.clone().or(Some(false)),
        }
    }
    fn overlay(base: &mut MomentumOptions, top: &MomentumOptions) {
        if let Some(v) = &top.lr {
            base.lr = Some(v.clone());
        }
        if let Some(v) = &top.momentum {
            base.momentum = Some(v.clone());
        }
        if let Some(v) = &top.weight_decay {
            base.weight_decay = Some(v.clone());
        }
        if let Some(v) = &top.nesterov {
            base.nesterov = Some(v.clone());
        }
    }
    fn complete(o: &MomentumOptions) -> Result<Self, &'static str> {
        Ok(Momentum {
            lr: o.lr.clone().ok_or("lr")?,
            momentum: o.momentum.clone().ok_or("momentum")?,
            weight_decay: o.weight_decay.clone().ok_or("weight_decay")?,
            nesterov: o.nesterov.clone().ok_or("nesterov")?,
        })
    }
    fn to_options(&self) -> MomentumOptions {
        MomentumOptions {
            lr: Some(self.lr.clone()),
            momentum: Some(self.momentum.clone()),
            weight_decay: Some(self.weight_decay.clone()),
            nesterov: Some(self.nesterov.clone()),
        }
    }
    fn validate(&self, scope: Scope) -> Result<()> {
        Self::validate_present(&self.to_options(), scope)?;
        let (momentum, nesterov) = (self.momentum.clone(), self.nesterov.clone());
        if !(!nesterov || momentum > 0.0) {
            return Err(Error::InvalidOptions {
                scope,
                message: "nesterov momentum requires a momentum".to_string(),
            });
        }
        Ok(())
    }
    fn validate_present(o: &MomentumOptions, scope: Scope) -> Result<()> {
        if let Some(lr) = o.lr.clone() {
            if !(lr >= 0.0) {
                return Err(Error::InvalidOption {
                    scope,
                    option: "lr",
                    message: format!("invalid learning rate: {lr}"),
                });
            }
        }
        if let Some(momentum) = o.momentum.clone() {
            if !(momentum >= 0.0) {
                return Err(Error::InvalidOption {
                    scope,
                    option: "momentum",
                    message: format!("invalid momentum value: {momentum}"),
                });
            }
        }
        if let Some(weight_decay) = o.weight_decay.clone() {
            if !(weight_decay >= 0.0) {
                return Err(Error::InvalidOption {
                    scope,
                    option: "weight_decay",
                    message: format!("invalid weight_decay value: {weight_decay}"),
                });
            }
        }
        Ok(())
    }
    fn to_map(&self) -> Map<'static> {
        let mut m = Map::new();
        m.insert("lr", self.lr.to_value());
        m.insert("momentum", self.momentum.to_value());
        m.insert("weight_decay", self.weight_decay.to_value());
        m.insert("nesterov", self.nesterov.to_value());
        m
    }
    fn options_from_map(map: &Map<'_>, scope: Scope) -> Result<MomentumOptions> {
        check_option_keys::<Self>(map, scope)?;
        Ok(MomentumOptions {
            lr: read_option(map, "lr", scope)?,
            momentum: read_option(map, "momentum", scope)?,
            weight_decay: read_option(map, "weight_decay", scope)?,
            nesterov: read_option(map, "nesterov", scope)?,
        })
    }
}

impl Rule for Momentum {
    type State<A: Float> = MomentumState<A>;
    type Driver = ElementwiseDriver;
}

impl Momentum {
    pub fn new<A: Float>(
        params: impl IntoIterator<Item = Param<A>>,
        options: MomentumOptions,
    ) -> Result<Optimizer<Self, A>> {
        Optimizer::new(params, options)
    }
    pub fn with_groups<A: Float>(
        groups: impl IntoIterator<Item = optim_core::ParamGroup<MomentumOptions, A>>,
        options: MomentumOptions,
    ) -> Result<Optimizer<Self, A>> {
        Optimizer::with_groups(groups, options)
    }
}

/// `step` counts steps; `momentum_buffer` exists once momentum is used.
#[derive(Clone, Debug, PartialEq)]
pub struct MomentumState<A: Float> {
    pub step: u64,
    pub momentum_buffer: Option<ArrayD<A>>,
}

pub struct MomentumStateElem<'a, A> {
    pub momentum_buffer: Option<&'a mut A>,
}

pub struct MomentumStateSlices<'a, A> {
    pub momentum_buffer: Option<&'a mut [A]>,
}

impl<A: Float> State<A> for MomentumState<A> {
    fn keys() -> Vec<&'static str> {
        vec!["step", "momentum_buffer"]
    }
    type Elem<'a> = MomentumStateElem<'a, A>;
    type Slices<'a> = MomentumStateSlices<'a, A>;

    fn init(ctx: &ShapeCtx<'_>) -> Self {
        MomentumState {
            step: StateField::<A>::init(ctx),
            momentum_buffer: StateField::<A>::init(ctx),
        }
    }
    fn pack(&self) -> Map<'_> {
        let mut m = Map::new();
        if let Some(v) = StateField::<A>::pack(&self.step) {
            m.insert("step", v);
        }
        if let Some(v) = StateField::<A>::pack(&self.momentum_buffer) {
            m.insert("momentum_buffer", v);
        }
        m
    }
    fn unpack(entry: &Map<'_>, ctx: &ShapeCtx<'_>) -> Result<Self, StateError> {
        check_state_keys(entry, &Self::keys())?;
        Ok(MomentumState {
            step: unpack_field::<A, _>(entry, "step", ctx)?,
            momentum_buffer: unpack_field::<A, _>(entry, "momentum_buffer", ctx)?,
        })
    }
    fn slices(&mut self) -> MomentumStateSlices<'_, A> {
        MomentumStateSlices {
            momentum_buffer: self.momentum_buffer.as_mut().map(tensor_slice_mut),
        }
    }
}

impl<'a, A: Float> Slices<'a, A> for MomentumStateSlices<'a, A> {
    type Elem = MomentumStateElem<'a, A>;

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a0, a1) = match self.momentum_buffer {
            Some(s) => {
                let (x, y) = s.split_at_mut(mid);
                (Some(x), Some(y))
            }
            None => (None, None),
        };
        (
            MomentumStateSlices { momentum_buffer: a0 },
            MomentumStateSlices { momentum_buffer: a1 },
        )
    }

    #[inline(always)]
    fn for_each<F: FnMut(&'a mut A, A, Self::Elem)>(self, param: &'a mut [A], grad: &'a [A], mut f: F) {
        let n = param.len();
        let grad = &grad[..n];
        match self.momentum_buffer {
            Some(b) => {
                let b = &mut b[..n];
                for ((p, &g), b) in param.iter_mut().zip(grad).zip(b.iter_mut()) {
                    f(
                        p,
                        g,
                        MomentumStateElem {
                            momentum_buffer: Some(b),
                        },
                    );
                }
            }
            None => {
                for (p, &g) in param.iter_mut().zip(grad) {
                    f(p, g, MomentumStateElem { momentum_buffer: None });
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
pub struct MomentumScalars<A> {
    lr: A,
    momentum: A,
    weight_decay: A,
    nesterov: bool,
    first: bool,
}

impl Elementwise for Momentum {
    type Scalars<A: Float> = MomentumScalars<A>;

    fn prepare<A: Float>(&self, state: &mut MomentumState<A>, shape: &[usize]) -> MomentumScalars<A> {
        state.step += 1;
        let first = self.momentum != 0.0 && state.momentum_buffer.is_none();
        if first {
            state.momentum_buffer = Some(ArrayD::zeros(shape));
        }
        MomentumScalars {
            lr: A::from_f64(self.lr),
            momentum: A::from_f64(self.momentum),
            weight_decay: A::from_f64(self.weight_decay),
            nesterov: self.nesterov,
            first,
        }
    }

    fn element<A: Float>(s: &MomentumScalars<A>, p: &mut A, g: A, st: MomentumStateElem<'_, A>) {
        let mut d = g + s.weight_decay * *p;
        if let Some(b) = st.momentum_buffer {
            *b = if s.first { d } else { s.momentum * *b + d };
            d = if s.nesterov { d + s.momentum * *b } else { *b };
        }
        *p -= s.lr * d;
    }
}

// ----- Normalized: a per-tensor, stateless rule ---------------------------------------------

/// `p -= lr * g / |g|`: needs the whole tensor's norm.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalized {
    pub lr: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NormalizedOptions {
    pub lr: Option<f64>,
}

impl NormalizedOptions {
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = Some(v);
        self
    }
}

impl Hyperparameters for Normalized {
    type Options = NormalizedOptions;
    const KIND: &'static str = "normalized";
    const VERSION: u32 = 1;
    const OPTION_NAMES: &'static [&'static str] = &["lr"];
    fn defaults(given: &NormalizedOptions) -> NormalizedOptions {
        NormalizedOptions {
            lr: given.lr.or(Some(0.1)),
        }
    }
    fn overlay(base: &mut NormalizedOptions, top: &NormalizedOptions) {
        if top.lr.is_some() {
            base.lr = top.lr;
        }
    }
    fn complete(o: &NormalizedOptions) -> Result<Self, &'static str> {
        Ok(Normalized { lr: o.lr.ok_or("lr")? })
    }
    fn to_options(&self) -> NormalizedOptions {
        NormalizedOptions { lr: Some(self.lr) }
    }
    fn validate(&self, scope: Scope) -> Result<()> {
        Self::validate_present(&self.to_options(), scope)
    }
    fn validate_present(_: &NormalizedOptions, _: Scope) -> Result<()> {
        Ok(())
    }
    fn to_map(&self) -> Map<'static> {
        [("lr", self.lr)].into_iter().collect()
    }
    fn options_from_map(map: &Map<'_>, scope: Scope) -> Result<NormalizedOptions> {
        check_option_keys::<Self>(map, scope)?;
        Ok(NormalizedOptions {
            lr: read_option(map, "lr", scope)?,
        })
    }
}

impl Rule for Normalized {
    type State<A: Float> = ();
    type Driver = PerTensorDriver;
}

impl PerTensor for Normalized {
    fn update<A: Float>(&self, mut p: ArrayViewMutD<'_, A>, g: ArrayViewD<'_, A>, _: &mut (), _: optim_core::Isa) {
        let norm = g.iter().map(|x| x.as_f64() * x.as_f64()).sum::<f64>().sqrt();
        if norm > 0.0 {
            let scale = A::from_f64(self.lr / norm);
            p.zip_mut_with(&g, |p, &g| *p -= scale * g);
        }
    }
}

// ----- Backtrack: a closure rule with flat state ---------------------------------------------

/// Gradient descent with backtracking: evaluates the closure several times per step.
#[derive(Clone, Debug, PartialEq)]
pub struct Backtrack {
    pub lr: f64,
    pub max_evals: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BacktrackOptions {
    pub lr: Option<f64>,
    pub max_evals: Option<usize>,
}

impl Hyperparameters for Backtrack {
    type Options = BacktrackOptions;
    const KIND: &'static str = "backtrack";
    const VERSION: u32 = 1;
    const OPTION_NAMES: &'static [&'static str] = &["lr", "max_evals"];
    fn defaults(given: &BacktrackOptions) -> BacktrackOptions {
        BacktrackOptions {
            lr: given.lr.or(Some(1.0)),
            max_evals: given.max_evals.or(Some(10)),
        }
    }
    fn overlay(base: &mut BacktrackOptions, top: &BacktrackOptions) {
        if top.lr.is_some() {
            base.lr = top.lr;
        }
        if top.max_evals.is_some() {
            base.max_evals = top.max_evals;
        }
    }
    fn complete(o: &BacktrackOptions) -> Result<Self, &'static str> {
        Ok(Backtrack {
            lr: o.lr.ok_or("lr")?,
            max_evals: o.max_evals.ok_or("max_evals")?,
        })
    }
    fn to_options(&self) -> BacktrackOptions {
        BacktrackOptions {
            lr: Some(self.lr),
            max_evals: Some(self.max_evals),
        }
    }
    fn validate(&self, scope: Scope) -> Result<()> {
        Self::validate_present(&self.to_options(), scope)
    }
    fn validate_present(o: &BacktrackOptions, scope: Scope) -> Result<()> {
        if o.max_evals == Some(0) {
            return Err(Error::InvalidOption {
                scope,
                option: "max_evals",
                message: "invalid max_evals: 0 (must be at least 1)".into(),
            });
        }
        Ok(())
    }
    fn to_map(&self) -> Map<'static> {
        let mut m = Map::new();
        m.insert("lr", self.lr.to_value());
        m.insert("max_evals", self.max_evals.to_value());
        m
    }
    fn options_from_map(map: &Map<'_>, scope: Scope) -> Result<BacktrackOptions> {
        check_option_keys::<Self>(map, scope)?;
        Ok(BacktrackOptions {
            lr: read_option(map, "lr", scope)?,
            max_evals: read_option(map, "max_evals", scope)?,
        })
    }
}

impl Rule for Backtrack {
    type State<A: Float> = BacktrackState<A>;
    type Driver = ClosureDriver;
}

/// Flat state under parameter 0; `grad` and `x0` are scratch buffers, not saved.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktrackState<A: Float> {
    pub func_evals: u64,
    pub d: Option<Array1<A>>,
    pub t: Option<f64>,
    pub grad: Vec<A>,
    pub x0: Vec<A>,
}

impl<A: Float> State<A> for BacktrackState<A> {
    fn keys() -> Vec<&'static str> {
        vec!["func_evals", "d", "t"]
    }
    type Elem<'a> = ();
    type Slices<'a> = ();
    fn init(ctx: &ShapeCtx<'_>) -> Self {
        BacktrackState {
            func_evals: StateField::<A>::init(ctx),
            d: StateField::<A>::init(ctx),
            t: StateField::<A>::init(ctx),
            grad: Default::default(),
            x0: Default::default(),
        }
    }
    fn pack(&self) -> Map<'_> {
        let mut m = Map::new();
        if let Some(v) = StateField::<A>::pack(&self.func_evals) {
            m.insert("func_evals", v);
        }
        if let Some(v) = StateField::<A>::pack(&self.d) {
            m.insert("d", v);
        }
        if let Some(v) = StateField::<A>::pack(&self.t) {
            m.insert("t", v);
        }
        m
    }
    fn unpack(entry: &Map<'_>, ctx: &ShapeCtx<'_>) -> Result<Self, StateError> {
        check_state_keys(entry, &Self::keys())?;
        Ok(BacktrackState {
            func_evals: unpack_field::<A, _>(entry, "func_evals", ctx)?,
            d: unpack_field::<A, _>(entry, "d", ctx)?,
            t: unpack_field::<A, _>(entry, "t", ctx)?,
            grad: Default::default(),
            x0: Default::default(),
        })
    }
    fn slices(&mut self) {}
}

impl ClosureRule for Backtrack {
    fn step<A: Float>(&self, s: &mut BacktrackState<A>, problem: &mut Problem<'_, A>) -> Result<f64> {
        let n = problem.len();
        s.grad.resize(n, A::zero());
        s.x0.resize(n, A::zero());
        let loss0 = problem.evaluate(&mut s.grad);
        s.func_evals += 1;
        problem.read_params(&mut s.x0);
        let d = s.d.get_or_insert_with(|| Array1::zeros(n));
        d.iter_mut().zip(&s.grad).for_each(|(d, &g)| *d = -g);
        let dir = d.to_vec();
        let mut t = self.lr;
        for _ in 0..self.max_evals {
            problem.add_scaled(t, &dir);
            let loss = problem.evaluate(&mut s.grad);
            s.func_evals += 1;
            if loss < loss0 {
                break;
            }
            problem.write_params(&s.x0);
            t /= 2.0;
        }
        s.t = Some(t);
        Ok(loss0)
    }
}

// ----- helpers ---------------------------------------------------------------------------------

use optim_core::{Optimizer, Param, StateDict};

/// Two f64 parameters of shapes [2, 2] and [3], with distinct values.
pub fn two_params() -> (Param<f64>, Param<f64>) {
    (
        Param::new(optim_core::ndarray::array![[1.0, -2.0], [0.5, 3.0]]),
        Param::new(optim_core::ndarray::array![0.25, -1.0, 2.0]),
    )
}

/// Sets a deterministic gradient on `p` that depends on `step`.
pub fn set_grad<A: Float>(p: &Param<A>, step: usize) {
    let n = p.numel();
    let g: Vec<A> = (0..n)
        .map(|i| A::from_f64(((i as f64 + 1.0) * 0.37 + step as f64 * 0.11).sin()))
        .collect();
    p.set_grad_from_slice(&g).expect("numel elements");
}

/// Everything observable about an optimizer: its state dict as JSON and every value.
pub fn snapshot<R: Rule, A: Float>(opt: &Optimizer<R, A>) -> (String, Vec<Vec<A>>) {
    let values = opt.all_params().map(|p| p.value().iter().copied().collect()).collect();
    (opt.state_dict().to_json(), values)
}

/// Runs `steps` steps with deterministic gradients.
pub fn train<R: Rule, A: Float>(opt: &mut Optimizer<R, A>, from: usize, steps: usize) {
    for s in from..from + steps {
        for p in opt.all_params() {
            set_grad(p, s);
        }
        opt.step().expect("step");
    }
}

/// The state dict after a JSON round trip.
pub fn through_json(sd: &StateDict<'_>) -> StateDict<'static> {
    StateDict::from_json(&sd.to_json()).expect("own JSON parses")
}
