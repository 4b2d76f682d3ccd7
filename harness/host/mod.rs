//! The embedded reference KMS host, sans-I/O: a conforming host (per spec §1, §6, §8) whose
//! every choice is documented, plus mutants that break exactly one behaviour each.
//!
//! * [`HostConnection`]: one TCP connection's protocol state; `feed` bytes in any chunking,
//!   get reply bytes and a [`Disposition`].
//! * [`HostState`]: what all connections share (model CMID tables, clock, seeded RNG,
//!   association groups, the [`HostFlaw`]).
//! * [`convert::activation_request`]: decoded wire request → model request (shared with the
//!   runner and capture replay).
//!
//! The TCP listener around it is [`crate::target::embedded`].

pub mod connection;
pub mod convert;
pub mod flaw;
pub mod state;

pub use crate::rng::SplitMix64;
pub use connection::{
    judge_element, Disposition, HostConnection, MAX_CONTEXTS, MAX_FRAG, MAX_STUB,
};
pub use convert::activation_request;
pub use flaw::HostFlaw;
pub use state::{HostClock, HostState, KmsReply};
