//! Command-line interface: clap definitions, exit codes, progress bars. No protocol logic.

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
    Run(RunArgs),
    /// List the cases, their ids, rules and sources.
    List(ListArgs),
    /// Judge captured exchanges with the reference model (and re-send them to a live target).
    Replay(ReplayArgs),
    /// Decode captures into typed, verified KMS exchanges.
    Decode(DecodeArgs),
    /// Fuzz a live host (default: the embedded reference host) with mutated sessions.
    Fuzz(FuzzArgs),
}

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

impl TargetArgs {
    /// The live-I/O timeouts these options ask for.
    pub fn timeouts(&self) -> crate::target::Timeouts {
        crate::target::Timeouts {
            connect: std::time::Duration::from_millis(self.connect_timeout_ms),
            read: std::time::Duration::from_millis(self.read_timeout_ms),
            write: std::time::Duration::from_millis(self.write_timeout_ms),
            ..crate::target::Timeouts::default()
        }
    }

    /// What the options declare about a live host (it cannot be reset or have its clock moved).
    pub fn facts(&self) -> crate::target::TargetFacts {
        crate::target::TargetFacts {
            fresh: self.fresh,
            resettable: false,
            clock_control: false,
            host_keys: self.host_key.clone(),
            profile: self.profile.clone(),
        }
    }

    /// The live target `--target` names (loopback only unless `--allow-remote`), if any.
    pub fn live_target(&self) -> Result<Option<crate::target::LiveTarget>, String> {
        self.target
            .as_deref()
            .map(|addr| {
                crate::target::LiveTarget::new(
                    addr,
                    self.timeouts(),
                    self.facts(),
                    self.allow_remote,
                )
                .map_err(|e| e.to_string())
            })
            .transpose()
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
    /// Compare the normalised transcript with this baseline file.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write the baseline instead of comparing.
    #[arg(long)]
    pub update_baseline: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
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
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Output format of `decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecodeFormat {
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
    #[arg(long, value_enum, default_value_t = DecodeFormat::Text)]
    pub format: DecodeFormat,
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
