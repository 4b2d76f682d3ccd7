//! Entry points shared by cargo-fuzz targets and regression tests.
//!
//! One function per fuzz target (`fuzz/fuzz_targets/<name>.rs` is a one-line shim around it),
//! so a crash found by libFuzzer replays under plain `cargo test` (`tests/fuzz_regressions.rs`).
//! Every function accepts any input and panics only when a *property* is violated — a decode →
//! encode → decode round trip that is not stable, lengths that do not add up, an error that
//! points outside its input, a model invariant that breaks — never merely because the input is
//! malformed (that must be a typed error).
//!
//! | target         | function                 | property                                                |
//! |----------------|--------------------------|---------------------------------------------------------|
//! | `rpc_pdu`      | [`fuzz_rpc_pdu`]         | accepted PDU/stub re-encodes byte-exact; framing agrees |
//! | `pdu_stream`   | [`fuzz_pdu_stream`]      | framing independent of TCP chunking; lengths add up     |
//! | `kms_request`  | [`fuzz_kms_request`]     | parse → encode → parse equal; exact bytes when valid    |
//! | `kms_response` | [`fuzz_kms_response`]    | check list complete; verified response re-encodes exact |
//! | `epid`         | [`fuzz_epid`]            | canonical rendering re-parses equal; one check on error |
//! | `capture`      | [`fuzz_capture`]         | terminates; summary counters equal the events emitted   |
//! | `spec_yaml`    | [`fuzz_spec_yaml`]       | error lines inside the text; strict ⇒ permissive        |
//! | `model`        | [`fuzz_model`]           | count ≤ cache, repeat CMID no rise, budgets exact       |
//! | `decode`       | [`fuzz_decode`]          | terminates; one summary, its counters equal the records |
//! | `host_connection` | [`fuzz_host_connection`] | bounded whole-PDU replies; still serves a genuine client |
//! | `rpc_pdu_parse` | [`fuzz_rpc_pdu_parse`] | parse only: accepted ⇒ byte-exact re-encode; offsets in input |
//! | `kms_request_parse` | [`fuzz_kms_request_parse`] | parse only: envelope rebuilt from fields = input |
//! | `kms_response_parse` | [`fuzz_kms_response_parse`] | parse only: message rebuilt from fields = input |
//! | `capture_parse` | [`fuzz_capture_parse`] | file framing only: packets in order, bytes at their place |
//!
//! The `*_parse` targets run one decoder with the cheapest oracle that still fails on a bug, so
//! they reach far more inputs per second than the round-trip targets beside them.
//!
//! [`seeds`] builds seed inputs for every target from the shared corpus, local captures and
//! spec files (used by `cargo run --example fuzz_seeds` and by the regression tests).

mod capture;
mod decode;
mod host;
mod kms;
mod model;
mod parse;
mod rpc;
pub mod seeds;
mod spec;

pub use capture::fuzz_capture;
pub use decode::fuzz_decode;
pub use host::fuzz_host_connection;
pub use kms::{fuzz_epid, fuzz_kms_request, fuzz_kms_response};
#[cfg(feature = "arbitrary")]
pub use model::fuzz_model_bytes;
pub use model::{fuzz_model, ModelEvent};
pub use parse::{
    fuzz_capture_parse, fuzz_kms_request_parse, fuzz_kms_response_parse, fuzz_rpc_pdu_parse,
};
pub use rpc::{fuzz_pdu_stream, fuzz_rpc_pdu};
pub use spec::fuzz_spec_yaml;

/// A fuzz entry point over raw bytes.
pub type ByteTarget = fn(&[u8]);

/// The byte-input fuzz targets by name (the model target is structure-aware and takes
/// [`ModelEvent`]s instead), in the order CI runs them.
pub const BYTE_TARGETS: [(&str, ByteTarget); 13] = [
    ("rpc_pdu", fuzz_rpc_pdu),
    ("rpc_pdu_parse", fuzz_rpc_pdu_parse),
    ("pdu_stream", fuzz_pdu_stream),
    ("kms_request", fuzz_kms_request),
    ("kms_request_parse", fuzz_kms_request_parse),
    ("kms_response", fuzz_kms_response),
    ("kms_response_parse", fuzz_kms_response_parse),
    ("epid", fuzz_epid),
    ("capture", fuzz_capture),
    ("capture_parse", fuzz_capture_parse),
    ("spec_yaml", fuzz_spec_yaml),
    ("host_connection", fuzz_host_connection),
    ("decode", fuzz_decode),
];

/// Asserts a wire error points inside (or just past the end of) the input it describes.
fn assert_offset_within(err: &crate::wire::WireError, len: usize, what: &str) {
    assert!(
        err.offset <= len,
        "{what}: error offset {} beyond the {len}-byte input: {err:?}",
        err.offset
    );
}

thread_local! {
    /// One re-encoding buffer per thread, reused so oracles allocate nothing per input.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on the cleared per-thread scratch buffer (not re-entrant: `f` must not call it).
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.clear();
        f(&mut buf)
    })
}
