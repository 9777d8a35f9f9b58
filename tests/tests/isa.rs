//! Every public way of choosing an instruction set gives one this CPU supports (so that no
//! safe code can run instructions the CPU lacks), and every one gives the same bits.

use optimizers::isa::{Isa, Kernel};
use optimizers::ndarray::Array1;
use optimizers::{Adam, AdamOptions, Lbfgs, LbfgsOptions, LineSearch, Param};

/// What this CPU runs, asked of `std` directly (not through the library).
fn cpu_runs(name: &str) -> bool {
    match name {
        "baseline" => true,
        #[cfg(target_arch = "x86_64")]
        "avx2" => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
        #[cfg(target_arch = "x86_64")]
        "avx512" => {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        _ => false,
    }
}

/// Every `Isa` the public API can produce.
fn every_public_isa() -> Vec<Isa> {
    let mut all = vec![Isa::best(), Isa::baseline()];
    all.extend(Isa::available());
    for name in ["baseline", "avx2", "avx512", "sse2", "neon", "AVX512", ""] {
        all.extend(Isa::from_name(name));
    }
    let w = Param::new(Array1::<f32>::zeros(3));
    let opt = Adam::new([w], AdamOptions::new()).expect("valid");
    all.push(opt.isa());
    all
}

#[test]
fn every_public_way_gives_an_instruction_set_this_cpu_runs() {
    for isa in every_public_isa() {
        assert!(
            cpu_runs(isa.name()),
            "{isa} was handed out but this CPU does not run it"
        );
    }
    // Names the CPU lacks, or that are not names, give nothing.
    for name in ["avx2", "avx512"] {
        assert_eq!(Isa::from_name(name).is_some(), cpu_runs(name), "{name}");
    }
    assert_eq!(Isa::from_name("AVX512"), None);
    assert_eq!(Isa::best(), *Isa::available().last().expect("the baseline at least"));
    assert_eq!(Isa::available()[0], Isa::baseline());
}

/// A sum whose order is spelled out: the same bits on every instruction set.
struct Dot<'a>(&'a [f32], &'a [f32]);

impl Kernel for Dot<'_> {
    type Output = f32;
    #[inline(always)]
    fn run(self) -> f32 {
        let mut lanes = [0.0f32; 8];
        for (i, (a, b)) in self.0.iter().zip(self.1).enumerate() {
            lanes[i % 8] += a * b;
        }
        lanes.iter().sum()
    }
}

#[test]
fn every_instruction_set_gives_the_same_bits() {
    let a: Vec<f32> = (0..1001).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..1001).map(|i| (i as f32 * 0.11).cos()).collect();
    let reference = Isa::baseline().run(Dot(&a, &b)).to_bits();

    let adam = |isa: Isa| {
        let w = Param::new(Array1::from(a.clone()));
        let mut opt = Adam::new([w.clone()], AdamOptions::new().lr(0.01).amsgrad(true)).expect("valid");
        opt.set_isa(isa);
        assert_eq!(opt.isa(), isa);
        for k in 0..5 {
            w.set_grad_from_slice(&b.iter().map(|x| x * k as f32).collect::<Vec<_>>())
                .expect("length");
            opt.step().expect("a step");
        }
        w.to_array().iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    };
    let lbfgs = |isa: Isa| {
        let x = Param::new(Array1::from(vec![-1.2f64, 1.0, -1.2, 1.0, 0.5]));
        let mut opt =
            Lbfgs::new([x.clone()], LbfgsOptions::new().line_search_fn(LineSearch::StrongWolfe)).expect("valid");
        opt.set_isa(isa);
        for _ in 0..3 {
            opt.step_with(|| {
                let v = x.to_array();
                let mut g = vec![0.0; v.len()];
                let mut f = 0.0;
                for i in 0..v.len() - 1 {
                    let (d, e) = (v[i + 1] - v[i] * v[i], 1.0 - v[i]);
                    f += 100.0 * d * d + e * e;
                    g[i] += -400.0 * v[i] * d - 2.0 * e;
                    g[i + 1] += 200.0 * d;
                }
                x.set_grad_from_slice(&g).expect("length");
                f
            })
            .expect("finite");
        }
        x.to_array().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    let (adam_ref, lbfgs_ref) = (adam(Isa::baseline()), lbfgs(Isa::baseline()));
    for isa in every_public_isa() {
        assert_eq!(isa.run(Dot(&a, &b)).to_bits(), reference, "{isa}");
        assert_eq!(adam(isa), adam_ref, "Adam on {isa}");
        assert_eq!(lbfgs(isa), lbfgs_ref, "LBFGS on {isa}");
    }
}
