//! Arbitrary bytes, read with `StateDict::from_json` and loaded into every bundled
//! optimizer: nothing may panic, a failed load may change nothing, and a state dict that
//! loads must step and save again (`optim_tests::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| optim_tests::fuzzing::fuzz_load_state_dict(data));
