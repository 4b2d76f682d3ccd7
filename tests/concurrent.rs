//! Concurrent cases (`--jobs N`): against a rewindable target (the embedded host) every case is
//! hermetic, so a concurrent run gives the JSON report of a sequential run, timings apart.

use assert_cmd::Command;
use kmsspec::host::HostFlaw;
use kmsspec::report::{to_json, RunReport, Verdict};
use kmsspec::suite::names::load_default;
use kmsspec::suite::runner::schedule::{shares_host_state, waits_on_purpose};
use kmsspec::suite::runner::{effective_jobs, run_suite, RunOptions};
use kmsspec::target::embedded::{EmbeddedConfig, EmbeddedHost};
use serde_json::Value;

/// Cases that wait on purpose for seconds (used to keep the mutant runs short).
const SLOW: &[&str] = &[
    "ROB-SILENT*",
    "ROB-PARTIAL-HEADER-1",
    "ROB-SLOW-*",
    "ROB-FRAGLEN-LONG-1",
    "REQ-CHUNK-1",
];

/// The JSON report without what depends on scheduling and the wall clock of the run.
fn without_timings(report: &RunReport) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("duration_ms");
                m.remove("started");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(&to_json(report)).expect("report JSON parses");
    strip(&mut v);
    v
}

/// Runs the default suite on one host sequentially and with `jobs`, and returns both reports.
fn sequential_and_concurrent(
    cfg: EmbeddedConfig,
    skip: &[&str],
    jobs: usize,
) -> (RunReport, RunReport) {
    let cases = load_default(&[]).expect("specs load");
    let host = EmbeddedHost::start(cfg).expect("embedded host starts");
    let opts = |jobs| RunOptions {
        skip: skip.iter().map(|s| s.to_string()).collect(),
        seed: 7,
        jobs,
        ..RunOptions::default()
    };
    let seq = run_suite(&host, &cases, &opts(1));
    let conc = run_suite(&host, &cases, &opts(jobs));
    (seq, conc)
}

fn assert_same(seq: &RunReport, conc: &RunReport) {
    assert!(seq.cases.len() > 20, "{} cases", seq.cases.len());
    let (a, b) = (without_timings(seq), without_timings(conc));
    if a != b {
        let diff: Vec<String> = seq
            .cases
            .iter()
            .zip(&conc.cases)
            .filter(|(x, y)| {
                x.id != y.id
                    || x.verdict != y.verdict
                    || x.findings != y.findings
                    || x.transcript != y.transcript
            })
            .map(|(x, y)| format!("{} {} / {} {}", x.id, x.verdict, y.id, y.verdict))
            .collect();
        panic!("sequential and concurrent reports differ: {diff:#?}");
    }
}

#[test]
fn the_reference_host_gives_the_sequential_report_concurrently() {
    // The whole suite, waiting cases included: they run on wait lanes beside the workers.
    let (seq, conc) = sequential_and_concurrent(EmbeddedConfig::default(), &[], 4);
    assert_same(&seq, &conc);
    assert_eq!(seq.exit_code(), 0);
    assert!(seq.run_failure.is_none() && conc.run_failure.is_none());
    assert!(
        conc.duration_ms * 2 < seq.duration_ms,
        "concurrent {} ms, sequential {} ms",
        conc.duration_ms,
        seq.duration_ms
    );
}

#[test]
fn mutants_give_the_sequential_report_concurrently() {
    for flaw in [HostFlaw::FixedCountTwiceN, HostFlaw::ClosesAfterEveryAnswer] {
        let (seq, conc) = sequential_and_concurrent(EmbeddedConfig::with_flaw(flaw), SLOW, 3);
        assert!(
            seq.cases
                .iter()
                .any(|c| matches!(c.verdict, Verdict::Fail | Verdict::NonStrict)),
            "{} is caught",
            flaw.name()
        );
        assert_same(&seq, &conc);
    }
}

#[test]
fn a_case_reports_the_same_alone_and_within_the_suite() {
    // Hermetic cases: a count case's transcript does not depend on the cases before it.
    let cases = load_default(&[]).expect("specs load");
    let host = EmbeddedHost::start(EmbeddedConfig::default()).expect("embedded host starts");
    let all = run_suite(
        &host,
        &cases,
        &RunOptions {
            skip: SLOW.iter().map(|s| s.to_string()).collect(),
            ..RunOptions::default()
        },
    );
    let alone = run_suite(
        &host,
        &cases,
        &RunOptions {
            only: vec!["CNT-OBSERVE-MIXED-1".into()],
            ..RunOptions::default()
        },
    );
    let find = |r: &RunReport| {
        r.cases
            .iter()
            .find(|c| c.id == "CNT-OBSERVE-MIXED-1")
            .cloned()
            .expect("case ran")
    };
    let (a, b) = (find(&all), find(&alone));
    assert!(a.transcript.len() > 10, "{:?}", a.transcript);
    assert_eq!(a.transcript, b.transcript);
    assert_eq!(a.findings, b.findings);
}

#[test]
fn scheduling_classes_and_default_jobs() {
    let cases = load_default(&[]).expect("specs load");
    let class = |id: &str| {
        let c = &cases.iter().find(|c| c.case.id.value == id).expect(id).case;
        (waits_on_purpose(c), shares_host_state(c))
    };
    assert_eq!(class("ROB-SILENT-1"), (true, false));
    assert_eq!(class("ROB-SLOW-REQUEST-1"), (true, false));
    assert_eq!(class("ROB-FRAGLEN-LONG-1"), (true, false));
    assert_eq!(class("CNT-DISTINCT-1"), (false, true));
    assert_eq!(class("THR-SERVER-5"), (false, true));
    assert_eq!(class("REQ-CALLID-1"), (false, false));
    assert_eq!(effective_jobs(0, false), 1, "a live target runs in order");
    assert!(effective_jobs(0, true) >= 1);
    assert_eq!(effective_jobs(3, false), 3);
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kmsspec")
        .expect("binary built")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("kmsspec runs")
}

fn verdicts(path: &std::path::Path) -> Vec<(String, String)> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("JSON written")).expect("JSON");
    v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| (c["id"].to_string(), c["verdict"].to_string()))
        .collect()
}

#[test]
fn jobs_on_the_cli() {
    let dir = std::env::temp_dir().join(format!("kmsspec-jobs-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (one, four) = (dir.join("one.json"), dir.join("four.json"));
    let run = |jobs: &str, json: &std::path::Path| {
        let mut args = vec!["run", "--quiet", "--jobs", jobs, "--json"];
        args.push(json.to_str().expect("utf-8 path"));
        args.extend([
            "--only",
            "REQ-*",
            "--only",
            "CNT-*",
            "--skip",
            "REQ-CHUNK-1",
        ]);
        cli(&args)
    };
    let (a, b) = (run("1", &one), run("4", &four));
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stdout)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stdout)
    );
    let (va, vb) = (verdicts(&one), verdicts(&four));
    assert!(va.len() > 20, "{va:?}");
    assert_eq!(va, vb);
    assert_eq!(
        cli(&["run", "--quiet", "--jobs", "0"]).status.code(),
        Some(2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idle_waits_scale_with_the_read_timeout_on_the_embedded_host_only() {
    use kmsspec::target::{LiveTarget, Target, TargetFacts, Timeouts};
    use std::time::Duration;
    let host = EmbeddedHost::start(EmbeddedConfig::default()).expect("embedded host starts");
    // 1 s read timeout against a live target's 3 s: a third of what the case asks.
    assert_eq!(
        host.idle_wait(Duration::from_millis(3000)),
        Duration::from_millis(1000)
    );
    let live = LiveTarget::new(
        &host.addr().to_string(),
        Timeouts::default(),
        TargetFacts::default(),
        false,
    )
    .expect("loopback target");
    assert_eq!(
        live.idle_wait(Duration::from_millis(3000)),
        Duration::from_millis(3000)
    );
}
