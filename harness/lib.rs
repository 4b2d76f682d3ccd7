#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! kmsspec: a conformance test harness and protocol fuzzer for Microsoft KMS volume-activation
//! hosts (DCE/RPC over TCP 1688).
//!
//! Layers, each depending only on those below it: `wire` (bytes ↔ typed messages and crypto),
//! `model` (sans-I/O reference state machines and the product catalog), `capture` (pcap →
//! reassembled flows → exchanges), `target` (candidate hosts), `suite` (YAML cases and their
//! runner), `report` (verdicts → terminal, JSON, JUnit).

pub mod capture;
pub mod cli;
pub mod client;
pub mod fuzzing;
pub mod host;
pub mod livefuzz;
pub mod model;
pub mod report;
pub mod rng;
pub mod serve;
pub mod suite;
pub mod target;
pub mod wire;
