//! A parallel step, and the step of every instruction-set path, are bit-identical to the
//! single-threaded baseline step, for every bundled elementwise optimizer, in f32 and f64,
//! on tensors large enough to be split into chunks and on many small ones.

use optimizers::isa::Isa;
use optimizers::ndarray::ArrayD;
use optimizers::parallel::PARALLEL_CHUNK;
use optimizers::rayon;
use optimizers::{
    Adadelta, AdadeltaOptions, Adagrad, AdagradOptions, Adam, AdamOptions, AdamW, AdamWOptions, Adamax, AdamaxOptions,
    Asgd, AsgdOptions, DynOptimizer, Float, NAdam, NAdamOptions, Optimizer, Param, RAdam, RAdamOptions, Rule, Sgd,
    SgdOptions,
};

/// Parameters of several sizes: two split into chunks (one not a multiple of 64),
/// some small ones, a scalar.
fn params<A: Float>() -> Vec<Param<A>> {
    [2 * PARALLEL_CHUNK + 37, 3000, 1, 64, PARALLEL_CHUNK + 64]
        .into_iter()
        .enumerate()
        .map(|(t, n)| {
            let v: Vec<A> = (0..n)
                .map(|i| A::from_f64(((i * 31 + t * 7) % 1009) as f64 / 1009.0 - 0.5))
                .collect();
            Param::new(ArrayD::from_shape_vec(vec![n], v).expect("length"))
        })
        .collect()
}

fn set_grads<A: Float>(params: &[Param<A>], step: usize) {
    for (t, p) in params.iter().enumerate() {
        let g: Vec<A> = (0..p.numel())
            .map(|i| A::from_f64((((i + step * 131) * 17 + t) % 997) as f64 / 997.0 * 0.2 - 0.1))
            .collect();
        p.set_grad_from_slice(&g).expect("length");
    }
}

fn bits<A: Float>(params: &[Param<A>]) -> Vec<u64> {
    params
        .iter()
        .flat_map(|p| p.value().iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>())
        .collect()
}

/// Runs `steps` steps with `configure` applied; returns the parameters' bits and the state
/// dict.
fn run<R: Rule, A: Float>(
    steps: usize,
    make: impl Fn(Vec<Param<A>>) -> Optimizer<R, A>,
    configure: impl Fn(&mut Optimizer<R, A>),
) -> (Vec<u64>, String) {
    let ps = params::<A>();
    let mut opt = make(ps.clone());
    configure(&mut opt);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().expect("pool");
    pool.install(|| {
        for s in 0..steps {
            set_grads(&ps, s);
            opt.step().expect("step");
        }
    });
    (bits(&ps), opt.state_dict().to_json())
}

fn check<R: Rule, A: Float>(name: &str, make: impl Fn(Vec<Param<A>>) -> Optimizer<R, A> + Copy) {
    check_steps(name, 4, make);
}

/// [`check`] over `steps` steps.
fn check_steps<R: Rule, A: Float>(name: &str, steps: usize, make: impl Fn(Vec<Param<A>>) -> Optimizer<R, A> + Copy) {
    let reference = run(steps, make, |o| {
        o.set_parallel(false);
        o.set_isa(Isa::baseline());
    });
    let parallel = run(steps, make, |o| o.set_parallel(true));
    assert!(
        parallel == reference,
        "{name}: the parallel step differs from the sequential baseline"
    );
    for isa in Isa::available() {
        let result = run(steps, make, |o| {
            o.set_parallel(false);
            o.set_isa(isa);
        });
        assert!(
            result == reference,
            "{name}: the {isa:?} path differs from the baseline"
        );
    }
}

fn all<A: Float>() {
    check("sgd", |p: Vec<Param<A>>| {
        Sgd::new(p, SgdOptions::new().lr(0.1)).expect("valid")
    });
    check("sgd momentum", |p: Vec<Param<A>>| {
        Sgd::new(p, SgdOptions::new().lr(0.1).momentum(0.9).dampening(0.1)).expect("valid")
    });
    check("sgd nesterov", |p: Vec<Param<A>>| {
        Sgd::new(
            p,
            SgdOptions::new()
                .lr(0.1)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(1e-2)
                .maximize(true),
        )
        .expect("valid")
    });
    check("adam", |p: Vec<Param<A>>| {
        Adam::new(p, AdamOptions::new().lr(1e-2).weight_decay(1e-3)).expect("valid")
    });
    check("adam amsgrad", |p: Vec<Param<A>>| {
        Adam::new(p, AdamOptions::new().amsgrad(true).maximize(true)).expect("valid")
    });
    check("adamw", |p: Vec<Param<A>>| {
        AdamW::new(p, AdamWOptions::new().amsgrad(true)).expect("valid")
    });
    check("adadelta", |p: Vec<Param<A>>| {
        Adadelta::new(p, AdadeltaOptions::new().weight_decay(1e-2).maximize(true)).expect("valid")
    });
    check("adagrad", |p: Vec<Param<A>>| {
        let options = AdagradOptions::new().lr_decay(1e-2).initial_accumulator_value(0.1);
        Adagrad::new(p, options.weight_decay(1e-3)).expect("valid")
    });
    check("adamax", |p: Vec<Param<A>>| {
        // beta1 0.3: torch's lerp takes its second branch.
        Adamax::new(p, AdamaxOptions::new().betas((0.3, 0.9)).weight_decay(1e-2)).expect("valid")
    });
    check("asgd", |p: Vec<Param<A>>| {
        // t0 1: averaging from the fourth step.
        Asgd::new(p, AsgdOptions::new().lambd(1e-2).t0(1.0).weight_decay(1e-3)).expect("valid")
    });
    check("nadam", |p: Vec<Param<A>>| {
        let options = NAdamOptions::new().lr(1e-2).momentum_decay(0.1).weight_decay(1e-2);
        NAdam::new(p, options.decoupled_weight_decay(true)).expect("valid")
    });
    // Seven steps: the sixth is RAdam's first rectified one.
    check_steps("radam", 7, |p: Vec<Param<A>>| {
        RAdam::new(p, RAdamOptions::new().lr(1e-2).weight_decay(1e-2).maximize(true)).expect("valid")
    });
}

#[test]
fn parallel_and_every_instruction_set_are_bit_identical_f32() {
    all::<f32>();
}

#[test]
fn parallel_and_every_instruction_set_are_bit_identical_f64() {
    all::<f64>();
}

#[test]
fn the_parallel_step_can_be_turned_off_through_the_dyn_trait() {
    let ps = params::<f32>();
    let mut opt: Box<dyn DynOptimizer<f32>> = Box::new(Adam::new(ps, AdamOptions::new()).expect("valid"));
    opt.set_parallel(false);
    opt.step().expect("a step without gradients is fine");
}
