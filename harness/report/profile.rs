//! The host profile: cross-cutting observations gathered once per run from the side findings
//! of every case. A side finding (a count bound, ePID stability, a response field another
//! case owns) never decides the case it was seen on; here it is summed up once for the whole
//! host, with the cases that own the subject and their verdicts.

use super::model::{CaseReport, ProfileEntry};
use std::collections::{BTreeMap, BTreeSet};

/// Per check: how often it failed as a side finding, where, and an example.
#[derive(Default)]
struct Tally<'a> {
    rule: Option<&'a str>,
    failed: usize,
    seen_in: BTreeSet<&'a str>,
    example: Option<(&'a str, &'a str)>,
    observed: BTreeSet<&'a str>,
    answers: usize,
    max_observed: Option<u64>,
    max_expected: Option<u64>,
}

/// The first decimal number in a text (`count >= 29` → 29).
fn number_in(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Builds the host profile of a run from its cases (in a stable order: by check name).
pub fn host_profile(cases: &[CaseReport]) -> Vec<ProfileEntry> {
    let mut tallies: BTreeMap<(&str, Option<&str>), Tally<'_>> = BTreeMap::new();
    let mut owners: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in cases {
        for f in &c.findings {
            if !f.side {
                owners
                    .entry(f.check.as_str())
                    .or_default()
                    .insert(format!("{} {}", c.id, c.verdict));
                continue;
            }
            // A count above the cache is another finding than a count below the certain
            // minimum: each gets its own entry.
            let key = match (f.check.as_str(), f.rule.as_deref()) {
                ("model.count", Some(r @ "CACHE-2X-NEVER-SHRINK")) if !f.passed => {
                    ("model.count", Some(r))
                }
                (c, _) => (c, None),
            };
            let t = tallies.entry(key).or_default();
            t.rule = t.rule.or(key.1).or(f.rule.as_deref());
            t.answers += 1;
            t.observed.insert(f.observed.as_str());
            if !f.passed {
                t.failed += 1;
                t.seen_in.insert(c.id.as_str());
                t.example
                    .get_or_insert((f.expected.as_str(), f.observed.as_str()));
                if let Some(n) = number_in(&f.observed) {
                    t.max_observed = Some(t.max_observed.map_or(n, |m| m.max(n)));
                }
                if let Some(n) = number_in(&f.expected) {
                    t.max_expected = Some(t.max_expected.map_or(n, |m| m.max(n)));
                }
            }
        }
    }
    tallies
        .into_iter()
        .filter(|(_, t)| t.failed > 0)
        .map(|((check, _), t)| {
            let (expected, observed) = t.example.unwrap_or_default();
            let summary = match check {
                "model.count" if t.rule == Some("CACHE-2X-NEVER-SHRINK") => format!(
                    "counts above what the cache allows: up to {} where at most {} is possible \
                     ({} answers; CACHE-2X-NEVER-SHRINK)",
                    t.max_observed.unwrap_or(0),
                    t.max_expected.unwrap_or(0),
                    t.failed
                ),
                "model.count" => format!(
                    "the count never exceeds {} in the answers that fell short, although the \
                     distinct CMIDs sent and answered prove at least {} ({} of {} answers; \
                     CNT-DISTINCT-CMID)",
                    t.max_observed.unwrap_or(0),
                    t.max_expected.unwrap_or(0),
                    t.failed,
                    t.answers
                ),
                "epid.stable" | "hwid.stable" if t.observed.len() == t.answers => format!(
                    "a new value on every answer: {} distinct in {} answers of one host-key \
                     family (EPID-STABLE)",
                    t.observed.len(),
                    t.answers
                ),
                "epid.stable" | "hwid.stable" => format!(
                    "{} distinct values in {} answers of one host-key family (EPID-STABLE)",
                    t.observed.len(),
                    t.answers
                ),
                _ => format!(
                    "failed {} of {} times, e.g. expected {expected}, observed {observed}",
                    t.failed, t.answers
                ),
            };
            ProfileEntry {
                check: check.to_string(),
                rule: t.rule.map(str::to_string),
                summary,
                seen_in: t.seen_in.iter().map(|s| s.to_string()).collect(),
                owners: owners
                    .get(check)
                    .map(|o| o.iter().cloned().collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::{case, finding};
    use crate::report::{Level, Verdict};

    #[test]
    fn side_failures_are_summed_once_with_their_owners() {
        let mut side = finding(false, Level::Info);
        side.side = true;
        side.check = "kms.cmid_echo".into();
        let mut a = case("VER-V6-1", Verdict::Pass, None);
        a.findings = vec![side.clone(), side];
        let mut owner = finding(false, Level::Must);
        owner.check = "kms.cmid_echo".into();
        let mut b = case("RESP-ECHO-CMID-1", Verdict::Fail, None);
        b.findings = vec![owner];
        let p = host_profile(&[a, b]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].seen_in, vec!["VER-V6-1".to_string()]);
        assert_eq!(p[0].owners, vec!["RESP-ECHO-CMID-1 FAIL".to_string()]);
        assert!(
            p[0].summary.starts_with("failed 2 of 2 times"),
            "{}",
            p[0].summary
        );
    }

    #[test]
    fn a_new_epid_on_every_answer_is_named_so() {
        let mut c = case("VER-V6-1", Verdict::Pass, None);
        for i in 0..3 {
            let mut f = finding(i == 0, Level::Info);
            f.side = true;
            f.check = "epid.stable".into();
            f.observed = format!("epid-{i}");
            c.findings.push(f);
        }
        let p = host_profile(&[c]);
        assert!(
            p[0].summary.contains("new value on every answer"),
            "{}",
            p[0].summary
        );
    }
}
