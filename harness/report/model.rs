//! The report data model: what a run produced, independent of how it is printed. The JSON
//! output is this structure serialised; its `schema` field versions it.

use super::verdict::{Level, Verdict};
use serde::{Deserialize, Serialize};

/// Version tag written into every JSON report; bump on incompatible changes.
pub const REPORT_SCHEMA: &str = "kmsspec-report/1";

/// One expectation that was checked, with what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Index of the case step (0-based) the finding belongs to.
    pub step: usize,
    /// Stable name of the check (e.g. `response.cmid_echo`, `model.count`).
    pub check: String,
    /// The model or protocol rule id the check enforces, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// How binding the check is; a missed check grades the case by this level.
    pub level: Level,
    /// Whether the expectation held.
    pub passed: bool,
    /// What a conforming host does.
    pub expected: String,
    /// What the target did.
    pub observed: String,
    /// A side finding: an observation about another subject than the case's (a count bound,
    /// ePID stability, a response field another case owns). It is shown on the case and
    /// gathered into the run's host profile, but never decides the case's verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub side: bool,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReport {
    /// Stable case id, e.g. `THR-CLIENT-25`.
    pub id: String,
    /// Rule family (the spec file's family), used to group the terminal report.
    pub family: String,
    /// One-line title.
    pub title: String,
    /// The rule the case checks, in one sentence.
    pub rule: String,
    /// Where the rule is written.
    pub source: String,
    /// The case's level.
    pub level: Level,
    /// The graded verdict.
    pub verdict: Verdict,
    /// Why the case was skipped, or a one-line summary of what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every check made, passed or not.
    pub findings: Vec<Finding>,
    /// The decoded exchanges, one line each, for the report of a non-pass.
    pub transcript: Vec<String>,
    /// Wall time spent on the case.
    pub duration_ms: u64,
    /// Set when the expectations file lists this case as a known failure, with its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    /// Every PDU sent and received during the case (bytes and decoded form) and the
    /// connection events between them, for the HTML report. Absent from older reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wire: Vec<WireEntry>,
    /// A model self-check (activation-service cases): it runs in-process and never touches
    /// the target, so its verdict is counted apart from the host's ([`RunReport::self_checks`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub self_check: bool,
}

/// Which way a [`WireEntry`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireDir {
    /// kmsspec wrote the bytes to the target.
    Sent,
    /// The target sent the bytes.
    Received,
    /// No bytes: a connection opened, closed or reset, or the target stayed silent.
    Event,
}

/// One PDU (or connection event) of a case, so a report reader sees exactly what went over
/// the wire and what it meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    /// Connection number within the case, from 1 in the order they were opened.
    pub conn: u32,
    /// Direction.
    pub dir: WireDir,
    /// One line: the PDU type and header fields, or the event.
    pub summary: String,
    /// The bytes in lower-case hex (empty for events; cut at [`WIRE_HEX_LIMIT`] bytes, the
    /// summary then says how many there were).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hex: String,
    /// The decode records this entry completed (a bind with its ack, an exchange with its
    /// response checks, a fault…), in `kmsspec decode`'s text form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoded: Vec<String>,
}

/// Most bytes of one PDU kept as hex in a [`WireEntry`] (KMS PDUs are a few hundred bytes;
/// a hostile case may send far more).
pub const WIRE_HEX_LIMIT: usize = 4096;

/// Most [`WireEntry`]s kept per case (pipelines and 1-byte writes could make thousands); the
/// last entry then says how many were left out.
pub const WIRE_ENTRY_LIMIT: usize = 400;

impl CaseReport {
    /// Grades the case from its findings: the worst verdict of a missed check that is not a
    /// side finding, PASS if none;
    /// an INFO-level case is INFO whatever it observed (its behaviour is recorded, not judged).
    pub fn grade(level: Level, findings: &[Finding]) -> Verdict {
        let worst = findings
            .iter()
            .filter(|f| !f.passed && !f.side)
            .map(|f| Verdict::for_missed(f.level))
            .fold(Verdict::Pass, Verdict::worst);
        if level == Level::Info && worst != Verdict::Fail {
            Verdict::Info
        } else {
            worst
        }
    }

    /// True when this case counts against the exit status: a FAIL not excused by `--expect`.
    pub fn is_blocking_failure(&self) -> bool {
        self.verdict == Verdict::Fail && self.expected_failure.is_none()
    }

    /// True when the expectations file lists this case but it no longer fails (a fix to notice).
    pub fn is_unexpected_pass(&self) -> bool {
        self.expected_failure.is_some() && self.verdict != Verdict::Fail
    }
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases run (including skipped).
    pub total: usize,
    /// PASS count.
    pub pass: usize,
    /// NON-STRICT count.
    pub non_strict: usize,
    /// FAIL count (including expected failures).
    pub fail: usize,
    /// FAIL count excused by the expectations file.
    pub expected_fail: usize,
    /// INFO count.
    pub info: usize,
    /// SKIP count.
    pub skip: usize,
    /// Cases listed as expected failures that did not fail.
    pub unexpected_pass: usize,
}

impl Summary {
    /// Tallies the cases.
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseReport>) -> Self {
        let mut s = Summary::default();
        for c in cases {
            s.total += 1;
            match c.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::NonStrict => s.non_strict += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::Info => s.info += 1,
                Verdict::Skip => s.skip += 1,
            }
            if c.verdict == Verdict::Fail && c.expected_failure.is_some() {
                s.expected_fail += 1;
            }
            if c.is_unexpected_pass() {
                s.unexpected_pass += 1;
            }
        }
        s
    }
}

/// Whether the target answered the sanity exchange before and after the suite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// Sanity exchange before the first case.
    pub alive_before: bool,
    /// Sanity exchange after the last case.
    pub alive_after: bool,
    /// Why the sanity exchange before the suite did not verify, when it did not (a host that
    /// answered wrongly is still alive, and its cases run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanity_failure: Option<String>,
    /// Id of the first case after which the target stopped answering, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub died_after_case: Option<String>,
}

/// One cross-cutting observation about the host, gathered once per run from the side
/// findings of every case (the "host profile"): for example a count that never exceeds 10
/// although 50 distinct CMIDs were sent, or a new ePID on every answer. It decides nothing
/// by itself; the cases listed in `owners` are about it and carry its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    /// The check (e.g. `kms.cmid_echo`, `epid.stable`, `model.count`).
    pub check: String,
    /// The rule it belongs to, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What was seen, in one sentence.
    pub summary: String,
    /// Cases where it was seen as a side finding.
    pub seen_in: Vec<String>,
    /// Cases whose subject it is, with their verdicts (e.g. `RESP-ECHO-CMID-1 FAIL`).
    pub owners: Vec<String>,
}

/// A whole run: the JSON report's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// kmsspec's version.
    pub tool_version: String,
    /// What was tested: `embedded` or `HOST:PORT`, or a capture list for replays.
    pub target: String,
    /// The target's short name in reports that compare runs (`run --name`; `HOST:PORT` or
    /// `embedded` by default). Absent from older reports: see [`RunReport::display_name`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Start of the run, RFC 3339 UTC.
    pub started: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Target liveness around the suite.
    pub health: TargetHealth,
    /// Per-verdict counts of the cases that judge the host (model self-checks excluded).
    pub summary: Summary,
    /// Per-verdict counts of the model self-checks (cases that never touch the target).
    #[serde(default)]
    pub self_checks: Summary,
    /// Why the run as a whole failed, whatever the cases say: the target could not be
    /// reached, never answered the sanity exchange, or stopped answering. Exit status 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_failure: Option<String>,
    /// Cross-cutting findings about the host, gathered from the side findings of all cases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_profile: Vec<ProfileEntry>,
    /// Every case, in run order.
    pub cases: Vec<CaseReport>,
}

impl RunReport {
    /// Assembles a report and computes its summary.
    pub fn new(
        target: String,
        started: String,
        duration_ms: u64,
        health: TargetHealth,
        cases: Vec<CaseReport>,
    ) -> Self {
        RunReport {
            schema: REPORT_SCHEMA.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            target,
            name: None,
            started,
            duration_ms,
            health,
            summary: Summary::of(cases.iter().filter(|c| !c.self_check)),
            self_checks: Summary::of(cases.iter().filter(|c| c.self_check)),
            run_failure: None,
            host_profile: Vec::new(),
            cases,
        }
    }

    /// The name to show for this run: `name`, else `embedded` for an embedded host, else the
    /// target text.
    pub fn display_name(&self) -> &str {
        match &self.name {
            Some(n) if !n.trim().is_empty() => n,
            _ if self.target.starts_with("embedded") => "embedded",
            _ => &self.target,
        }
    }

    /// Process exit status: 0 when no MUST case fails (or only expected ones) and the target
    /// answered; 1 when a case fails, a model self-check fails, or the run failed as a whole
    /// ([`RunReport::run_failure`]: nothing answered, or the host died).
    pub fn exit_code(&self) -> i32 {
        if self.run_failure.is_some() || self.cases.iter().any(CaseReport::is_blocking_failure) {
            1
        } else {
            0
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn finding(passed: bool, level: Level) -> Finding {
        Finding {
            step: 0,
            check: "response.cmid_echo".into(),
            rule: None,
            level,
            passed,
            expected: "x".into(),
            observed: if passed { "x" } else { "y" }.into(),
            side: false,
        }
    }

    pub(crate) fn case(id: &str, verdict: Verdict, expected_failure: Option<&str>) -> CaseReport {
        CaseReport {
            id: id.into(),
            family: "ECHO".into(),
            title: "t".into(),
            rule: "r".into(),
            source: "s".into(),
            level: Level::Must,
            verdict,
            reason: None,
            findings: vec![],
            transcript: vec![],
            duration_ms: 1,
            expected_failure: expected_failure.map(str::to_string),
            wire: vec![],
            self_check: false,
        }
    }

    #[test]
    fn side_findings_never_decide_and_self_checks_count_apart() {
        let mut side = finding(false, Level::Must);
        side.side = true;
        assert_eq!(CaseReport::grade(Level::Must, &[side]), Verdict::Pass);
        let mut svc = case("S", Verdict::Pass, None);
        svc.self_check = true;
        let r = RunReport::new(
            "t".into(),
            "now".into(),
            0,
            TargetHealth::default(),
            vec![svc, case("A", Verdict::Pass, None)],
        );
        assert_eq!((r.summary.total, r.summary.pass), (1, 1));
        assert_eq!((r.self_checks.total, r.self_checks.pass), (1, 1));
        assert_eq!(r.exit_code(), 0);
        let mut dead = r.clone();
        dead.run_failure = Some("nothing answered".into());
        assert_eq!(dead.exit_code(), 1);
    }

    #[test]
    fn grading_uses_the_level_of_each_missed_check() {
        let f = [finding(true, Level::Must), finding(false, Level::Should)];
        assert_eq!(CaseReport::grade(Level::Must, &f), Verdict::NonStrict);
        let f = [finding(false, Level::Must), finding(false, Level::Should)];
        assert_eq!(CaseReport::grade(Level::Must, &f), Verdict::Fail);
        assert_eq!(
            CaseReport::grade(Level::Must, &[finding(true, Level::Must)]),
            Verdict::Pass
        );
        assert_eq!(
            CaseReport::grade(Level::Info, &[finding(false, Level::Info)]),
            Verdict::Info
        );
    }

    #[test]
    fn exit_code_ignores_expected_failures_and_notes_fixes() {
        let r = RunReport::new(
            "t".into(),
            "now".into(),
            0,
            TargetHealth::default(),
            vec![
                case("A", Verdict::Fail, Some("known")),
                case("B", Verdict::Pass, Some("old")),
            ],
        );
        assert_eq!(r.exit_code(), 0);
        assert_eq!(r.summary.expected_fail, 1);
        assert_eq!(r.summary.unexpected_pass, 1);
        let r2 = RunReport::new(
            "t".into(),
            "now".into(),
            0,
            TargetHealth::default(),
            vec![case("A", Verdict::Fail, None)],
        );
        assert_eq!(r2.exit_code(), 1);
    }

    #[test]
    fn reports_without_the_newer_fields_still_load() {
        let r = RunReport::new(
            "embedded reference host (127.0.0.1:4000)".into(),
            "now".into(),
            0,
            TargetHealth::default(),
            vec![case("A", Verdict::Pass, None)],
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            !json.contains("\"wire\"") && !json.contains("\"name\""),
            "{json}"
        );
        let back: RunReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.display_name(), "embedded");
        let named = RunReport {
            name: Some("vlmcsd 1113".into()),
            target: "127.0.0.1:1688".into(),
            ..back.clone()
        };
        assert_eq!(named.display_name(), "vlmcsd 1113");
        let live = RunReport {
            target: "127.0.0.1:1688".into(),
            ..back
        };
        assert_eq!(live.display_name(), "127.0.0.1:1688");
    }
}
