//! The parts of a run shown on both pages: its summary, the per-family overview and each
//! case's details (findings, transcript, wire log with hex dumps and decoded forms).

use super::{verdict_class, verdict_label, Anchors, Html};
use crate::report::model::{CaseReport, Finding, RunReport, WireDir, WireEntry};
use crate::report::verdict::Verdict;
use std::collections::HashMap;

/// The families of a run's host cases in order of first appearance (model self-checks are
/// shown apart).
pub(crate) fn families(report: &RunReport) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in report.cases.iter().filter(|c| !c.self_check) {
        if !out.contains(&c.family.as_str()) {
            out.push(&c.family);
        }
    }
    out
}

/// One anchor id per case of `report`, in case order.
pub(crate) fn case_anchors(report: &RunReport, prefix: &str, anchors: &mut Anchors) -> Vec<String> {
    report
        .cases
        .iter()
        .map(|c| anchors.make(prefix, &c.id))
        .collect()
}

/// The run's facts, verdict counts, health and host profile; `ids` are the case anchors (in
/// case order) the host profile links to.
pub(crate) fn summary(h: &mut Html, r: &RunReport, ids: &[String]) {
    let s = &r.summary;
    h.raw("<table class=\"facts\"><tbody>");
    fact(h, "Name", r.display_name());
    fact(h, "Target", &r.target);
    fact(h, "Started", &r.started);
    fact(
        h,
        "Duration",
        &format!("{:.1} s", r.duration_ms as f64 / 1000.0),
    );
    fact(h, "kmsspec", &r.tool_version);
    fact(h, "Report schema", &r.schema);
    h.raw("</tbody></table>\n<p class=\"chips\">");
    h.raw("<span class=\"v v-total\">")
        .num(s.total)
        .raw(" cases</span>");
    chip(h, "v-pass", "PASS", s.pass);
    chip(h, "v-nonstrict", "NON-STRICT", s.non_strict);
    chip(h, "v-fail", "FAIL", s.fail - s.expected_fail.min(s.fail));
    if s.expected_fail > 0 {
        chip(h, "v-xfail", "XFAIL", s.expected_fail);
    }
    chip(h, "v-info", "INFO", s.info);
    chip(h, "v-skip", "SKIP", s.skip);
    h.raw("</p>\n");
    let m = &r.self_checks;
    if m.total > 0 {
        h.raw("<p class=\"meta\">")
            .num(m.total)
            .raw(" model self-checks (activation service, run in-process; not the target's verdicts): ")
            .num(m.pass)
            .raw(" pass, ")
            .num(m.fail)
            .raw(" fail.</p>\n");
    }
    if let Some(why) = &r.run_failure {
        h.raw("<p class=\"warn fail\"><b>Run failed:</b> ")
            .text(why)
            .raw("</p>\n");
    }
    for line in health_lines(r) {
        h.raw("<p class=\"warn\">").text(&line).raw("</p>\n");
    }
    if s.unexpected_pass > 0 {
        let ids: Vec<&str> = r
            .cases
            .iter()
            .filter(|c| c.is_unexpected_pass())
            .map(|c| c.id.as_str())
            .collect();
        h.raw("<p class=\"warn\">Listed as expected failures but now passing: ")
            .text(&ids.join(", "))
            .raw("</p>\n");
    }
    host_profile(h, r, ids);
}

/// The host profile: what was seen across cases as side findings, once per run, with the
/// cases it was seen in and the cases that judge it (each linking to the case).
fn host_profile(h: &mut Html, r: &RunReport, ids: &[String]) {
    if r.host_profile.is_empty() {
        return;
    }
    let anchor: HashMap<&str, &str> = r
        .cases
        .iter()
        .zip(ids)
        .map(|(c, id)| (c.id.as_str(), id.as_str()))
        .collect();
    let link = |h: &mut Html, text: &str, case: &str| match anchor.get(case) {
        Some(id) => {
            h.raw("<a href=\"#")
                .text(id)
                .raw("\">")
                .text(text)
                .raw("</a>");
        }
        None => {
            h.text(text);
        }
    };
    h.raw("<h3>Host profile</h3><p class=\"meta\">Seen across cases as side findings; it decides only the cases that own it.</p>")
        .raw("<table class=\"profile\"><thead><tr><th>Check</th><th>Rule</th><th>What was seen</th><th>Seen in</th><th>Judged by</th></tr></thead><tbody>\n");
    for p in &r.host_profile {
        h.raw("<tr><td><code>")
            .text(&p.check)
            .raw("</code></td><td>")
            .text(p.rule.as_deref().unwrap_or(""))
            .raw("</td><td>")
            .text(&p.summary)
            .raw("</td><td>");
        for (i, case) in p.seen_in.iter().enumerate() {
            if i > 0 {
                h.raw(", ");
            }
            link(h, case, case);
        }
        h.raw("</td><td>");
        for (i, owner) in p.owners.iter().enumerate() {
            if i > 0 {
                h.raw(", ");
            }
            // "CASE-ID VERDICT"
            let case = owner.rsplit_once(' ').map_or(owner.as_str(), |(id, _)| id);
            link(h, owner, case);
        }
        h.raw("</td></tr>\n");
    }
    h.raw("</tbody></table>\n");
}

fn fact(h: &mut Html, k: &str, v: &str) {
    h.raw("<tr><th>")
        .text(k)
        .raw("</th><td>")
        .text(v)
        .raw("</td></tr>\n");
}

fn chip(h: &mut Html, class: &str, label: &str, n: usize) {
    h.raw("<span class=\"v ")
        .raw(class)
        .raw("\">")
        .raw(label)
        .raw(" ")
        .num(n)
        .raw("</span>");
}

/// What the terminal report says about the target's health, one sentence each.
pub(crate) fn health_lines(r: &RunReport) -> Vec<String> {
    let h = &r.health;
    let mut out = Vec::new();
    if !h.alive_before {
        out.push("The target did not answer the sanity exchange before the suite.".into());
    } else if let Some(why) = &h.sanity_failure {
        out.push(format!(
            "The target's answer to the sanity exchange failed a check: {why}"
        ));
    }
    if let Some(id) = &h.died_after_case {
        out.push(format!(
            "The target stopped answering after case {id}; later cases were not blamed on it."
        ));
    } else if h.alive_before && !h.alive_after {
        out.push("The target did not answer the sanity exchange after the suite.".into());
    }
    out
}

/// Per family: how many cases and how they went, each family linking to its section.
pub(crate) fn toc(h: &mut Html, r: &RunReport, families: &[&str], prefix: &str) {
    h.raw("<table class=\"toc\"><thead><tr><th>Family</th><th>Cases</th>");
    for l in ["PASS", "NON-STRICT", "FAIL", "XFAIL", "INFO", "SKIP"] {
        h.raw("<th>").raw(l).raw("</th>");
    }
    h.raw("</tr></thead><tbody>");
    let mut groups: Vec<(&str, bool)> = families.iter().map(|f| (*f, false)).collect();
    if r.cases.iter().any(|c| c.self_check) {
        groups.push((SELF_CHECKS, true));
    }
    for (fam, self_checks) in groups {
        let mut counts = [0usize; 6];
        let mut n = 0;
        for c in r.cases.iter().filter(|c| {
            if self_checks {
                c.self_check
            } else {
                c.family == fam && !c.self_check
            }
        }) {
            n += 1;
            let i = match verdict_label(c.verdict, c.expected_failure.is_some()) {
                "PASS" => 0,
                "NON-STRICT" => 1,
                "FAIL" => 2,
                "XFAIL" => 3,
                "INFO" => 4,
                _ => 5,
            };
            counts[i] += 1;
        }
        h.raw("<tr><td><a href=\"#")
            .text(&family_anchor(prefix, fam))
            .raw("\">")
            .text(fam)
            .raw("</a></td><td>")
            .num(n)
            .raw("</td>");
        for (i, k) in counts.iter().enumerate() {
            let class = [
                "v-pass",
                "v-nonstrict",
                "v-fail",
                "v-xfail",
                "v-info",
                "v-skip",
            ][i];
            if *k > 0 {
                h.raw("<td class=\"n ")
                    .raw(class)
                    .raw("\">")
                    .num(k)
                    .raw("</td>");
            } else {
                h.raw("<td class=\"n\"></td>");
            }
        }
        h.raw("</tr>\n");
    }
    h.raw("</tbody></table>\n");
}

/// The id of a family's section (family names are spec data: reduced to safe characters).
pub(crate) fn family_anchor(prefix: &str, family: &str) -> String {
    let safe: String = family
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}-fam-{safe}-{}", family.len())
}

/// Every case, grouped by family, each a `<details>` with the id from `ids` (one per case).
/// `differs` marks the cases whose verdicts differ between the runs of a matrix.
pub(crate) fn case_list(
    h: &mut Html,
    r: &RunReport,
    prefix: &str,
    ids: &[String],
    differs: Option<&HashMap<&str, bool>>,
) {
    for fam in families(r) {
        h.raw("<section class=\"family\" data-famgroup id=\"")
            .text(&family_anchor(prefix, fam))
            .raw("\"><h3>")
            .text(fam)
            .raw("</h3>\n");
        for (c, id) in r
            .cases
            .iter()
            .zip(ids)
            .filter(|(c, _)| c.family == fam && !c.self_check)
        {
            let differ = differs.and_then(|d| d.get(c.id.as_str())).copied();
            case(h, c, id, differ);
        }
        h.raw("</section>\n");
    }
    if r.cases.iter().any(|c| c.self_check) {
        h.raw("<section class=\"family\" data-famgroup id=\"")
            .text(&family_anchor(prefix, SELF_CHECKS))
            .raw("\"><h3>Model self-checks</h3><p class=\"meta\">Activation-service cases, run in-process: the target is not involved and they are not its verdicts.</p>\n");
        for (c, id) in r.cases.iter().zip(ids).filter(|(c, _)| c.self_check) {
            let differ = differs.and_then(|d| d.get(c.id.as_str())).copied();
            case(h, c, id, differ);
        }
        h.raw("</section>\n");
    }
}

/// The name the overview gives the model self-checks' group.
const SELF_CHECKS: &str = "self-checks";

fn case(h: &mut Html, c: &CaseReport, id: &str, differ: Option<bool>) {
    let xf = c.expected_failure.is_some();
    let class = verdict_class(c.verdict, xf);
    let label = verdict_label(c.verdict, xf);
    h.raw("<details class=\"case flt b-")
        .raw(&class[2..])
        .raw(if c.verdict == Verdict::Pass {
            "\""
        } else {
            " np\""
        })
        .raw(" id=\"")
        .text(id)
        .raw("\" data-v=\"")
        .raw(label)
        .raw("\" data-fam=\"")
        .text(&c.family)
        .raw("\" data-k=\"")
        .text(&c.id.to_lowercase())
        .raw(" ")
        .text(&c.title.to_lowercase())
        .raw("\"");
    if let Some(d) = differ {
        h.raw(if d {
            " data-diff=\"1\""
        } else {
            " data-diff=\"0\""
        });
    }
    h.raw("><summary><span class=\"v ")
        .raw(class)
        .raw("\">")
        .raw(label)
        .raw("</span><code class=\"cid\">")
        .text(&c.id)
        .raw("</code><span class=\"lvl\">")
        .text(super::level_str(c.level))
        .raw("</span><span class=\"ttl\">")
        .text(&c.title)
        .raw("</span><span class=\"rule\">")
        .text(&c.rule)
        .raw(" <i>")
        .text(&c.source)
        .raw("</i></span></summary>\n<div class=\"body\">");
    if let Some(reason) = &c.reason {
        h.raw("<p class=\"reason\"><b>")
            .raw(if c.verdict == Verdict::Skip {
                "Skipped: "
            } else {
                "Why: "
            })
            .raw("</b>")
            .text(reason)
            .raw("</p>");
    }
    if let Some(why) = &c.expected_failure {
        h.raw("<p class=\"reason\"><b>Expected failure: </b>")
            .text(why)
            .raw("</p>");
    }
    h.raw("<p class=\"meta\">")
        .text(super::level_str(c.level))
        .raw(" · ")
        .text(&c.source)
        .raw(" · ")
        .num(c.duration_ms)
        .raw(" ms</p>\n");
    findings(h, &c.findings);
    if !c.transcript.is_empty() {
        h.raw("<h4>Transcript</h4><pre class=\"tr\">");
        for line in &c.transcript {
            h.text(line).raw("\n");
        }
        h.raw("</pre>\n");
    }
    wire(h, &c.wire);
    h.raw("</div></details>\n");
}

fn findings(h: &mut Html, all: &[Finding]) {
    if all.is_empty() {
        return;
    }
    let missed: Vec<&Finding> = all.iter().filter(|f| !f.passed).collect();
    let held: Vec<&Finding> = all.iter().filter(|f| f.passed).collect();
    if !missed.is_empty() {
        h.raw("<h4>Missed expectations</h4>\n");
        finding_table(h, &missed);
    }
    if !held.is_empty() {
        h.raw("<details class=\"held\"><summary>")
            .num(held.len())
            .raw(if held.len() == 1 {
                " check held"
            } else {
                " checks held"
            })
            .raw("</summary>");
        if held.len() <= HELD_IN_FULL {
            finding_table(h, &held);
        } else {
            held_by_check(h, &held);
        }
        h.raw("</details>\n");
    }
}

/// Most held checks listed one by one; beyond, they are counted per check name (a case of
/// hundreds of requests holds thousands of checks, which nobody reads one by one).
const HELD_IN_FULL: usize = 60;

fn held_by_check(h: &mut Html, held: &[&Finding]) {
    let mut groups: Vec<(&Finding, usize)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for f in held {
        match index.get(f.check.as_str()) {
            Some(&i) => groups[i].1 += 1,
            None => {
                index.insert(&f.check, groups.len());
                groups.push((f, 1));
            }
        }
    }
    h.raw("<table class=\"findings\"><thead><tr><th>Times</th><th>Check</th><th>Rule</th><th>Level</th><th>Expected (first)</th><th>Observed (first)</th></tr></thead><tbody>");
    for (f, n) in groups {
        h.raw("<tr><td class=\"n\">")
            .num(n)
            .raw("</td><td><code>")
            .text(&f.check)
            .raw("</code>");
        finding_cells(h, f);
    }
    h.raw("</tbody></table>\n");
}

/// The rule, level, expected and observed cells that close a finding's row.
fn finding_cells(h: &mut Html, f: &Finding) {
    h.raw("</td><td>")
        .text(f.rule.as_deref().unwrap_or(""))
        .raw("</td><td>")
        .text(super::level_str(f.level))
        .raw("</td><td class=\"val\">")
        .text(&f.expected)
        .raw("</td><td class=\"val\">")
        .text(&f.observed)
        .raw("</td></tr>\n");
}

fn finding_table(h: &mut Html, list: &[&Finding]) {
    h.raw("<table class=\"findings\"><thead><tr><th>Step</th><th>Check</th><th>Rule</th><th>Level</th><th>Expected</th><th>Observed</th></tr></thead><tbody>");
    for f in list {
        h.raw(match (f.passed, f.side) {
            (true, _) => "<tr><td>",
            (false, false) => "<tr class=\"missed\"><td>",
            (false, true) => "<tr class=\"side\"><td>",
        })
        .num(f.step)
        .raw("</td><td><code>")
        .text(&f.check)
        .raw("</code>");
        if f.side {
            h.raw(" <span class=\"tag\" title=\"about another subject than this case: shown, not graded\">side</span>");
        }
        finding_cells(h, f);
    }
    h.raw("</tbody></table>\n");
}

fn wire(h: &mut Html, entries: &[WireEntry]) {
    if entries.is_empty() {
        return;
    }
    let pdus = entries.iter().filter(|e| e.dir != WireDir::Event).count();
    let conns = entries.iter().map(|e| e.conn).max().unwrap_or(0);
    h.raw("<details class=\"wire\" open><summary>Wire log: ")
        .num(pdus)
        .raw(if pdus == 1 { " PDU" } else { " PDUs" })
        .raw(" on ")
        .num(conns)
        .raw(if conns == 1 {
            " connection"
        } else {
            " connections"
        })
        .raw("</summary>\n");
    // PDUs are numbered per connection from 1, as the decoded records' "packets a..b" are.
    let mut numbers: HashMap<u32, u32> = HashMap::new();
    for e in entries {
        let (class, arrow) = match e.dir {
            WireDir::Sent => ("pdu sent", "→"),
            WireDir::Received => ("pdu received", "←"),
            WireDir::Event => ("pdu event", "·"),
        };
        h.raw("<div class=\"")
            .raw(class)
            .raw("\"><div class=\"ph\"><span class=\"dir\">")
            .raw(arrow)
            .raw("</span> <span class=\"conn\">c")
            .num(e.conn)
            .raw("</span> ");
        if e.dir != WireDir::Event {
            let n = numbers.entry(e.conn).or_insert(0);
            *n += 1;
            h.raw("<span class=\"no\">#").num(*n).raw("</span> ");
        }
        h.text(&e.summary).raw("</div>");
        if !e.hex.is_empty() || !e.decoded.is_empty() {
            h.raw("<div class=\"pb\">");
            if !e.hex.is_empty() {
                h.raw("<pre class=\"hex\">");
                hexdump(h, &e.hex);
                h.raw("</pre>");
            }
            if !e.decoded.is_empty() {
                h.raw("<pre class=\"dec\">");
                for d in &e.decoded {
                    h.text(d).raw("\n");
                }
                h.raw("</pre>");
            }
            h.raw("</div>");
        }
        h.raw("</div>\n");
    }
    h.raw("</details>\n");
}

/// `hex` as a classic dump: offset, 16 bytes in two groups of 8, printable ASCII. Text that
/// is not hex (a damaged report) is shown as it is.
fn hexdump(h: &mut Html, hex: &str) {
    let digits = hex.as_bytes();
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let bytes: Option<Vec<u8>> = if digits.len() % 2 == 0 {
        digits
            .chunks_exact(2)
            .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
            .collect()
    } else {
        None
    };
    let Some(bytes) = bytes else {
        h.text(hex);
        return;
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut line = String::with_capacity(80);
    for (i, chunk) in bytes.chunks(16).enumerate() {
        line.clear();
        let off = i * 16;
        for shift in [12, 8, 4, 0] {
            line.push(char::from(HEX[(off >> shift) & 15]));
        }
        line.push_str("  ");
        for j in 0..16 {
            if j == 8 {
                line.push(' ');
            }
            match chunk.get(j) {
                Some(b) => {
                    line.push(char::from(HEX[usize::from(b >> 4)]));
                    line.push(char::from(HEX[usize::from(b & 15)]));
                    line.push(' ');
                }
                None => line.push_str("   "),
            }
        }
        line.push(' ');
        for b in chunk {
            line.push(if (0x20..0x7f).contains(b) {
                char::from(*b)
            } else {
                '.'
            });
        }
        line.push('\n');
        h.text(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_has_offsets_two_groups_and_escaped_ascii() {
        let mut h = Html::with_capacity(0);
        hexdump(&mut h, "3c7363726970743e00010203040506070809");
        let out = h.finish();
        assert_eq!(
            out,
            "0000  3c 73 63 72 69 70 74 3e  00 01 02 03 04 05 06 07  &lt;script&gt;........\n\
             0010  08 09                                             ..\n"
        );
        let mut h = Html::with_capacity(0);
        hexdump(&mut h, "zz<b>");
        assert_eq!(h.finish(), "zz&lt;b&gt;");
    }
}
