//! The comparison page: one row per case, one column per run, each cell the verdict linking
//! to that run's case detail further down the same file.

use super::cases::{self, case_anchors};
use super::{filters, page_end, page_start, verdict_class, verdict_label, Anchors, Html};
use crate::report::model::{CaseReport, RunReport};
use std::collections::HashMap;

/// One matrix row: a case id and where it is in each run.
struct Row<'a> {
    id: &'a str,
    family: &'a str,
    /// The case as the first run that has it describes it (title, level).
    first: &'a CaseReport,
    /// Per run, the index of the case in that run's list.
    cells: Vec<Option<usize>>,
}

/// The names shown for the runs: [`RunReport::display_name`], made unique with `(2)`, `(3)`.
pub(crate) fn run_names(reports: &[RunReport]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    reports
        .iter()
        .map(|r| {
            let n = r.display_name();
            let k = seen.entry(n).or_insert(0);
            *k += 1;
            if *k == 1 {
                n.to_string()
            } else {
                format!("{n} ({k})")
            }
        })
        .collect()
}

/// The target's health in a few words (the run's section has the whole story).
fn short_health(r: &RunReport) -> &'static str {
    let h = &r.health;
    if r.run_failure.is_some() {
        return "RUN FAILED";
    }
    match (
        h.alive_before,
        &h.sanity_failure,
        &h.died_after_case,
        h.alive_after,
    ) {
        (false, _, _, _) => "no answer to the sanity exchange",
        (true, _, Some(_), _) => "stopped answering during the run",
        (true, _, None, false) => "no answer after the suite",
        (true, Some(_), None, true) => "answers, but the sanity answer failed a check",
        (true, None, None, true) => "answered throughout",
    }
}

/// Rows in family order (first appearance over all runs), cases in order of first appearance.
fn rows(reports: &[RunReport]) -> (Vec<Row<'_>>, Vec<&str>) {
    let mut families: Vec<&str> = Vec::new();
    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (j, r) in reports.iter().enumerate() {
        for (i, c) in r.cases.iter().enumerate() {
            if !families.contains(&c.family.as_str()) {
                families.push(&c.family);
            }
            let k = *index.entry(&c.id).or_insert_with(|| {
                rows.push(Row {
                    id: &c.id,
                    family: &c.family,
                    first: c,
                    cells: vec![None; reports.len()],
                });
                rows.len() - 1
            });
            if rows[k].cells[j].is_none() {
                rows[k].cells[j] = Some(i);
            }
        }
    }
    let order: HashMap<&str, usize> = families.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    rows.sort_by_key(|r| order.get(r.family).copied().unwrap_or(usize::MAX));
    (rows, families)
}

/// Several runs on one page: a summary table of the runs, the matrix (sticky header, filters
/// by verdict, family, text and "targets differ"), then each run's cases in detail.
pub fn matrix_page(reports: &[RunReport]) -> String {
    let mut h = Html::with_capacity(super::estimate(reports));
    let names = run_names(reports);
    let (rows, families) = rows(reports);
    let title = format!("kmsspec comparison: {}", names.join(" · "));
    page_start(
        &mut h,
        &title,
        "kmsspec comparison",
        &format!("{} targets × {} cases", reports.len(), rows.len()),
    );
    let mut anchors = Anchors::default();
    let run_ids: Vec<String> = (0..reports.len())
        .map(|j| anchors.make("run", &(j + 1).to_string()))
        .collect();
    let ids: Vec<Vec<String>> = reports
        .iter()
        .enumerate()
        .map(|(j, r)| case_anchors(r, &format!("r{}", j + 1), &mut anchors))
        .collect();

    h.raw("<section id=\"summary\"><h2>Targets</h2><table class=\"runs\"><thead><tr><th>#</th><th>Name</th><th>Target</th><th>Started</th><th>kmsspec</th><th>Cases</th><th>PASS</th><th>NON-STRICT</th><th>FAIL</th><th>INFO</th><th>SKIP</th><th>Health</th></tr></thead><tbody>");
    for (j, r) in reports.iter().enumerate() {
        let s = &r.summary;
        h.raw("<tr><td>")
            .num(j + 1)
            .raw("</td><td><a href=\"#")
            .text(&run_ids[j])
            .raw("\">")
            .text(&names[j])
            .raw("</a></td><td>")
            .text(&r.target)
            .raw("</td><td>")
            .text(&r.started)
            .raw("</td><td>")
            .text(&r.tool_version)
            .raw("</td><td class=\"n\">")
            .num(s.total)
            .raw("</td>");
        for (class, n) in [
            ("v-pass", s.pass),
            ("v-nonstrict", s.non_strict),
            ("v-fail", s.fail),
            ("v-info", s.info),
            ("v-skip", s.skip),
        ] {
            h.raw("<td class=\"n");
            if n > 0 {
                h.raw(" ").raw(class);
            }
            h.raw("\">").num(n).raw("</td>");
        }
        let health = cases::health_lines(r);
        h.raw("<td class=\"health\" title=\"")
            .text(&health.join(" "))
            .raw("\">")
            .text(short_health(r))
            .raw("</td></tr>\n");
    }
    h.raw("</tbody></table></section>\n");

    filters(&mut h, &families, true, false);
    let mut differs: HashMap<&str, bool> = HashMap::new();
    h.raw("<section id=\"matrix\"><h2>Matrix</h2><table class=\"matrix\"><thead><tr><th class=\"id\">Case</th><th>Level</th><th>Title</th>");
    for (j, n) in names.iter().enumerate() {
        h.raw("<th class=\"run\"><a href=\"#")
            .text(&run_ids[j])
            .raw("\">")
            .text(n)
            .raw("</a></th>");
    }
    h.raw("</tr></thead>\n");
    let cols = 3 + reports.len();
    let mut current = None;
    for row in &rows {
        if current != Some(row.family) {
            if current.is_some() {
                h.raw("</tbody>\n");
            }
            current = Some(row.family);
            h.raw("<tbody data-famgroup><tr class=\"fam\"><th colspan=\"")
                .num(cols)
                .raw("\">")
                .text(row.family)
                .raw("</th></tr>\n");
        }
        let labels: Vec<&str> = row
            .cells
            .iter()
            .enumerate()
            .map(|(j, c)| match c {
                Some(i) => {
                    let c = &reports[j].cases[*i];
                    verdict_label(c.verdict, c.expected_failure.is_some())
                }
                None => "NONE",
            })
            .collect();
        let differ = labels.iter().any(|l| *l != labels[0]);
        differs.insert(row.id, differ);
        let mut distinct: Vec<&str> = Vec::new();
        for l in &labels {
            if !distinct.contains(l) {
                distinct.push(l);
            }
        }
        h.raw("<tr class=\"flt\" data-v=\"")
            .text(&distinct.join(" "))
            .raw("\" data-fam=\"")
            .text(row.family)
            .raw("\" data-k=\"")
            .text(&row.id.to_lowercase())
            .raw(" ")
            .text(&row.first.title.to_lowercase())
            .raw(if differ {
                "\" data-diff=\"1\">"
            } else {
                "\" data-diff=\"0\">"
            })
            .raw("<td class=\"id\"><code>")
            .text(row.id)
            .raw("</code></td><td class=\"lvl\">")
            .text(super::level_str(row.first.level))
            .raw("</td><td class=\"ttl\">")
            .text(&row.first.title);
        if row.first.self_check {
            h.raw(" <span class=\"tag\" title=\"an activation-service case run in-process: the target is not involved\">model self-check</span>");
        }
        h.raw("</td>");
        for (j, cell) in row.cells.iter().enumerate() {
            match cell {
                Some(i) => {
                    let c = &reports[j].cases[*i];
                    let xf = c.expected_failure.is_some();
                    h.raw("<td class=\"cell ")
                        .raw(verdict_class(c.verdict, xf))
                        .raw("\"><a href=\"#")
                        .text(&ids[j][*i])
                        .raw("\" title=\"")
                        .text(&names[j])
                        .raw(": ")
                        .text(c.reason.as_deref().unwrap_or(verdict_label(c.verdict, xf)))
                        .raw("\">")
                        .raw(verdict_label(c.verdict, xf))
                        .raw("</a></td>");
                }
                None => {
                    h.raw("<td class=\"cell v-none\" title=\"not in this run\">—</td>");
                }
            }
        }
        h.raw("</tr>\n");
    }
    if current.is_some() {
        h.raw("</tbody>\n");
    }
    h.raw("</table></section>\n");

    for (j, r) in reports.iter().enumerate() {
        let prefix = format!("r{}", j + 1);
        h.raw("<section class=\"run\" id=\"")
            .text(&run_ids[j])
            .raw("\"><h2>")
            .num(j + 1)
            .raw(". ")
            .text(&names[j])
            .raw("</h2>");
        cases::summary(&mut h, r, &ids[j]);
        let fams = cases::families(r);
        cases::toc(&mut h, r, &fams, &prefix);
        cases::case_list(&mut h, r, &prefix, &ids[j], Some(&differs));
        h.raw("</section>\n");
    }
    page_end(&mut h, true);
    h.finish()
}
