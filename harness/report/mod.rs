//! Reports: verdicts → terminal text, versioned JSON, JUnit XML, baseline diffs. This layer
//! prints what the suite decided; it never decides a verdict itself.

pub mod baseline;
pub mod command;
pub mod expect;
pub mod html;
pub mod junit;
pub mod load;
pub mod model;
pub mod profile;
pub mod terminal;
pub mod verdict;

pub use model::{
    CaseReport, Finding, ProfileEntry, RunReport, Summary, TargetHealth, WireDir, WireEntry,
    REPORT_SCHEMA,
};
pub use verdict::{Level, Verdict};

/// Renders the run as pretty JSON (the documented, versioned schema of [`RunReport`]).
pub fn to_json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Prints the terminal report and writes the JSON and JUnit files asked for (`run`, `replay`).
pub fn emit(
    report: &RunReport,
    json: Option<&std::path::Path>,
    junit_xml: Option<&std::path::Path>,
) -> Result<(), String> {
    print!("{}", terminal::render(report));
    if let Some(p) = json {
        std::fs::write(p, to_json(report)).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = junit_xml {
        std::fs::write(p, junit::to_junit_xml(report))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Writes an HTML page to `path` (`--html`), naming the file in the error.
pub fn write_html(path: &std::path::Path, page: &str) -> Result<(), String> {
    std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))
}
