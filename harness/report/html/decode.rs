//! The page of `kmsspec decode --html`: per capture, its totals, every exchange in a table
//! with its failed checks, and the binds, faults, gaps and errors that need attention.

use super::{page_end, page_start, Anchors, Html};
use crate::capture::records::{ExchangeRecord, Record, SummaryRecord};
use crate::capture::text::record_text;

/// What one capture gave, for the page.
#[derive(Debug, Clone, Default)]
pub struct CapturePage {
    /// The file name as given.
    pub name: String,
    /// Its records (without the summary), at most as many as the caller keeps.
    pub records: Vec<Record>,
    /// Records left out by the caller's bound.
    pub omitted: u64,
    /// The totals, when the file could be decoded.
    pub summary: Option<SummaryRecord>,
    /// Why the file could not be decoded at all (cannot open, not a capture).
    pub error: Option<String>,
}

/// The decode page of several captures.
pub fn decode_page(captures: &[CapturePage]) -> String {
    let mut h = Html::with_capacity(
        8_192
            + captures
                .iter()
                .map(|c| 2_048 + c.records.len() * 600)
                .sum::<usize>(),
    );
    let names: Vec<&str> = captures.iter().map(|c| c.name.as_str()).collect();
    page_start(
        &mut h,
        &format!("kmsspec decode: {}", names.join(", ")),
        "kmsspec decode",
        &format!(
            "{} capture(s) · kmsspec {}",
            captures.len(),
            env!("CARGO_PKG_VERSION")
        ),
    );
    let mut anchors = Anchors::default();
    let ids: Vec<String> = captures
        .iter()
        .map(|c| anchors.make("cap", &c.name))
        .collect();
    if captures.len() > 1 {
        h.raw("<ul class=\"caps\">");
        for (c, id) in captures.iter().zip(&ids) {
            h.raw("<li><a href=\"#")
                .text(id)
                .raw("\">")
                .text(&c.name)
                .raw("</a></li>");
        }
        h.raw("</ul>\n");
    }
    for (c, id) in captures.iter().zip(&ids) {
        capture(&mut h, c, id);
    }
    page_end(&mut h, false);
    h.finish()
}

fn capture(h: &mut Html, c: &CapturePage, id: &str) {
    h.raw("<section class=\"capture\" id=\"")
        .text(id)
        .raw("\"><h2>")
        .text(&c.name)
        .raw("</h2>\n");
    if let Some(e) = &c.error {
        h.raw("<p class=\"warn\">").text(e).raw("</p></section>\n");
        return;
    }
    if let Some(s) = &c.summary {
        let clean = s.clean();
        h.raw("<p class=\"chips\"><span class=\"v ")
            .raw(if clean { "v-pass" } else { "v-fail" })
            .raw("\">")
            .raw(if clean { "clean" } else { "needs attention" })
            .raw("</span>");
        for (label, n) in [
            ("packets", s.packets),
            ("flows", s.flows),
            ("KMS flows", s.kms_flows),
            ("binds", s.binds),
            ("exchanges", s.exchanges),
            ("answered", s.answered),
            ("faults", s.faults),
            ("failed checks", s.failed_checks),
            ("undecodable", s.undecodable),
            ("gaps", s.gaps),
            ("errors", s.errors),
        ] {
            h.raw("<span class=\"v v-total\">")
                .num(n)
                .raw(" ")
                .raw(label)
                .raw("</span>");
        }
        if s.damaged {
            h.raw("<span class=\"v v-fail\">damaged file</span>");
        }
        h.raw("</p>\n");
    }
    let exchanges: Vec<&ExchangeRecord> = c
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some(&**x),
            _ => None,
        })
        .collect();
    if !exchanges.is_empty() {
        h.raw("<h3>Exchanges</h3><table class=\"xchg\"><thead><tr><th>Call</th><th>Flow</th><th>Request</th><th>Response</th><th>Checks</th><th>Failed checks</th></tr></thead><tbody>\n");
        for x in exchanges {
            exchange_row(h, x);
        }
        h.raw("</tbody></table>\n");
    }
    let others: Vec<&Record> = c
        .records
        .iter()
        .filter(|r| !matches!(r, Record::Exchange(_)) && r.is_problem())
        .collect();
    if !others.is_empty() {
        h.raw("<h3>Faults, gaps, errors and refused binds</h3><pre class=\"tr\">");
        for r in others {
            h.text(&record_text(r));
        }
        h.raw("</pre>\n");
    }
    if c.omitted > 0 {
        h.raw("<p class=\"warn\">")
            .num(c.omitted)
            .raw(" more records are not shown on this page (the totals count them).</p>\n");
    }
    h.raw("</section>\n");
}

fn exchange_row(h: &mut Html, x: &ExchangeRecord) {
    // As `Record::is_problem` says of an exchange.
    let problem = !x.failed.is_empty()
        || x.request_error.is_some()
        || x.response_error.is_some()
        || x.response
            .as_ref()
            .is_none_or(|r| r.hresult.as_str() != "0x00000000");
    h.raw(if problem {
        "<tr class=\"missed\"><td>"
    } else {
        "<tr><td>"
    })
    .num(x.call_id)
    .raw("</td><td><code>")
    .text(&x.flow.client)
    .raw(" → ")
    .text(&x.flow.server)
    .raw("</code></td><td>");
    match &x.request {
        Some(q) => {
            h.raw("v")
                .text(&q.protocol)
                .raw(" ")
                .text(q.sku.or(q.kms).unwrap_or("unknown product"))
                .raw(" N=")
                .num(q.required_client_count)
                .raw("<br><code>")
                .text(q.cmid.as_str())
                .raw("</code>");
        }
        None => {
            h.text(x.request_error.as_deref().unwrap_or("not captured"));
        }
    }
    h.raw("</td><td>");
    match &x.response {
        Some(r) => {
            h.raw("<code>").text(r.hresult.as_str()).raw("</code>");
            if let Some(n) = r.current_count {
                h.raw(" count ").num(n);
            }
            if let Some(e) = &r.epid {
                h.raw("<br><code>").text(e.as_str()).raw("</code>");
            }
        }
        None => {
            h.text(x.response_error.as_deref().unwrap_or("no response"));
        }
    }
    h.raw("</td><td class=\"n\">");
    if !x.checks.is_empty() {
        h.num(x.checks.passed()).raw("/").num(x.checks.len());
    }
    h.raw("</td><td class=\"val\">");
    for f in &x.failed {
        h.raw("<b>")
            .text(f.name)
            .raw("</b>: observed ")
            .text(&f.observed)
            .raw(", expected ")
            .text(&f.expected)
            .raw("<br>");
    }
    if let Some(e) = &x.response_error {
        if x.response.is_some() {
            h.text(e);
        }
    }
    h.raw("</td></tr>\n");
}
