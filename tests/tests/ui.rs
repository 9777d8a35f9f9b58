//! The derives' compile errors (one mistake per file under `tests/ui/fail/`, each with its
//! `.stderr` snapshot) and compile-pass cases for every feature (`tests/ui/pass/`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
