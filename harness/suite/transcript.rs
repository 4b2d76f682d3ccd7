//! Transcripts: one line per decoded exchange, and their normalised form for baselines (CMIDs
//! and other UUIDs numbered in order of appearance, ePID dates redacted), so two runs of the
//! same host build compare equal and a protocol change shows as a diff.

use crate::report::RunReport;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The run's normalised transcript: per case a `## ID VERDICT` header and its lines.
pub fn baseline_text(report: &RunReport) -> String {
    let mut out = String::new();
    for c in &report.cases {
        let _ = writeln!(out, "## {} {}", c.id, c.verdict);
        let mut ids = HashMap::new();
        for line in &c.transcript {
            out.push_str(&normalise_line(line, &mut ids));
            out.push('\n');
        }
    }
    out
}

/// Replaces UUIDs with `cmid#N` (numbered per case) and the date of an ePID with `DDDYYYY`.
pub fn normalise_line(line: &str, ids: &mut HashMap<String, usize>) -> String {
    line.split(' ')
        .map(|tok| {
            let (key, val) = match tok.split_once('=') {
                Some((k, v)) => (Some(k), v),
                None => (None, tok),
            };
            let norm = if is_uuid(val) {
                let n = ids.len() + 1;
                format!("cmid#{}", ids.entry(val.to_ascii_lowercase()).or_insert(n))
            } else if key == Some("epid") {
                match val.rsplit_once('-') {
                    Some((head, date)) if date.len() == 7 => format!("{head}-DDDYYYY"),
                    _ => val.to_string(),
                }
            } else {
                val.to_string()
            };
            match key {
                Some(k) => format!("{k}={norm}"),
                None => norm,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_numbered_and_epid_dates_redacted() {
        let mut ids = HashMap::new();
        let a = normalise_line(
            "-> request cmid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
            &mut ids,
        );
        assert_eq!(a, "-> request cmid=cmid#1");
        let b = normalise_line(
            "<- response count=1 epid=03612-00206-556-123727-03-1033-17763.0000-2972018",
            &mut ids,
        );
        assert_eq!(
            b,
            "<- response count=1 epid=03612-00206-556-123727-03-1033-17763.0000-DDDYYYY"
        );
    }
}
