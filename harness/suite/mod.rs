//! The conformance suite: YAML cases → plans, run against a target, graded into verdicts.

pub mod case;
pub mod list;
pub mod loader;
pub mod names;
pub mod judge;
pub mod mutate;
pub mod runner;
pub mod transcript;
