//! Reading JSON run reports back (`kmsspec report`): a file that is not one gives a typed
//! error naming the file and, for JSON errors, the line and column.

use super::model::{RunReport, REPORT_SCHEMA};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a report file could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// The text is not JSON, or not a run report's shape.
    Json {
        /// The file.
        path: PathBuf,
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error (1-based).
        column: usize,
        /// What serde found.
        message: String,
    },
    /// The JSON is a report of another kind or version.
    Schema {
        /// The file.
        path: PathBuf,
        /// The `schema` (or `format`) it declares, if any.
        found: Option<String>,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, message } => write!(f, "{}: cannot read: {message}", path.display()),
            LoadError::Json {
                path,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: not a kmsspec run report: {message}", path.display()),
            LoadError::Schema { path, found } => match found {
                Some(s) => write!(
                    f,
                    "{}: report schema {s:?} is not {REPORT_SCHEMA:?} (a `kmsspec run --json` or `kmsspec replay --json` file)",
                    path.display()
                ),
                None => write!(
                    f,
                    "{}: no \"schema\" field: not a kmsspec run report (`kmsspec run --json` writes one)",
                    path.display()
                ),
            },
        }
    }
}

impl std::error::Error for LoadError {}

/// Parses a run report from `text` (`path` names it in errors).
pub fn parse_run_report(path: &Path, text: &str) -> Result<RunReport, LoadError> {
    let json_err = |e: serde_json::Error| LoadError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    // One parse on the usual path; only a text that is not a run report of this schema is
    // looked at again, to name what it is instead of a missing field.
    let declared = |text: &str| -> Option<Option<String>> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let found = v
            .get("schema")
            .or_else(|| v.get("format"))
            .and_then(|s| s.as_str())
            .map(str::to_string);
        (found.as_deref() != Some(REPORT_SCHEMA)).then_some(found)
    };
    match serde_json::from_str::<RunReport>(text) {
        Ok(r) if r.schema == REPORT_SCHEMA => Ok(r),
        Ok(r) => Err(LoadError::Schema {
            path: path.to_path_buf(),
            found: Some(r.schema),
        }),
        Err(e) => match declared(text) {
            Some(found) => Err(LoadError::Schema {
                path: path.to_path_buf(),
                found,
            }),
            None => Err(json_err(e)),
        },
    }
}

/// Reads and parses a run report file.
pub fn load_run_report(path: &Path) -> Result<RunReport, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse_run_report(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_typed_errors_with_their_location() {
        let p = Path::new("a.json");
        let e = parse_run_report(
            p,
            "{\n  \"schema\": \"kmsspec-report/1\",\n  \"cases\": 3 }",
        )
        .unwrap_err();
        let LoadError::Json { line, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*line, 3);
        assert!(e.to_string().starts_with("a.json:3:"), "{e}");
        let e = parse_run_report(p, "{\"format\": \"kmsspec-fuzz-report/1\"}").unwrap_err();
        assert!(
            matches!(&e, LoadError::Schema { found: Some(f), .. } if f == "kmsspec-fuzz-report/1")
        );
        let e = parse_run_report(p, "[1, 2").unwrap_err();
        assert!(matches!(e, LoadError::Json { line: 1, .. }), "{e:?}");
        let e = parse_run_report(p, "{}").unwrap_err();
        assert!(e.to_string().contains("no \"schema\" field"), "{e}");
        assert!(matches!(
            load_run_report(Path::new("/nonexistent/r.json")),
            Err(LoadError::Io { .. })
        ));
    }
}
