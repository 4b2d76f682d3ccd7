#![no_main]
//! Shim: see `kmsspec::fuzzing::fuzz_kms_request` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsspec::fuzzing::fuzz_kms_request(data));
