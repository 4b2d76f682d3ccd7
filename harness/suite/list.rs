//! `kmsspec list`: renders the loaded cases as text, one line per case with its rule and
//! source underneath, so a reader sees what the suite checks without running it.

use super::loader::LoadedCase;
use crate::cli::{EXIT_OK, EXIT_USAGE};
use std::fmt::Write as _;
use std::path::PathBuf;

/// What `kmsspec list` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone, Default)]
pub struct ListCommand {
    /// Spec files or folders (empty: `specs/`).
    pub specs: Vec<PathBuf>,
}

/// Runs `kmsspec list`: prints every case; exit 0, or 2 when the specs do not load.
pub fn command(cmd: &ListCommand) -> i32 {
    match super::names::load_default(&cmd.specs) {
        Ok(cases) => {
            print!("{}", render_list(&cases));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("kmsspec: {e}");
            EXIT_USAGE
        }
    }
}

/// One line per case (`id  level  family  title`), then the rule and source indented; a
/// closing line with the totals per family.
pub fn render_list(cases: &[LoadedCase]) -> String {
    let id_width = cases
        .iter()
        .map(|c| c.case.id.value.len())
        .max()
        .unwrap_or(0);
    let mut out = String::with_capacity(cases.len() * 200);
    let mut families: Vec<(&str, usize)> = Vec::new();
    for c in cases {
        let case = &c.case;
        let _ = writeln!(
            out,
            "{:<id_width$}  {:<6}  {:<5}  {}",
            case.id.value,
            case.level.to_string(),
            c.family,
            case.title
        );
        let _ = writeln!(out, "    rule:   {}", case.rule);
        let _ = writeln!(out, "    source: {}", case.source);
        match families.iter_mut().find(|(f, _)| *f == c.family) {
            Some((_, n)) => *n += 1,
            None => families.push((&c.family, 1)),
        }
    }
    let per_family: Vec<String> = families.iter().map(|(f, n)| format!("{f} {n}")).collect();
    let _ = writeln!(out, "{} cases ({})", cases.len(), per_family.join(", "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::loader::{parse_spec, AnyName};
    use std::path::{Path, PathBuf};

    #[test]
    fn lists_id_level_family_title_rule_and_source() {
        let text = "family: T\ntitle: t\ncases:\n  - id: T-ONE-1\n    title: The title\n    rule: The rule.\n    source: The source\n    level: SHOULD\n    steps:\n      - sanity: {}\n";
        let spec = parse_spec(Path::new("t.yaml"), text, &AnyName).unwrap();
        let cases: Vec<LoadedCase> = spec
            .cases
            .into_iter()
            .map(|case| LoadedCase {
                family: "T".into(),
                file: PathBuf::from("t.yaml"),
                case,
            })
            .collect();
        let out = render_list(&cases);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("T-ONE-1  SHOULD  T      The title"));
        assert_eq!(lines.next(), Some("    rule:   The rule."));
        assert_eq!(lines.next(), Some("    source: The source"));
        assert_eq!(lines.next(), Some("1 cases (T 1)"));
    }
}
