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
        if c["level"] == "MUST" {
            assert!(
                c["verdict"] == "PASS" || c["verdict"] == "SKIP",
                "{}: {}",
                c["id"],
                c["reason"]
            );
        }
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
