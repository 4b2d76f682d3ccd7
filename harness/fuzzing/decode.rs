//! `decode`: the whole capture decoder (pcap/pcapng → TCP → DCE/RPC → KMS exchanges) on
//! arbitrary file bytes.

use crate::capture::records::Record;
use crate::capture::{decode_capture, DecodeConfig};

/// Properties: the decoder terminates on any bytes; a file it accepts yields records ending
/// with exactly one summary, whose counters equal the records emitted (binds, exchanges,
/// answered, faults, gaps, errors, failed checks); a file it refuses (not a capture) yields
/// no records at all.
pub fn fuzz_decode(data: &[u8]) {
    let mut records: Vec<Record> = Vec::new();
    let result = decode_capture(
        data,
        "fuzz",
        &DecodeConfig::default(),
        |r| records.push(r.clone()),
        |_| {},
    );
    let summary = match result {
        Ok(s) => s,
        Err(_) => {
            assert!(
                records.is_empty(),
                "a refused file emitted {} records",
                records.len()
            );
            return;
        }
    };
    let Some((Record::Summary(last), body)) = records.split_last() else {
        panic!("the last record is not the summary");
    };
    assert_eq!(*last, summary, "returned and emitted summaries differ");
    let mut counts = [0u64; 6];
    let mut failed_checks = 0u64;
    for r in body {
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
            Record::Summary(_) => panic!("a summary before the end"),
        }
    }
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
