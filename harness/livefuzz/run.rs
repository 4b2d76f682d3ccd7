//! The fuzz loop and the `kmsspec fuzz` command: cases from the [`Mutator`] run one after
//! another, each judged by the [`Oracle`]; a sanity exchange on a fresh connection every
//! [`FuzzOptions::sanity_every`] cases and after any close, reset or silence; two failed
//! sanity exchanges in a row stop the run with `host_died`. Findings are saved as reproducers.
//!
//! JSON report (`--json F`), format `kmsspec-fuzz-report/1`:
//! `{ format, target, seed, cases, seconds, cases_per_second, stopped_early, by_kind:
//! {kind: cases}, by_class: {class: findings}, findings: [{ case, kind, note, class, check?,
//! rule?, detail, dir? }] }`.

use super::case::{FuzzCase, MutationKind};
use super::exec::execute;
use super::mutator::Mutator;
use super::oracle::{FindingClass, FuzzFinding, Oracle};
use super::save::save_finding;
use crate::cli::{EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::client::{sanity_exchange_with, SplitMix64, SANITY_PRODUCT};
use crate::target::{
    EmbeddedConfig, EmbeddedHost, LiveTarget, Target, TargetFacts, TargetOptions, Timeouts,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The report format id.
pub const REPORT_FORMAT: &str = "kmsspec-fuzz-report/1";
/// Default number of cases.
pub const DEFAULT_CASES: u64 = 2000;
/// Most reproducers saved per finding class (every finding is still counted).
pub const MAX_SAVED_PER_CLASS: usize = 10;

/// What `kmsspec fuzz` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone)]
pub struct FuzzCommand {
    /// The target (none: the embedded reference host).
    pub target: TargetOptions,
    /// Seed (the same seed gives the same cases).
    pub seed: u64,
    /// Number of cases (default [`DEFAULT_CASES`]).
    pub cases: Option<u64>,
    /// Duration in seconds, instead of a number of cases.
    pub duration: Option<u64>,
    /// Where findings are saved.
    pub out: PathBuf,
    /// Replay one saved finding (`session.json`) instead of fuzzing.
    pub replay: Option<PathBuf>,
    /// Write the JSON report here.
    pub json: Option<PathBuf>,
}

impl Default for FuzzCommand {
    /// The command line's defaults: the embedded host, seed 1, `fuzz-findings/`.
    fn default() -> Self {
        FuzzCommand {
            target: TargetOptions::default(),
            seed: 1,
            cases: None,
            duration: None,
            out: PathBuf::from("fuzz-findings"),
            replay: None,
            json: None,
        }
    }
}

/// How to run a fuzz session.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Run seed.
    pub seed: u64,
    /// Number of cases (when no duration).
    pub cases: u64,
    /// Run for this long instead of a number of cases.
    pub duration: Option<Duration>,
    /// Where reproducers go (`None`: not saved).
    pub out: Option<PathBuf>,
    /// A sanity exchange every this many cases.
    pub sanity_every: u64,
    /// Progress bar on stderr.
    pub progress: bool,
    /// `--target` text for the replay command lines.
    pub target_arg: Option<String>,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            seed: 1,
            cases: DEFAULT_CASES,
            duration: None,
            out: None,
            sanity_every: 64,
            progress: false,
            target_arg: None,
        }
    }
}

/// One finding in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedFinding {
    /// Case index.
    pub case: u64,
    /// Mutation kind of the case.
    pub kind: MutationKind,
    /// The mutation in words.
    pub note: String,
    /// The finding (class, check or rule, detail).
    #[serde(flatten)]
    pub finding: FuzzFinding,
    /// Reproducer directory, when saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// The result of a fuzz run.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzReport {
    /// [`REPORT_FORMAT`].
    pub format: &'static str,
    /// Target name.
    pub target: String,
    /// Seed.
    pub seed: u64,
    /// Cases run.
    pub cases: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Cases per second.
    pub cases_per_second: f64,
    /// Stopped because the host died.
    pub stopped_early: bool,
    /// Cases per mutation kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Findings per class slug.
    pub by_class: BTreeMap<String, u64>,
    /// Every finding.
    pub findings: Vec<ReportedFinding>,
}

impl FuzzReport {
    /// Terminal summary.
    pub fn render(&self) -> String {
        let mut s = format!(
            "kmsspec fuzz: {} — seed {}, {} cases in {:.1} s ({:.0} cases/s){}\n",
            self.target,
            self.seed,
            self.cases,
            self.seconds,
            self.cases_per_second,
            if self.stopped_early {
                ", stopped: host died"
            } else {
                ""
            }
        );
        if self.findings.is_empty() {
            s.push_str("no findings\n");
            return s;
        }
        s.push_str(&format!("{} findings:\n", self.findings.len()));
        for (class, n) in &self.by_class {
            s.push_str(&format!("  {class}: {n}\n"));
        }
        let mut shown = 0;
        for f in &self.findings {
            if let Some(d) = &f.dir {
                if shown < 20 {
                    s.push_str(&format!(
                        "  case {} [{}] {}: {} -> {}\n",
                        f.case,
                        f.kind.name(),
                        f.finding.class,
                        f.finding.detail,
                        d.display()
                    ));
                }
                shown += 1;
            }
        }
        s
    }
}

/// Two sanity exchanges at most: `Ok` when the host answers one (a wrong answer is judged by
/// the oracle on the cases themselves; this only decides whether the host is alive), else the
/// last reason.
fn confirm_alive(
    target: &dyn Target,
    oracle: &mut Oracle,
    rng: &mut SplitMix64,
) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut answered = None;
        let r = sanity_exchange_with(target, SANITY_PRODUCT, rng, &mut |s| {
            answered = Some(s.clone())
        });
        if let Some(spec) = answered {
            oracle.count_answered(&spec, target.now());
        }
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.host_answered => return Ok(()),
            Err(e) => last = e.message,
        }
    }
    Err(last)
}

/// Fuzzes `target`.
pub fn fuzz(target: &dyn Target, opts: &FuzzOptions) -> FuzzReport {
    let mutator = Mutator::new(opts.seed);
    let mut oracle = Oracle::for_facts(&target.facts());
    let mut rng = SplitMix64::new(opts.seed ^ 0x5a17_5a17);
    let mut report = FuzzReport {
        format: REPORT_FORMAT,
        target: target.name(),
        seed: opts.seed,
        cases: 0,
        seconds: 0.0,
        cases_per_second: 0.0,
        stopped_early: false,
        by_kind: BTreeMap::new(),
        by_class: BTreeMap::new(),
        findings: Vec::new(),
    };
    let bar = opts.progress.then(|| {
        let b = match opts.duration {
            Some(d) => indicatif::ProgressBar::new(d.as_secs()),
            None => indicatif::ProgressBar::new(opts.cases),
        };
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        b
    });
    let mut saved: BTreeMap<&'static str, usize> = BTreeMap::new();
    let start = Instant::now();
    let mut index = 0u64;
    loop {
        let done = match opts.duration {
            Some(d) => start.elapsed() >= d,
            None => index >= opts.cases,
        };
        if done {
            break;
        }
        let case = mutator.case(index, target.now());
        *report.by_kind.entry(case.kind.name()).or_default() += 1;
        let result = execute(target, &case, &mut oracle);
        let mut findings = result.findings;
        let periodic = opts.sanity_every > 0 && (index + 1) % opts.sanity_every == 0;
        let died = findings.iter().any(|f| f.class == FindingClass::HostDied);
        if died || result.needs_sanity || case.sanity_after || periodic {
            if let Err(e) = confirm_alive(target, &mut oracle, &mut rng) {
                if !died {
                    findings.push(FuzzFinding {
                        class: FindingClass::HostDied,
                        detail: format!("sanity exchange failed twice: {e}"),
                    });
                }
                report.stopped_early = true;
            } else if died {
                // The connect failure did not last: not a dead host.
                findings.retain(|f| f.class != FindingClass::HostDied);
            }
        }
        if !findings.is_empty() {
            let dir = opts.out.as_ref().and_then(|out| {
                let n = saved.entry(findings[0].class.slug()).or_default();
                if *n >= MAX_SAVED_PER_CLASS {
                    return None;
                }
                *n += 1;
                save_finding(
                    out,
                    &case,
                    &findings,
                    &result.exchange,
                    opts.target_arg.as_deref(),
                )
                .ok()
            });
            for f in findings {
                *report
                    .by_class
                    .entry(f.class.slug().to_string())
                    .or_default() += 1;
                report.findings.push(ReportedFinding {
                    case: index,
                    kind: case.kind,
                    note: case.note.clone(),
                    finding: f,
                    dir: dir.clone(),
                });
            }
        }
        index += 1;
        if let Some(b) = &bar {
            match opts.duration {
                Some(_) => b.set_position(start.elapsed().as_secs()),
                None => b.set_position(index),
            }
        }
        if report.stopped_early {
            break;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report.cases = index;
    report.seconds = start.elapsed().as_secs_f64();
    report.cases_per_second = if report.seconds > 0.0 {
        index as f64 / report.seconds
    } else {
        0.0
    };
    report
}

/// What replaying one saved case gave.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    /// The case.
    pub case: FuzzCase,
    /// Its findings (with a dead host confirmed by sanity exchanges).
    pub findings: Vec<FuzzFinding>,
    /// Answer summaries.
    pub answers: Vec<String>,
}

/// Re-sends a saved case to `target` and judges it (with a fresh oracle).
pub fn replay(target: &dyn Target, case: &FuzzCase) -> ReplayOutcome {
    let mut oracle = Oracle::for_facts(&target.facts());
    let mut rng = SplitMix64::new(case.seed ^ case.index);
    let result = execute(target, case, &mut oracle);
    let mut findings = result.findings;
    if result.needs_sanity || case.sanity_after || findings.is_empty() {
        if let Err(e) = confirm_alive(target, &mut oracle, &mut rng) {
            if !findings.iter().any(|f| f.class == FindingClass::HostDied) {
                findings.push(FuzzFinding {
                    class: FindingClass::HostDied,
                    detail: format!("sanity exchange failed twice: {e}"),
                });
            }
        }
    }
    ReplayOutcome {
        case: case.clone(),
        findings,
        answers: result.answers,
    }
}

/// `kmsspec fuzz`: returns the exit status (0 no findings, 1 findings, 2 usage error).
pub fn command(args: &FuzzCommand) -> i32 {
    let t = &args.target;
    let timeouts = Timeouts {
        connect_attempts: 2,
        ..t.timeouts()
    };
    // The embedded host stays alive for the whole command.
    let mut embedded = None;
    let target: LiveTarget = match &t.target {
        Some(spec) => match LiveTarget::new(spec, timeouts, TargetFacts::default(), t.allow_remote)
        {
            Ok(x) => x,
            Err(e) => {
                eprintln!("kmsspec: {e}");
                return EXIT_USAGE;
            }
        },
        None => {
            let host = match EmbeddedHost::start(EmbeddedConfig::default()) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("kmsspec: cannot start the embedded host: {e}");
                    return EXIT_USAGE;
                }
            };
            let addr = host.addr().to_string();
            embedded = Some(host);
            match LiveTarget::new(&addr, timeouts, TargetFacts::default(), false) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("kmsspec: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    };
    let name = embedded
        .as_ref()
        .map_or_else(|| target.name(), |h| h.name());
    if let Some(file) = &args.replay {
        let text = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kmsspec: {}: {e}", file.display());
                return EXIT_USAGE;
            }
        };
        let case = match FuzzCase::from_json(&text) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("kmsspec: {}: {e}", file.display());
                return EXIT_USAGE;
            }
        };
        let out = replay(&target, &case);
        println!(
            "replay of case {} (seed {}, {}: {}) against {name}",
            case.index,
            case.seed,
            case.kind.name(),
            case.note
        );
        for a in &out.answers {
            println!("  <- {a}");
        }
        if out.findings.is_empty() {
            println!("no finding");
            return EXIT_OK;
        }
        for f in &out.findings {
            println!("  {}: {}", f.class, f.detail);
        }
        return EXIT_FAIL;
    }
    let opts = FuzzOptions {
        seed: args.seed,
        cases: args.cases.unwrap_or(DEFAULT_CASES),
        duration: args.duration.map(Duration::from_secs),
        out: Some(args.out.clone()),
        progress: std::io::stderr().is_terminal(),
        target_arg: t.target.clone(),
        ..FuzzOptions::default()
    };
    let mut report = fuzz(&target, &opts);
    report.target = name;
    print!("{}", report.render());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("kmsspec: {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    drop(embedded);
    if report.findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}
