//! Replays every shared capture (`../shared/captures`) and checks the verdicts its MANIFEST
//! implies. Run with `KMSSPEC_SHARED=/work/shared`.

mod common;

use kmsspec::report::{CaseReport, Verdict};
use kmsspec::suite::replay::{replay_file, ReplayOptions};

fn cases(stem: &str) -> Option<Vec<CaseReport>> {
    let dir = common::shared_dir()?.join("captures");
    let path = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_stem().is_some_and(|s| s.to_string_lossy() == stem)
                && p.extension().is_some_and(|e| e == "pcap" || e == "pcapng")
        })?;
    Some(replay_file(&path, &ReplayOptions::default()))
}

fn finding<'a>(c: &'a CaseReport, check: &str) -> &'a kmsspec::report::Finding {
    c.findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("{}: no {check} finding", c.id))
}

/// Activated exchanges: every exchange PASSes, the model permits it, a client activates.
#[test]
fn activated_captures_pass() {
    let activated = [
        ("s01_vlmcs-v4-win7pro_vlmcsd", 1),
        ("s02_vlmcs-v5-win8pro_vlmcsd", 1),
        ("s03_vlmcs-v6-win10pro_vlmcsd", 1),
        ("s04_vlmcs-v6-ws2019dc_vlmcsd", 1),
        ("s05_vlmcs-v4-office2010proplus_vlmcsd", 1),
        ("s06_vlmcs-v5-office2013proplus_vlmcsd", 1),
        ("s07_vlmcs-v6-office2016proplus_vlmcsd", 1),
        ("s08_vlmcs-v6-office2019proplus_vlmcsd", 1),
        ("s09_vlmcs-v6-office2021proplus-guids_vlmcsd", 1),
        ("s10_vlmcs-v6-N0-B0_vlmcsd", 1),
        ("s11_vlmcs-v6_vlmcsd-N0-B0", 1),
        ("s12_vlmcs-v6-3req-oneconn_vlmcsd", 3),
        ("s13_vlmcs-v4-3req-newconn_vlmcsd", 3),
        ("s14_vlmcs-defaults-charge_vlmcsd", 1),
        ("s21_vlmcs-v6-win10ent_pykms-org", 1),
        ("s22_vlmcs-v4-office2010proplus_pykms-org", 1),
        ("s23_vlmcs-v5-office2013std_pykms-org", 1),
        ("s24_pykmsclient-org-Windows10_vlmcsd", 1),
        ("s25_pykmsclient-org-Office2016_pykms-org", 1),
        ("s26_pykmsclient-org-Windows7_vlmcsd", 1),
        ("s32_vlmcs-v6-ipv6_vlmcsd", 1),
        ("s33_vlmcs-v6-ws2012r2std_vlmcsd", 1),
        ("s34_vlmcs-v6-nomultiplex_vlmcsd", 1),
        ("s35_vlmcs-v4-vistaent_vlmcsd-port17388", 1),
    ];
    for (stem, n) in activated {
        let Some(cs) = cases(stem) else { return };
        assert_eq!(cs.len(), n, "{stem}: {cs:#?}");
        for c in &cs {
            assert_eq!(c.verdict, Verdict::Pass, "{stem}: {c:#?}");
            assert!(c.id.starts_with(&format!("REPLAY-{stem}-")), "{}", c.id);
            assert!(finding(c, "model.outcome").passed);
            assert!(finding(c, "client.activates").passed);
            assert!(finding(c, "kms.cmid_echo").passed, "{c:#?}");
            assert!(finding(c, "rpc.call_id_echo").passed);
        }
    }
}

/// s19: answers with counts 1, 2, 3 are within the observing bounds; a client with N=25
/// would report 0xC004F038. The client's view is a side finding: it is shown, but the
/// exchange is decided by the host's answer, which the model allows (PASS).
#[test]
fn s19_low_counts_are_permitted_but_do_not_activate() {
    let Some(cs) = cases("s19_vlmcs-v6-3req_vlmcsd-M1-E1") else {
        return;
    };
    assert_eq!(cs.len(), 3);
    for c in &cs {
        assert_eq!(c.verdict, Verdict::Pass, "{c:#?}");
        assert!(finding(c, "model.outcome").passed);
        let count = finding(c, "model.count");
        assert!(count.side && count.passed, "{count:?}");
        let cl = finding(c, "client.activates");
        assert!(cl.side && !cl.passed, "{cl:?}");
        assert!(cl.observed.contains("0xC004F038"), "{}", cl.observed);
    }
}

/// s15: unknown KMS id → 0xC004F042, which the model allows (HIER-UNKNOWN-KMS-ID).
#[test]
fn s15_unknown_kms_id_refusal_is_permitted() {
    let Some(cs) = cases("s15_vlmcs-v6-unknownkmsid_vlmcsd-K3") else {
        return;
    };
    assert_eq!(cs.len(), 1);
    let m = finding(&cs[0], "model.outcome");
    assert!(m.passed, "{m:?}");
    assert!(m.observed.contains("HIER-UNKNOWN-KMS-ID"), "{}", m.observed);
    assert!(finding(&cs[0], "client.activates")
        .observed
        .contains("0xC004F042"));
    assert_ne!(cs[0].verdict, Verdict::Fail);
}

/// s17: version 7.0 → 0x8007000D, the expected refusal of an unsupported version.
#[test]
fn s17_unsupported_version_refusal_passes() {
    let Some(cs) = cases("s17_vlmcs-K7.0_vlmcsd") else {
        return;
    };
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].verdict, Verdict::Pass, "{:#?}", cs[0]);
    assert!(cs[0]
        .findings
        .iter()
        .any(|f| f.observed.contains("0x8007000D")));
}

/// s16: vlmcsd refuses N=1001 with 0x8007000D; Microsoft documents nothing above 1000, so the
/// model allows that refusal (THR-N-LARGE): PASS, with the genuine client not activating as a
/// side finding. s18: the skewed clock refusal is allowed (TIME-SKEW), judged against the
/// capture's packet time.
#[test]
fn s16_and_s18_model_verdicts() {
    if let Some(cs) = cases("s16_vlmcs-v6-ncount1001_vlmcsd") {
        let m = finding(&cs[0], "model.outcome");
        assert!(m.passed && m.observed.contains("THR-N-LARGE"), "{m:?}");
        let cl = finding(&cs[0], "client.activates");
        assert!(cl.side && !cl.passed, "{cl:?}");
        assert_eq!(cs[0].verdict, Verdict::Pass);
    }
    if let Some(cs) = cases("s18_vlmcs-v6-faketime-plus1d_vlmcsd-c1") {
        let m = finding(&cs[0], "model.outcome");
        assert!(m.passed && m.observed.contains("TIME-SKEW"), "{m:?}");
        assert_ne!(cs[0].verdict, Verdict::Fail);
    }
}

/// s20: the first request is answered; the second got no response (server closed): FAIL.
#[test]
fn s20_second_request_has_no_answer() {
    let Some(cs) = cases("s20_vlmcs-v6-2req_vlmcsd-d") else {
        return;
    };
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0].verdict, Verdict::Pass);
    assert_eq!(cs[1].verdict, Verdict::Fail);
    assert!(finding(&cs[1], "replay.answered")
        .observed
        .contains("no answer"));
}

/// s28: nca_unk_if for a request without bind is the documented behaviour (RPC-CTX-1);
/// malformed client traffic (s27, s29, s30) is recorded as INFO; s31's short stub gets an
/// error stub (PASS).
#[test]
fn malformed_captures() {
    if let Some(cs) = cases("s28_malformed-request-without-bind_vlmcsd") {
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].verdict, Verdict::Pass);
        let ctx = finding(&cs[0], "rpc.unbound_context");
        assert!(ctx.passed && ctx.observed.contains("nca_unk_if"), "{ctx:?}");
        assert!(ctx.observed.contains("no bind"), "{ctx:?}");
        assert_eq!(ctx.rule.as_deref(), Some("RPC-CTX-1"));
    }
    for stem in [
        "s27_malformed-garbage-http_vlmcsd",
        "s29_malformed-truncated-request-idle_vlmcsd",
        "s30_malformed-truncated-bind-fin_vlmcsd",
    ] {
        let Some(cs) = cases(stem) else { return };
        assert!(!cs.is_empty(), "{stem}");
        assert!(
            cs.iter().all(|c| c.verdict == Verdict::Info),
            "{stem}: {cs:#?}"
        );
    }
    if let Some(cs) = cases("s31_malformed-short-stub_vlmcsd") {
        assert_eq!(cs[0].verdict, Verdict::Pass, "{:#?}", cs[0]);
        assert!(finding(&cs[0], "model.undecodable_request").passed);
    }
}
