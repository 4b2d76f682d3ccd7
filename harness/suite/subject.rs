//! One subject per case: which findings decide a case's verdict, and which are side findings.
//!
//! A case is decided by its own subject:
//! - what it asked for explicitly (`expect`, bind results, sanity and service steps), whether
//!   the exchange happened at all (connect, the default bind) and whether the host chose the
//!   outcome the model allows (answer, or refusal with the right HRESULT) — the [`CORE`]
//!   checks, which every case owns;
//! - the protocol checks it names in its `subject:` list (check-name globs such as
//!   `kms.cmid_echo` or `rpc.*`);
//! - the checks citing a model rule its `rules:` list names (for example `model.count` cites
//!   CNT-DISTINCT-CMID, `epid.stable` cites EPID-STABLE, the interval bounds cite
//!   INT-OVERRIDE).
//!
//! Every other finding is about another subject (a count bound, ePID stability, a response
//! field another case owns): it stays on the case as an INFO side finding and is gathered
//! into the run's host profile, but it never decides the verdict.

use super::case::CaseDef;
use crate::report::{Finding, Level};
use crate::suite::runner::glob_match;

/// Checks every case owns: its explicit expectations, whether the exchange took place, and
/// whether the outcome kind is one the model allows.
pub const CORE: &[&str] = &[
    "expect.*",
    "client.activates",
    "transport.connect",
    "sanity",
    "robustness.then_sanity",
    "bind.*",
    "idle.*",
    "service.*",
    "model.outcome",
    "rpc.header",
    "ndr.response_form",
    "ndr.error_form",
    "kms.response_structure",
    "kms.decryption_padding",
];

/// Name prefixes a `subject:` glob may start with (the families of checks the runner makes).
pub const CHECK_FAMILIES: &[&str] = &[
    "rpc.",
    "ndr.",
    "kms.",
    "epid.",
    "hwid.",
    "model.",
    "transport.",
    "client.",
    "expect.",
    "bind.",
    "idle.",
    "sanity.",
];

/// Whether `glob` can name a check the runner makes (used by the loader to refuse typos).
pub fn is_check_glob(glob: &str) -> bool {
    CHECK_FAMILIES.iter().any(|p| glob.starts_with(p)) || glob == "*"
}

/// Whether a finding belongs to the case's subject.
pub fn is_subject(case: &CaseDef, f: &Finding) -> bool {
    CORE.iter().any(|g| glob_match(g, &f.check))
        || case.subject.iter().any(|g| glob_match(&g.value, &f.check))
        || f.rule
            .as_deref()
            .is_some_and(|r| case.rules.iter().any(|x| x.value == r))
}

/// Marks every finding outside the case's subject as an INFO side finding.
pub fn mark_side_findings(case: &CaseDef, findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        if !f.side && !is_subject(case, f) {
            f.side = true;
            f.level = Level::Info;
        }
    }
}
