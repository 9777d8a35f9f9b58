//! Mutation fuzzing of `load_state_dict`, bounded so that it runs inside `cargo test`.
//!
//! Valid state dicts of every bundled optimizer (after a few steps, named and unnamed
//! parameters, f32 and f64, one and several groups) are broken by random structural
//! mutations from a seeded generator — keys deleted and renamed, values replaced by other
//! types, NaN, infinities, huge and negative numbers, lists truncated and shuffled, shapes
//! and dtypes changed, subtrees copied elsewhere, deep nesting — and by mutations of the
//! JSON text itself (a key duplicated, the text cut short, bytes changed). Each result is
//! read with `StateDict::from_json` and loaded. The properties:
//!
//! - nothing panics (each load runs under `catch_unwind`; a panic is reported with the seed,
//!   the mutations and the text that caused it);
//! - a load that fails changes nothing (compared with a snapshot of the optimizer);
//! - a load that succeeds leaves an optimizer that steps without panicking, and whose state
//!   dict saves and loads again.
//!
//! Replay one case with `OPTIM_FUZZ_SEED=<seed> cargo test -p optim-tests --test mutation`;
//! run longer with `OPTIM_FUZZ_ITERATIONS=<n>` (per subject).

use optim_tests::fuzzing::{Maker, Outcome, check, subjects};
use optim_tests::rng::SplitMix64;
use optimizers::StateDict;
use serde_json::{Value as Json, json};

// ----- mutations ---------------------------------------------------------------------------------

/// Keys that mean something somewhere in a state dict, to rename keys into.
const KEYS: &[&str] = &[
    "state",
    "param_groups",
    "kind",
    "version",
    "params",
    "param_names",
    "shape",
    "data",
    "dtype",
    "0",
    "1",
    "2",
    "7",
    "-1",
    "01",
    "lr",
    "momentum",
    "nesterov",
    "betas",
    "eps",
    "amsgrad",
    "history_size",
    "max_iter",
    "max_eval",
    "line_search_fn",
    "step",
    "exp_avg",
    "exp_avg_sq",
    "max_exp_avg_sq",
    "momentum_buffer",
    "func_evals",
    "n_iter",
    "d",
    "t",
    "old_dirs",
    "old_stps",
    "ro",
    "al",
    "H_diag",
    "prev_flat_grad",
    "prev_loss",
    "",
    "x",
];

/// Values of every kind, including the troublesome ones.
fn strange_value(rng: &mut SplitMix64) -> Json {
    match rng.below(24) {
        0 => Json::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(-1e300),
        5 => json!(1e300),
        6 => json!(9_007_199_254_740_993u64),
        7 => json!(i64::MAX),
        8 => json!(u64::MAX),
        9 => json!(0.5),
        10 => json!(-0.0),
        11 => json!("NaN"),
        12 => json!("Infinity"),
        13 => json!("-Infinity"),
        14 => json!(""),
        15 => json!([]),
        16 => json!({}),
        17 => json!([1, 2, 3]),
        18 => json!({"shape": [2], "data": [1.0, 2.0]}),
        19 => json!({"shape": [], "data": ["NaN"]}),
        20 => json!({"shape": [4_294_967_296u64, 4_294_967_296u64], "data": []}),
        21 => json!({"shape": [3], "dtype": "float16", "data": [1, 2, 3]}),
        22 => {
            // nesting deeper than any state dict, shallower than serde_json's limit
            let mut v = json!(1);
            for _ in 0..100 {
                v = json!([v]);
            }
            v
        }
        _ => json!(rng.range(-1e3, 1e3)),
    }
}

/// A path to a node: the keys and indices leading to it.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(v: &Json, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Json::Object(map) => {
            for (k, child) in map {
                here.push(Step::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(Step::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node<'v>(v: &'v mut Json, path: &[Step]) -> &'v mut Json {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// One structural mutation of the tree; returns what it did.
fn mutate_tree(doc: &mut Json, rng: &mut SplitMix64) -> String {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    let path = all[rng.below(all.len())].clone();
    let donor = all[rng.below(all.len())].clone();
    let donor_value = node(doc, &donor).clone();
    let target = node(doc, &path);
    match (rng.below(12), &mut *target) {
        (0, Json::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            map.remove(&key);
            format!("delete key {key:?}")
        }
        (1, Json::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            let new = rng.pick(KEYS).to_string();
            let value = map.remove(&key).unwrap_or_default();
            map.insert(new.clone(), value);
            format!("rename key {key:?} to {new:?}")
        }
        (2, Json::Object(map)) => {
            let key = rng.pick(KEYS).to_string();
            let value = strange_value(rng);
            map.insert(key.clone(), value.clone());
            format!("insert {key:?}: {value}")
        }
        (3, Json::Array(items)) if !items.is_empty() => {
            let keep = rng.below(items.len());
            items.truncate(keep);
            format!("truncate a list to {keep}")
        }
        (4, Json::Array(items)) if items.len() > 1 => {
            let (i, j) = (rng.below(items.len()), rng.below(items.len()));
            items.swap(i, j);
            format!("swap items {i} and {j}")
        }
        (5, Json::Array(items)) if !items.is_empty() => {
            let i = rng.below(items.len());
            let copy = items[i].clone();
            items.insert(i, copy);
            format!("duplicate item {i}")
        }
        (6, Json::Number(n)) => {
            let x = n.as_f64().unwrap_or(0.0);
            let (y, how) = match rng.below(6) {
                0 => (json!(-x), "negate"),
                1 => (json!(x + 1.0), "add 1"),
                2 => (json!(x * 1e10), "scale by 1e10"),
                3 => (json!(x + 0.5), "add 0.5"),
                4 => (
                    json!(n.as_i64().map_or(-1, |i| i.wrapping_neg().wrapping_sub(1))),
                    "to a negative count",
                ),
                _ => (json!("NaN"), "to NaN"),
            };
            *target = y;
            format!("{how} a number {x}")
        }
        (7, Json::String(s)) => {
            let old = s.clone();
            *s = match rng.below(4) {
                0 => "float32".into(),
                1 => "float64".into(),
                2 => "strong_wolfe".into(),
                _ => format!("{old}x"),
            };
            format!("change a string {old:?} to {s:?}")
        }
        (8, _) => {
            *target = donor_value;
            format!("copy {donor:?} over {path:?}")
        }
        _ => {
            let value = strange_value(rng);
            let text = value.to_string();
            *target = value;
            format!("replace {path:?} with {}", &text[..text.len().min(60)])
        }
    }
}

/// Byte offsets where a key starts (`"key":`).
fn key_starts(text: &str) -> Vec<usize> {
    text.match_indices("\":")
        .filter_map(|(end, _)| text[..end].rfind('"'))
        .collect()
}

/// One mutation of the JSON text; returns what it did.
fn mutate_text(text: &mut String, rng: &mut SplitMix64) -> String {
    match rng.below(5) {
        0 => {
            let at = rng.below(text.len());
            text.truncate(at);
            format!("cut the text at byte {at}")
        }
        1 => {
            // a key twice in one object: `"k":null,` inserted before a key `"k":`
            let starts = key_starts(text);
            if starts.is_empty() {
                return "nothing".into();
            }
            let at = starts[rng.below(starts.len())];
            let end = at + 1 + text[at + 1..].find('"').unwrap_or(0);
            let key = text[at..=end].to_string();
            text.insert_str(at, &format!("{key}:null,"));
            format!("duplicate the key {key} at byte {at}")
        }
        2 => {
            let at = rng.below(text.len());
            let byte = *rng.pick(b"{}[],:\"0-.eE9 \\");
            text.insert(at, byte as char);
            format!("insert {:?} at byte {at}", byte as char)
        }
        3 => {
            // nesting far deeper than serde_json's recursion limit
            let depth = 100_000;
            let at = text.find("\"data\":").map_or(0, |i| i + 7);
            text.insert_str(at, &format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
            "nest 100000 lists".into()
        }
        _ => {
            let at = rng.below(text.len());
            if at < text.len() && text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                text.remove(at);
            }
            format!("delete byte {at}")
        }
    }
}

/// A mutated state dict text: one to three mutations of the tree, sometimes one of the text.
fn mutant(base: &Json, rng: &mut SplitMix64) -> (String, Vec<String>) {
    let mut doc = base.clone();
    let mut log = Vec::new();
    for _ in 0..1 + rng.below(3) {
        log.push(mutate_tree(&mut doc, rng));
    }
    let mut text = doc.to_string();
    if rng.chance(0.15) {
        log.push(mutate_text(&mut text, rng));
    }
    (text, log)
}

// ----- the fuzz loop -----------------------------------------------------------------------------

/// Counts of what happened, for the report.
#[derive(Debug, Default)]
struct Tally {
    loads: usize,
    rejected: usize,
    accepted: usize,
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// Fuzzes one subject; returns what it found wrong.
fn fuzz(name: &str, make: Maker, iterations: u64, tally: &mut Tally) -> Vec<String> {
    let mut failures = Vec::new();
    let mut subject = make();
    let base_text = subject.json();
    let base: Json = serde_json::from_str(&base_text).expect("our own JSON reads");
    // the base itself loads, and gives the same state dict and parameters
    let mut fresh = make();
    fresh.load(&base_text).expect("a valid state dict loads");
    let (a, b) = (fresh.snapshot(), subject.snapshot());
    assert_eq!(
        (a.state_dict, a.params),
        (b.state_dict, b.params),
        "{name}: loading its own state dict"
    );
    let seeds: Vec<u64> = match env_number("OPTIM_FUZZ_SEED") {
        Some(seed) => vec![seed],
        None => (0..iterations).map(|i| i * 0x9E37_79B9 + name.len() as u64).collect(),
    };
    for seed in seeds {
        let mut rng = SplitMix64::new(seed);
        let (text, log) = mutant(&base, &mut rng);
        tally.loads += 1;
        match check(subject.as_mut(), make, &text) {
            Ok(Outcome::Rejected) => tally.rejected += 1,
            Ok(Outcome::Accepted) => {
                tally.accepted += 1;
                subject = make();
            }
            Err(problem) => {
                let excerpt: String = text.chars().take(400).collect();
                failures.push(format!(
                    "{name}, seed {seed}: {problem}\n    mutations: {log:?}\n    text: {excerpt}"
                ));
                subject = make();
            }
        }
    }
    failures
}

#[test]
fn mutated_state_dicts_never_panic_and_never_load_partly() {
    let iterations = env_number("OPTIM_FUZZ_ITERATIONS").unwrap_or(1500);
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for (name, make) in subjects() {
        failures.extend(fuzz(name, make, iterations, &mut tally));
    }
    eprintln!(
        "mutation fuzz: {} loads ({} rejected, {} accepted) in {:.1?}",
        tally.loads,
        tally.rejected,
        tally.accepted,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failure(s); the first ones:\n{}",
        failures.len(),
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        tally.rejected > tally.loads / 2,
        "most mutants must be rejected: {tally:?}"
    );
    assert!(tally.accepted > 0, "some mutants are valid state dicts: {tally:?}");
}

/// Inputs the fuzzer found, kept as regression tests.
#[test]
fn regressions() {
    // The state map kept the last of two equal keys silently (serde's `BTreeMap`): the
    // state of parameter 0 came from the second entry.
    let subject = (subjects()[0].1)();
    let text = subject.json();
    let dup = text.replacen("\"state\":{", "\"state\":{\"0\":{},", 1);
    let err = StateDict::from_json(&dup).expect_err("index 0 twice");
    assert!(err.to_string().contains("key `0` appears twice"), "{err}");

    // A count at i64::MAX steps past it; the state dict then holds it as a float, which
    // did not read back as a count ("`func_evals` must be a non-negative integer, found a
    // number (9223372036854776000)").
    let mut subject = (subjects()[4].1)();
    let mut dict: Json = serde_json::from_str(&subject.json()).unwrap();
    dict["state"]["0"]["func_evals"] = json!(i64::MAX);
    subject.load(&dict.to_string()).unwrap();
    subject.step().unwrap();
    let saved = subject.json();
    assert!(saved.contains("\"func_evals\":9.22337203685477"), "{saved}");
    (subjects()[4].1)().load(&saved).unwrap();
}

#[test]
fn the_cargo_fuzz_entry_point_accepts_what_it_is_given() {
    // what `fuzz/fuzz_targets/load_state_dict.rs` runs, on a few inputs of each kind
    for (_, make) in subjects() {
        optim_tests::fuzzing::fuzz_load_state_dict(make().json().as_bytes());
    }
    for junk in [
        &b""[..],
        b"\xff\xfe",
        b"{}",
        b"{\"state\":{},\"param_groups\":[]}",
        b"[[[[[[[[",
    ] {
        optim_tests::fuzzing::fuzz_load_state_dict(junk);
    }
}
