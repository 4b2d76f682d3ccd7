//! Live fuzzing of a KMS host: structure-aware mutations of well-formed sessions, sent over
//! real connections, each answer judged by an oracle built on the reference model and the
//! suite's response checks, with periodic sanity exchanges to notice a dead host.
//!
//! * [`case`]: what a case is ([`FuzzCase`], [`Action`], [`Expect`], [`MutationKind`]) and its
//!   JSON form (bytes as hex), which is also the saved reproducer format.
//! * [`mutator`]: [`Mutator`], seeded: the same seed, case index and clock give the same case.
//! * [`oracle`]: [`Oracle`], judging one answer against what the case expects
//!   ([`FindingClass`]).
//! * [`exec`]: runs one case's actions against a [`crate::target::Target`], recording the
//!   exchange.
//! * [`save`]: reproducer directories (`session.json`, `exchange.pcap`, `replay.sh`).
//! * [`run`]: the fuzz loop, its report (`kmsspec-fuzz-report/1`) and the `kmsspec fuzz`
//!   command.

pub mod case;
pub mod exec;
pub mod hex;
pub mod mutator;
pub mod oracle;
pub mod run;
pub mod save;

pub use case::{Action, Expect, ExpectKind, FuzzCase, MutationKind};
pub use exec::{execute, CaseResult, Exchange};
pub use mutator::Mutator;
pub use oracle::{FindingClass, FuzzFinding, Oracle};
pub use run::{fuzz, replay, FuzzOptions, FuzzReport, REPORT_FORMAT};
