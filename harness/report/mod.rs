//! Reports: verdicts → terminal text, versioned JSON, JUnit XML, baseline diffs. This layer
//! prints what the suite decided; it never decides a verdict itself.

pub mod baseline;
pub mod expect;
pub mod junit;
pub mod model;
pub mod terminal;
pub mod verdict;

pub use model::{CaseReport, Finding, RunReport, Summary, TargetHealth, REPORT_SCHEMA};
pub use verdict::{Level, Verdict};

/// Renders the run as pretty JSON (the documented, versioned schema of [`RunReport`]).
pub fn to_json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
