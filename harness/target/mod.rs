//! Targets: every candidate host behind one trait, so the same case runs against the embedded
//! reference host on loopback or a live server. This layer moves bytes; it never judges them.

pub mod embedded;
pub mod options;
pub mod tcp;

use crate::model::HostConfig;
use crate::wire::FileTime;
use std::fmt;
use std::time::Duration;

pub use embedded::{ConnectionTap, EmbeddedConfig, EmbeddedHost, TapFactory};
pub use options::TargetOptions;
pub use tcp::{LiveTarget, TcpConnection, Timeouts};

/// What is declared or known about a target; cases whose preconditions are unknown are SKIP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// The host's CMID tables are empty now (`--fresh`, or a resettable host).
    pub fresh: bool,
    /// The harness can reset the host to empty tables between cases.
    pub resettable: bool,
    /// The harness can move the host's clock (the embedded host).
    pub clock_control: bool,
    /// The host keys (CSVLK family names) the host holds, when declared.
    pub host_keys: Vec<String>,
    /// Declared profile (e.g. `strict`).
    pub profile: Option<String>,
}

impl TargetFacts {
    /// The configuration a model judges this target with, from the run's `run` configuration:
    /// `run` itself when the target holds exactly its keys (the embedded host), the declared
    /// keys (`--host-key`, ePIDs unknown) otherwise, and unknown keys when nothing was
    /// declared — then any catalog product may be answered or refused with 0xC004F042.
    pub fn model_config(&self, run: &HostConfig) -> HostConfig {
        let same = self.host_keys.len() == run.keys.len()
            && self
                .host_keys
                .iter()
                .zip(&run.keys)
                .all(|(a, b)| a.eq_ignore_ascii_case(&b.host_key));
        if self.host_keys.is_empty() {
            run.clone().with_unknown_keys()
        } else if same {
            run.clone()
        } else {
            run.clone().with_declared_keys(&self.host_keys)
        }
    }
}

/// Why talking to a target failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// Could not connect (after the bounded retries).
    Connect {
        /// Address tried.
        addr: String,
        /// The OS error.
        reason: String,
    },
    /// The host did not answer (or accept bytes) within the timeout.
    Timeout {
        /// What was being done: `connect`, `read`, `write`.
        phase: &'static str,
    },
    /// The host closed or reset the connection.
    Closed,
    /// Another I/O error.
    Io(String),
    /// The host announced an answer larger than the bound on bytes read per answer.
    TooLarge {
        /// Announced size.
        declared: usize,
        /// The bound.
        limit: usize,
    },
    /// The operation is not available on this target (e.g. clock control on a live host).
    Unsupported(&'static str),
    /// The address is not loopback and remote targets were not allowed.
    NotLoopback(String),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Connect { addr, reason } => {
                write!(f, "cannot connect to {addr}: {reason}")
            }
            TargetError::Timeout { phase } => write!(f, "timed out during {phase}"),
            TargetError::Closed => write!(f, "connection closed by the host"),
            TargetError::Io(e) => write!(f, "I/O error: {e}"),
            TargetError::TooLarge { declared, limit } => {
                write!(
                    f,
                    "answer of {declared} bytes exceeds the {limit}-byte bound"
                )
            }
            TargetError::Unsupported(what) => write!(f, "{what} is not supported by this target"),
            TargetError::NotLoopback(a) => write!(
                f,
                "{a} is not a loopback address; pass --allow-remote to probe a host elsewhere"
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// What came back when the harness waited for one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// One complete PDU (header's frag_length bytes).
    Pdu(Vec<u8>),
    /// The host closed the connection cleanly (FIN) before any byte of an answer.
    Closed,
    /// The host reset the connection.
    Reset,
    /// Nothing within the read timeout.
    Silence,
    /// Bytes that do not start a DCE/RPC PDU (kept, bounded), then close or silence.
    Garbage(Vec<u8>),
}

/// One open connection to a target.
pub trait Connection: Send {
    /// Writes all bytes (write timeout applies).
    fn send(&mut self, bytes: &[u8]) -> Result<(), TargetError>;
    /// Writes in chunks with a pause between them (slow or 1-byte-at-a-time clients).
    fn send_chunked(
        &mut self,
        bytes: &[u8],
        chunk: usize,
        pause: Duration,
    ) -> Result<(), TargetError>;
    /// Waits for one answer PDU (read timeout applies; bounded size).
    fn recv(&mut self) -> Result<Received, TargetError>;
    /// Waits for one answer with a specific timeout (e.g. to observe silence briefly).
    fn recv_within(&mut self, timeout: Duration) -> Result<Received, TargetError>;
    /// Closes the write side and the connection.
    fn close(&mut self);
    /// The local and remote addresses, when the connection is a socket (the wire log of a
    /// report names them).
    fn addrs(&self) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
        None
    }
}

/// A candidate host.
pub trait Target: Send + Sync {
    /// Human name: `embedded reference host (127.0.0.1:PORT)` or `HOST:PORT`.
    fn name(&self) -> String;
    /// What is known about the host.
    fn facts(&self) -> TargetFacts;
    /// Opens a new TCP connection.
    fn connect(&self) -> Result<Box<dyn Connection>, TargetError>;
    /// The host's current time as the harness should stamp requests (live: the local clock).
    fn now(&self) -> FileTime {
        FileTime::from_utc(time::OffsetDateTime::now_utc())
    }
    /// Resets the host to empty tables (resettable targets only).
    fn reset(&self) -> Result<(), TargetError> {
        Err(TargetError::Unsupported("reset"))
    }
    /// Puts the host back exactly as it started: empty tables, its clock stopped at its start
    /// instant, its RNG at its seed. The runner rewinds before every case so that a case's
    /// outcome never depends on the cases run before it (hermetic cases), which is what lets
    /// cases run concurrently with the same reports as a sequential run.
    fn rewind(&self) -> Result<(), TargetError> {
        Err(TargetError::Unsupported("rewind"))
    }
    /// An independent host with the same configuration (and start instant), so that concurrent
    /// hermetic cases each have a host of their own.
    fn sibling(&self) -> Result<Box<dyn Target>, TargetError> {
        Err(TargetError::Unsupported("sibling"))
    }
    /// How long an `idle` step that asks for `asked` waits on this target. A live host gets
    /// what the case asks; the embedded host, in-process with a known 30 s idle timeout and a
    /// shorter read timeout for "the host stays silent", gets the same fraction of it.
    fn idle_wait(&self, asked: Duration) -> Duration {
        asked
    }
    /// Moves the host's clock forward (clock-control targets only).
    fn advance_clock(&self, _by: Duration) -> Result<(), TargetError> {
        Err(TargetError::Unsupported("clock control"))
    }
}
