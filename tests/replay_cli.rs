//! `kmsspec replay` on the project's own capture corpus, without and with `--target`.

use kmsspec::target::embedded::{EmbeddedConfig, EmbeddedHost};
use std::path::PathBuf;
use std::process::Command;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn replay(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kmsspec"))
        .arg("replay")
        .args(args)
        .output()
        .expect("run kmsspec");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn conforming_capture_exits_0_and_bad_echo_exits_1() {
    let ok = corpus("c01_v4_ndr32_3req.pcap");
    let (code, out) = replay(&[ok.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 pass"), "{out}");
    let bad = corpus("c13_v4_bad_cmid_echo.pcap");
    let (code, out) = replay(&[bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL"), "{out}");
}

#[test]
fn unreadable_capture_is_skipped_not_a_crash() {
    let p = corpus("d03_not_a_capture.pcap");
    let (code, out) = replay(&[p.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("SKIP") && out.contains("not a readable capture"),
        "{out}"
    );
}

#[test]
fn target_resend_reports_count_diff_without_failing() {
    let host = EmbeddedHost::start(EmbeddedConfig::default()).expect("embedded host");
    let addr = host.addr().to_string();
    let dir = std::env::temp_dir().join(format!("kmsspec-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    // vlmcsd-style counts (50 for N=25) are not what a fresh embedded host reports.
    let cap = corpus("c03_v6_ndr32_btfn_3req.pcap");
    let (code, out) = replay(&[
        cap.to_str().unwrap(),
        "--target",
        &addr,
        "--json",
        json.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{out}");
    let diffs: Vec<&serde_json::Value> = cases
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap())
        .filter(|f| {
            f["check"]
                .as_str()
                .unwrap_or("")
                .starts_with("replay.diff.")
        })
        .collect();
    assert!(!diffs.is_empty(), "{out}");
    assert!(diffs.iter().all(|f| f["level"] == "INFO"), "{diffs:?}");
    let resent = cases
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap())
        .filter(|f| f["check"] == "replay.model.outcome")
        .count();
    assert_eq!(resent, cases.len(), "{out}");
    let count_diff = diffs
        .iter()
        .find(|f| f["check"] == "replay.diff.count")
        .expect("a count comparison");
    assert!(count_diff["observed"].as_str().unwrap().contains("N="));
    assert!(cases.iter().all(|c| c["verdict"] != "FAIL"), "{out}");
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
