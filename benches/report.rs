//! HTML report rendering: a synthetic 1,000-case run (each case with findings, a transcript
//! and a wire log of eight ~300-byte PDUs with their decoded forms, like a real run's), from
//! the report in memory and from its JSON text as `kmsspec report` reads it; and matrices of
//! three runs of 180 and of 1,000 cases.

use kmsspec::report::html::{matrix_page, run_page};
use kmsspec::report::load::parse_run_report;
use kmsspec::report::{
    CaseReport, Finding, Level, RunReport, TargetHealth, Verdict, WireDir, WireEntry,
};
use std::path::Path;

fn main() {
    divan::main();
}

const FAMILIES: [&str; 11] = [
    "RPC", "REQ", "VER", "RESP", "THR", "CNT", "HIER", "INT", "TIME", "ROB", "SVC",
];

fn hex(n: usize, seed: usize) -> String {
    (0..n)
        .map(|i| format!("{:02x}", (i * 31 + seed * 7) % 256))
        .collect()
}

fn decoded(i: usize) -> String {
    format!(
        "exchange 127.0.0.1:50{i:03} -> 127.0.0.1:1688 call 2 ctx 0 ndr32 packets 3..4\n  \
         request  v6.0 (base v6.0) client.kmsspec.test\n    \
         app  Windows (55c92734-d682-4d71-983e-d6ec3f16059f)\n    \
         kms  Windows 10 2015 (Volume) (58e2134f-8e11-4d17-9cb2-91069c151148)\n    \
         sku  Windows 10 Enterprise (73111121-5638-40f6-bc11-f1d7b0d64300)\n    \
         cmid 00112233-4455-4677-8899-aabbccddeeff (previous 00000000-0000-0000-0000-000000000000)\n    \
         time 2026-12-06T18:45:27Z N 25 status 2 grace 43200 min vm false\n  \
         response v6.0 hresult 0x00000000\n    \
         epid 03612-00206-556-123727-03-1033-17763.0000-2972018 hwid 3A1C049600B60076\n    \
         count 13 activation 120 min renewal 10080 min\n    \
         cmid 00112233-4455-4677-8899-aabbccddeeff time 2026-12-06T18:45:27Z\n  \
         checks   14/14 passed"
    )
}

fn case(i: usize, verdict_shift: usize) -> CaseReport {
    let verdict = match (i + verdict_shift) % 13 {
        0 => Verdict::Fail,
        1 => Verdict::NonStrict,
        2 => Verdict::Info,
        3 => Verdict::Skip,
        _ => Verdict::Pass,
    };
    let findings = (0..20)
        .map(|k| Finding {
            step: k / 5,
            check: format!("kms.check_{k}"),
            rule: Some("KMS-§3.6".into()),
            level: Level::Must,
            passed: !(verdict == Verdict::Fail && k < 2),
            expected: "00112233-4455-4677-8899-aabbccddeeff".into(),
            observed: "ff112233-4455-4677-8899-aabbccddeeff".into(),
            side: false,
        })
        .collect();
    let wire = (0..8)
        .map(|k| WireEntry {
            conn: 1 + (k / 4) as u32,
            dir: if k % 2 == 0 {
                WireDir::Sent
            } else {
                WireDir::Received
            },
            summary: format!(
                "request call {k} flags 0x03, 292 bytes, ctx 0 opnum 0 stub 268 bytes"
            ),
            hex: hex(292, i + k),
            decoded: if k % 2 == 1 {
                vec![decoded(i)]
            } else {
                Vec::new()
            },
        })
        .collect();
    CaseReport {
        id: format!("{}-CASE-{i}", FAMILIES[i % FAMILIES.len()]),
        family: FAMILIES[i % FAMILIES.len()].into(),
        title: format!("Synthetic case {i}: a request is answered with the right count"),
        rule: "The count is the number of distinct client machine ids, the requester included."
            .into(),
        source: "Microsoft \"KMS activation planning\"".into(),
        level: Level::Must,
        verdict,
        reason: (verdict != Verdict::Pass)
            .then(|| "step 0: kms.cmid_echo expected a, observed b".into()),
        findings,
        transcript: (0..8)
            .map(|k| format!("-> request v6.0 'Windows 10 Enterprise' N=25 cmid=case-{i}-{k}"))
            .collect(),
        duration_ms: 3,
        expected_failure: None,
        self_check: false,
        wire,
    }
}

fn run(n: usize, shift: usize, name: &str) -> RunReport {
    let mut r = RunReport::new(
        "127.0.0.1:1688".into(),
        "2026-12-06T18:45:27Z".into(),
        14_000,
        TargetHealth {
            alive_before: true,
            alive_after: true,
            ..TargetHealth::default()
        },
        (0..n).map(|i| case(i, shift)).collect(),
    );
    r.name = Some(name.into());
    r
}

#[divan::bench(sample_count = 10)]
fn run_page_1000_cases(b: divan::Bencher) {
    let r = run(1000, 0, "a");
    b.bench_local(|| run_page(divan::black_box(&r)).len());
}

#[divan::bench(sample_count = 10)]
fn run_page_1000_cases_from_json(b: divan::Bencher) {
    let json = kmsspec::report::to_json(&run(1000, 0, "a"));
    b.bench_local(|| {
        let r = parse_run_report(Path::new("r.json"), divan::black_box(&json)).unwrap();
        run_page(&r).len()
    });
}

#[divan::bench(sample_count = 10)]
fn matrix_3_runs_180_cases(b: divan::Bencher) {
    let runs = [run(180, 0, "a"), run(180, 1, "b"), run(180, 2, "c")];
    b.bench_local(|| matrix_page(divan::black_box(&runs)).len());
}

#[divan::bench(sample_count = 10)]
fn matrix_3_runs_1000_cases(b: divan::Bencher) {
    let runs = [run(1000, 0, "a"), run(1000, 1, "b"), run(1000, 2, "c")];
    b.bench_local(|| matrix_page(divan::black_box(&runs)).len());
}
