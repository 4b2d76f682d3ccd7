//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Where `../shared` (spec, test vectors, real captures) is.
///
/// `KMSSPEC_SHARED` names it; otherwise `<crate>/../shared`. When it is absent, a test that
/// needs it prints a clear message and returns `None` (so a fresh clone without the corpus can
/// still run the rest), unless `KMSSPEC_SHARED` is set explicitly, in which case absence is a
/// failure: CI sets it so the shared corpus is never silently skipped.
pub fn shared_dir() -> Option<PathBuf> {
    let explicit = std::env::var_os("KMSSPEC_SHARED");
    let dir = match &explicit {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.join("spec").is_dir() {
        return Some(dir);
    }
    if explicit.is_some() {
        panic!(
            "KMSSPEC_SHARED={} is set but holds no spec/ folder",
            dir.display()
        );
    }
    eprintln!(
        "NOTE: shared corpus not found at {} (set KMSSPEC_SHARED); this test checked nothing",
        dir.display()
    );
    None
}

/// Decodes lowercase hex from the test vectors.
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex in vectors ({e}): {s}"))
}

/// Loads `spec/kms-test-vectors.json` when the shared corpus is present.
pub fn test_vectors() -> Option<serde_json::Value> {
    let dir = shared_dir()?;
    let text = std::fs::read_to_string(dir.join("spec/kms-test-vectors.json"))
        .expect("read kms-test-vectors.json");
    Some(serde_json::from_str(&text).expect("parse kms-test-vectors.json"))
}
