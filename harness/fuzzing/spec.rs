//! YAML case loading target.

use crate::suite::loader::{check_spec, deserialize_spec, AnyName, LoadError, NameCheck};
use std::path::Path;

/// Accepts no name.
struct Strict;
impl NameCheck for Strict {
    fn is_product(&self, _: &str) -> bool {
        false
    }
    fn is_rule(&self, _: &str) -> bool {
        false
    }
    fn is_host_key(&self, _: &str) -> bool {
        false
    }
}

/// `spec_yaml`: the spec loader ([`deserialize_spec`] + [`check_spec`], which is `parse_spec`)
/// on the input as text (lossy UTF-8). No panic; an error names the file and a line no further
/// than one past the last line; an accepted spec has cases with a token id and at least one
/// step; whatever loads with no known names loads with all names. The YAML is read once and
/// its result checked against both name sets: names are checked after the YAML layer.
pub fn fuzz_spec_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = Path::new("fuzz.yaml");
    let breaks = text
        .char_indices()
        .filter(|&(i, c)| c == '\n' || (c == '\r' && text.as_bytes().get(i + 1) != Some(&b'\n')))
        .count() as u64;
    let lines = breaks + 1;
    let assert_located = |e: &LoadError| {
        assert_eq!(e.file, file);
        assert!(
            e.line <= lines + 1,
            "error line {} beyond {lines} lines",
            e.line
        );
    };
    let spec = match deserialize_spec(file, &text) {
        Ok(spec) => spec,
        Err(e) => return assert_located(&e),
    };
    match check_spec(file, &spec, &AnyName) {
        Ok(()) => {
            for case in &spec.cases {
                let id = &case.id.value;
                assert!(!id.trim().is_empty() && !id.contains(char::is_whitespace));
                assert!(!case.steps.is_empty(), "accepted case without steps");
            }
        }
        Err(e) => {
            assert_located(&e);
            assert!(
                check_spec(file, &spec, &Strict).is_err(),
                "no known names accepts what all names refuse"
            );
        }
    }
}
