//! Proof that the suite has teeth: the embedded reference host with one behaviour broken
//! (`HostFlaw`) must be caught — some case FAILs or is NON-STRICT, and the finding names the
//! rule or check the flaw breaks — while the real reference host passes everything.

use kmsspec::host::HostFlaw;
use kmsspec::report::{terminal, RunReport, Verdict};
use kmsspec::suite::names::load_default;
use kmsspec::suite::runner::{run_suite, RunOptions};
use kmsspec::target::embedded::{EmbeddedConfig, EmbeddedHost};

/// Cases that spend seconds waiting on purpose (silent and slow clients); the mutants are
/// caught without them, and the CLI test runs them against the reference host.
const SLOW: &[&str] = &[
    "ROB-SILENT*",
    "ROB-PARTIAL-HEADER-1",
    "ROB-SLOW-*",
    "ROB-FRAGLEN-LONG-1",
    "REQ-CHUNK-1",
];

fn run_against(flaw: Option<HostFlaw>) -> RunReport {
    let cases = load_default(&[]).expect("specs load");
    let cfg = match flaw {
        Some(f) => EmbeddedConfig::with_flaw(f),
        None => EmbeddedConfig::default(),
    };
    let host = EmbeddedHost::start(cfg).expect("embedded host starts");
    let opts = RunOptions {
        skip: SLOW.iter().map(|s| s.to_string()).collect(),
        seed: 7,
        ..RunOptions::default()
    };
    run_suite(&host, &cases, &opts)
}

/// What the report must name when it catches each flaw: a case-id prefix or a check name that
/// belongs to the rule the flaw breaks.
fn expected_catch(flaw: HostFlaw) -> &'static [&'static str] {
    match flaw {
        HostFlaw::FixedCount(_) => &["CNT-", "model.count", "count"],
        HostFlaw::CountsRepeatedCmids => &["CNT-REPEAT"],
        HostFlaw::IgnoresHierarchy => &["HIER-"],
        HostFlaw::WrongCmidEcho => &["cmid_echo"],
        HostFlaw::V5IvRuleInV6 => &["v6_iv_fresh"],
        HostFlaw::HmacWrongSlot => &["v6_hmac"],
        HostFlaw::DropsOnUnknownVersion => &["VER-"],
        HostFlaw::ClosesAfterEveryAnswer => &["REQ-KEEP", "keep", "close"],
        HostFlaw::HangsOnTruncatedRequest => &["ROB-", "KMS-LEN", "silence"],
        HostFlaw::WrongCallId => &["call_id"],
        HostFlaw::NeverExpiresCmids => &["CNT-EXPIRY"],
        HostFlaw::WrongTimeEcho => &["time_echo"],
        HostFlaw::ChangesEpidEveryRequest => &["epid_stable", "epid"],
        HostFlaw::BadEpidSyntax => &["epid_syntax", "epid"],
        HostFlaw::SetsConcMpxOnResponse => &["conc_mpx", "CONC_MPX", "flags"],
        HostFlaw::WrongAllocHint => &["alloc_hint"],
        HostFlaw::RejectsNdr64 => &["NDR64", "ndr64"],
        HostFlaw::IntervalsOutOfRange => &["interval"],
        HostFlaw::NoBtfnAck => &["BTFN", "btfn"],
        HostFlaw::IgnoresThreshold => &["THR-", "count"],
        HostFlaw::FixedCountTwiceN => &["CNT-", "THR-", "count"],
        HostFlaw::RandomEpidPerRequest => &["EPID-STABLE"],
        HostFlaw::AnswersWithoutBind => &["ROB-REQ-BEFORE-BIND"],
        HostFlaw::EchoesRequestHeader => &["REQ-HDR", "rpc."],
    }
}

/// Failing case ids and failing finding names of a report.
fn caught(report: &RunReport) -> Vec<String> {
    let mut names = Vec::new();
    for c in &report.cases {
        if matches!(c.verdict, Verdict::Fail | Verdict::NonStrict) {
            names.push(c.id.clone());
            for f in c.findings.iter().filter(|f| !f.passed) {
                names.push(f.check.clone());
                if let Some(r) = &f.rule {
                    names.push(r.clone());
                }
            }
        }
    }
    names
}

#[test]
fn every_mutant_is_caught_by_the_rule_it_breaks() {
    let flaws = HostFlaw::ALL;
    let results: Vec<(HostFlaw, RunReport)> = std::thread::scope(|s| {
        let halves: Vec<_> = flaws
            .chunks(flaws.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&f| (f, run_against(Some(f))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("mutant thread"))
            .collect()
    });
    let mut missed = Vec::new();
    for (flaw, report) in &results {
        let names = caught(report);
        let wanted = expected_catch(*flaw);
        let hit = names.iter().any(|n| wanted.iter().any(|w| n.contains(w)));
        eprintln!(
            "{:<28} caught by {} case(s): {}",
            flaw.name(),
            report
                .cases
                .iter()
                .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::NonStrict))
                .count(),
            names.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
        );
        if !hit {
            missed.push(format!(
                "{} (wanted one of {wanted:?}; failing: {names:?})",
                flaw.name()
            ));
        } else {
            // The terminal report shows the failing case with its rule line.
            let text = terminal::render(report);
            assert!(
                text.contains("rule ("),
                "{}: report names no rule",
                flaw.name()
            );
        }
    }
    assert!(
        missed.is_empty(),
        "mutants not caught by their rule:\n{}",
        missed.join("\n")
    );
}

#[test]
fn the_reference_host_passes_every_case() {
    let report = run_against(None);
    let bad: Vec<_> = report
        .cases
        .iter()
        .filter(|c| match c.verdict {
            Verdict::Fail | Verdict::NonStrict => true,
            // Cases of another profile (e.g. `strict`) are the only skips.
            Verdict::Skip => !c
                .reason
                .as_deref()
                .unwrap_or("")
                .starts_with("belongs to profile"),
            _ => false,
        })
        .map(|c| format!("{} {} {:?}", c.id, c.verdict, c.reason))
        .collect();
    assert!(bad.is_empty(), "reference host: {bad:#?}");
    assert!(report.health.alive_before && report.health.alive_after);
    assert_eq!(report.exit_code(), 0);
}
