#![no_main]
//! Shim: see `kmsspec::fuzzing::fuzz_host_connection` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kmsspec::fuzzing::fuzz_host_connection(data));
