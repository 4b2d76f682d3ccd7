//! HTML reports: one self-contained file (inline CSS, a few lines of inline JS for filters;
//! no external request of any kind) that people open to see which host fails what and why.
//!
//! - [`run_page`]: one run — summary, cases grouped by family with verdict, level, rule and
//!   source, and per case its findings (expected / observed), transcript and wire log (hex of
//!   every PDU with its decoded form).
//! - [`matrix_page`]: several runs — a matrix with one row per case and one column per run,
//!   each cell the verdict linking to that run's case detail, then each run's details.
//! - [`decode_page`]: the exchanges and failed checks of decoded captures.
//!
//! Every text that comes from a report or a capture (titles, observed values sent by a
//! possibly hostile host) goes through [`Html::text`], which escapes it.

mod assets;
mod cases;
mod decode;
mod matrix;

pub use decode::{decode_page, CapturePage};
pub use matrix::matrix_page;

use super::model::RunReport;
use super::verdict::Verdict;
use std::collections::HashSet;
use std::fmt::Write as _;

/// An HTML document being written: raw markup and escaped text.
pub(crate) struct Html {
    out: String,
}

impl Html {
    fn with_capacity(n: usize) -> Self {
        Html {
            out: String::with_capacity(n),
        }
    }

    /// Appends markup as is (only literals of this module, never data).
    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.out.push_str(s);
        self
    }

    /// Appends text, escaped for element content and attribute values alike; control
    /// characters other than tab and newline become U+FFFD.
    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        escape_into(&mut self.out, s);
        self
    }

    /// Appends a number.
    pub(crate) fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.out, "{n}");
        self
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Escapes `s` into `out`: `& < > " '` as character references, C0 controls (but tab and
/// newline) and DEL as U+FFFD, so that no text can open markup or break an attribute.
pub fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            b'\t' | b'\n' => continue,
            0..=0x1f | 0x7f => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// `s` escaped (see [`escape_into`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// Unique `id` attributes for a page: case ids come from reports that may be hostile or
/// collide once reduced to safe characters.
#[derive(Default)]
pub(crate) struct Anchors {
    used: HashSet<String>,
}

impl Anchors {
    /// A new unique id `prefix-<text reduced to [A-Za-z0-9_.-]>`.
    pub(crate) fn make(&mut self, prefix: &str, text: &str) -> String {
        let mut base = String::with_capacity(prefix.len() + 1 + text.len());
        base.push_str(prefix);
        base.push('-');
        base.extend(text.chars().map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        }));
        let mut id = base.clone();
        let mut n = 2;
        while !self.used.insert(id.clone()) {
            id = format!("{base}~{n}");
            n += 1;
        }
        id
    }
}

/// The CSS class of a verdict (an expected failure has its own colour).
pub(crate) fn verdict_class(v: Verdict, expected_failure: bool) -> &'static str {
    match (v, expected_failure) {
        (Verdict::Fail, true) => "v-xfail",
        (Verdict::Pass, _) => "v-pass",
        (Verdict::NonStrict, _) => "v-nonstrict",
        (Verdict::Fail, false) => "v-fail",
        (Verdict::Info, _) => "v-info",
        (Verdict::Skip, _) => "v-skip",
    }
}

/// The verdict as shown (`XFAIL` for an expected failure).
pub(crate) fn verdict_label(v: Verdict, expected_failure: bool) -> &'static str {
    if v == Verdict::Fail && expected_failure {
        "XFAIL"
    } else {
        v.as_str()
    }
}

/// A level's upper-case name.
pub(crate) fn level_str(l: crate::report::Level) -> &'static str {
    match l {
        crate::report::Level::Must => "MUST",
        crate::report::Level::Should => "SHOULD",
        crate::report::Level::Info => "INFO",
    }
}

/// Every label a cell or case can carry, in the order the filters show them.
pub(crate) const LABELS: [&str; 6] = ["PASS", "NON-STRICT", "FAIL", "XFAIL", "INFO", "SKIP"];

/// Starts a page: doctype, head with the inline style, body, header.
pub(crate) fn page_start(h: &mut Html, title: &str, heading: &str, sub: &str) {
    h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        .raw("<title>")
        .text(title)
        .raw("</title>\n<style>")
        .raw(assets::CSS)
        .raw("</style>\n</head>\n<body>\n<header class=\"top\"><h1>")
        .text(heading)
        .raw("</h1><p class=\"sub\">")
        .text(sub)
        .raw("</p></header>\n<main>\n");
}

/// Ends a page (with the filter script when the page has filters).
pub(crate) fn page_end(h: &mut Html, script: bool) {
    h.raw("</main>\n");
    if script {
        h.raw("<script>").raw(assets::JS).raw("</script>\n");
    }
    h.raw("</body>\n</html>\n");
}

/// The filter bar: verdict check boxes, a family list, a search box (and, on a matrix, "only
/// rows that differ"). Hidden until the script shows it, so a page without script has no
/// dead controls. `sticky`: it stays at the top of the window (not on a matrix, whose own
/// header row does).
pub(crate) fn filters(h: &mut Html, families: &[&str], differ: bool, sticky: bool) {
    h.raw(if sticky {
        "<nav class=\"filters\" id=\"filters\" hidden>"
    } else {
        "<nav class=\"filters static\" id=\"filters\" hidden>"
    })
    .raw("<span class=\"lbl\">Show</span>");
    for l in LABELS {
        let class = match l {
            "PASS" => "v-pass",
            "NON-STRICT" => "v-nonstrict",
            "FAIL" => "v-fail",
            "XFAIL" => "v-xfail",
            "INFO" => "v-info",
            _ => "v-skip",
        };
        h.raw("<label class=\"v ")
            .raw(class)
            .raw("\"><input type=\"checkbox\" name=\"v\" value=\"")
            .raw(l)
            .raw("\" checked> ")
            .raw(l)
            .raw("</label>");
    }
    h.raw("<label>family <select id=\"fam\"><option value=\"\">all</option>");
    for f in families {
        h.raw("<option value=\"")
            .text(f)
            .raw("\">")
            .text(f)
            .raw("</option>");
    }
    h.raw("</select></label>");
    if differ {
        h.raw("<label><input type=\"checkbox\" id=\"diff\"> only cases where the targets differ</label>");
    }
    h.raw("<label>find <input type=\"search\" id=\"q\" placeholder=\"case id or title\"></label>")
        .raw("<button type=\"button\" id=\"open-all\">expand all</button>")
        .raw("<button type=\"button\" id=\"close-all\">collapse all</button>")
        .raw("<span id=\"shown\" class=\"lbl\"></span></nav>\n");
}

/// One run as a page of its own (`kmsspec run --html`, `kmsspec report --html` of one file).
pub fn run_page(report: &RunReport) -> String {
    let mut h = Html::with_capacity(estimate(std::slice::from_ref(report)));
    let name = report.display_name();
    page_start(
        &mut h,
        &format!("kmsspec report: {name}"),
        &format!("kmsspec report: {name}"),
        &format!(
            "{} · started {} · kmsspec {}",
            report.target, report.started, report.tool_version
        ),
    );
    let families = cases::families(report);
    let mut anchors = Anchors::default();
    let ids = cases::case_anchors(report, "r0", &mut anchors);
    h.raw("<section id=\"summary\"><h2>Summary</h2>");
    cases::summary(&mut h, report, &ids);
    h.raw("</section>\n");
    filters(&mut h, &families, false, true);
    h.raw("<section id=\"cases\"><h2>Cases</h2>");
    cases::toc(&mut h, report, &families, "r0");
    cases::case_list(&mut h, report, "r0", &ids, None);
    h.raw("</section>\n");
    page_end(&mut h, true);
    h.finish()
}

/// Renders one run as [`run_page`], several as [`matrix_page`].
pub fn runs_page(reports: &[RunReport]) -> String {
    match reports {
        [one] => run_page(one),
        many => matrix_page(many),
    }
}

/// A capacity guess for the page, so the output buffer grows once or twice, not forty times.
fn estimate(reports: &[RunReport]) -> usize {
    reports
        .iter()
        .map(|r| {
            16_384
                + r.cases
                    .iter()
                    .map(|c| {
                        1_024
                            + c.findings.len() * 256
                            + c.wire.iter().map(|w| w.hex.len() * 3 + 256).sum::<usize>()
                    })
                    .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_controls() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            escape("a\u{0}b\u{1b}c\td\ne\u{7f}"),
            "a\u{FFFD}b\u{FFFD}c\td\ne\u{FFFD}"
        );
        assert_eq!(escape("é ✓ 日本"), "é ✓ 日本");
    }

    #[test]
    fn anchors_are_safe_and_unique() {
        let mut a = Anchors::default();
        assert_eq!(a.make("r0", "THR-CLIENT-25"), "r0-THR-CLIENT-25");
        assert_eq!(a.make("r0", "a b\"<"), "r0-a_b__");
        assert_eq!(a.make("r0", "a_b_\""), "r0-a_b__~2");
        assert_eq!(a.make("r0", "a b\"<"), "r0-a_b__~3");
    }
}
