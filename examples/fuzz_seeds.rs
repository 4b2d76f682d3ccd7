//! Writes seed corpora for the cargo-fuzz targets: `cargo run --example fuzz_seeds -- OUT_DIR`
//! (default `fuzz/corpus`). Sources: `captures/`, `specs/`, and — when `KMSSPEC_SHARED` (or
//! `../shared`) holds them — `$KMSSPEC_SHARED/captures` and
//! `$KMSSPEC_SHARED/spec/kms-test-vectors.json`; plus synthetic samples.

use kmsspec::fuzzing::seeds::SeedSet;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| root.join("fuzz/corpus"), PathBuf::from);
    let shared =
        std::env::var_os("KMSSPEC_SHARED").map_or_else(|| root.join("../shared"), PathBuf::from);
    let mut seeds = SeedSet::new();
    seeds.add_synthetic();
    seeds.add_capture_dir(&root.join("captures"))?;
    seeds.add_spec_dir(&root.join("specs"))?;
    seeds.add_capture_dir(&shared.join("captures"))?;
    let vectors = shared.join("spec/kms-test-vectors.json");
    if vectors.is_file() {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&vectors)?)?;
        seeds.add_vectors(&json);
    }
    let n = seeds.write_to(&out)?;
    for t in kmsspec::fuzzing::BYTE_TARGETS.iter().map(|(t, _)| t) {
        println!("{t:>13}: {} seeds", seeds.count(t));
    }
    println!("wrote {n} seed files under {}", out.display());
    Ok(())
}
