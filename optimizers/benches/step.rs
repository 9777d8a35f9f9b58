//! Regression benchmarks of one step on small sizes, where per-tensor overhead and the
//! in-cache kernel dominate (`cargo bench -p optimizers`). The large layouts of the
//! performance chapter are measured by `examples/step_bench.rs`.

use divan::Bencher;
use optimizers::ndarray::ArrayD;
use optimizers::{Adam, AdamOptions, AdamW, AdamWOptions, DynOptimizer, Param, Sgd, SgdOptions};

fn main() {
    divan::main();
}

/// `tensors` parameters of `elems` f32 elements each, with gradients.
fn params(tensors: usize, elems: usize) -> Vec<Param<f32>> {
    (0..tensors)
        .map(|t| {
            let p = Param::new(ArrayD::from_elem(vec![elems], 0.5f32 + t as f32 * 1e-3));
            p.set_grad(ArrayD::from_elem(vec![elems], 0.01f32)).expect("shape");
            p
        })
        .collect()
}

fn build(opt: &str, ps: Vec<Param<f32>>) -> Box<dyn DynOptimizer<f32>> {
    let mut o: Box<dyn DynOptimizer<f32>> = match opt {
        "sgd" => Box::new(Sgd::new(ps, SgdOptions::new().lr(1e-3)).expect("valid")),
        "sgdm" => Box::new(Sgd::new(ps, SgdOptions::new().lr(1e-3).momentum(0.9)).expect("valid")),
        "adam" => Box::new(Adam::new(ps, AdamOptions::new()).expect("valid")),
        _ => Box::new(AdamW::new(ps, AdamWOptions::new()).expect("valid")),
    };
    o.set_parallel(false);
    o
}

/// One tensor of 4096 elements: the in-cache kernel.
#[divan::bench(args = ["sgd", "sgdm", "adam", "adamw"])]
fn one_tensor_4096(bencher: Bencher, opt: &str) {
    let mut o = build(opt, params(1, 4096));
    bencher
        .counter(divan::counter::ItemsCount::new(4096usize))
        .bench_local(|| o.step());
}

/// 1024 tensors of 16 elements: per-tensor overhead.
#[divan::bench(args = ["sgd", "sgdm", "adam", "adamw"])]
fn many_tensors_1024x16(bencher: Bencher, opt: &str) {
    let mut o = build(opt, params(1024, 16));
    bencher
        .counter(divan::counter::ItemsCount::new(1024usize))
        .bench_local(|| o.step());
}
