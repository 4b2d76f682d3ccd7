#![no_main]
//! Shim: structure-aware; see `kmsspec::fuzzing::fuzz_model` for the invariants checked.
libfuzzer_sys::fuzz_target!(|events: Vec<kmsspec::fuzzing::ModelEvent>| {
    kmsspec::fuzzing::fuzz_model(&events)
});
