//! The expectations file (`--expect FILE`): cases a given target is known to fail, each with a
//! reason. Listed failures do not fail the run; listed cases that pass are reported as fixed.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One known failure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// Case id.
    pub id: String,
    /// Why the target fails it (shown in every report).
    pub reason: String,
}

/// The parsed file: `expected_failures: [{id, reason}, ...]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// The known failures.
    pub expected_failures: Vec<ExpectedFailure>,
}

impl Expectations {
    /// Parses the YAML text; errors carry line and column (`name` is the file name for messages).
    pub fn parse(name: &str, text: &str) -> Result<BTreeMap<String, String>, String> {
        let parsed: Expectations =
            serde_saphyr::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let mut map = BTreeMap::new();
        for e in parsed.expected_failures {
            if e.reason.trim().is_empty() {
                return Err(format!("{name}: expected failure {} has no reason", e.id));
            }
            if map.insert(e.id.clone(), e.reason).is_some() {
                return Err(format!("{name}: case {} listed twice", e.id));
            }
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys_and_missing_reasons() {
        let ok = "expected_failures:\n  - id: CNT-4\n    reason: no expiry\n";
        let m = Expectations::parse("x.yaml", ok).unwrap();
        assert_eq!(m.get("CNT-4").map(String::as_str), Some("no expiry"));
        let bad = "expected_failures:\n  - id: CNT-4\n    reasn: typo\n";
        let err = Expectations::parse("x.yaml", bad).unwrap_err();
        assert!(err.contains("x.yaml"), "{err}");
        let empty = "expected_failures:\n  - id: CNT-4\n    reason: \"\"\n";
        assert!(Expectations::parse("x.yaml", empty).is_err());
    }
}
