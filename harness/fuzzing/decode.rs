//! `decode`: the whole capture decoder (pcap/pcapng → TCP → DCE/RPC → KMS exchanges) on
//! arbitrary file bytes.

use crate::capture::records::{Record, SummaryRecord};
use crate::capture::{decode_capture_from, CaptureReader, DecodeConfig};

/// Properties: the decoder terminates on any bytes; a file it opens yields records ending
/// with exactly one summary, whose counters equal the records emitted (binds, exchanges,
/// answered, faults, gaps, errors, failed checks). A file that is not a capture is refused
/// when opened, before any record (`decode_capture` is open + [`decode_capture_from`]).
/// Records are tallied as they come (no copies): this target runs the whole decoder per input.
pub fn fuzz_decode(data: &[u8]) {
    let Ok(reader) = CaptureReader::for_bytes(data) else {
        return;
    };
    let mut counts = [0u64; 6];
    let mut failed_checks = 0u64;
    let mut emitted: Option<SummaryRecord> = None;
    let mut after_summary = 0usize;
    let summary = decode_capture_from(
        reader,
        "fuzz",
        &DecodeConfig::default(),
        |r| {
            if emitted.is_some() {
                after_summary += 1;
            }
            match r {
                Record::Bind(_) => counts[0] += 1,
                Record::Exchange(x) => {
                    counts[1] += 1;
                    counts[2] += u64::from(x.response.is_some());
                    failed_checks += x.failed.len() as u64;
                }
                Record::Fault(_) => counts[3] += 1,
                Record::Gap(_) => counts[4] += 1,
                Record::Error(_) => counts[5] += 1,
                Record::Summary(s) => emitted = Some(s.clone()),
            }
        },
        |_| {},
    );
    assert_eq!(after_summary, 0, "records after the summary");
    assert_eq!(
        emitted.as_ref(),
        Some(&summary),
        "the last record is not the summary returned"
    );
    assert_eq!(
        counts,
        [
            summary.binds,
            summary.exchanges,
            summary.answered,
            summary.faults,
            summary.gaps,
            summary.errors
        ],
        "summary counters (binds, exchanges, answered, faults, gaps, errors) disagree with the records"
    );
    assert_eq!(failed_checks, summary.failed_checks, "failed-check count");
    assert!(
        summary.kms_flows <= summary.flows,
        "more KMS flows than flows"
    );
    assert!(
        summary.bytes <= data.len() as u64 * 2 + 64,
        "captured bytes beyond the file"
    );
}
