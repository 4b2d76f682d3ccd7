//! Verdicts and requirement levels, Autobahn / h2spec style, and how a case's findings grade
//! into one verdict.

use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::model::rules::Level;

/// The outcome of one case against one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// Every expectation held.
    #[serde(rename = "PASS")]
    Pass,
    /// A SHOULD-level expectation was missed; still interoperable.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// A MUST-level expectation was missed.
    #[serde(rename = "FAIL")]
    Fail,
    /// Behaviour recorded for information (INFO-level rule, or a deviation the documents allow).
    #[serde(rename = "INFO")]
    Info,
    /// A precondition the target does not meet (or could not be established), with its reason.
    #[serde(rename = "SKIP")]
    Skip,
}

impl Verdict {
    /// The stable upper-case name used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Fail => "FAIL",
            Verdict::Info => "INFO",
            Verdict::Skip => "SKIP",
        }
    }

    /// The verdict a missed expectation of `level` gives.
    pub fn for_missed(level: Level) -> Self {
        match level {
            Level::Must => Verdict::Fail,
            Level::Should => Verdict::NonStrict,
            Level::Info => Verdict::Info,
        }
    }

    /// Combines two verdicts of the same case: the worse one wins (FAIL > NON-STRICT > INFO > PASS).
    pub fn worst(self, other: Verdict) -> Verdict {
        fn rank(v: Verdict) -> u8 {
            match v {
                Verdict::Pass => 0,
                Verdict::Info => 1,
                Verdict::NonStrict => 2,
                Verdict::Skip => 3,
                Verdict::Fail => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_expectations_grade_by_level() {
        assert_eq!(Verdict::for_missed(Level::Must), Verdict::Fail);
        assert_eq!(Verdict::for_missed(Level::Should), Verdict::NonStrict);
        assert_eq!(Verdict::for_missed(Level::Info), Verdict::Info);
    }

    #[test]
    fn worst_verdict_wins() {
        assert_eq!(Verdict::Pass.worst(Verdict::NonStrict), Verdict::NonStrict);
        assert_eq!(Verdict::Fail.worst(Verdict::NonStrict), Verdict::Fail);
        assert_eq!(Verdict::Info.worst(Verdict::Pass), Verdict::Info);
    }
}
