//! Live fuzzing: determinism, the reference host surviving, mutants caught with reproducers
//! that replay, and the CLI.

use kmsspec::host::HostFlaw;
use kmsspec::livefuzz::{fuzz, replay, FindingClass, FuzzCase, FuzzOptions, Mutator};
use kmsspec::target::{EmbeddedConfig, EmbeddedHost, LiveTarget, TargetFacts, Timeouts};
use kmsspec::wire::FileTime;
use std::path::PathBuf;
use std::time::Duration;

fn quick(addr: &str) -> LiveTarget {
    quick_with(addr, TargetFacts::default())
}

/// A loopback target with short timeouts and these declared facts.
fn quick_with(addr: &str, facts: TargetFacts) -> LiveTarget {
    let t = Timeouts {
        connect: Duration::from_millis(500),
        read: Duration::from_millis(200),
        write: Duration::from_millis(500),
        connect_attempts: 2,
        ..Timeouts::default()
    };
    LiveTarget::new(addr, t, facts, false).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kmsspec-livefuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn same_seed_gives_the_same_serialized_cases() {
    let now = FileTime(0x01db_1234_5678_9abc);
    let list = |seed| {
        let m = Mutator::new(seed);
        (0..500)
            .map(|i| m.case(i, now).to_json())
            .collect::<Vec<_>>()
    };
    let a = list(42);
    assert_eq!(a, list(42));
    assert_ne!(a, list(43));
    // The JSON form reads back to the same case.
    let c = Mutator::new(42).case(7, now);
    assert_eq!(FuzzCase::from_json(&c.to_json()).unwrap(), c);
}

#[test]
fn the_reference_host_survives_2000_cases_without_findings() {
    let host = EmbeddedHost::start(EmbeddedConfig::default()).unwrap();
    let target = quick(&host.addr().to_string());
    let opts = FuzzOptions {
        seed: 7,
        cases: 2000,
        ..FuzzOptions::default()
    };
    let r = fuzz(&target, &opts);
    assert_eq!(r.cases, 2000);
    assert!(!r.stopped_early);
    assert!(r.findings.is_empty(), "{}", r.render());
    assert!(r.by_kind.len() >= 30, "{:?}", r.by_kind);
}

/// Fuzzes a mutant, requires a finding matching `want`, and replays its reproducer.
fn catches(flaw: HostFlaw, want: fn(&FindingClass) -> bool) {
    let host = EmbeddedHost::start(EmbeddedConfig::with_flaw(flaw)).unwrap();
    let target = quick(&host.addr().to_string());
    let out = scratch(flaw.name());
    let opts = FuzzOptions {
        seed: 3,
        cases: 400,
        out: Some(out.clone()),
        ..FuzzOptions::default()
    };
    let r = fuzz(&target, &opts);
    let hit = r
        .findings
        .iter()
        .find(|f| want(&f.finding.class) && f.dir.is_some())
        .unwrap_or_else(|| panic!("{}: no matching finding\n{}", flaw.name(), r.render()));
    let dir = hit.dir.clone().unwrap();
    for file in ["session.json", "exchange.pcap", "replay.sh", "finding.json"] {
        assert!(
            dir.join(file).is_file(),
            "{} missing in {}",
            file,
            dir.display()
        );
    }
    let pcap = std::fs::read(dir.join("exchange.pcap")).unwrap();
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert!(
        pcap.len() > 24 + 3 * 54,
        "pcap holds at least the handshake"
    );
    let script = std::fs::read_to_string(dir.join("replay.sh")).unwrap();
    assert!(script.contains("kmsspec fuzz --replay"), "{script}");
    let case =
        FuzzCase::from_json(&std::fs::read_to_string(dir.join("session.json")).unwrap()).unwrap();
    let again = replay(&target, &case);
    assert!(
        again.findings.iter().any(|f| want(&f.class)),
        "{}: replay did not reproduce: {:?}",
        flaw.name(),
        again.findings
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_host_that_hangs_on_truncated_requests_is_a_hang() {
    catches(HostFlaw::HangsOnTruncatedRequest, |c| {
        *c == FindingClass::Hang
    });
}

#[test]
fn a_host_that_drops_unknown_versions_violates_the_version_rule() {
    catches(
        HostFlaw::DropsOnUnknownVersion,
        |c| matches!(c, FindingClass::RuleViolation { rule } if rule == "VER-UNSUPPORTED"),
    );
}

#[test]
fn a_wrong_cmid_echo_is_an_invalid_answer() {
    catches(
        HostFlaw::WrongCmidEcho,
        |c| matches!(c, FindingClass::InvalidAnswer { check } if check.contains("cmid")),
    );
}

#[test]
fn closing_after_every_answer_breaks_keep_alive() {
    catches(
        HostFlaw::ClosesAfterEveryAnswer,
        |c| matches!(c, FindingClass::RuleViolation { rule } if rule == "RPC-KEEPALIVE"),
    );
}

#[test]
fn a_wrong_call_id_is_an_invalid_answer() {
    catches(
        HostFlaw::WrongCallId,
        |c| matches!(c, FindingClass::InvalidAnswer { check } if check == "rpc.call_id_echo"),
    );
}

#[test]
fn cli_fuzz_300_cases_exits_0_and_writes_a_versioned_report() {
    let out = scratch("cli");
    let json = out.join("report.json");
    std::fs::create_dir_all(&out).unwrap();
    assert_cmd::Command::cargo_bin("kmsspec")
        .unwrap()
        .args(["fuzz", "--cases", "300", "--seed", "5"])
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .assert()
        .code(0);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["format"], "kmsspec-fuzz-report/1");
    assert_eq!(v["cases"], 300);
    assert!(v["cases_per_second"].as_f64().unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn cli_fuzz_rejects_a_remote_target_with_exit_2() {
    assert_cmd::Command::cargo_bin("kmsspec")
        .unwrap()
        .args(["fuzz", "--cases", "1", "--target", "192.0.2.1:1688"])
        .assert()
        .code(2);
}

/// Whether a finding blames the host-key hierarchy.
fn hierarchy_findings(r: &kmsspec::livefuzz::FuzzReport) -> usize {
    r.findings
        .iter()
        .filter(|f| {
            matches!(&f.finding.class, FindingClass::RuleViolation { rule } if rule.starts_with("HIER") || rule.starts_with("HR-0xC004F042"))
        })
        .count()
}

#[test]
fn a_host_answering_every_product_breaks_no_hierarchy_rule_unless_keys_are_declared() {
    // IgnoresHierarchy answers every catalog product: legitimate for a host whose keys
    // nobody declared (it may hold any key), a violation once the keys are declared.
    let host = EmbeddedHost::start(EmbeddedConfig::with_flaw(HostFlaw::IgnoresHierarchy)).unwrap();
    let opts = FuzzOptions {
        seed: 5,
        cases: 600,
        ..FuzzOptions::default()
    };
    let undeclared = fuzz(&quick(&host.addr().to_string()), &opts);
    assert_eq!(
        hierarchy_findings(&undeclared),
        0,
        "{}",
        undeclared.render()
    );

    let facts = TargetFacts {
        host_keys: vec!["Windows Server 2019".into()],
        ..TargetFacts::default()
    };
    let declared = quick_with(&host.addr().to_string(), facts);
    let r = fuzz(&declared, &opts);
    assert!(hierarchy_findings(&r) > 0, "{}", r.render());
}
