//! `kmsspec run` end to end against the embedded host with the real specs.

use assert_cmd::Command;

#[test]
fn the_suite_passes_on_the_reference_host_and_writes_reports() {
    let dir = std::env::temp_dir().join(format!("kmsspec-run-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let junit = dir.join("r.xml");
    let out = Command::cargo_bin("kmsspec")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], "kmsspec-report/1");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() > 50);
    for c in cases {
        // Every MUST case passes; the only skips are cases of another profile.
        let profile_skip = c["verdict"] == "SKIP"
            && c["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("belongs to profile"));
        if c["level"] == "MUST" {
            assert!(
                c["verdict"] == "PASS" || profile_skip,
                "{}: {}",
                c["id"],
                c["reason"]
            );
        }
        assert!(
            c["verdict"] != "SKIP" || profile_skip,
            "{}: {}",
            c["id"],
            c["reason"]
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{}", &xml[..xml.len().min(80)]);
    assert!(xml.contains("<testsuite"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_spec_path_is_a_usage_error() {
    Command::cargo_bin("kmsspec")
        .unwrap()
        .args(["run", "--quiet", "/nonexistent/specs.yaml"])
        .assert()
        .code(2);
}

#[test]
fn the_strict_profile_requires_0xc004f06c_for_skewed_clients() {
    let out = Command::cargo_bin("kmsspec")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--profile", "strict", "--only", "TIME-*"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("PASS       TIME-STRICT-5H"), "{stdout}");
    let default = Command::cargo_bin("kmsspec")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--only", "TIME-STRICT-5H"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&default.stdout);
    assert!(stdout.contains("SKIP       TIME-STRICT-5H"), "{stdout}");
    assert!(stdout.contains("belongs to profile \"strict\""), "{stdout}");
}

#[test]
fn unknown_profile_is_a_usage_error() {
    Command::cargo_bin("kmsspec")
        .unwrap()
        .args(["run", "--quiet", "--profile", "lenient"])
        .assert()
        .code(2);
}

/// Runs `kmsspec run --target ADDR` with short timeouts and the JSON report; returns the exit
/// code, stdout, stderr and the report.
fn run_against(addr: &str, tag: &str) -> (Option<i32>, String, String, serde_json::Value) {
    let json = std::env::temp_dir().join(format!("kmsspec-dead-{tag}-{}.json", std::process::id()));
    let out = Command::cargo_bin("kmsspec")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--quiet",
            "--target",
            addr,
            "--connect-timeout-ms",
            "300",
            "--read-timeout-ms",
            "300",
            "--json",
        ])
        .arg(&json)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        v,
    )
}

/// A dead target is a failed run: exit 1, the reason on stderr and in the JSON report, and no
/// case counted as the target's PASS.
fn assert_failed_run(code: Option<i32>, stdout: &str, stderr: &str, v: &serde_json::Value) {
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("run failed"), "{stderr}");
    assert!(
        v["run_failure"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(v["summary"]["pass"], 0, "{}", v["summary"]);
    let passes: Vec<&str> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "PASS")
        .map(|c| c["id"].as_str().unwrap_or(""))
        .collect();
    assert!(passes.is_empty(), "PASS against a dead target: {passes:?}");
    assert!(!stdout.contains("PASS "), "{stdout}");
}

#[test]
fn nothing_listening_is_a_failed_run_with_no_pass() {
    // Bind a port and close it again: nothing listens there afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, err, v) = run_against(&format!("127.0.0.1:{port}"), "refused");
    assert_failed_run(code, &out, &err, &v);
}

#[test]
fn a_host_resetting_every_connection_is_a_failed_run_with_no_pass() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { continue };
            // Closing with unread bytes in the receive buffer makes the kernel send RST.
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                drop(s);
            });
        }
    });
    let (code, out, err, v) = run_against(&addr, "reset");
    assert_failed_run(code, &out, &err, &v);
}

#[test]
fn a_host_streaming_garbage_is_a_failed_run_with_no_pass() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let junk = [0x47u8; 512];
                for _ in 0..64 {
                    if s.write_all(&junk).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let (code, out, err, v) = run_against(&addr, "garbage");
    assert_failed_run(code, &out, &err, &v);
}
