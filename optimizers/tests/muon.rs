//! `Muon` as a user sees it: one `momentum_buffer` per matrix and no `step`, a parameter
//! without a gradient skipped, a misshapen buffer refused on load, options that torch
//! checks at the first step refused on load too, and the parallel step and every
//! instruction set bit-identical to the sequential baseline.

use optimizers::isa::Isa;
use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{DictTensor, DictValue, Error, Float, Muon, MuonOptions, Optimizer, Param, rayon};

type Result<T = ()> = std::result::Result<T, Error>;

/// A `shape` parameter with distinct values, and a gradient for it from `seed`.
fn param<A: Float>(shape: &[usize], seed: f64) -> Result<Param<A>> {
    let n: usize = shape.iter().product();
    let values = |scale: f64, seed: f64| -> Vec<A> {
        (0..n)
            .map(|i| A::from_f64(((i as f64 + seed) * 0.37).sin() * scale))
            .collect()
    };
    let p = Param::new(ArrayD::from_shape_vec(IxDyn(shape), values(1.0, 0.0)).expect("n elements"));
    p.set_grad_from_slice(&values(0.1, seed))?;
    Ok(p)
}

#[test]
fn state_is_one_buffer_per_matrix_and_no_step() -> Result {
    let params: Vec<Param<f32>> = vec![param(&[4, 3], 1.0)?, param(&[3, 5], 2.0)?, param(&[2, 2], 3.0)?];
    params[2].zero_grad(true); // no gradient: skipped, as in torch
    let mut opt = Muon::new(params.clone(), MuonOptions::new())?;
    opt.step()?;
    let dict = opt.state_dict();
    assert_eq!(dict.state.keys().copied().collect::<Vec<_>>(), [0, 1]);
    for (i, shape) in [(0, [4, 3]), (1, [3, 5])] {
        let entry = &dict.state[&i];
        assert_eq!(entry.keys().collect::<Vec<_>>(), ["momentum_buffer"]);
        match entry.get("momentum_buffer") {
            Some(DictValue::Tensor(t)) => assert_eq!(t.shape(), shape),
            other => panic!("momentum_buffer of parameter {i}: {other:?}"),
        }
    }
    assert!(opt.state(&params[2]).is_none());
    Ok(())
}

#[test]
fn momentum_zero_keeps_the_last_gradient_as_the_buffer() -> Result {
    // torch's lerp with weight 1 takes its second branch: exactly the gradient.
    let p = param::<f64>(&[3, 4], 5.0)?;
    let grad = p.grad().expect("set").to_owned();
    let mut opt = Muon::new([p.clone()], MuonOptions::new().momentum(0.0))?;
    opt.step()?;
    assert_eq!(opt.state(&p).expect("stepped").momentum_buffer, grad);
    Ok(())
}

#[test]
fn a_misshapen_buffer_or_too_many_ns_steps_is_refused_on_load_and_changes_nothing() -> Result {
    let w = param::<f32>(&[4, 3], 2.0)?;
    let mut opt = Muon::new([w.clone()], MuonOptions::new())?;
    opt.step()?;
    let before = opt.state_dict().to_json();

    let mut dict = opt.state_dict().into_owned();
    let transposed = DictTensor::owned(&[3, 4], &[0.5f32; 12]).expect("12 values");
    dict.state
        .get_mut(&0)
        .expect("state of the matrix")
        .insert("momentum_buffer", DictValue::Tensor(transposed));
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        matches!(&err, Error::StateShape { key, expected, found, .. }
            if key == "momentum_buffer" && expected == &[4, 3] && found == &[3, 4]),
        "{err:?}"
    );

    // torch would accept the group and fail at the next step: refused here, before it.
    let mut dict = opt.state_dict().into_owned();
    dict.param_groups[0].options.insert("ns_steps", 100);
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { option, .. } if *option == "ns_steps"),
        "{err:?}"
    );

    // Coefficients that are not three numbers (torch's `Coefficients must be a tuple of
    // exactly 3 values`, raised at its step) are a type error.
    let mut dict = opt.state_dict().into_owned();
    let two = DictValue::List(vec![3.0.into(), (-3.2).into()]);
    dict.param_groups[0].options.insert("ns_coefficients", two);
    let err = opt.load_state_dict(&dict).unwrap_err();
    assert!(
        matches!(&err, Error::OptionType { option, .. } if option == "ns_coefficients"),
        "{err:?}"
    );
    assert_eq!(opt.state_dict().to_json(), before);
    Ok(())
}

/// The bits of every parameter after three steps over matrices of several shapes, with
/// `configure` applied to the optimizer, in a pool of four threads.
fn run<A: Float>(configure: impl Fn(&mut Optimizer<Muon, A>)) -> Result<Vec<u64>> {
    let shapes: [&[usize]; 5] = [&[64, 48], &[48, 64], &[1, 7], &[7, 1], &[16, 16]];
    let params: Vec<Param<A>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| param(s, i as f64))
        .collect::<Result<_>>()?;
    let options = MuonOptions::new().lr(0.02).nesterov(true).weight_decay(0.1);
    let mut opt = Muon::new(params.clone(), options)?;
    configure(&mut opt);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().expect("a pool");
    pool.install(|| -> Result {
        for k in 0..3 {
            for p in &params {
                let g = p.value().mapv(|x| x * A::from_f64(0.1 * (k + 1) as f64));
                p.set_grad(g)?;
            }
            opt.step()?;
        }
        Ok(())
    })?;
    Ok(params
        .iter()
        .flat_map(|p| p.value().iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>())
        .collect())
}

fn parallel_and_every_instruction_set_match<A: Float>() -> Result {
    let reference = run::<A>(|o| {
        o.set_parallel(false);
        o.set_isa(Isa::baseline());
    })?;
    assert_eq!(run::<A>(|o| o.set_parallel(true))?, reference, "parallel");
    for isa in Isa::available() {
        let result = run::<A>(|o| {
            o.set_parallel(false);
            o.set_isa(isa);
        })?;
        assert_eq!(result, reference, "{isa:?}");
    }
    Ok(())
}

#[test]
fn parallel_and_every_instruction_set_are_bit_identical() -> Result {
    parallel_and_every_instruction_set_match::<f32>()?;
    parallel_and_every_instruction_set_match::<f64>()
}
