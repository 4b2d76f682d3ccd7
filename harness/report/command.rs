//! `kmsspec report`: renders JSON run reports (`run --json`, `replay --json`) as one HTML
//! page — a single run's page, or the comparison matrix of several.

use super::html::runs_page;
use super::load::load_run_report;
use super::write_html;
use crate::cli::{EXIT_OK, EXIT_USAGE};
use std::path::PathBuf;

/// What `kmsspec report` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone, Default)]
pub struct ReportCommand {
    /// The JSON run reports, one column each in the order given.
    pub reports: Vec<PathBuf>,
    /// Where the HTML page goes.
    pub html: PathBuf,
}

/// Runs `kmsspec report`: exit 0 when the page is written, 2 when a report cannot be read
/// (the error names the file, and the line and column for JSON errors) or the page not
/// written.
pub fn command(cmd: &ReportCommand) -> i32 {
    match render(cmd) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("kmsspec: {e}");
            EXIT_USAGE
        }
    }
}

fn render(cmd: &ReportCommand) -> Result<(), String> {
    if cmd.reports.is_empty() {
        return Err("report needs at least one JSON run report".into());
    }
    let runs = cmd
        .reports
        .iter()
        .map(|p| load_run_report(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    write_html(&cmd.html, &runs_page(&runs))
}
