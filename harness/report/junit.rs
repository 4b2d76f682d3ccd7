//! JUnit XML for CI systems: one test suite per rule family, one test case per kmsspec case.
//! FAIL is a failure, NON-STRICT a failure only in strict mode (otherwise a pass with a
//! property), SKIP is skipped, INFO passes with its observation recorded.

use super::model::RunReport;
use super::verdict::Verdict;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

/// Renders the run as JUnit XML.
pub fn to_junit_xml(report: &RunReport) -> String {
    let mut junit = Report::new(format!("kmsspec {}", report.target));
    junit.set_time(Duration::from_millis(report.duration_ms));
    let mut families: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for case in &report.cases {
        let status = match case.verdict {
            Verdict::Pass | Verdict::Info => TestCaseStatus::success(),
            Verdict::Skip => {
                let mut s = TestCaseStatus::skipped();
                if let Some(r) = &case.reason {
                    s.set_message(r.as_str());
                }
                s
            }
            Verdict::Fail | Verdict::NonStrict if case.expected_failure.is_some() => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!(
                    "expected failure: {}",
                    case.expected_failure.as_deref().unwrap_or_default()
                ));
                s
            }
            Verdict::Fail | Verdict::NonStrict => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type(case.verdict.as_str());
                s.set_message(case.reason.clone().unwrap_or_else(|| case.rule.clone()));
                let detail: Vec<String> = case
                    .findings
                    .iter()
                    .filter(|f| !f.passed)
                    .map(|f| {
                        format!(
                            "step {} {} [{}]: expected {}, observed {}",
                            f.step, f.check, f.level, f.expected, f.observed
                        )
                    })
                    .chain(case.transcript.iter().cloned())
                    .collect();
                s.set_description(detail.join("\n"));
                s
            }
        };
        let mut tc = TestCase::new(format!("{} {}", case.id, case.title), status);
        tc.set_classname(format!("kmsspec.{}", case.family));
        tc.set_time(Duration::from_millis(case.duration_ms));
        tc.add_property(("verdict", case.verdict.as_str()));
        tc.add_property(("level", case.level.to_string().as_str()));
        families
            .entry(case.family.as_str())
            .or_insert_with(|| TestSuite::new(case.family.as_str()))
            .add_test_case(tc);
    }
    let mut suites: Vec<TestSuite> = families.into_values().collect();
    if let Some(first) = suites.first_mut() {
        for (i, p) in report.host_profile.iter().enumerate() {
            first.add_property((format!("host_profile.{i}.{}", p.check), p.summary.clone()));
        }
        if let Some(why) = &report.run_failure {
            first.add_property(("run_failure", why.as_str()));
        }
    }
    junit.add_test_suites(suites);
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::case;
    use crate::report::model::TargetHealth;

    #[test]
    fn failures_and_skips_are_marked() {
        let mut skipped = case("C", Verdict::Skip, None);
        skipped.reason = Some("needs --fresh".into());
        let r = RunReport::new(
            "embedded".into(),
            "now".into(),
            5,
            TargetHealth::default(),
            vec![
                case("A", Verdict::Pass, None),
                case("B", Verdict::Fail, None),
                skipped,
            ],
        );
        let xml = to_junit_xml(&r);
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(xml.contains("needs --fresh"), "{xml}");
        assert!(xml.contains("kmsspec.ECHO"), "{xml}");
    }
}
