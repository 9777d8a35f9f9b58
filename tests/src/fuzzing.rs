//! Optimizers to fuzz `load_state_dict` against, and the properties every input must keep:
//! shared by the mutation test (`tests/tests/mutation.rs`) and the `cargo fuzz` target
//! (`fuzz/`), so that the target's logic is itself tested by `cargo test`.
//!
//! For any text, read with `StateDict::from_json` and loaded into each subject:
//! nothing panics; a load that fails changes nothing observable ([`Snapshot`]); a load that
//! succeeds leaves an optimizer that steps without panicking and whose state dict saves and
//! loads again.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{
    Adam, AdamOptions, AdamW, AdamWOptions, Error, Float, Lbfgs, LbfgsOptions, LineSearch, Optimizer, Param,
    ParamGroup, Rule, Sgd, SgdOptions, StateDict,
};

use crate::snapshot::Snapshot;

/// An optimizer under test: it can be snapshotted, loaded from JSON and stepped.
pub trait Subject {
    /// Everything observable about it.
    fn snapshot(&self) -> Snapshot;
    /// Its state dict as JSON.
    fn json(&self) -> String;
    /// `StateDict::from_json` then `load_state_dict`.
    fn load(&mut self, text: &str) -> Result<(), Error>;
    /// One step with deterministic gradients (for LBFGS: a bounded step on a quadratic).
    fn step(&mut self) -> Result<(), Error>;
}

fn set_grads<A: Float>(params: &[Param<A>], step: usize, skip: Option<usize>) {
    for (k, p) in params.iter().enumerate() {
        if Some(k) == skip {
            p.zero_grad(true);
            continue;
        }
        let g: Vec<A> = (0..p.numel())
            .map(|i| A::from_f64(((i * 5 + k * 3 + step * 7) % 13) as f64 / 13.0 - 0.45))
            .collect();
        p.set_grad_from_slice(&g).expect("a gradient of the parameter's length");
    }
}

/// Builds a fresh subject.
pub type Maker = fn() -> Box<dyn Subject>;

/// SGD, Adam and AdamW.
pub struct Elementwise<R: Rule, A: Float> {
    opt: Optimizer<R, A>,
    params: Vec<Param<A>>,
    steps: usize,
}

impl<R: Rule, A: Float> Subject for Elementwise<R, A>
where
    R::State<A>: Debug,
{
    fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.opt)
    }
    fn json(&self) -> String {
        self.opt.state_dict().to_json()
    }
    fn load(&mut self, text: &str) -> Result<(), Error> {
        self.opt.load_state_dict(&StateDict::from_json(text)?)
    }
    fn step(&mut self) -> Result<(), Error> {
        self.steps += 1;
        set_grads(&self.params, self.steps, None);
        self.opt.step()
    }
}

/// LBFGS, stepped on a quadratic.
pub struct LbfgsSubject<A: Float> {
    opt: Optimizer<Lbfgs, A>,
    params: Vec<Param<A>>,
}

/// `f(x) = Σ (i + 1) (xᵢ − 0.5)²`, all parameters as one flat vector.
fn quadratic<A: Float>(params: &[Param<A>]) -> f64 {
    let mut loss = 0.0;
    let mut i = 0usize;
    for p in params {
        let grad = p.value().mapv(|x| {
            i += 1;
            let (c, d) = (i as f64, x.as_f64() - 0.5);
            loss += c * d * d;
            A::from_f64(2.0 * c * d)
        });
        p.set_grad(grad).expect("the parameter's shape");
    }
    loss
}

impl<A: Float> Subject for LbfgsSubject<A> {
    fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.opt)
    }
    fn json(&self) -> String {
        self.opt.state_dict().to_json()
    }
    fn load(&mut self, text: &str) -> Result<(), Error> {
        self.opt.load_state_dict(&StateDict::from_json(text)?)
    }
    fn step(&mut self) -> Result<(), Error> {
        // The options loaded may ask for a practically endless step (max_iter = 2⁶², zero
        // tolerances): that is what they say, not a fault, so bound the step here.
        let o = self.opt.hyperparameters(0)?;
        let (max_iter, max_eval) = (o.max_iter.min(25), o.max_eval.min(30));
        self.opt.set_option(0, "max_iter", max_iter as i64)?;
        self.opt.set_option(0, "max_eval", max_eval as i64)?;
        let params = self.params.clone();
        match self.opt.step_with(|| quadratic(&params)) {
            // the documented outcome of a loaded state that drives the iterate to inf/NaN
            Err(Error::NonFiniteClosure { .. }) => Ok(()),
            other => other.map(drop),
        }
    }
}

fn array<A: Float>(shape: &[usize], seed: usize) -> ArrayD<A> {
    let n = shape.iter().product();
    let v = (0..n)
        .map(|i| A::from_f64(((i * 37 + seed * 11) % 17) as f64 / 8.0 - 1.0))
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("the data fits")
}

fn params<A: Float>(shapes: &[&[usize]], named: bool) -> Vec<Param<A>> {
    shapes
        .iter()
        .enumerate()
        .map(|(k, s)| {
            if named {
                Param::named(format!("layer{k}.weight"), array(s, k))
            } else {
                Param::new(array(s, k))
            }
        })
        .collect()
}

/// Steps an elementwise optimizer three times, one parameter missing its gradient once.
fn trained<R: Rule, A: Float>(opt: Optimizer<R, A>, params: Vec<Param<A>>) -> Elementwise<R, A> {
    let mut s = Elementwise { opt, params, steps: 0 };
    for step in 0..3 {
        set_grads(&s.params, step, (step == 1).then_some(s.params.len() - 1));
        s.opt.step().expect("a valid step");
    }
    s.steps = 3;
    s
}

fn lbfgs<A: Float>(options: LbfgsOptions, named: bool) -> LbfgsSubject<A> {
    let params = params::<A>(&[&[3], &[2, 2]], named);
    let opt = Lbfgs::new(params.clone(), options).expect("valid");
    let mut s = LbfgsSubject { opt, params };
    for _ in 0..3 {
        let params = s.params.clone();
        s.opt.step_with(|| quadratic(&params)).expect("a valid step");
    }
    s
}

/// The subjects by name, each built fresh by its function: every bundled optimizer, after
/// a few steps, with named and unnamed parameters, in f32 and f64, in one and two groups.
pub fn subjects() -> Vec<(&'static str, Maker)> {
    vec![
        ("sgd-nesterov-2-groups", || {
            let p = params::<f64>(&[&[2, 3], &[4], &[]], false);
            let opt = Sgd::with_groups(
                [
                    ParamGroup::new([p[0].clone(), p[1].clone()]),
                    ParamGroup::new([p[2].clone()]).options(SgdOptions::new().lr(0.01).momentum(0.5)),
                ],
                SgdOptions::new()
                    .lr(0.1)
                    .momentum(0.9)
                    .nesterov(true)
                    .weight_decay(1e-3),
            )
            .expect("valid");
            Box::new(trained(opt, p))
        }),
        ("sgd-plain-f32-named", || {
            let p = params::<f32>(&[&[3], &[1, 2]], true);
            Box::new(trained(
                Sgd::new(p.clone(), SgdOptions::new().lr(0.1)).expect("valid"),
                p,
            ))
        }),
        ("adam-amsgrad-named-2-groups", || {
            let p = params::<f64>(&[&[2, 2], &[3], &[1]], true);
            let opt = Adam::with_groups(
                [
                    ParamGroup::new([p[0].clone()]),
                    ParamGroup::new([p[1].clone(), p[2].clone()]).options(AdamOptions::new().lr(1e-2)),
                ],
                AdamOptions::new().amsgrad(true).weight_decay(1e-2),
            )
            .expect("valid");
            Box::new(trained(opt, p))
        }),
        ("adamw-f32", || {
            let p = params::<f32>(&[&[2, 1, 2], &[2]], false);
            Box::new(trained(
                AdamW::new(p.clone(), AdamWOptions::new().maximize(true)).expect("valid"),
                p,
            ))
        }),
        ("lbfgs-strong-wolfe", || {
            let o = LbfgsOptions::new()
                .line_search_fn(LineSearch::StrongWolfe)
                .history_size(3)
                .max_iter(4);
            Box::new(lbfgs::<f64>(o, false))
        }),
        ("lbfgs-f32-named", || {
            Box::new(lbfgs::<f32>(LbfgsOptions::new().history_size(2).max_iter(3), true))
        }),
    ]
}

/// What one input did to a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The load failed, and changed nothing.
    Rejected,
    /// The load succeeded; the optimizer then stepped, and its state dict saved and loaded.
    Accepted,
}

fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Loads `text` into `subject` (built by `make`) and checks the properties; `Err` says which
/// one failed. After `Accepted` the subject has changed: build a fresh one.
pub fn check(subject: &mut dyn Subject, make: Maker, text: &str) -> Result<Outcome, String> {
    let before = subject.snapshot();
    match catch_unwind(AssertUnwindSafe(|| subject.load(text))) {
        Err(panic) => Err(format!("load panicked: {}", panic_text(panic))),
        Ok(Err(e)) => {
            let message = e.to_string();
            if message.is_empty() {
                return Err(format!("an error without a message: {e:?}"));
            }
            match before.difference(&subject.snapshot()) {
                Some(diff) => Err(format!("the failed load ({message}) changed the optimizer: {diff}")),
                None => Ok(Outcome::Rejected),
            }
        }
        Ok(Ok(())) => {
            match catch_unwind(AssertUnwindSafe(|| subject.step())) {
                Err(panic) => return Err(format!("a step after the load panicked: {}", panic_text(panic))),
                Ok(Err(e)) => return Err(format!("a step after the load failed: {e}")),
                Ok(Ok(())) => {}
            }
            let saved = subject.json();
            let mut again = make();
            match catch_unwind(AssertUnwindSafe(|| again.load(&saved))) {
                Ok(Ok(())) => Ok(Outcome::Accepted),
                Ok(Err(e)) => Err(format!("its state dict after a step does not load: {e}")),
                Err(panic) => Err(format!("reloading panicked: {}", panic_text(panic))),
            }
        }
    }
}

/// The `cargo fuzz` entry point: checks arbitrary bytes against every subject, panicking
/// with the subject and the property that failed.
pub fn fuzz_load_state_dict(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Most inputs are not state dicts: reject those once, before building subjects.
    if StateDict::from_json(text).is_err() {
        return;
    }
    for (name, make) in subjects() {
        let mut subject = make();
        if let Err(problem) = check(subject.as_mut(), make, text) {
            panic!("{name}: {problem}");
        }
    }
}
