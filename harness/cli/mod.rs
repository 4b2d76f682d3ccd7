//! Command-line interface: clap definitions (with each command's examples and exit
//! statuses in its `--help`), exit codes, and the conversion of parsed arguments into the
//! typed options the library's command handlers take. No protocol logic.

pub mod decode;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Exit status: no MUST case failed.
pub const EXIT_OK: i32 = 0;
/// Exit status: a MUST case failed (or decoding found damage).
pub const EXIT_FAIL: i32 = 1;
/// Exit status: usage or input error.
pub const EXIT_USAGE: i32 = 2;

/// kmsspec: conformance test harness and protocol fuzzer for KMS volume-activation hosts.
#[derive(Debug, Parser)]
#[command(name = "kmsspec", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance suite against a target (default: the embedded reference host).
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// List the cases, their ids, rules and sources.
    #[command(after_help = LIST_HELP)]
    List(ListArgs),
    /// Judge captured exchanges with the reference model (and re-send them to a live target).
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// Decode captures into typed, verified KMS exchanges.
    #[command(after_help = DECODE_HELP)]
    Decode(DecodeArgs),
    /// Fuzz a live host (default: the embedded reference host) with mutated sessions.
    #[command(after_help = FUZZ_HELP)]
    Fuzz(FuzzArgs),
    /// Render JSON run reports as one HTML page (a matrix of targets × cases for several).
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Serve the embedded reference host (or a mutant) for real clients, logging exchanges.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

const RUN_HELP: &str = "\
Examples:
  kmsspec run --html r.html --json r.json
  kmsspec run --target 127.0.0.1:1688 --name my-host --fresh --host-key 'Windows Server 2019'
  kmsspec run --only 'THR-*' --skip 'THR-OFFICE-*' --junit r.xml

Exit status: 0 no MUST case failed (or only cases listed in --expect); 1 a MUST case
failed or the baseline changed; 2 usage, spec or file errors.";

const LIST_HELP: &str = "\
Examples:
  kmsspec list
  kmsspec list specs/thresholds.yaml

Exit status: 0 listed; 2 the specs do not load (file, line and column on stderr).";

const REPLAY_HELP: &str = "\
Examples:
  kmsspec replay captures/c03_v6_ndr32_btfn_3req.pcap --html replay.html
  kmsspec replay capture.pcapng --target 127.0.0.1:1688 --json replay.json

Exit status: 0 no MUST case failed; 1 a MUST case failed; 2 usage or file errors.";

const DECODE_HELP: &str = "\
Examples:
  kmsspec decode capture.pcapng
  kmsspec decode --format json --problems-only capture.pcap > problems.jsonl
  kmsspec decode --html decode.html captures/*.pcap

Exit status: 0 all clean; 1 damage, error records, undecodable messages or failed checks;
2 a file that cannot be opened or is not a capture, or an output that cannot be written.";

const FUZZ_HELP: &str = "\
Examples:
  kmsspec fuzz --cases 5000 --seed 7
  kmsspec fuzz --target 127.0.0.1:1688 --duration 60 --out findings/
  kmsspec fuzz --replay findings/7-123-hang/session.json --target 127.0.0.1:1688

Exit status: 0 no finding; 1 findings (saved under --out); 2 usage errors.";

const REPORT_HELP: &str = "\
Examples:
  kmsspec report --html r.html r.json
  kmsspec report --html m.html windows.json vlmcsd.json pykms.json

One report gives its own page; several give a matrix (one column per run, named by
`run --name`, one row per case, each cell linking to that run's case detail).

Exit status: 0 page written; 2 a report cannot be read or parsed (file:line:column on
stderr) or the page cannot be written.";

const SERVE_HELP: &str = "\
Examples:
  kmsspec serve
  kmsspec serve --listen 127.0.0.1:1688 --host-key 'Windows Server 2022' --json
  kmsspec serve --flaw wrong-cmid-echo &
  kmsspec run --target 127.0.0.1:1688 --name wrong-cmid-echo --html r.html

Each exchange is logged on stdout in `kmsspec decode`'s text form (JSON lines with
--json); the listening address and, at the end, the totals go to stderr.

Exit status: 0 stopped by Ctrl-C or SIGTERM; 2 cannot start (bad or non-loopback
address without --allow-remote, address in use, unknown flaw, profile or host key).";

/// Options that pick and describe a target.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// A live candidate `HOST:PORT`. Without it, the embedded reference host on loopback.
    #[arg(long)]
    pub target: Option<String>,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Declare the host's CMID tables empty at the start (enables count cases).
    #[arg(long)]
    pub fresh: bool,
    /// Declare a host key (CSVLK family name from the catalog) the host holds (repeatable).
    #[arg(long)]
    pub host_key: Vec<String>,
    /// Judging profile: `default` (documented rules) or `strict` (also the undocumented ±4 h
    /// time limit: skewed requests must get 0xC004F06C).
    #[arg(long)]
    pub profile: Option<String>,
    /// Connect timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub connect_timeout_ms: u64,
    /// Read timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub read_timeout_ms: u64,
    /// Write timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub write_timeout_ms: u64,
}

impl From<TargetArgs> for crate::target::TargetOptions {
    fn from(a: TargetArgs) -> Self {
        crate::target::TargetOptions {
            target: a.target,
            allow_remote: a.allow_remote,
            fresh: a.fresh,
            host_key: a.host_key,
            profile: a.profile,
            connect_timeout_ms: a.connect_timeout_ms,
            read_timeout_ms: a.read_timeout_ms,
            write_timeout_ms: a.write_timeout_ms,
        }
    }
}

/// `kmsspec run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Spec files or folders (default: `specs/`).
    pub specs: Vec<PathBuf>,
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only cases whose id matches this glob (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// Skip cases whose id matches this glob (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Expectations file: known failures with reasons.
    #[arg(long)]
    pub expect: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report here (summary, cases by family, findings, wire log).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// The target's name in reports and comparison matrices (default: the --target
    /// HOST:PORT, or `embedded`).
    #[arg(long)]
    pub name: Option<String>,
    /// Compare the normalised transcript with this baseline file.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write the baseline instead of comparing.
    #[arg(long)]
    pub update_baseline: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Cases run at once (default: the available cores against the embedded host, where
    /// every case has a host of its own and the report equals a sequential one; 1 against a
    /// live target, where more runs the cases that do not depend on host state concurrently
    /// after those that do, and count bounds in side findings become approximate).
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: Option<u64>,
    /// Also run the model self-checks (activation-service cases, in-process, never touching
    /// the target) against a live target; they always run against the embedded host.
    #[arg(long)]
    pub self_checks: bool,
}

/// `kmsspec list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Spec files or folders (default: `specs/`).
    pub specs: Vec<PathBuf>,
}

/// `kmsspec replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files.
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// The target (re-send each captured request to it).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Output format of `decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecodeFormatArg {
    /// Human-readable blocks.
    Text,
    /// JSON Lines.
    Json,
    /// A YAML transcript.
    Yaml,
}

/// `kmsspec decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DecodeFormatArg::Text)]
    pub format: DecodeFormatArg,
    /// Cap on buffered out-of-order bytes per connection.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_buffer: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print only what needs attention (exchanges with a failed check, a decode error, no
    /// response or an error HRESULT; unacknowledged binds; faults, gaps, errors) and the
    /// summary. Every exchange is still decoded and verified; the exit status is unchanged.
    #[arg(long)]
    pub problems_only: bool,
    /// Also write an HTML page of the captures here (their exchanges and failed checks).
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// `kmsspec fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Seed (the same seed gives the same cases).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of cases.
    #[arg(long, conflicts_with = "duration")]
    pub cases: Option<u64>,
    /// Duration in seconds.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Where findings are saved.
    #[arg(long, default_value = "fuzz-findings")]
    pub out: PathBuf,
    /// Replay one saved finding.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `kmsspec report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the HTML page here.
    #[arg(long, required = true)]
    pub html: PathBuf,
    /// JSON run reports (`run --json`, `replay --json`), one matrix column each.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
}

/// `kmsspec serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed on stderr).
    #[arg(long, default_value = crate::serve::DEFAULT_LISTEN)]
    pub listen: String,
    /// Allow a listen address that is not loopback (other machines can then activate).
    #[arg(long)]
    pub allow_remote: bool,
    /// A host key (CSVLK name from the catalog) the host holds (repeatable; default:
    /// Windows Server 2019, Office 2019, Office 2010).
    #[arg(long)]
    pub host_key: Vec<String>,
    /// Host profile: `default`, or `strict` (refuse client times outside ±4 h with
    /// 0xC004F06C).
    #[arg(long)]
    pub profile: Option<String>,
    /// Serve a mutant with this one flaw (e.g. `fixed-count`, `wrong-cmid-echo`), to see
    /// kmsspec catch it.
    #[arg(long)]
    pub flaw: Option<String>,
    /// Log decode's JSON lines instead of text blocks.
    #[arg(long)]
    pub json: bool,
}

impl From<RunArgs> for crate::suite::command::RunCommand {
    fn from(a: RunArgs) -> Self {
        crate::suite::command::RunCommand {
            specs: a.specs,
            target: a.target.into(),
            only: a.only,
            skip: a.skip,
            expect: a.expect,
            json: a.json,
            junit: a.junit,
            html: a.html,
            name: a.name,
            baseline: a.baseline,
            update_baseline: a.update_baseline,
            quiet: a.quiet,
            self_checks: a.self_checks,
            jobs: a.jobs.map(|j| j as usize),
        }
    }
}

impl From<ListArgs> for crate::suite::list::ListCommand {
    fn from(a: ListArgs) -> Self {
        crate::suite::list::ListCommand { specs: a.specs }
    }
}

impl From<ReplayArgs> for crate::suite::replay::ReplayCommand {
    fn from(a: ReplayArgs) -> Self {
        crate::suite::replay::ReplayCommand {
            captures: a.captures,
            target: a.target.into(),
            json: a.json,
            junit: a.junit,
            html: a.html,
            quiet: a.quiet,
        }
    }
}

impl From<DecodeArgs> for decode::DecodeCommand {
    fn from(a: DecodeArgs) -> Self {
        decode::DecodeCommand {
            captures: a.captures,
            format: match a.format {
                DecodeFormatArg::Text => decode::DecodeFormat::Text,
                DecodeFormatArg::Json => decode::DecodeFormat::Json,
                DecodeFormatArg::Yaml => decode::DecodeFormat::Yaml,
            },
            max_buffer: a.max_buffer,
            quiet: a.quiet,
            problems_only: a.problems_only,
            html: a.html,
        }
    }
}

impl From<FuzzArgs> for crate::livefuzz::run::FuzzCommand {
    fn from(a: FuzzArgs) -> Self {
        crate::livefuzz::run::FuzzCommand {
            target: a.target.into(),
            seed: a.seed,
            cases: a.cases,
            duration: a.duration,
            out: a.out,
            replay: a.replay,
            json: a.json,
        }
    }
}

impl From<ReportArgs> for crate::report::command::ReportCommand {
    fn from(a: ReportArgs) -> Self {
        crate::report::command::ReportCommand {
            reports: a.reports,
            html: a.html,
        }
    }
}

impl From<ServeArgs> for crate::serve::ServeCommand {
    fn from(a: ServeArgs) -> Self {
        crate::serve::ServeCommand {
            listen: a.listen,
            allow_remote: a.allow_remote,
            host_key: a.host_key,
            profile: a.profile,
            flaw: a.flaw,
            json: a.json,
        }
    }
}

/// Runs the parsed command line and returns the process exit status.
pub fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::List(a) => crate::suite::list::command(&a.into()),
        Command::Run(a) => crate::suite::command::run(&a.into()),
        Command::Decode(a) => decode::run(&a.into()),
        Command::Fuzz(a) => crate::livefuzz::run::command(&a.into()),
        Command::Replay(a) => crate::suite::replay::command(&a.into()),
        Command::Report(a) => crate::report::command::command(&a.into()),
        Command::Serve(a) => crate::serve::command(&a.into()),
    }
}
