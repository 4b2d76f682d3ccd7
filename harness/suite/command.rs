//! `kmsspec run`: picks the target (embedded host, or a live one on loopback unless
//! `--allow-remote`), loads the specs, runs them, prints the terminal report and writes the
//! JSON / JUnit / HTML / baseline outputs. A baseline change makes the run exit 1 (a protocol
//! regression is a failure until the baseline is updated with `--update-baseline`).

use super::names::load_default;
use super::runner::{run_suite, RunOptions};
use super::transcript::baseline_text;
use crate::cli::{EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::model::HostConfig;
use crate::report::baseline::{compare, BaselineComparison};
use crate::report::expect::Expectations;
use crate::target::embedded::{EmbeddedConfig, EmbeddedHost};
use crate::target::{Target, TargetOptions};
use std::path::PathBuf;

/// What `kmsspec run` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone, Default)]
pub struct RunCommand {
    /// Spec files or folders (empty: `specs/`).
    pub specs: Vec<PathBuf>,
    /// The target.
    pub target: TargetOptions,
    /// Only cases whose id matches one of these globs.
    pub only: Vec<String>,
    /// Skip cases whose id matches one of these globs.
    pub skip: Vec<String>,
    /// Expectations file: known failures with reasons.
    pub expect: Option<PathBuf>,
    /// Write the JSON report here.
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// Write the HTML report here.
    pub html: Option<PathBuf>,
    /// The target's name in reports (default: `HOST:PORT` of `--target`, or `embedded`).
    pub name: Option<String>,
    /// Compare the normalised transcript with this baseline file.
    pub baseline: Option<PathBuf>,
    /// Write the baseline instead of comparing.
    pub update_baseline: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Also run the model self-checks (activation-service cases, in-process) against a live
    /// target; they always run against the embedded host.
    pub self_checks: bool,
    /// Cases run at once (`--jobs`; `None`: the available cores against the embedded host,
    /// 1 against a live target).
    pub jobs: Option<usize>,
}

/// Runs `kmsspec run` and returns the process exit status.
pub fn run(args: &RunCommand) -> i32 {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kmsspec: {e}");
            EXIT_USAGE
        }
    }
}

fn run_inner(args: &RunCommand) -> Result<i32, String> {
    let cases = load_default(&args.specs).map_err(|e| e.to_string())?;
    let expectations = match &args.expect {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Expectations::parse(&p.display().to_string(), &text)?
        }
        None => Default::default(),
    };
    let profile = args.target.profile.as_deref().unwrap_or("default");
    let host_config = HostConfig::for_profile(profile)?;
    let opts = RunOptions {
        only: args.only.clone(),
        skip: args.skip.clone(),
        expectations,
        profile: args.target.profile.clone(),
        host_config: host_config.clone(),
        seed: 1,
        progress: !args.quiet,
        no_self_checks: args.target.target.is_some() && !args.self_checks,
        jobs: args.jobs.unwrap_or(0),
    };
    let t = &args.target;
    let target: Box<dyn Target> = match t.live_target()? {
        Some(live) => Box::new(live),
        None => Box::new(
            EmbeddedHost::start(EmbeddedConfig {
                host: host_config,
                ..EmbeddedConfig::default()
            })
            .map_err(|e| format!("cannot start the embedded host: {e}"))?,
        ),
    };
    let mut report = run_suite(target.as_ref(), &cases, &opts);
    report.name = Some(match (&args.name, &t.target) {
        (Some(n), _) => n.clone(),
        (None, Some(addr)) => addr.clone(),
        (None, None) => "embedded".into(),
    });
    crate::report::emit(&report, args.json.as_deref(), args.junit.as_deref())?;
    if let Some(p) = &args.html {
        crate::report::write_html(p, &crate::report::html::run_page(&report))?;
    }
    if let Some(why) = &report.run_failure {
        eprintln!("kmsspec: run failed: {why}");
    }
    let mut code = report.exit_code();
    if let Some(p) = &args.baseline {
        let current = baseline_text(&report);
        if args.update_baseline {
            std::fs::write(p, &current).map_err(|e| format!("{}: {e}", p.display()))?;
            println!("baseline written to {}", p.display());
        } else {
            let stored = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            match compare(&stored, &current) {
                BaselineComparison::Same => println!("baseline: unchanged"),
                BaselineComparison::Changed(diff) => {
                    println!("baseline: CHANGED\n{diff}");
                    code = code.max(EXIT_FAIL);
                }
            }
        }
    } else if args.update_baseline {
        return Err("--update-baseline needs --baseline FILE".into());
    }
    Ok(if code == 0 { EXIT_OK } else { code })
}
