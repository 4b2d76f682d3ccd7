//! A direct JSON writer for [`Record`]s: the same bytes as `serde_json::to_writer` on the
//! records' `Serialize` impls (keys in declaration order, `kind` first, compact), written
//! into a reused buffer without serde's per-field dispatch. Exists because JSON output was
//! the largest single cost of `kmsspec decode`; a test holds it byte-equal to serde_json.

use super::records::{
    BindRecord, Checks, ContextRecord, ErrorRecord, ExchangeRecord, FailedCheck, FaultRecord, Flow,
    GapRecord, Record, RequestView, ResponseView, SummaryRecord,
};

/// Appends `r` as one compact JSON object (no newline) to `out`.
pub fn write_record(out: &mut Vec<u8>, r: &Record) {
    let mut o = Obj::open(out);
    match r {
        Record::Bind(b) => {
            o.str("kind", "bind");
            bind(&mut o, b);
        }
        Record::Exchange(x) => {
            o.str("kind", "exchange");
            exchange(&mut o, x);
        }
        Record::Fault(f) => {
            o.str("kind", "fault");
            fault(&mut o, f);
        }
        Record::Gap(g) => {
            o.str("kind", "gap");
            gap(&mut o, g);
        }
        Record::Error(e) => {
            o.str("kind", "error");
            error(&mut o, e);
        }
        Record::Summary(s) => {
            o.str("kind", "summary");
            summary(&mut o, s);
        }
    }
    o.close();
}

/// An object being written: tracks whether a comma is due.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }
    fn close(self) {
        self.out.push(b'}');
    }
    /// Writes `"key":` (keys are plain ASCII identifiers, never escaped).
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }
    fn str(&mut self, k: &str, v: &str) {
        string(self.key(k), v);
    }
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(k, v),
            None => self.key(k).extend_from_slice(b"null"),
        }
    }
    fn num(&mut self, k: &str, v: u64) {
        number(self.key(k), v);
    }
    fn opt_num(&mut self, k: &str, v: Option<u64>) {
        match v {
            Some(v) => self.num(k, v),
            None => self.key(k).extend_from_slice(b"null"),
        }
    }
    fn bool(&mut self, k: &str, v: bool) {
        let text: &[u8] = if v { b"true" } else { b"false" };
        self.key(k).extend_from_slice(text);
    }
    fn null(&mut self, k: &str) {
        self.key(k).extend_from_slice(b"null");
    }
}

/// A JSON string with serde_json's escapes: `\"`, `\\`, `\b \t \n \f \r`, other control
/// bytes as `\u00XX`; everything else (including non-ASCII) verbatim.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Fast path: nothing to escape (the common case). A non-short-circuiting fold vectorises.
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// A decimal unsigned number.
fn number(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

fn flow(o: &mut Obj<'_>, k: &str, f: &Flow) {
    let mut f2 = Obj::open(o.key(k));
    f2.str("client", &f.client);
    f2.str("server", &f.server);
    f2.close();
}

fn bind(o: &mut Obj<'_>, b: &BindRecord) {
    o.str("capture", &b.capture);
    flow(o, "flow", &b.flow);
    o.num("call_id", b.call_id.into());
    o.str("pdu", b.pdu);
    o.str("answer", b.answer);
    o.opt_num("reject_reason", b.reject_reason.map(u64::from));
    o.bool("kms", b.kms);
    let out = o.key("contexts");
    out.push(b'[');
    for (i, c) in b.contexts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        context(out, c);
    }
    out.push(b']');
}

fn context(out: &mut Vec<u8>, c: &ContextRecord) {
    let mut o = Obj::open(out);
    o.num("id", c.id.into());
    o.str("interface", &c.interface);
    o.str("version", &c.version);
    let out = o.key("proposed");
    out.push(b'[');
    for (i, p) in c.proposed.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, p);
    }
    out.push(b']');
    o.opt_str("result", c.result.as_deref());
    o.num("reason", c.reason.into());
    o.opt_str("ndr", c.ndr);
    o.close();
}

fn request(out: &mut Vec<u8>, r: &RequestView) {
    let mut o = Obj::open(out);
    o.str("protocol", &r.protocol);
    o.str("base_protocol", &r.base_protocol);
    o.str("app_id", &r.app_id);
    o.opt_str("app", r.app);
    o.str("kms_id", &r.kms_id);
    o.opt_str("kms", r.kms);
    o.str("sku_id", &r.sku_id);
    o.opt_str("sku", r.sku);
    o.str("cmid", &r.cmid);
    o.str("previous_cmid", &r.previous_cmid);
    o.str("client_time", &r.client_time);
    o.num("required_client_count", r.required_client_count.into());
    o.str("workstation", &r.workstation);
    o.num("license_status", r.license_status.into());
    o.num("grace_minutes", r.grace_minutes.into());
    o.bool("vm", r.vm);
    o.close();
}

fn opt_request(o: &mut Obj<'_>, k: &str, r: Option<&RequestView>) {
    match r {
        Some(r) => request(o.key(k), r),
        None => o.null(k),
    }
}

fn response(out: &mut Vec<u8>, r: &ResponseView) {
    let mut o = Obj::open(out);
    o.opt_str("protocol", r.protocol.as_deref());
    o.str("hresult", &r.hresult);
    o.opt_str("epid", r.epid.as_deref());
    o.opt_str("cmid", r.cmid.as_deref());
    o.opt_str("time", r.time.as_deref());
    o.opt_num("current_count", r.current_count.map(u64::from));
    o.opt_num("activation_interval", r.activation_interval.map(u64::from));
    o.opt_num("renewal_interval", r.renewal_interval.map(u64::from));
    o.opt_str("hwid", r.hwid.as_deref());
    o.close();
}

fn checks(out: &mut Vec<u8>, c: &Checks) {
    let mut o = Obj::open(out);
    for (name, passed) in &c.0 {
        // Check names are snake_case identifiers, like keys; escape anyway for safety.
        if !o.first {
            o.out.push(b',');
        }
        o.first = false;
        string(o.out, name);
        o.out.push(b':');
        let text: &[u8] = if *passed { b"true" } else { b"false" };
        o.out.extend_from_slice(text);
    }
    o.close();
}

fn failed(out: &mut Vec<u8>, f: &[FailedCheck]) {
    out.push(b'[');
    for (i, c) in f.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = Obj::open(out);
        o.str("name", c.name);
        o.str("observed", &c.observed);
        o.str("expected", &c.expected);
        o.close();
    }
    out.push(b']');
}

fn exchange(o: &mut Obj<'_>, x: &ExchangeRecord) {
    o.str("capture", &x.capture);
    flow(o, "flow", &x.flow);
    o.num("call_id", x.call_id.into());
    o.opt_str("ndr", x.ndr);
    o.bool("ndr_guessed", x.ndr_guessed);
    o.num("context_id", x.context_id.into());
    o.num("fragments", x.fragments.into());
    o.opt_num("request_packet", x.request_packet);
    o.opt_num("response_packet", x.response_packet);
    opt_request(o, "request", x.request.as_ref());
    o.opt_str("request_error", x.request_error.as_deref());
    match &x.response {
        Some(r) => response(o.key("response"), r),
        None => o.null("response"),
    }
    o.opt_str("response_error", x.response_error.as_deref());
    checks(o.key("checks"), &x.checks);
    failed(o.key("failed"), &x.failed);
}

fn fault(o: &mut Obj<'_>, f: &FaultRecord) {
    o.str("capture", &f.capture);
    flow(o, "flow", &f.flow);
    o.num("call_id", f.call_id.into());
    o.str("status", &f.status);
    o.opt_str("status_name", f.status_name);
    o.num("packet", f.packet);
    opt_request(o, "request", f.request.as_deref());
}

fn gap(o: &mut Obj<'_>, g: &GapRecord) {
    o.str("capture", &g.capture);
    flow(o, "flow", &g.flow);
    o.str("direction", g.direction);
    o.num("offset", g.offset);
    o.num("missing", g.missing);
    o.num("packet", g.packet);
}

fn error(o: &mut Obj<'_>, e: &ErrorRecord) {
    o.str("capture", &e.capture);
    match &e.flow {
        Some(f) => flow(o, "flow", f),
        None => o.null("flow"),
    }
    o.str("layer", e.layer);
    o.opt_num("packet", e.packet);
    o.opt_num("file_offset", e.file_offset);
    o.opt_num("stream_offset", e.stream_offset);
    o.opt_str("direction", e.direction);
    o.str("message", &e.message);
}

fn summary(o: &mut Obj<'_>, s: &SummaryRecord) {
    o.str("capture", &s.capture);
    o.num("packets", s.packets);
    o.num("bytes", s.bytes);
    o.num("flows", s.flows);
    o.num("kms_flows", s.kms_flows);
    o.num("binds", s.binds);
    o.num("exchanges", s.exchanges);
    o.num("answered", s.answered);
    o.num("faults", s.faults);
    o.num("failed_checks", s.failed_checks);
    o.num("failed_exchanges", s.failed_exchanges);
    o.num("undecodable", s.undecodable);
    o.num("gaps", s.gaps);
    o.num("skipped_bytes", s.skipped_bytes);
    o.num("errors", s.errors);
    o.bool("damaged", s.damaged);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        let all: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
        for s in ["", "plain", "a\"b\\c", "\u{7f}\u{1}\u{1f}x", all.as_str()] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_print_like_serde_json() {
        for v in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            number(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }
    }
}
