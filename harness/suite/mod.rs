//! The conformance suite: YAML cases → plans, run against a target, graded into verdicts.

pub mod case;
pub mod loader;
