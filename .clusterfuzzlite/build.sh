#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every cargo-fuzz target listed in fuzz/targets, each with
# the dictionary (<target>.dict), its max_len (<target>.options) and a seed corpus
# (<target>_seed_corpus.zip), all picked up by name from $OUT by the fuzzing infrastructure.
cd "$SRC/kmsspec"
# Seeds from captures/ and specs/ (the shared corpus is not in the image); a failure here
# only costs the seed corpus, never the build.
cargo run --release --example fuzz_seeds -- "$WORK/corpus" || true
# fuzz/Cargo.lock is committed: build exactly the locked dependency versions.
cargo fetch --locked --manifest-path fuzz/Cargo.toml
# Link the image's prebuilt libFuzzer, as OSS-Fuzz's Rust projects do: built from
# libfuzzer-sys's sources here, the engine would pick up the image's CXXFLAGS
# (-fsanitize=address,fuzzer-no-link) and instrument itself, which costs every input time.
if [ -f "${LIB_FUZZING_ENGINE_DEPRECATED:-}" ]; then
    export CUSTOM_LIBFUZZER_PATH="$LIB_FUZZING_ENGINE_DEPRECATED"
    export CUSTOM_LIBFUZZER_STD_CXX=c++
fi
# Release with debug assertions and overflow checks (the sanitizer flags come from the
# base-builder-rust environment).
cargo fuzz build -O --debug-assertions
while IFS=: read -r t max_len _ <&3; do
    case "$t" in '' | '#'*) continue ;; esac
    cp "fuzz/target/x86_64-unknown-linux-gnu/release/$t" "$OUT/"
    cp fuzz/dict/kms.dict "$OUT/$t.dict"
    printf '[libfuzzer]\nmax_len = %s\n' "$max_len" >"$OUT/$t.options"
    if [ -d "$WORK/corpus/$t" ]; then
        (cd "$WORK/corpus/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
    fi
done 3<fuzz/targets
