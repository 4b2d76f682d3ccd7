//! Runner tests against the embedded reference host, with inline YAML cases.

use kmsspec::report::baseline::{compare, BaselineComparison};
use kmsspec::report::Verdict;
use kmsspec::suite::loader::{parse_spec, LoadedCase};
use kmsspec::suite::names::CatalogNames;
use kmsspec::suite::runner::{run_suite, RunOptions};
use kmsspec::suite::transcript::baseline_text;
use kmsspec::target::{EmbeddedConfig, EmbeddedHost};
use std::path::Path;

fn cases(yaml: &str) -> Vec<LoadedCase> {
    let spec = parse_spec(Path::new("inline.yaml"), yaml, &CatalogNames).expect("spec loads");
    spec.cases
        .into_iter()
        .map(|case| LoadedCase {
            family: spec.family.clone(),
            file: "inline.yaml".into(),
            case,
        })
        .collect()
}

const SUITE: &str = r#"
family: T
title: runner tests
cases:
  - id: T-THRESHOLD
    title: server threshold
    rule: r
    source: s
    level: MUST
    requires: { fresh: true }
    steps:
      - repeat:
          times: 4
          steps:
            - request: { product: Windows Server 2019 Standard, expect: { activates: false } }
      - request: { product: Windows Server 2019 Standard, expect: { activates: true, count: 5 } }
  - id: T-WRONG-COUNT
    title: a wrong expectation fails
    rule: r
    source: s
    level: MUST
    requires: { fresh: true }
    steps:
      - request: { product: Windows 10 Enterprise, expect: { count: 7 } }
  - id: T-PROFILE
    title: needs a profile
    rule: r
    source: s
    level: SHOULD
    requires: { profile: strict }
    steps:
      - request: { product: Windows 10 Enterprise }
"#;

fn host() -> EmbeddedHost {
    EmbeddedHost::start(EmbeddedConfig::default()).expect("embedded host starts")
}

#[test]
fn verdicts_name_the_failed_check_and_skip_reasons() {
    let h = host();
    let report = run_suite(&h, &cases(SUITE), &RunOptions::default());
    let by = |id: &str| report.cases.iter().find(|c| c.id == id).expect(id);
    assert_eq!(
        by("T-THRESHOLD").verdict,
        Verdict::Pass,
        "{:?}",
        by("T-THRESHOLD")
    );
    let wrong = by("T-WRONG-COUNT");
    assert_eq!(wrong.verdict, Verdict::Fail);
    assert!(wrong
        .findings
        .iter()
        .any(|f| !f.passed && f.check == "expect.count" && f.observed == "1"));
    assert!(wrong
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("expect.count"));
    let skip = by("T-PROFILE");
    assert_eq!(skip.verdict, Verdict::Skip);
    assert!(skip.reason.as_deref().unwrap_or("").contains("strict"));
    assert!(report.health.alive_before && report.health.alive_after);
    assert_eq!(report.exit_code(), 1);
    assert!(by("T-THRESHOLD")
        .transcript
        .iter()
        .any(|l| l.starts_with("<- response count=5 ")));
}

#[test]
fn only_filter_and_expectations() {
    let h = host();
    let mut opts = RunOptions {
        only: vec!["T-W*".into()],
        ..RunOptions::default()
    };
    opts.expectations
        .insert("T-WRONG-COUNT".into(), "deliberate".into());
    let report = run_suite(&h, &cases(SUITE), &opts);
    assert_eq!(report.cases.len(), 1);
    assert_eq!(report.cases[0].id, "T-WRONG-COUNT");
    assert_eq!(
        report.exit_code(),
        0,
        "an expected failure does not fail the run"
    );
}

#[test]
fn baseline_same_then_changed() {
    let h = host();
    let opts = RunOptions {
        only: vec!["T-THRESHOLD".into()],
        ..RunOptions::default()
    };
    let a = baseline_text(&run_suite(&h, &cases(SUITE), &opts));
    let b = baseline_text(&run_suite(&h, &cases(SUITE), &opts));
    assert!(a.contains("cmid=cmid#1"), "{a}");
    assert_eq!(compare(&a, &b), BaselineComparison::Same, "{a}\n---\n{b}");
    let changed = cases(&SUITE.replace("count: 5", "count: 6"));
    let c = baseline_text(&run_suite(&h, &changed, &opts));
    match compare(&a, &c) {
        BaselineComparison::Changed(d) => assert!(d.contains("FAIL"), "{d}"),
        BaselineComparison::Same => panic!("a changed verdict must show"),
    }
}

#[test]
fn mutation_and_robustness_steps() {
    let yaml = r#"
family: M
title: m
cases:
  - id: M-TRUNC
    title: truncated message
    rule: r
    source: s
    level: MUST
    steps:
      - request:
          product: Windows 10 Enterprise
          mutate: [{ scope: kms, truncate: 100 }]
          expect: { outcome: [error, fault, close], then_sanity: true }
  - id: M-FRAG
    title: fragmented request
    rule: r
    source: s
    level: MUST
    steps:
      - request: { product: Windows 10 Enterprise, fragment: 100 }
  - id: M-SVC
    title: service
    rule: r
    source: s
    level: MUST
    requires: { activation_service: true }
    steps:
      - service: { op: add_mak, key: m, product: "Windows Server 2016", count: 1, expect: ok }
      - service: { op: activate, key: m, product: Windows Server 2016 Standard, machines: [a], expect: ok, remaining: 0 }
      - service: { op: activate, key: m, product: Windows Server 2016 Standard, machines: [b], expect: "0xC004C020" }
"#;
    let h = host();
    let report = run_suite(&h, &cases(yaml), &RunOptions::default());
    for c in &report.cases {
        assert_eq!(c.verdict, Verdict::Pass, "{c:#?}");
    }
    let trunc = &report.cases[0];
    assert!(trunc
        .findings
        .iter()
        .any(|f| f.check == "robustness.then_sanity" && f.passed));
}
