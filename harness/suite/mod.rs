//! The conformance suite: YAML cases → plans, run against a target, graded into verdicts.

pub mod case;
pub mod command;
pub mod judge;
pub mod list;
pub mod loader;
pub mod mutate;
pub mod names;
pub mod record;
pub mod replay;
pub mod runner;
pub mod subject;
pub mod transcript;
