//! Baseline transcripts: a run's normalised transcript (random fields redacted by the runner)
//! compared with a stored one, differences shown as a unified diff. This is how a host's
//! developers see protocol regressions between two builds of their server.

use similar::TextDiff;

/// The outcome of comparing a run with its stored baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineComparison {
    /// Identical.
    Same,
    /// Different; the unified diff (baseline → this run).
    Changed(String),
}

/// Compares the stored baseline text with this run's transcript.
pub fn compare(stored: &str, current: &str) -> BaselineComparison {
    if stored == current {
        return BaselineComparison::Same;
    }
    let diff = TextDiff::from_lines(stored, current)
        .unified_diff()
        .context_radius(3)
        .header("baseline", "this run")
        .to_string();
    BaselineComparison::Changed(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_same_and_changes_show_as_diff() {
        assert_eq!(compare("a\nb\n", "a\nb\n"), BaselineComparison::Same);
        match compare("a\ncount=25\n", "a\ncount=26\n") {
            BaselineComparison::Changed(d) => {
                assert!(d.contains("-count=25"), "{d}");
                assert!(d.contains("+count=26"), "{d}");
            }
            BaselineComparison::Same => panic!("a change must be reported"),
        }
    }
}
