//! Loads spec files: YAML via serde-saphyr, then semantic checks (unique ids, known products
//! and rule ids, bounded repeats). Every error names the file, line and column.

use super::case::{CaseDef, SpecFile, Step};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Most iterations a `repeat` may ask for (a typo must not make a run endless).
pub const MAX_REPEAT: u32 = 10_000;
/// Largest spec file read (bytes).
pub const MAX_SPEC_FILE: u64 = 4 * 1024 * 1024;

/// A spec that could not be loaded, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

impl std::error::Error for LoadError {}

/// What the loader checks names against (the product catalog and the model's rule registry).
pub trait NameCheck {
    /// Is `name` a product (SKU) the catalog knows?
    fn is_product(&self, name: &str) -> bool;
    /// Is `id` a rule the model defines?
    fn is_rule(&self, id: &str) -> bool;
    /// Is `name` a host-key family the catalog knows?
    fn is_host_key(&self, name: &str) -> bool;
}

/// Accepts every name: for checking a spec's syntax and structure alone (fuzzing, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyName;

impl NameCheck for AnyName {
    fn is_product(&self, _: &str) -> bool {
        true
    }
    fn is_rule(&self, _: &str) -> bool {
        true
    }
    fn is_host_key(&self, _: &str) -> bool {
        true
    }
}

/// A case with the family and file it came from.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    /// The spec file's family.
    pub family: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// The case.
    pub case: CaseDef,
}

/// Loads every `*.yaml` / `*.yml` under the given paths (files or folders, sorted by name).
pub fn load_paths(paths: &[PathBuf], names: &dyn NameCheck) -> Result<Vec<LoadedCase>, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| io_error(p, &e))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut cases = Vec::new();
    let mut seen: HashMap<String, (PathBuf, u64)> = HashMap::new();
    for file in files {
        let meta = std::fs::metadata(&file).map_err(|e| io_error(&file, &e))?;
        if meta.len() > MAX_SPEC_FILE {
            return Err(at(
                &file,
                0,
                0,
                format!("spec file larger than {MAX_SPEC_FILE} bytes"),
            ));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| io_error(&file, &e))?;
        let spec = parse_spec(&file, &text, names)?;
        for case in spec.cases {
            let id = case.id.value.clone();
            let line = case.id.referenced.line();
            if let Some((f, l)) = seen.get(&id) {
                return Err(at(
                    &file,
                    line,
                    case.id.referenced.column(),
                    format!("duplicate case id {id} (first at {}:{l})", f.display()),
                ));
            }
            seen.insert(id, (file.clone(), line));
            cases.push(LoadedCase {
                family: spec.family.clone(),
                file: file.clone(),
                case,
            });
        }
    }
    Ok(cases)
}

/// Parses and checks one spec file's text: [`deserialize_spec`], then [`check_spec`].
pub fn parse_spec(file: &Path, text: &str, names: &dyn NameCheck) -> Result<SpecFile, LoadError> {
    let spec = deserialize_spec(file, text)?;
    check_spec(file, &spec, names)?;
    Ok(spec)
}

/// Reads one spec file's YAML into its typed form, with no check of the names it uses (the
/// YAML layer does not depend on them, so the `spec_yaml` fuzz target deserializes once and
/// checks the result against several name sets). Errors carry the YAML line and column.
pub fn deserialize_spec(file: &Path, text: &str) -> Result<SpecFile, LoadError> {
    // No source snippet: a load error shows only the first line of the parser's message,
    // with our own file:line:column, and rendering the snippet cost most of an error's time.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        at(file, line, column, strip_location(&e.to_string()))
    })
}

/// Checks a deserialized spec: case ids, rule, product and host-key names (against `names`),
/// subject globs, and the steps of every case. The first problem is the error.
pub fn check_spec(file: &Path, spec: &SpecFile, names: &dyn NameCheck) -> Result<(), LoadError> {
    spec.cases
        .iter()
        .try_for_each(|case| check_case(file, case, names))
}

fn check_case(file: &Path, case: &CaseDef, names: &dyn NameCheck) -> Result<(), LoadError> {
    let id = &case.id;
    if id.value.trim().is_empty() || id.value.contains(char::is_whitespace) {
        return Err(spanned_err(
            file,
            id,
            "case id must be a non-empty token".into(),
        ));
    }
    for r in &case.rules {
        if !names.is_rule(&r.value) {
            return Err(spanned_err(
                file,
                r,
                format!("unknown model rule id {:?}", r.value),
            ));
        }
    }
    for g in &case.subject {
        if !crate::suite::subject::is_check_glob(&g.value) {
            return Err(spanned_err(
                file,
                g,
                format!(
                    "subject {:?} names no check (a glob starting with one of {})",
                    g.value,
                    crate::suite::subject::CHECK_FAMILIES.join(" ")
                ),
            ));
        }
    }
    if let Some(hk) = &case.requires.host_key {
        if !names.is_host_key(hk) {
            return Err(spanned_err(file, id, format!("unknown host key {hk:?}")));
        }
    }
    if case.steps.is_empty() {
        return Err(spanned_err(
            file,
            id,
            "a case needs at least one step".into(),
        ));
    }
    check_steps(file, case, &case.steps, names, 0)
}

fn check_steps(
    file: &Path,
    case: &CaseDef,
    steps: &[Step],
    names: &dyn NameCheck,
    depth: usize,
) -> Result<(), LoadError> {
    if depth > 4 {
        return Err(spanned_err(
            file,
            &case.id,
            "repeat nested deeper than 4".into(),
        ));
    }
    for step in steps {
        match step {
            Step::Request(r) if !names.is_product(&r.product.value) => {
                return Err(spanned_err(
                    file,
                    &r.product,
                    format!("unknown product {:?}", r.product.value),
                ));
            }
            Step::Repeat(rep) => {
                if rep.times == 0 || rep.times > MAX_REPEAT {
                    return Err(spanned_err(
                        file,
                        &case.id,
                        format!("repeat times must be 1..={MAX_REPEAT}, got {}", rep.times),
                    ));
                }
                check_steps(file, case, &rep.steps, names, depth + 1)?;
            }
            Step::Sanity(s) => {
                if let Some(p) = &s.product {
                    if !names.is_product(p) {
                        return Err(spanned_err(
                            file,
                            &case.id,
                            format!("unknown product {p:?}"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// serde-saphyr's messages start with `error: line L column C: `; the location is ours to print.
/// The parser's message without its location: one line, with the "… at line L, column C"
/// it appends (snippets are off, so that is the only place it puts one) cut off; the
/// location is in the error's own fields.
fn strip_location(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    match first.rsplit_once(" at line ") {
        Some((text, loc)) if is_line_column(loc) => text.to_string(),
        _ => first.to_string(),
    }
}

/// Whether `s` is exactly `<digits>, column <digits>`.
fn is_line_column(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    s.split_once(", column ")
        .is_some_and(|(line, column)| digits(line) && digits(column))
}

fn spanned_err<T>(file: &Path, s: &Spanned<T>, message: String) -> LoadError {
    at(file, s.referenced.line(), s.referenced.column(), message)
}

fn at(file: &Path, line: u64, column: u64, message: String) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    }
}

fn io_error(file: &Path, e: &std::io::Error) -> LoadError {
    at(file, 0, 0, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl NameCheck for Names {
        fn is_product(&self, name: &str) -> bool {
            name == "Windows 10 Enterprise"
        }
        fn is_rule(&self, id: &str) -> bool {
            id == "THR-CLIENT-25"
        }
        fn is_host_key(&self, _: &str) -> bool {
            true
        }
    }

    const GOOD: &str = "family: THR
title: thresholds
cases:
  - id: THR-CLIENT-25
    title: t
    rule: r
    source: s
    level: MUST
    rules: [THR-CLIENT-25]
    requires: { fresh: true }
    steps:
      - repeat:
          times: 24
          steps:
            - request: { product: Windows 10 Enterprise, expect: { activates: false } }
      - request: { product: Windows 10 Enterprise, expect: { activates: true, count: 25 } }
      - advance_clock: 31d
      - sanity: {}
";

    #[test]
    fn a_good_spec_loads() {
        let s = parse_spec(Path::new("t.yaml"), GOOD, &Names).unwrap();
        assert_eq!(s.cases.len(), 1);
        assert_eq!(s.cases[0].steps.len(), 4);
        assert_eq!(s.cases[0].id.referenced.line(), 4);
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let bad = GOOD.replace("    level: MUST", "    levle: MUST");
        let e = parse_spec(Path::new("t.yaml"), &bad, &Names).unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.starts_with("unknown field `levle`"), "{e}");
        assert!(e.column > 0, "{e}");
        assert!(
            e.to_string().starts_with("t.yaml:8:5: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_reports_line() {
        let bad = GOOD.replace("times: 24", "times: many");
        let e = parse_spec(Path::new("t.yaml"), &bad, &Names).unwrap_err();
        assert_eq!((e.line, e.column), (13, 18), "{e}");
    }

    #[test]
    fn unknown_product_reports_its_line() {
        let bad = GOOD.replace(
            "      - advance_clock: 31d",
            "      - request: { product: Windows 99 }\n      - advance_clock: 31d",
        );
        let e = parse_spec(Path::new("t.yaml"), &bad, &Names).unwrap_err();
        assert!(e.message.contains("Windows 99"), "{e}");
        assert_eq!(e.line, 17, "{e}");
    }

    #[test]
    fn unknown_rule_and_bounded_repeat() {
        let bad = GOOD.replace("rules: [THR-CLIENT-25]", "rules: [NOPE]");
        let e = parse_spec(Path::new("t.yaml"), &bad, &Names).unwrap_err();
        assert!(e.message.contains("NOPE"), "{e}");
        let bad = GOOD.replace("times: 24", "times: 100000");
        assert!(parse_spec(Path::new("t.yaml"), &bad, &Names).is_err());
    }
}
#[cfg(test)]
mod yaml_error_tests {
    use super::*;

    /// YAML errors are one line of the parser's text, with the location in the fields only
    /// (the snippet is off, and the parser's own "at line …" suffix is stripped).
    #[test]
    fn yaml_errors_are_located_once() {
        let cases = [
            ("cases: [", 1, 8, "unclosed bracket '['"),
            ("cases:\n - id: [\n", 2, 8, "expected string scalar"),
            (
                "family: 1\nfamily: 2\n",
                2,
                1,
                "duplicate mapping key: family, set DuplicateKeyPolicy in Options if acceptable",
            ),
            (
                "cases:\n  - id: x\n    bogus: 1\n",
                3,
                5,
                "unknown field `bogus`, expected one of id, title, rule, source, level, rules, \
                 subject, requires, steps",
            ),
        ];
        for (text, line, column, message) in cases {
            let e = deserialize_spec(Path::new("t.yaml"), text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text:?}");
            assert_eq!(e.message, message, "{text:?}");
        }
        assert_eq!(
            strip_location("keep at line one, column 2"),
            "keep at line one, column 2"
        );
    }
}
