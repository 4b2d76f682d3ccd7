//! YAML case loading target.

use crate::suite::loader::{parse_spec, AnyName, NameCheck};
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

/// `spec_yaml`: [`parse_spec`] on the input as text (lossy UTF-8). No panic; an error names the
/// file and a line no further than one past the last line; an accepted spec has cases with a
/// token id and at least one step; whatever loads with no known names loads with all names.
pub fn fuzz_spec_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = Path::new("fuzz.yaml");
    let breaks = text
        .char_indices()
        .filter(|&(i, c)| c == '\n' || (c == '\r' && text.as_bytes().get(i + 1) != Some(&b'\n')))
        .count() as u64;
    let lines = breaks + 1;
    let permissive = parse_spec(file, &text, &AnyName);
    match &permissive {
        Ok(spec) => {
            for case in &spec.cases {
                let id = &case.id.value;
                assert!(!id.trim().is_empty() && !id.contains(char::is_whitespace));
                assert!(!case.steps.is_empty(), "accepted case without steps");
            }
        }
        Err(e) => {
            assert_eq!(e.file, file);
            assert!(
                e.line <= lines + 1,
                "error line {} beyond {lines} lines",
                e.line
            );
        }
    }
    if permissive.is_err() {
        let strict = parse_spec(file, &text, &Strict);
        assert!(
            strict.is_err(),
            "no known names accepts what all names refuse"
        );
    }
}
