#![no_main]
//! Shim: see `kmsspec::fuzzing::fuzz_kms_request_parse` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsspec::fuzzing::fuzz_kms_request_parse(data));
