//! `kmsspec decode` end to end: JSON Lines keys, YAML/text output, exit codes for clean,
//! failing, damaged and not-a-capture files.

use assert_cmd::Command;
use std::path::PathBuf;

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn decode(args: &[&str], file: &str) -> (i32, String, String) {
    let out = Command::cargo_bin("kmsspec")
        .unwrap()
        .arg("decode")
        .args(args)
        .arg(capture(file))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn json_lines_have_the_documented_keys() {
    let (code, out, _) = decode(&["--format", "json"], "c03_v6_ndr32_btfn_3req.pcap");
    assert_eq!(code, 0);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = recs.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["bind", "exchange", "exchange", "exchange", "summary"]
    );
    let x = &recs[1];
    for k in [
        "capture", "flow", "call_id", "ndr", "request", "response", "checks",
    ] {
        assert!(x.get(k).is_some(), "exchange key {k}");
    }
    assert_eq!(x["flow"]["server"], "10.0.0.1:1688");
    assert_eq!(x["ndr"], "ndr32");
    let q = &x["request"];
    for k in [
        "protocol",
        "app_id",
        "kms_id",
        "sku_id",
        "cmid",
        "previous_cmid",
        "client_time",
        "required_client_count",
        "workstation",
        "license_status",
        "grace_minutes",
        "vm",
    ] {
        assert!(q.get(k).is_some(), "request key {k}");
    }
    assert_eq!(q["protocol"], "6.0");
    assert_eq!(q["client_time"], "2026-11-28T00:00:01Z");
    let cmid = q["cmid"].as_str().unwrap();
    assert_eq!(cmid, cmid.to_lowercase());
    assert_eq!(cmid.len(), 36);
    let r = &x["response"];
    for k in [
        "protocol",
        "hresult",
        "epid",
        "cmid",
        "time",
        "current_count",
        "activation_interval",
        "renewal_interval",
        "hwid",
    ] {
        assert!(r.get(k).is_some(), "response key {k}");
    }
    assert_eq!(r["hresult"], "0x00000000");
    assert_eq!(x["checks"]["v6_hmac"], true);
    let s = &recs[4];
    assert_eq!(s["exchanges"], 3);
    assert_eq!(s["packets"], 13);
    assert_eq!(s["failed_checks"], 0);
}

#[test]
fn failed_check_exits_one() {
    let (code, out, _) = decode(&["--format", "json"], "c13_v4_bad_cmid_echo.pcap");
    assert_eq!(code, 1);
    assert!(out.contains(r#""cmid_echo":false"#), "{out}");
    let (code, out, _) = decode(&[], "c13_v4_bad_cmid_echo.pcap");
    assert_eq!(code, 1);
    assert!(out.contains("FAIL cmid_echo"), "{out}");
}

#[test]
fn damaged_files_decode_what_precedes_and_exit_one() {
    let (code, out, _) = decode(&["--format", "json"], "d01_truncated.pcap");
    assert_eq!(code, 1);
    assert_eq!(out.matches(r#""kind":"exchange""#).count(), 3);
    assert!(
        out.contains(r#""layer":"capture","packet":11,"file_offset":2838"#),
        "{out}"
    );
    let (code, out, _) = decode(&["--format", "yaml"], "d02_corrupt_block.pcapng");
    assert_eq!(code, 1);
    assert!(out.starts_with("- kind: bind"), "{out}");
    assert!(out.contains("damaged: true"));
}

#[test]
fn not_a_capture_is_one_line_and_exit_two() {
    let (code, out, err) = decode(&[], "d03_not_a_capture.pcap");
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not a pcap or pcapng file"), "{err}");
    let (code, _, err) = decode(&[], "no_such_file.pcap");
    assert_eq!(code, 2);
    assert!(err.contains("cannot open"), "{err}");
}

#[test]
fn clean_file_exits_zero_in_every_format() {
    for f in ["text", "json", "yaml"] {
        let (code, out, _) = decode(&["--format", f, "--quiet"], "c04_v6_ndr64_fragmented.pcap");
        assert_eq!(code, 0, "{f}");
        assert!(out.contains("ndr64"), "{f}: {out}");
    }
}

/// The problems a report must keep, judged from the full JSON record (an oracle written
/// against the documented keys, independent of `Record::is_problem`).
fn is_problem(r: &serde_json::Value) -> bool {
    match r["kind"].as_str().unwrap() {
        "bind" => r["answer"] != "ack",
        "exchange" => {
            !r["failed"].as_array().unwrap().is_empty()
                || !r["request_error"].is_null()
                || !r["response_error"].is_null()
                || r["response"].is_null()
                || r["response"]["hresult"] != "0x00000000"
        }
        "summary" => false,
        _ => true,
    }
}

#[test]
fn problems_only_keeps_exactly_the_problem_records_and_the_summary() {
    let files: Vec<String> = std::fs::read_dir(capture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".pcap") && !n.starts_with("d03"))
        .collect();
    assert!(files.len() >= 16, "{files:?}");
    let mut kept_problems = 0;
    for f in &files {
        let (code_all, all, _) = decode(&["--format", "json"], f);
        let (code, some, _) = decode(&["--format", "json", "--problems-only"], f);
        assert_eq!(
            code, code_all,
            "{f}: exit status does not depend on the filter"
        );
        let parse = |s: &str| -> Vec<serde_json::Value> {
            s.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let want: Vec<_> = parse(&all)
            .into_iter()
            .filter(|r| is_problem(r) || r["kind"] == "summary")
            .collect();
        let got = parse(&some);
        assert_eq!(got, want, "{f}");
        assert_eq!(got.last().unwrap()["kind"], "summary", "{f}");
        kept_problems += got.len() - 1;
    }
    // The corpus holds failing, faulting, gapped, refused and damaged captures.
    assert!(kept_problems >= 6, "{kept_problems}");
    let (code, out, _) = decode(&["--problems-only"], "c03_v6_ndr32_btfn_3req.pcap");
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        1,
        "a clean capture prints its summary only: {out}"
    );
    let (code, out, _) = decode(&["--problems-only"], "c13_v4_bad_cmid_echo.pcap");
    assert_eq!(code, 1);
    assert!(out.contains("FAIL cmid_echo"), "{out}");
}
