//! The human report: cases grouped by rule family, one line each, and for every non-pass the
//! expected vs observed of each missed check and the decoded exchange.

use super::model::{CaseReport, RunReport};
use super::verdict::Verdict;
use std::fmt::Write as _;

/// Renders the whole run for a terminal.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "kmsspec {} — target {}",
        report.tool_version, report.target
    );
    let mut family = "";
    for case in report.cases.iter().filter(|c| !c.self_check) {
        if case.family != family {
            family = &case.family;
            let _ = writeln!(out, "\n[{family}]");
        }
        render_case(&mut out, case);
    }
    if report.self_checks.total > 0 {
        let _ = writeln!(
            out,
            "\n[model self-checks: activation service, run in-process; the target is not involved]"
        );
        for case in report.cases.iter().filter(|c| c.self_check) {
            render_case(&mut out, case);
        }
    }
    if !report.host_profile.is_empty() {
        let _ = writeln!(
            out,
            "\nHost profile (seen across cases; decides only the cases that own it)"
        );
        for p in &report.host_profile {
            let rule = p
                .rule
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}{rule}: {}", p.check, p.summary);
            if !p.owners.is_empty() {
                let _ = writeln!(out, "      judged by: {}", p.owners.join(", "));
            }
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} cases: {} pass, {} non-strict, {} fail ({} expected), {} info, {} skip  ({} ms)",
        s.total, s.pass, s.non_strict, s.fail, s.expected_fail, s.info, s.skip, report.duration_ms
    );
    let m = &report.self_checks;
    if m.total > 0 {
        let _ = writeln!(
            out,
            "{} model self-checks (not the target's verdicts): {} pass, {} fail",
            m.total, m.pass, m.fail
        );
    }
    if let Some(why) = &report.run_failure {
        let _ = writeln!(out, "RUN FAILED: {why}");
    }
    if s.unexpected_pass > 0 {
        let ids: Vec<&str> = report
            .cases
            .iter()
            .filter(|c| c.is_unexpected_pass())
            .map(|c| c.id.as_str())
            .collect();
        let _ = writeln!(
            out,
            "listed as expected failures but now passing: {}",
            ids.join(", ")
        );
    }
    let h = &report.health;
    if !h.alive_before {
        let _ = writeln!(
            out,
            "target did not answer the sanity exchange before the suite"
        );
    } else if let Some(why) = &h.sanity_failure {
        let _ = writeln!(
            out,
            "the target's answer to the sanity exchange failed a check: {why}"
        );
    }
    if let Some(id) = &h.died_after_case {
        let _ = writeln!(
            out,
            "target stopped answering after case {id}; later cases were not blamed on it"
        );
    } else if h.alive_before && !h.alive_after {
        let _ = writeln!(
            out,
            "target did not answer the sanity exchange after the suite"
        );
    }
    out
}

fn render_case(out: &mut String, case: &CaseReport) {
    let mark = match (&case.expected_failure, case.verdict) {
        (Some(_), Verdict::Fail) => "XFAIL".to_string(),
        _ => case.verdict.as_str().to_string(),
    };
    let _ = writeln!(out, "  {mark:<10} {:<22} {}", case.id, case.title);
    if case.verdict == Verdict::Pass {
        return;
    }
    if let Some(reason) = &case.reason {
        let _ = writeln!(out, "             {reason}");
    }
    if let Some(why) = &case.expected_failure {
        let _ = writeln!(out, "             expected failure: {why}");
    }
    if case.verdict == Verdict::Skip {
        return;
    }
    let _ = writeln!(
        out,
        "             rule ({}, {}): {}",
        case.level, case.source, case.rule
    );
    for f in case.findings.iter().filter(|f| !f.passed) {
        let rule = f
            .rule
            .as_deref()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "             step {} {}{} [{}]\n               expected: {}\n               observed: {}",
            f.step, f.check, rule, f.level, f.expected, f.observed
        );
    }
    for line in &case.transcript {
        let _ = writeln!(out, "             | {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{case, finding};
    use crate::report::model::TargetHealth;
    use crate::report::verdict::Level;

    #[test]
    fn non_pass_cases_show_expected_and_observed() {
        let mut failing = case("ECHO-1", Verdict::Fail, None);
        failing.findings = vec![finding(false, Level::Must)];
        failing.transcript = vec!["-> request v6".into()];
        let r = RunReport::new(
            "127.0.0.1:1688".into(),
            "now".into(),
            3,
            TargetHealth {
                alive_before: true,
                alive_after: true,
                sanity_failure: Some("response fails cmid_echo".into()),
                died_after_case: None,
            },
            vec![case("OK-1", Verdict::Pass, None), failing],
        );
        let text = render(&r);
        assert!(text.contains("[ECHO]"), "{text}");
        assert!(text.contains("FAIL       ECHO-1"), "{text}");
        assert!(text.contains("expected: x"), "{text}");
        assert!(text.contains("observed: y"), "{text}");
        assert!(text.contains("| -> request v6"), "{text}");
        assert!(text.contains("2 cases: 1 pass"), "{text}");
        assert!(text.contains("sanity exchange failed a check: response fails cmid_echo"));
    }
}
