//! Lion, derived in a crate that depends on `optimizers` alone, against values computed by
//! hand, in f64 and f32; and its state dict through the derived code alone.

// ANCHOR: test
use optim_book::lion::{Lion, LionOptions};
use optimizers::Param;
use optimizers::ndarray::array;

#[test]
fn lion_steps_match_the_paper_by_hand() {
    // lr 0.1, betas (0.9, 0.99), weight decay 0.5; one element, p = 1.0.
    // step 1: m = 0,     g = 2:  c = 0.2 > 0           p = 1·(1 − 0.05) − 0.1 = 0.85;     m = 0.02
    // step 2: m = 0.02,  g = −3: c = 0.018 − 0.3 < 0    p = 0.85·0.95 + 0.1 = 0.9075;     m = 0.0198 − 0.03 = −0.0102
    // step 3: m = −0.0102, g = 0: c = −0.00918 < 0      p = 0.9075·0.95 + 0.1 = 0.962125
    let p = Param::new(array![1.0f64]);
    let q = Param::new(array![1.0f32]);
    let options = || LionOptions::new().lr(0.1).weight_decay(0.5);
    let mut opt = Lion::new([p.clone()], options()).unwrap();
    let mut opt32 = Lion::new([q.clone()], options()).unwrap();
    for (g, expected) in [(2.0, 0.85), (-3.0, 0.9075), (0.0, 0.962125)] {
        p.set_grad(array![g]).unwrap();
        q.set_grad(array![g as f32]).unwrap();
        opt.step().unwrap();
        opt32.step().unwrap();
        assert!(
            (p.value()[0] - expected).abs() < 1e-12,
            "{} vs {expected}",
            p.value()[0]
        );
        assert!(
            (q.value()[0] as f64 - expected).abs() < 1e-6,
            "{} vs {expected}",
            q.value()[0]
        );
    }
    let m = &opt.state(&p).unwrap().exp_avg;
    assert!((m[0] - (-0.0102 * 0.99)).abs() < 1e-12);
}
// ANCHOR_END: test

use optimizers::{Error, StateDict};

#[test]
fn lion_checks_its_options_with_its_own_messages() {
    let p = Param::new(array![1.0f64]);
    let err = Lion::new([p.clone()], LionOptions::new()).unwrap_err();
    assert_eq!(err, Error::MissingRequiredOption { group: 0, option: "lr" });
    let err = Lion::new([p.clone()], LionOptions::new().lr(0.1).betas((0.9, 1.5))).unwrap_err();
    assert_eq!(err.to_string(), "defaults: invalid beta at index 1: 1.5");
    let err = Lion::new([p.clone()], LionOptions::new().lr(0.1).weight_decay(-1.0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: invalid weight_decay: -1.0 (must be finite and at least 0.0)"
    );
    // A range refuses infinities too: an infinite learning rate would make every weight inf.
    let err = Lion::new([p], LionOptions::new().lr(f64::INFINITY)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "defaults: invalid lr: inf (must be finite and at least 0.0)"
    );
}

#[test]
fn lion_state_dict_round_trips_and_rejects_bad_dicts_atomically() {
    let make = || {
        let p = Param::new(array![[1.0f32, -2.0], [0.5, 0.25]]);
        let opt = Lion::new([p.clone()], LionOptions::new().lr(0.01)).unwrap();
        (opt, p)
    };
    let grad = |step: usize| array![[0.3f32, -0.2], [0.1, 0.4]].mapv(|g| g * (step as f32 + 1.0).sin());
    let (mut straight, p) = make();
    for s in 0..6 {
        p.set_grad(grad(s)).unwrap();
        straight.step().unwrap();
    }
    let (mut first, p1) = make();
    for s in 0..3 {
        p1.set_grad(grad(s)).unwrap();
        first.step().unwrap();
    }
    let json = first.state_dict().to_json();
    assert!(
        json.starts_with(r#"{"kind":"lion","version":1,"state":{"0":{"exp_avg":"#),
        "{json}"
    );
    let (mut resumed, p2) = make();
    p2.set_value(p1.to_array()).unwrap();
    let sd = StateDict::from_json(&json).unwrap();

    let mut bad = sd.clone();
    bad.state
        .get_mut(&0)
        .unwrap()
        .insert("exp_avg", optimizers::DictTensor::owned(&[4], &[0.0f64; 4]).unwrap());
    let err = resumed.load_state_dict(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "state of parameter 0: `exp_avg` has shape [4] but the parameter needs [2, 2]"
    );
    assert!(resumed.state(&p2).is_none(), "the failed load changed nothing");

    resumed.load_state_dict(&sd).unwrap();
    for s in 3..6 {
        p2.set_grad(grad(s)).unwrap();
        resumed.step().unwrap();
    }
    assert_eq!(p2.to_array(), p.to_array(), "bit-identical to never stopping");
}

/// The README and the chapter say how long Lion is: the count of its lines that are
/// neither blank nor comments must be the number they give.
#[test]
fn lions_length_is_what_the_readme_and_the_book_say() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/lion.rs")).expect("src/lion.rs");
    let code = source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count();
    let readme = std::fs::read_to_string(root.join("../../README.md")).expect("README.md");
    let chapter = std::fs::read_to_string(root.join("../src/writing-your-own.md")).expect("the chapter");
    assert!(
        readme.contains(&format!("Lion: {code} lines of code")),
        "README.md: Lion has {code} lines of code"
    );
    assert!(
        chapter.contains(&format!("Lion: {code} lines of code ({} with", source.lines().count())),
        "writing-your-own.md: Lion has {code} lines of code, {} in all",
        source.lines().count()
    );
}
