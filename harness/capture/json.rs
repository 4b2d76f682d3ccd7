//! A direct JSON writer for [`Record`]s: the same bytes as `serde_json::to_writer` on the
//! records' `Serialize` impls (keys in declaration order, `kind` first, compact), written
//! into a reused buffer without serde's per-field dispatch. Exists because JSON output was
//! the largest single cost of `kmsspec decode`; a test holds it byte-equal to serde_json.

use std::sync::Arc;

use super::records::{interface_text, interface_version_text, result_text, syntax_text};
use super::records::{
    BindRecord, Checks, ContextRecord, ErrorRecord, ExchangeRecord, FailedCheck, FaultRecord,
    FieldText, Flow, GapRecord, GuidText, InlineText, Record, RequestView, ResponseView,
    SummaryRecord,
};
use crate::wire::rpc::{NdrSyntax, ResultKind, TransferSyntaxKind, KMS_INTERFACE_UUID};

/// Appends `r` as one compact JSON object (no newline) to `out`.
///
/// Keys, separators and the quotes of values known to need no escaping are written as fused
/// static literals (one copy each), so a record costs a few dozen small copies rather than
/// several hundred pushes.
pub fn write_record(out: &mut Vec<u8>, r: &Record) {
    JsonWriter::default().write(out, r);
}

/// [`write_record`] with a memory of the last connection's `"capture":…,"flow":{…}` text:
/// a connection's records come in runs and share their `capture`/`flow` `Arc`s, so a pointer
/// comparison finds the rendered text again (the `Arc`s held here keep the pointers from
/// being reused by another connection).
///
/// It also keeps each check's rendered `"name":true` / `"name":false` entry, so a `checks`
/// object is one copy per check.
#[derive(Debug, Default)]
pub struct JsonWriter {
    key: Option<(Arc<str>, Arc<str>, Arc<str>)>,
    prefix: Vec<u8>,
    /// Rendered check entries by check (its discriminant) and result.
    check_entries: Vec<[Vec<u8>; 2]>,
}

impl JsonWriter {
    /// Appends `r` as one compact JSON object (no newline) to `out`.
    pub fn write(&mut self, out: &mut Vec<u8>, r: &Record) {
        out.reserve(2048);
        match r {
            Record::Bind(b) => {
                lit(out, b"{\"kind\":\"bind\",");
                self.capture_and_flow(out, &b.capture, &b.flow);
                bind(out, b);
            }
            Record::Exchange(x) => {
                lit(out, b"{\"kind\":\"exchange\",");
                self.capture_and_flow(out, &x.capture, &x.flow);
                exchange(out, x);
                lit(out, b",\"checks\":");
                self.checks(out, &x.checks);
                lit(out, b",\"failed\":");
                failed(out, &x.failed);
            }
            Record::Fault(f) => {
                lit(out, b"{\"kind\":\"fault\",");
                self.capture_and_flow(out, &f.capture, &f.flow);
                fault(out, f);
            }
            Record::Gap(g) => {
                lit(out, b"{\"kind\":\"gap\",");
                self.capture_and_flow(out, &g.capture, &g.flow);
                gap(out, g);
            }
            Record::Error(e) => {
                lit(out, b"{\"kind\":\"error\",");
                error(out, e);
            }
            Record::Summary(s) => {
                lit(out, b"{\"kind\":\"summary\",");
                summary(out, s);
            }
        }
        out.push(b'}');
    }

    /// The `checks` object, each entry from its rendered text.
    fn checks(&mut self, out: &mut Vec<u8>, c: &Checks) {
        out.push(b'{');
        for (i, (name, passed)) in c.entries().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let idx = name as usize;
            if self.check_entries.len() <= idx {
                self.check_entries.resize_with(idx + 1, Default::default);
            }
            let Some(slot) = self
                .check_entries
                .get_mut(idx)
                .and_then(|e| e.get_mut(usize::from(passed)))
            else {
                continue;
            };
            if slot.is_empty() {
                // Check names are our own snake_case identifiers.
                plain(slot, name.as_str());
                lit(slot, if passed { b":true" } else { b":false" });
            }
            out.extend_from_slice(slot);
        }
        out.push(b'}');
    }

    /// `"capture":…,"flow":{"client":…,"server":…}` (no leading comma).
    fn capture_and_flow(&mut self, out: &mut Vec<u8>, capture: &Arc<str>, f: &Flow) {
        let hit = self.key.as_ref().is_some_and(|(c, a, b)| {
            Arc::ptr_eq(c, capture) && Arc::ptr_eq(a, &f.client) && Arc::ptr_eq(b, &f.server)
        });
        if !hit {
            self.prefix.clear();
            let p = &mut self.prefix;
            lit(p, b"\"capture\":");
            string(p, capture);
            lit(p, b",\"flow\":");
            flow(p, f);
            self.key = Some((capture.clone(), f.client.clone(), f.server.clone()));
        }
        out.extend_from_slice(&self.prefix);
    }
}

/// `{"client":…,"server":…}`.
fn flow(out: &mut Vec<u8>, f: &Flow) {
    lit(out, b"{\"client\":");
    string(out, &f.client);
    lit(out, b",\"server\":");
    string(out, &f.server);
    out.push(b'}');
}

/// A static piece of JSON (keys, punctuation), copied as is.
#[inline(always)]
fn lit(out: &mut Vec<u8>, text: &'static [u8]) {
    out.extend_from_slice(text);
}

/// `null`, or `v` written by `write`.
#[inline(always)]
fn or_null<T>(out: &mut Vec<u8>, v: Option<T>, write: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        Some(v) => write(out, v),
        None => lit(out, b"null"),
    }
}

/// Whether JSON needs `b` escaped inside a string (a control byte, `"` or `\`).
#[inline(always)]
fn escaped(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// Whether any byte of `bytes` needs escaping ([`escaped`]), tested sixteen bytes at a time
/// (a fixed-size block the compiler turns into vector compares; the last block overlaps the
/// one before), or as two overlapping 8-byte words for shorter texts: per-byte tests of short
/// strings cost more than the copy they guard.
#[inline]
fn any_escaped(bytes: &[u8]) -> bool {
    fn block(b: &[u8; 16]) -> bool {
        b.iter().fold(false, |acc, &x| acc | escaped(x))
    }
    if let Some(last) = bytes.last_chunk::<16>() {
        return bytes.chunks_exact(16).fold(block(last), |acc, b| {
            acc | b.first_chunk::<16>().is_some_and(block)
        });
    }
    match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (Some(first), Some(last)) => word_escaped(*first) | word_escaped(*last),
        _ => bytes.iter().any(|&b| escaped(b)),
    }
}

/// [`escaped`] for any byte of an 8-byte word, without a per-byte loop.
#[inline(always)]
fn word_escaped(w: [u8; 8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // Whether some byte of `v` is below `n` (n ≤ 0x80): a borrow out of a byte sets its high
    // bit only where the byte was below n, or (carried on) above such a byte, so the test is
    // exact for "some byte", though not for which one.
    let any_below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH != 0;
    let v = u64::from_le_bytes(w);
    any_below(v, 0x20)
        | any_below(v ^ (ONES * u64::from(b'"')), 1)
        | any_below(v ^ (ONES * u64::from(b'\\')), 1)
}

/// A quoted string whose text needs no escaping by construction (our own static names and
/// formatted texts); `debug_assert`ed.
#[inline(always)]
fn plain(out: &mut Vec<u8>, s: &str) {
    plain_bytes(out, s.as_bytes());
}

/// [`plain`] of bytes.
#[inline(always)]
fn plain_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    debug_assert!(!bytes.iter().any(|&b| escaped(b)));
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// A quoted GUID text (fixed size, so the copy is inlined).
#[inline(always)]
fn guid(out: &mut Vec<u8>, g: &GuidText) {
    out.push(b'"');
    out.extend_from_slice(g.as_bytes());
    out.push(b'"');
}

/// A quoted inline text we formatted ourselves (times, hardware ids, HRESULTs): ASCII
/// digits, letters and punctuation that JSON never escapes.
#[inline(always)]
fn inline<const N: usize>(out: &mut Vec<u8>, t: &InlineText<N>) {
    plain_bytes(out, t.as_bytes());
}

#[inline(always)]
fn boolean(out: &mut Vec<u8>, v: bool) {
    if v {
        lit(out, b"true");
    } else {
        lit(out, b"false");
    }
}

/// A decoded UTF-16 field's text: ASCII ones straight from their inline bytes.
#[inline]
fn field_text(out: &mut Vec<u8>, t: &FieldText) {
    match t {
        FieldText::Ascii(a) => string_bytes(out, a.as_bytes()),
        FieldText::Other(s) => string(out, s),
    }
}

/// A JSON string with serde_json's escapes: `\"`, `\\`, `\b \t \n \f \r`, other control
/// bytes as `\u00XX`; everything else (including non-ASCII) verbatim.
fn string(out: &mut Vec<u8>, s: &str) {
    string_bytes(out, s.as_bytes());
}

/// [`string`] of UTF-8 bytes (escapes only touch ASCII, so valid UTF-8 stays valid).
fn string_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fast path: nothing to escape (the common case).
    if !any_escaped(bytes) {
        plain_bytes(out, bytes);
        return;
    }
    out.push(b'"');
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

/// A decimal unsigned number (`itoa`: two digits per step, no formatter).
#[inline]
fn number(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn bind(out: &mut Vec<u8>, b: &BindRecord) {
    lit(out, b",\"call_id\":");
    number(out, b.call_id.into());
    lit(out, b",\"pdu\":");
    plain(out, b.pdu);
    lit(out, b",\"answer\":");
    plain(out, b.answer);
    lit(out, b",\"reject_reason\":");
    or_null(out, b.reject_reason.map(u64::from), number);
    lit(out, b",\"kms\":");
    boolean(out, b.kms);
    lit(out, b",\"contexts\":[");
    for (i, c) in b.contexts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        context(out, c);
    }
    out.push(b']');
}

/// One presentation context. The common values (the KMS interface 1.0, the three transfer
/// syntaxes, the named results) are written as whole literals; a bind record has three
/// contexts, so this showed as a tenth of a bind-heavy capture's JSON.
fn context(out: &mut Vec<u8>, c: &ContextRecord) {
    lit(out, b"{\"id\":");
    number(out, c.id.into());
    if c.interface == KMS_INTERFACE_UUID && c.interface_version == (1, 0) {
        lit(
            out,
            b",\"interface\":\"51c82175-844e-4750-b0d8-ec255555bc06\",\"version\":\"1.0\",\"proposed\":[",
        );
    } else {
        lit(out, b",\"interface\":");
        plain(out, &interface_text(&c.interface));
        lit(out, b",\"version\":");
        plain(out, &interface_version_text(c.interface_version));
        lit(out, b",\"proposed\":[");
    }
    for (i, p) in c.proposed.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match TransferSyntaxKind::of(&p.uuid) {
            TransferSyntaxKind::Ndr32 => lit(out, b"\"ndr32\""),
            TransferSyntaxKind::Ndr64 => lit(out, b"\"ndr64\""),
            TransferSyntaxKind::Btfn { features: 3 } => lit(out, b"\"btfn:0x0003\""),
            other => plain(out, &syntax_text(other)),
        }
    }
    match c.result {
        None => lit(out, b"],\"result\":null,\"reason\":"),
        Some(ResultKind::Acceptance) => lit(out, b"],\"result\":\"acceptance\",\"reason\":"),
        Some(ResultKind::ProviderRejection) => {
            lit(out, b"],\"result\":\"provider_rejection\",\"reason\":")
        }
        Some(ResultKind::NegotiateAck) => lit(out, b"],\"result\":\"negotiate_ack\",\"reason\":"),
        Some(r) => {
            lit(out, b"],\"result\":");
            plain(out, &result_text(r));
            lit(out, b",\"reason\":");
        }
    }
    number(out, c.reason.into());
    match c.syntax {
        None => lit(out, b",\"ndr\":null}"),
        Some(NdrSyntax::Ndr32) => lit(out, b",\"ndr\":\"ndr32\"}"),
        Some(NdrSyntax::Ndr64) => lit(out, b",\"ndr\":\"ndr64\"}"),
    }
}

fn request(out: &mut Vec<u8>, r: &RequestView) {
    lit(out, b"{\"protocol\":");
    plain(out, &r.protocol);
    lit(out, b",\"base_protocol\":");
    plain(out, &r.base_protocol);
    lit(out, b",\"app_id\":");
    guid(out, &r.app_id);
    lit(out, b",\"app\":");
    or_null(out, r.app, string);
    lit(out, b",\"kms_id\":");
    guid(out, &r.kms_id);
    lit(out, b",\"kms\":");
    or_null(out, r.kms, string);
    lit(out, b",\"sku_id\":");
    guid(out, &r.sku_id);
    lit(out, b",\"sku\":");
    or_null(out, r.sku, string);
    lit(out, b",\"cmid\":");
    guid(out, &r.cmid);
    lit(out, b",\"previous_cmid\":");
    guid(out, &r.previous_cmid);
    lit(out, b",\"client_time\":");
    inline(out, &r.client_time);
    lit(out, b",\"required_client_count\":");
    number(out, r.required_client_count.into());
    lit(out, b",\"workstation\":");
    field_text(out, &r.workstation);
    lit(out, b",\"license_status\":");
    number(out, r.license_status.into());
    lit(out, b",\"grace_minutes\":");
    number(out, r.grace_minutes.into());
    lit(out, b",\"vm\":");
    boolean(out, r.vm);
    out.push(b'}');
}

fn response(out: &mut Vec<u8>, r: &ResponseView) {
    lit(out, b"{\"protocol\":");
    or_null(out, r.protocol.as_deref(), plain);
    lit(out, b",\"hresult\":");
    inline(out, &r.hresult);
    lit(out, b",\"epid\":");
    or_null(out, r.epid.as_ref(), field_text);
    lit(out, b",\"cmid\":");
    or_null(out, r.cmid.as_ref(), guid);
    lit(out, b",\"time\":");
    or_null(out, r.time.as_ref(), inline);
    lit(out, b",\"current_count\":");
    or_null(out, r.current_count.map(u64::from), number);
    lit(out, b",\"activation_interval\":");
    or_null(out, r.activation_interval.map(u64::from), number);
    lit(out, b",\"renewal_interval\":");
    or_null(out, r.renewal_interval.map(u64::from), number);
    lit(out, b",\"hwid\":");
    or_null(out, r.hwid.as_ref(), inline);
    out.push(b'}');
}

fn failed(out: &mut Vec<u8>, f: &[FailedCheck]) {
    out.push(b'[');
    for (i, c) in f.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        lit(out, b"{\"name\":");
        plain(out, c.name);
        lit(out, b",\"observed\":");
        string(out, &c.observed);
        lit(out, b",\"expected\":");
        string(out, &c.expected);
        out.push(b'}');
    }
    out.push(b']');
}

fn exchange(out: &mut Vec<u8>, x: &ExchangeRecord) {
    lit(out, b",\"call_id\":");
    number(out, x.call_id.into());
    lit(out, b",\"ndr\":");
    or_null(out, x.ndr, plain);
    if x.ndr_guessed {
        lit(out, b",\"ndr_guessed\":true,\"context_id\":");
    } else {
        lit(out, b",\"ndr_guessed\":false,\"context_id\":");
    }
    number(out, x.context_id.into());
    lit(out, b",\"fragments\":");
    number(out, x.fragments.into());
    lit(out, b",\"request_packet\":");
    or_null(out, x.request_packet, number);
    lit(out, b",\"response_packet\":");
    or_null(out, x.response_packet, number);
    lit(out, b",\"request\":");
    or_null(out, x.request.as_ref(), request);
    lit(out, b",\"request_error\":");
    or_null(out, x.request_error.as_deref(), string);
    lit(out, b",\"response\":");
    or_null(out, x.response.as_ref(), response);
    lit(out, b",\"response_error\":");
    or_null(out, x.response_error.as_deref(), string);
}

fn fault(out: &mut Vec<u8>, f: &FaultRecord) {
    lit(out, b",\"call_id\":");
    number(out, f.call_id.into());
    lit(out, b",\"status\":");
    string(out, &f.status);
    lit(out, b",\"status_name\":");
    or_null(out, f.status_name, plain);
    lit(out, b",\"packet\":");
    number(out, f.packet);
    lit(out, b",\"request\":");
    or_null(out, f.request.as_deref(), request);
}

fn gap(out: &mut Vec<u8>, g: &GapRecord) {
    lit(out, b",\"direction\":");
    plain(out, g.direction);
    lit(out, b",\"offset\":");
    number(out, g.offset);
    lit(out, b",\"missing\":");
    number(out, g.missing);
    lit(out, b",\"packet\":");
    number(out, g.packet);
}

fn error(out: &mut Vec<u8>, e: &ErrorRecord) {
    lit(out, b"\"capture\":");
    string(out, &e.capture);
    lit(out, b",\"flow\":");
    or_null(out, e.flow.as_ref(), flow);
    lit(out, b",\"layer\":");
    plain(out, e.layer);
    lit(out, b",\"packet\":");
    or_null(out, e.packet, number);
    lit(out, b",\"file_offset\":");
    or_null(out, e.file_offset, number);
    lit(out, b",\"stream_offset\":");
    or_null(out, e.stream_offset, number);
    lit(out, b",\"direction\":");
    or_null(out, e.direction, plain);
    lit(out, b",\"message\":");
    string(out, &e.message);
}

fn summary(out: &mut Vec<u8>, s: &SummaryRecord) {
    lit(out, b"\"capture\":");
    string(out, &s.capture);
    let counts: [(&'static [u8], u64); 14] = [
        (b",\"packets\":", s.packets),
        (b",\"bytes\":", s.bytes),
        (b",\"flows\":", s.flows),
        (b",\"kms_flows\":", s.kms_flows),
        (b",\"binds\":", s.binds),
        (b",\"exchanges\":", s.exchanges),
        (b",\"answered\":", s.answered),
        (b",\"faults\":", s.faults),
        (b",\"failed_checks\":", s.failed_checks),
        (b",\"failed_exchanges\":", s.failed_exchanges),
        (b",\"undecodable\":", s.undecodable),
        (b",\"gaps\":", s.gaps),
        (b",\"skipped_bytes\":", s.skipped_bytes),
        (b",\"errors\":", s.errors),
    ];
    for (key, v) in counts {
        lit(out, key);
        number(out, v);
    }
    lit(out, b",\"damaged\":");
    boolean(out, s.damaged);
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
    fn word_escape_test_agrees_with_the_byte_test() {
        // Every byte value at every position of strings of 0..=24 bytes over backgrounds
        // next to the thresholds (borrows from 0x00/0x20 neighbours, 0x80+ bytes).
        for len in 0..=40usize {
            for fill in [
                b'a', b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xa2, 0xdc, 0xff,
            ] {
                for pos in 0..len.max(1) {
                    for b in 0..=255u8 {
                        let mut v = vec![fill; len];
                        if let Some(x) = v.get_mut(pos) {
                            *x = b;
                        }
                        let want = v.iter().any(|&c| escaped(c));
                        assert_eq!(any_escaped(&v), want, "{v:?}");
                    }
                }
            }
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
