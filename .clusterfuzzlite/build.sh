#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every cargo-fuzz target, its dictionary and seed corpus.
cd "$SRC/kmsspec"
cargo run --release --example fuzz_seeds -- "$WORK/corpus" || true
cargo fuzz build -O
for src in fuzz/fuzz_targets/*.rs; do
    t=$(basename "$src" .rs)
    cp "fuzz/target/x86_64-unknown-linux-gnu/release/$t" "$OUT/"
    cp fuzz/dict/kms.dict "$OUT/$t.dict"
    if [ -d "$WORK/corpus/$t" ]; then
        (cd "$WORK/corpus/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
    fi
done
