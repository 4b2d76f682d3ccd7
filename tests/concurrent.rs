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

/// The ids of the cases that wait on purpose (left out of the mutant runs to keep them short).
fn waiting_ids() -> Vec<String> {
    load_default(&[])
        .expect("specs load")
        .into_iter()
        .filter(|lc| waits_on_purpose(&lc.case))
        .map(|lc| lc.case.id.value)
        .collect()
}

/// The JSON report without what depends on scheduling and the wall clock of the run: the
/// timings, and the socket addresses in the wire logs (ephemeral client ports differ between
/// any two runs; concurrent cases run on sibling hosts listening on ports of their own).
fn without_timings(report: &RunReport, wire: bool) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::String(text) => *text = without_ports(text),
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
    for c in v["cases"].as_array_mut().into_iter().flatten() {
        let Some(c) = c.as_object_mut() else { continue };
        if !wire {
            c.remove("wire");
        } else if let Some(Value::Array(entries)) = c.get_mut("wire") {
            // Each connection's entries in order; how the entries of two connections
            // interleave (a FIN noticed before or after the next connect) is TCP timing.
            entries.sort_by_key(|e| e["conn"].as_u64());
        }
    }
    v
}

/// Runs the default suite on one host sequentially and with `jobs`, and returns both reports.
fn sequential_and_concurrent(
    cfg: EmbeddedConfig,
    skip: &[String],
    jobs: usize,
) -> (RunReport, RunReport) {
    let cases = load_default(&[]).expect("specs load");
    let host = EmbeddedHost::start(cfg).expect("embedded host starts");
    let opts = |jobs| RunOptions {
        skip: skip.to_vec(),
        seed: 7,
        jobs,
        ..RunOptions::default()
    };
    let seq = run_suite(&host, &cases, &opts(1));
    let conc = run_suite(&host, &cases, &opts(jobs));
    (seq, conc)
}

/// `text` with every `127.0.0.1:PORT` written `127.0.0.1:*`.
fn without_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (head, tail) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(head);
        out.push('*');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// The path and values of the first place two JSON values differ.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().find_map(|(k, v)| match y.get(k) {
                Some(w) => first_difference(&format!("{path}.{k}"), v, w),
                None => Some(format!("{path}.{k}: missing")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(&format!("{path}[{i}]"), v, w)),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} / {b}")),
    }
}

/// Asserts two reports are equal apart from timings (and socket addresses); `wire`: the wire
/// logs too, connection by connection.
fn assert_same(seq: &RunReport, conc: &RunReport, wire: bool) {
    assert!(seq.cases.len() > 20, "{} cases", seq.cases.len());
    assert!(
        seq.cases.iter().any(|c| !c.wire.is_empty()),
        "the wire logs are compared too"
    );
    let (a, b) = (without_timings(seq, wire), without_timings(conc, wire));
    if let Some(d) = first_difference("", &a, &b) {
        panic!("sequential and concurrent reports differ at {d}");
    }
}

#[test]
fn the_reference_host_gives_the_sequential_report_concurrently() {
    // The whole suite, waiting cases included: they run on wait lanes beside the workers.
    let (seq, conc) = sequential_and_concurrent(EmbeddedConfig::default(), &[], 4);
    assert_same(&seq, &conc, true);
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
        let (seq, conc) =
            sequential_and_concurrent(EmbeddedConfig::with_flaw(flaw), &waiting_ids(), 3);
        assert!(
            seq.cases
                .iter()
                .any(|c| matches!(c.verdict, Verdict::Fail | Verdict::NonStrict)),
            "{} is caught",
            flaw.name()
        );
        // Not the wire logs: where a mutant's FIN lands among the entries of a case depends
        // on TCP timing (closes-after-every-answer), and differs between two sequential runs.
        assert_same(&seq, &conc, false);
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
            skip: waiting_ids(),
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
