//! The typed records `kmsspec decode` reports, one per bind, exchange, fault, gap and error,
//! and a final summary. They serialise (serde) with stable keys: `kind` first, GUIDs as
//! lower-case canonical text, times as RFC 3339 UTC, HRESULTs as `"0xC004F042"`, absent
//! values as `null`. The README documents the keys.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;

use super::dcerpc::ContextOutcome;
use crate::model::Catalog;
use crate::wire::filetime::FileTime;
use crate::wire::kms::{
    CheckName, DecodedRequest, DecodedResponse, ProtocolVersion, ResponseBody, Verification,
};
use crate::wire::rpc::{NdrSyntax, ResultKind, SyntaxId, TransferSyntaxKind, KMS_INTERFACE_UUID};

/// One decoded thing, in capture order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A bind or alter_context and its answer.
    Bind(BindRecord),
    /// A KMS request and its response (or `null` when none came).
    Exchange(Box<ExchangeRecord>),
    /// A fault PDU answering a call.
    Fault(FaultRecord),
    /// Bytes missing from a stream.
    Gap(GapRecord),
    /// Damage or a protocol violation, with where it was found.
    Error(ErrorRecord),
    /// Totals; always the last record of a capture.
    Summary(SummaryRecord),
}

impl Record {
    /// Whether this record shows something that went wrong or was refused, the records
    /// `kmsspec decode --problems-only` keeps (with the summary): an exchange with a failed
    /// check, a decode error, no response or an error HRESULT; a bind or alter_context that
    /// was not acknowledged; every fault, gap and error. Exists so a user gating on a capture
    /// sees only what needs attention, not thousands of passing exchanges.
    pub fn is_problem(&self) -> bool {
        match self {
            Record::Bind(b) => b.answer != "ack",
            Record::Exchange(x) => {
                !x.failed.is_empty()
                    || x.request_error.is_some()
                    || x.response_error.is_some()
                    || x.response
                        .as_ref()
                        .is_none_or(|r| r.hresult.as_str() != "0x00000000")
            }
            Record::Fault(_) | Record::Gap(_) | Record::Error(_) => true,
            Record::Summary(_) => false,
        }
    }
}

/// The two ends of a TCP connection, as `ip:port` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// Client address.
    pub client: Arc<str>,
    /// Server address.
    pub server: Arc<str>,
}

/// A bind / alter_context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BindRecord {
    /// Capture name.
    pub capture: Arc<str>,
    /// Connection.
    pub flow: Flow,
    /// Call id of the bind.
    pub call_id: u32,
    /// `bind` or `alter_context`.
    pub pdu: &'static str,
    /// `ack`, `nak` or `none`.
    pub answer: &'static str,
    /// bind_nak reject reason.
    pub reject_reason: Option<u16>,
    /// True when a context names the KMS interface.
    pub kms: bool,
    /// The contexts.
    #[serde(serialize_with = "serialize_contexts")]
    pub contexts: Vec<ContextRecord>,
}

/// One presentation context of a bind, as negotiated. It is the RPC layer's
/// [`ContextOutcome`] itself (moved, not copied, into the record); its texts are made when
/// rendered: `{"id","interface","version","proposed","result","reason","ndr"}` with the
/// interface as GUID text, the version as `major.minor`, the proposed syntaxes as `ndr32`,
/// `ndr64`, `btfn:0x0003` or `other`, the result as `acceptance`, `user_rejection`,
/// `provider_rejection`, `negotiate_ack`, `unknown:N` (`null` when unanswered), the reason
/// field (BTFN: accepted feature bits) and the accepted NDR syntax (`ndr32` / `ndr64`).
pub type ContextRecord = ContextOutcome;

/// Serialises a bind's contexts with their texts (see [`ContextRecord`]).
fn serialize_contexts<S: Serializer>(contexts: &[ContextRecord], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeSeq, SerializeStruct};
    struct Proposed<'a>(&'a [SyntaxId]);
    impl Serialize for Proposed<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for k in self.0 {
                seq.serialize_element(&*syntax_text(TransferSyntaxKind::of(&k.uuid)))?;
            }
            seq.end()
        }
    }
    struct View<'a>(&'a ContextRecord);
    impl Serialize for View<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let c = self.0;
            let mut st = s.serialize_struct("ContextRecord", 7)?;
            st.serialize_field("id", &c.id)?;
            st.serialize_field("interface", &*interface_text(&c.interface))?;
            st.serialize_field("version", &*interface_version_text(c.interface_version))?;
            st.serialize_field("proposed", &Proposed(&c.proposed))?;
            st.serialize_field("result", &c.result.map(result_text).as_deref())?;
            st.serialize_field("reason", &c.reason)?;
            st.serialize_field("ndr", &c.syntax.map(ndr_name))?;
            st.end()
        }
    }
    let mut seq = s.serialize_seq(Some(contexts.len()))?;
    for c in contexts {
        seq.serialize_element(&View(c))?;
    }
    seq.end()
}

/// `ndr32` / `ndr64`.
pub fn ndr_name(s: NdrSyntax) -> &'static str {
    match s {
        NdrSyntax::Ndr32 => "ndr32",
        NdrSyntax::Ndr64 => "ndr64",
    }
}

/// A bind_ack result as text: `acceptance`, `user_rejection`, `provider_rejection`,
/// `negotiate_ack`, `unknown:N`.
pub fn result_text(r: ResultKind) -> Cow<'static, str> {
    match r {
        ResultKind::Acceptance => "acceptance".into(),
        ResultKind::UserRejection => "user_rejection".into(),
        ResultKind::ProviderRejection => "provider_rejection".into(),
        ResultKind::NegotiateAck => "negotiate_ack".into(),
        ResultKind::Unknown(v) => format!("unknown:{v}").into(),
    }
}

/// A proposed transfer syntax as text: `ndr32`, `ndr64`, `btfn:0xXXXX`, `other`.
pub fn syntax_text(k: TransferSyntaxKind) -> Cow<'static, str> {
    match k {
        TransferSyntaxKind::Ndr32 => "ndr32".into(),
        TransferSyntaxKind::Ndr64 => "ndr64".into(),
        TransferSyntaxKind::Btfn { features: 3 } => "btfn:0x0003".into(),
        TransferSyntaxKind::Btfn { features } => format!("btfn:0x{features:04x}").into(),
        TransferSyntaxKind::Other => "other".into(),
    }
}

/// An interface UUID as lower-case text (the KMS interface without formatting).
pub fn interface_text(u: &uuid::Uuid) -> Cow<'static, str> {
    if *u == KMS_INTERFACE_UUID {
        "51c82175-844e-4750-b0d8-ec255555bc06".into()
    } else {
        uuid_text(u).into()
    }
}

/// An interface version as `major.minor`.
pub fn interface_version_text(v: (u16, u16)) -> Cow<'static, str> {
    match v {
        (1, 0) => "1.0".into(),
        (a, b) => format!("{a}.{b}").into(),
    }
}

/// The request fields a report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestView {
    /// Outer protocol version, e.g. `6.0`.
    pub protocol: Cow<'static, str>,
    /// Inner (base) version.
    pub base_protocol: Cow<'static, str>,
    /// Application id.
    pub app_id: GuidText,
    /// Its catalog name.
    pub app: Option<&'static str>,
    /// KMS counted id.
    pub kms_id: GuidText,
    /// Its catalog name.
    pub kms: Option<&'static str>,
    /// SKU (activation) id.
    pub sku_id: GuidText,
    /// Its catalog name.
    pub sku: Option<&'static str>,
    /// Client machine id.
    pub cmid: GuidText,
    /// Previous CMID.
    pub previous_cmid: GuidText,
    /// Client time, RFC 3339 UTC.
    pub client_time: TimeText,
    /// N policy.
    pub required_client_count: u32,
    /// Workstation name.
    pub workstation: FieldText,
    /// License status (raw value).
    pub license_status: u32,
    /// Grace minutes left.
    pub grace_minutes: u32,
    /// VM flag.
    pub vm: bool,
}

impl RequestView {
    /// The view of a decoded request, with catalog names.
    pub fn of(r: &DecodedRequest) -> Self {
        let cat = Catalog::get();
        let b = &r.base;
        RequestView {
            protocol: version_text(r.outer_version()),
            base_protocol: version_text(b.version),
            app_id: GuidText::of(&b.application_id),
            app: cat.application(&b.application_id).map(|a| a.name.as_str()),
            kms_id: GuidText::of(&b.kms_counted_id),
            kms: cat.kms(&b.kms_counted_id).map(|k| k.name.as_str()),
            sku_id: GuidText::of(&b.sku_id),
            sku: cat.sku(&b.sku_id).map(|s| s.name.as_str()),
            cmid: GuidText::of(&b.cmid),
            previous_cmid: GuidText::of(&b.previous_cmid),
            client_time: rfc3339(b.request_time),
            required_client_count: b.required_client_count,
            workstation: FieldText::of_utf16le(&b.workstation_raw),
            license_status: b.license_status.to_u32(),
            grace_minutes: b.grace_minutes,
            vm: b.is_vm(),
        }
    }
}

/// The response fields a report shows; message fields are `null` for an error stub.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ResponseView {
    /// Outer protocol version.
    pub protocol: Option<Cow<'static, str>>,
    /// RPC return value as `0xXXXXXXXX`.
    pub hresult: HresultText,
    /// ePID text.
    pub epid: Option<FieldText>,
    /// Echoed CMID.
    pub cmid: Option<GuidText>,
    /// Echoed time, RFC 3339 UTC.
    pub time: Option<TimeText>,
    /// Current count.
    pub current_count: Option<u32>,
    /// Activation interval (minutes).
    pub activation_interval: Option<u32>,
    /// Renewal interval (minutes).
    pub renewal_interval: Option<u32>,
    /// V6 host hardware id, 16 upper-case hex digits as clients print it.
    pub hwid: Option<HwidText>,
}

/// RFC 3339 UTC text of a FILETIME: a fast path for whole seconds in years 1970–9999 (the
/// common case, formatted without the general formatter), else [`FileTime::to_rfc3339`].
pub fn rfc3339(t: FileTime) -> TimeText {
    // A response echoes its request's time: remember the last text made on this thread.
    thread_local! {
        static LAST: std::cell::Cell<Option<(u64, TimeText)>> = const { std::cell::Cell::new(None) };
    }
    if let Some((ft, text)) = LAST.get() {
        if ft == t.0 {
            return text;
        }
    }
    let text = rfc3339_uncached(t);
    LAST.set(Some((t.0, text)));
    text
}

fn rfc3339_uncached(t: FileTime) -> TimeText {
    const TICKS: u64 = 10_000_000;
    const UNIX_EPOCH_SECS: u64 = 11_644_473_600;
    let secs = t.0 / TICKS;
    if t.0 % TICKS != 0 || !(UNIX_EPOCH_SECS..UNIX_EPOCH_SECS + 253_402_300_800).contains(&secs) {
        // At most 30 bytes ("filetime:" and 20 digits, or a 7-digit fraction): fits.
        return TimeText::new(&t.to_rfc3339()).unwrap_or_default();
    }
    let unix = secs - UNIX_EPOCH_SECS;
    let (days, rem) = ((unix / 86_400) as i64, unix % 86_400);
    // Days since 1970-01-01 → civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let digit = |v: u64| b'0' + (v % 10) as u8;
    let year = year as u64;
    let (month, day) = (month as u64, day as u64);
    let (hour, minute, second) = (rem / 3600, rem / 60 % 60, rem % 60);
    let text: [u8; 20] = [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
        b'T',
        digit(hour / 10),
        digit(hour),
        b':',
        digit(minute / 10),
        digit(minute),
        b':',
        digit(second / 10),
        digit(second),
        b'Z',
    ];
    TimeText::from_ascii(&text)
}

/// Text of at most `N` bytes held inline (no allocation): the short texts every exchange
/// record carries (times, hardware ids). Reads as a `&str`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InlineText<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

/// An RFC 3339 time (or the `filetime:N` fallback), inline.
pub type TimeText = InlineText<32>;

/// A V6 hardware id as 16 hex digits, inline.
pub type HwidText = InlineText<16>;

/// An HRESULT as `0xXXXXXXXX`, inline.
pub type HresultText = InlineText<10>;

impl<const N: usize> InlineText<N> {
    /// `s` when it fits in `N` bytes (and `N` ≤ 255).
    pub fn new(s: &str) -> Option<Self> {
        let len = u8::try_from(s.len()).ok()?;
        let mut bytes = [0u8; N];
        bytes.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(InlineText { len, bytes })
    }

    /// ASCII text, truncated to `N` bytes (callers pass text they made, known to fit);
    /// non-ASCII bytes become `?` so the result is always valid UTF-8.
    fn from_ascii(text: &[u8]) -> Self {
        let mut bytes = [0u8; N];
        let n = text.len().min(N).min(255);
        for (dst, &b) in bytes.iter_mut().zip(&text[..n]) {
            *dst = if b.is_ascii() { b } else { b'?' };
        }
        InlineText {
            len: n as u8,
            bytes,
        }
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Built from a `&str` or from ASCII only, so always valid UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl<const N: usize> Default for InlineText<N> {
    fn default() -> Self {
        InlineText {
            len: 0,
            bytes: [0; N],
        }
    }
}

/// Text of a UTF-16LE message field (workstation name, ePID) up to its first NUL unit, as
/// `String::from_utf16_lossy` reads it: ASCII text (the usual case) inline without
/// allocation, anything else on the heap.
#[derive(Clone, PartialEq, Eq)]
pub enum FieldText {
    /// All ASCII, at most 64 bytes (a 128-byte field holds at most 64 units).
    Ascii(InlineText<64>),
    /// Anything else.
    Other(String),
}

impl FieldText {
    /// The text of a UTF-16LE field.
    pub fn of_utf16le(raw: &[u8]) -> Self {
        let mut buf = [0u8; 64];
        match crate::wire::kms::bytes::utf16le_ascii(raw, &mut buf).and_then(InlineText::new) {
            Some(t) => FieldText::Ascii(t),
            None => FieldText::Other(crate::wire::kms::bytes::utf16le_text(raw).0),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            FieldText::Ascii(t) => t.as_str(),
            FieldText::Other(s) => s,
        }
    }
}

impl Default for FieldText {
    fn default() -> Self {
        FieldText::Ascii(InlineText::default())
    }
}

/// Lower-case canonical text of a GUID held inline (36 bytes, no allocation); reads as a `&str`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GuidText([u8; uuid::fmt::Hyphenated::LENGTH]);

impl GuidText {
    /// The text of `u` (a byte-pair table instead of the general encoder: five per exchange).
    pub fn of(u: &uuid::Uuid) -> Self {
        /// Lower-case hex of every byte value, two ASCII digits each.
        const HEX_PAIRS: [[u8; 2]; 256] = {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut t = [[0u8; 2]; 256];
            let mut i = 0;
            while i < 256 {
                t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
                i += 1;
            }
            t
        };
        let b = u.as_bytes();
        let mut out = [b'-'; uuid::fmt::Hyphenated::LENGTH];
        // Byte i goes to text offset 2*i plus one per hyphen before it (after bytes 4, 6, 8, 10).
        const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
        for (&byte, &at) in b.iter().zip(AT.iter()) {
            let pair = HEX_PAIRS[usize::from(byte)];
            out[at] = pair[0];
            out[at + 1] = pair[1];
        }
        GuidText(out)
    }

    /// The text's bytes (ASCII hex digits and hyphens).
    pub fn as_bytes(&self) -> &[u8; uuid::fmt::Hyphenated::LENGTH] {
        &self.0
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Always ASCII hex digits and hyphens (written by `of`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for GuidText {
    fn default() -> Self {
        GuidText::of(&uuid::Uuid::nil())
    }
}

/// The `&str`-like impls of a text type with an `as_str()`: it derefs to, prints as, compares
/// with and serialises as its text.
macro_rules! text_impls {
    ($(const $n:ident;)? $t:ty) => {
        impl$(<const $n: usize>)? std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl$(<const $n: usize>)? std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl$(<const $n: usize>)? std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl$(<const $n: usize>)? PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl$(<const $n: usize>)? PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl$(<const $n: usize>)? PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                self.as_str() == other
            }
        }

        impl$(<const $n: usize>)? Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

text_impls!(const N; InlineText<N>);
text_impls!(FieldText);
text_impls!(GuidText);

/// Lower-case canonical text of a GUID, as an owned `String` ([`GuidText`]'s text).
pub fn uuid_text(u: &uuid::Uuid) -> String {
    GuidText::of(u).as_str().to_owned()
}

/// A protocol version as text (`6.0`); the known versions without allocating.
fn version_text(v: ProtocolVersion) -> Cow<'static, str> {
    match (v.major, v.minor) {
        (4, 0) => Cow::Borrowed("4.0"),
        (5, 0) => Cow::Borrowed("5.0"),
        (6, 0) => Cow::Borrowed("6.0"),
        _ => Cow::Owned(v.to_string()),
    }
}

/// `0xXXXXXXXX`.
pub fn hresult_text(v: u32) -> String {
    hresult_inline(v).as_str().to_owned()
}

/// `0xXXXXXXXX` held inline (upper-case hex digits, as clients print an HRESULT).
pub fn hresult_inline(v: u32) -> HresultText {
    let mut text = *b"0x00000000";
    upper_hex(&v.to_be_bytes(), &mut text[2..]);
    HresultText::from_ascii(&text)
}

/// Upper-case hex digits of `bytes` written into `out`, two per byte (as clients print
/// HRESULTs and V6 hardware ids).
fn upper_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
}

impl ResponseView {
    /// An error stub's view.
    pub fn error(hresult: u32) -> Self {
        ResponseView {
            hresult: hresult_inline(hresult),
            ..Self::default()
        }
    }

    /// A decoded message's view.
    pub fn of(r: &DecodedResponse, return_value: u32) -> Self {
        let b = &r.base;
        let hwid = match &r.body {
            ResponseBody::V6 { hwid, .. } => {
                let mut text = [0u8; 16];
                upper_hex(hwid, &mut text);
                Some(HwidText::from_ascii(&text))
            }
            _ => None,
        };
        ResponseView {
            protocol: Some(version_text(r.outer_version)),
            hresult: hresult_inline(return_value),
            epid: Some(FieldText::of_utf16le(&b.epid_raw)),
            cmid: Some(GuidText::of(&b.cmid)),
            time: Some(rfc3339(b.response_time)),
            current_count: Some(b.current_count),
            activation_interval: Some(b.activation_interval),
            renewal_interval: Some(b.renewal_interval),
            hwid,
        }
    }
}

/// Check results by name, in verification order (serialised as a map). Held inline (one
/// verification has at most [`Checks::CAPACITY`] checks), so an exchange record costs no
/// allocation for them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    len: u8,
    items: [(CheckName, bool); Checks::CAPACITY],
}

impl Checks {
    /// Most checks one verification reports (every [`CheckName`] once).
    pub const CAPACITY: usize = 32;

    /// The results of `v`, in order (any beyond [`Checks::CAPACITY`] are dropped, which
    /// cannot happen: a verification names each check at most once).
    pub fn of(v: &Verification) -> Self {
        let mut c = Checks::default();
        for check in &v.checks {
            c.push(check.name, check.passed);
        }
        c
    }

    /// Appends a result (ignored when full).
    pub fn push(&mut self, name: CheckName, passed: bool) {
        if let Some(slot) = self.items.get_mut(usize::from(self.len)) {
            *slot = (name, passed);
            self.len += 1;
        }
    }

    /// The results as (name, passed), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        self.entries().map(|(n, p)| (n.as_str(), p))
    }

    /// The results as (check, passed), in order.
    pub fn entries(&self) -> impl Iterator<Item = (CheckName, bool)> + '_ {
        self.items.iter().take(usize::from(self.len)).copied()
    }

    /// How many checks ran.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when no check ran (no request/response pair to verify).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many passed.
    pub fn passed(&self) -> usize {
        self.iter().filter(|c| c.1).count()
    }
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            len: 0,
            items: [(CheckName::ResponseStructure, false); Checks::CAPACITY],
        }
    }
}

impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Checks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

/// A failed check with what was seen and wanted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCheck {
    /// Check name.
    pub name: &'static str,
    /// What the message holds.
    pub observed: String,
    /// What a conforming message holds.
    pub expected: String,
}

/// A request and its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExchangeRecord {
    /// Capture name.
    pub capture: Arc<str>,
    /// Connection.
    pub flow: Flow,
    /// RPC call id.
    pub call_id: u32,
    /// `ndr32` / `ndr64` (`null` when the stub could not be framed).
    pub ndr: Option<&'static str>,
    /// True when no bind for the context was seen (syntax guessed from the stub).
    pub ndr_guessed: bool,
    /// Presentation context id.
    pub context_id: u16,
    /// Request fragments.
    pub fragments: u32,
    /// Packet index that completed the request.
    pub request_packet: Option<u64>,
    /// Packet index that completed the response.
    pub response_packet: Option<u64>,
    /// The request (`null` when it did not decode, see `request_error`, or was not seen).
    pub request: Option<RequestView>,
    /// Why the request did not decode.
    pub request_error: Option<String>,
    /// The response (`null` when none came).
    pub response: Option<ResponseView>,
    /// Why the response did not decode.
    pub response_error: Option<String>,
    /// Verification results by name (empty without both a request and a response message).
    pub checks: Checks,
    /// The failed checks in detail.
    pub failed: Vec<FailedCheck>,
    /// The decoded request and raw response bytes, for judging the exchange again (replay);
    /// not serialised.
    #[serde(skip)]
    pub raw: Option<Arc<RawExchange>>,
    /// What the connection's binds made of the call's context when the host answered it (or
    /// the connection ended), for replay's judgement; not serialised.
    #[serde(skip)]
    pub assoc: AssocFacts,
}

/// What a connection's binds and alter_contexts made of one call's presentation context, as
/// far as the capture shows, when the host answered the call (or the connection ended). It
/// exists so that replay can judge a call the way the host saw it: a request on a context
/// that was never accepted must be faulted (nca_unk_if) or closed, not answered (RPC-CTX-1),
/// but only when the capture holds the whole history of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AssocFacts {
    /// The call's context id: the request's, or the fault's when the request was not seen.
    pub context_id: u16,
    /// What the binds seen before the answer made of that id.
    pub context: ContextState,
    /// Whether the connection's start (SYN or SYN-ACK) was captured. Without it, binds before
    /// the capture began are unknown.
    pub start_seen: bool,
    /// Whether bytes of the connection were missing (a gap) before the answer: a bind or its
    /// answer may be in the hole.
    pub gap_before: bool,
    /// How the connection ended, for a call it left unanswered.
    pub ended: ConnEnd,
}

impl AssocFacts {
    /// Whether any bind or alter_context was seen on the connection before the answer.
    pub fn any_bind(&self) -> bool {
        self.context != ContextState::NoBind
    }

    /// Whether the capture holds the connection's whole association history up to the answer
    /// (its start was captured and nothing was missing since), so that a context not seen
    /// accepted really was not.
    pub fn history_complete(&self) -> bool {
        self.start_seen && !self.gap_before
    }
}

/// What the binds and alter_contexts seen on a connection made of one context id (the latest
/// answer naming it wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextState {
    /// A bind_ack or alter_context_resp accepted it.
    Accepted,
    /// A bind_ack or alter_context_resp rejected it (any result but acceptance), or a bind_nak
    /// answered the bind that offered it.
    Rejected,
    /// Binds were seen, but no answer to one accepted or rejected this id (never offered, or
    /// offered and never answered).
    NotNegotiated,
    /// No bind or alter_context was seen on the connection.
    #[default]
    NoBind,
}

impl ContextState {
    /// Short text for reports: `accepted`, `rejected`, `never negotiated`, `no bind`.
    pub fn text(self) -> &'static str {
        match self {
            ContextState::Accepted => "accepted",
            ContextState::Rejected => "rejected",
            ContextState::NotNegotiated => "never negotiated",
            ContextState::NoBind => "no bind",
        }
    }
}

/// How a connection ended, as far as the capture shows (for a call it left unanswered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnEnd {
    /// It had not ended when the record was made (the call was superseded, not left).
    #[default]
    Open,
    /// FIN from both sides, a RST, or the 5-tuple reused by a new SYN: the connection closed.
    Closed,
    /// No packet for the reassembly's idle timeout: the host stayed silent.
    Idle,
    /// The capture ended (or the connection was evicted) with the connection open: nothing
    /// shows what the host did next.
    CaptureEnded,
}

/// What replay needs beyond the views: the decoded request and the response as captured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawExchange {
    /// The decoded request, when it decoded.
    pub request: Option<DecodedRequest>,
    /// The whole response PDU when it came in one fragment.
    pub response_pdu: Option<Vec<u8>>,
    /// The KMS response message of a success stub.
    pub response_message: Option<Vec<u8>>,
}

impl ExchangeRecord {
    /// Fills `checks` and `failed` from a verification.
    pub fn set_verification(&mut self, v: &Verification) {
        self.checks = Checks::of(v);
        self.failed = v
            .failures()
            .map(|c| FailedCheck {
                name: c.name.as_str(),
                observed: c.observed.clone(),
                expected: c.expected.clone(),
            })
            .collect();
    }
}

/// A fault answering a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRecord {
    /// Capture name.
    pub capture: Arc<str>,
    /// Connection.
    pub flow: Flow,
    /// Call id.
    pub call_id: u32,
    /// NCA status as `0xXXXXXXXX`.
    pub status: String,
    /// Its name when known (`nca_unk_if`, `nca_op_rng_error`, `nca_proto_error`).
    pub status_name: Option<&'static str>,
    /// Packet index.
    pub packet: u64,
    /// The request that was faulted, when seen and decodable.
    pub request: Option<Box<RequestView>>,
    /// What the connection's binds made of the faulted call's context; not serialised.
    #[serde(skip)]
    pub assoc: AssocFacts,
}

/// Missing bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapRecord {
    /// Capture name.
    pub capture: Arc<str>,
    /// Connection.
    pub flow: Flow,
    /// `to_server` / `to_client`.
    pub direction: &'static str,
    /// Stream offset of the hole.
    pub offset: u64,
    /// Bytes missing.
    pub missing: u64,
    /// Packet being processed.
    pub packet: u64,
}

/// Damage or a violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRecord {
    /// Capture name.
    pub capture: Arc<str>,
    /// Connection, when the error concerns one.
    pub flow: Option<Flow>,
    /// `capture` (file damage), `packet` (bad headers), `rpc` (stream/PDU level).
    pub layer: &'static str,
    /// Packet index.
    pub packet: Option<u64>,
    /// Byte offset in the file (capture damage).
    pub file_offset: Option<u64>,
    /// Byte offset in the TCP stream (rpc errors) and its direction.
    pub stream_offset: Option<u64>,
    /// `to_server` / `to_client` for stream errors.
    pub direction: Option<&'static str>,
    /// What.
    pub message: String,
}

/// Totals of one capture.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SummaryRecord {
    /// Capture name.
    pub capture: Arc<str>,
    /// Packets read.
    pub packets: u64,
    /// Captured bytes.
    pub bytes: u64,
    /// TCP connections.
    pub flows: u64,
    /// Connections that bound the KMS interface or carried KMS calls.
    pub kms_flows: u64,
    /// Bind / alter_context records.
    pub binds: u64,
    /// Exchange records.
    pub exchanges: u64,
    /// Exchanges with a response.
    pub answered: u64,
    /// Fault records.
    pub faults: u64,
    /// Failed checks (over all exchanges).
    pub failed_checks: u64,
    /// Exchanges with at least one failed check.
    pub failed_exchanges: u64,
    /// Exchanges whose request or response did not decode.
    pub undecodable: u64,
    /// Gap records.
    pub gaps: u64,
    /// Bytes skipped while resynchronising.
    pub skipped_bytes: u64,
    /// Error records.
    pub errors: u64,
    /// True when the file is damaged (truncated, corrupt block, absurd length).
    pub damaged: bool,
}

impl SummaryRecord {
    /// Whether the capture decoded cleanly: no damage, errors, undecodable messages or
    /// failed checks.
    pub fn clean(&self) -> bool {
        !self.damaged && self.errors == 0 && self.failed_checks == 0 && self.undecodable == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_reads_like_the_hyphenated_string() {
        let u = uuid::Uuid::from_u128(0x55C9_2734_D682_4D71_983E_D6EC_3F16_059F);
        let t = GuidText::of(&u);
        assert_eq!(t, "55c92734-d682-4d71-983e-d6ec3f16059f");
        let reference = u.hyphenated().to_string();
        assert_eq!(t.to_string(), reference);
        assert_eq!(uuid_text(&u), reference);
        assert_eq!(format!("{t:?}"), format!("{reference:?}"));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            serde_json::to_string(&reference).unwrap()
        );
        assert_eq!(GuidText::default(), "00000000-0000-0000-0000-000000000000");
        let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for _ in 0..1000 {
            let u = uuid::Uuid::from_u128(x);
            assert_eq!(GuidText::of(&u).as_str(), u.hyphenated().to_string());
            x = x
                .wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
                .wrapping_add(1);
        }
    }

    #[test]
    fn fast_rfc3339_agrees_with_the_general_formatter() {
        let mut t: u64 = 116_444_736_000_000_000; // 1970-01-01
        let step = 10_000_000 * 86_399 * 37 + 10_000_000 * 13;
        while t < 2_650_467_743_990_000_000 {
            assert_eq!(
                rfc3339(FileTime(t)).as_str(),
                FileTime(t).to_rfc3339(),
                "{t}"
            );
            t += step;
        }
        for t in [0, 1, 116_444_736_000_000_001, u64::MAX, u64::MAX - 1] {
            assert_eq!(rfc3339(FileTime(t)).as_str(), FileTime(t).to_rfc3339());
        }
        // The longest fallbacks: a 7-digit fraction in year 9999, and out of range.
        let late = 2_650_467_743_999_999_999;
        assert_eq!(
            rfc3339(FileTime(late)).as_str(),
            FileTime(late).to_rfc3339()
        );
    }

    #[test]
    fn field_text_reads_like_from_utf16_lossy() {
        let field = |units: &[u16], len: usize| {
            let mut raw: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            raw.resize(len, 0);
            raw
        };
        let lossy = |raw: &[u8]| {
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            String::from_utf16_lossy(&units)
        };
        let ascii: Vec<u16> = "WORKSTATION-01.example".encode_utf16().collect();
        let full: Vec<u16> = "x".repeat(64).encode_utf16().collect();
        let accents: Vec<u16> = "Poste-é€😀".encode_utf16().collect();
        let cases = [
            field(&ascii, 128),
            field(&full, 128),
            field(&accents, 128),
            field(&[0x41, 0xD800, 0x42], 128),
            field(&[], 128),
            field(&ascii, 7),
            field(&"y".repeat(80).encode_utf16().collect::<Vec<_>>(), 160),
        ];
        for raw in &cases {
            let t = FieldText::of_utf16le(raw);
            assert_eq!(t.as_str(), lossy(raw));
            assert_eq!(t.as_str(), crate::wire::kms::bytes::utf16le_text(raw).0);
        }
        assert!(matches!(
            FieldText::of_utf16le(&cases[0]),
            FieldText::Ascii(_)
        ));
        assert!(matches!(
            FieldText::of_utf16le(&cases[2]),
            FieldText::Other(_)
        ));
        assert!(matches!(
            FieldText::of_utf16le(&cases[6]),
            FieldText::Other(_)
        ));
    }

    #[test]
    fn hresults_print_as_upper_case_hex() {
        for v in [0, 1, 0xC004_F042, 0x8007_0005, u32::MAX, 0x0123_4567] {
            assert_eq!(hresult_inline(v).as_str(), format!("0x{v:08X}"));
            assert_eq!(hresult_text(v), format!("0x{v:08X}"));
        }
    }

    #[test]
    fn inline_text_holds_what_fits_and_refuses_the_rest() {
        let t = TimeText::new("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(t, "2024-01-01T00:00:00Z");
        assert_eq!(format!("{t:?}"), "\"2024-01-01T00:00:00Z\"");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-01-01T00:00:00Z\""
        );
        assert!(TimeText::new(&"x".repeat(33)).is_none());
        assert_eq!(
            TimeText::new(&"é".repeat(16)).unwrap().as_str(),
            "é".repeat(16)
        );
        assert_eq!(
            HwidText::from_ascii(b"0123456789ABCDEFGH"),
            "0123456789ABCDEF"
        );
        assert_eq!(TimeText::default(), "");
    }
}
