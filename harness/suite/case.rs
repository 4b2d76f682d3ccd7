//! The YAML case schema: a case is data, not code. One spec file holds one rule family.
//!
//! ```yaml
//! family: THR
//! title: Activation thresholds
//! cases:
//!   - id: THR-CLIENT-25
//!     title: A Windows client activates only once the host counts 25 machines
//!     rule: A host activates Windows client products only when it counts at least 25 computers.
//!     source: seed FAQ; Microsoft Learn "KMS activation planning"
//!     level: MUST
//!     rules: [THR-CLIENT-25]
//!     requires: { fresh: true }
//!     steps:
//!       - repeat:
//!           times: 24
//!           steps:
//!             - request: { product: Windows 10 Enterprise, expect: { activates: false } }
//!       - request: { product: Windows 10 Enterprise, expect: { activates: true, count: 25 } }
//! ```
//!
//! Every struct denies unknown keys, so a typo is an error with its line and column.

use crate::report::Level;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// One spec file: a rule family and its cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// Family id, the prefix of its case ids (e.g. `THR`).
    pub family: String,
    /// What the family covers.
    pub title: String,
    /// The cases.
    pub cases: Vec<CaseDef>,
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDef {
    /// Stable id, e.g. `THR-CLIENT-25` (unique across all files).
    pub id: Spanned<String>,
    /// One-line title.
    pub title: String,
    /// The rule checked, in one sentence.
    pub rule: String,
    /// Where the rule is written (seed FAQ, Microsoft docs, C706, MS-RPCE, spec §).
    pub source: String,
    /// MUST / SHOULD / INFO.
    pub level: Level,
    /// Model rule ids the case exercises (checked against the model's rule registry). A
    /// check citing one of them belongs to the case's subject and decides its verdict.
    #[serde(default)]
    pub rules: Vec<Spanned<String>>,
    /// Check-name globs (e.g. `kms.cmid_echo`, `rpc.*`) that belong to the case's subject
    /// besides the checks every case owns ([`crate::suite::subject::CORE`]). Other checks
    /// are side findings: shown, gathered in the host profile, never deciding the verdict.
    #[serde(default)]
    pub subject: Vec<Spanned<String>>,
    /// Preconditions on the target.
    #[serde(default)]
    pub requires: Requirements,
    /// What to do, in order.
    pub steps: Vec<Step>,
}

/// Preconditions: a case whose precondition is unknown for the target is SKIP with the reason.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The host's CMID tables must be empty at the start of the case (`--fresh`, or a host the
    /// harness can reset, such as the embedded one).
    #[serde(default)]
    pub fresh: bool,
    /// The case advances the host's clock (only targets with clock control).
    #[serde(default)]
    pub clock_control: bool,
    /// The host key (CSVLK family name from the catalog) the host must hold (`--host-key`).
    #[serde(default)]
    pub host_key: Option<String>,
    /// The profile the case belongs to (`--profile`), e.g. `strict` for undocumented limits.
    #[serde(default)]
    pub profile: Option<String>,
    /// The case judges the activation service (MAK, CSVLK budgets), run in-process.
    #[serde(default)]
    pub activation_service: bool,
}

/// One step of a case. Written as a one-key map: `- request: {...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Open a (named) TCP connection; the default connection is opened implicitly.
    Connect(ConnectStep),
    /// Send a bind (or alter_context) and judge the bind_ack.
    Bind(BindStep),
    /// Send one KMS activation request and judge the answer.
    Request(Box<RequestStep>),
    /// Send raw bytes (hex), optionally chunked or slowly, and judge what comes back.
    Raw(RawStep),
    /// Stay silent on a connection for a while and judge what the host does.
    Idle(IdleStep),
    /// Close a connection.
    Close(ConnRef),
    /// Advance the host's clock (needs `requires.clock_control`), e.g. `31d`, `2h`.
    AdvanceClock(String),
    /// A well-formed exchange on a fresh connection that must succeed (the host still works).
    Sanity(SanityStep),
    /// Repeat steps; `cmid: new` draws a fresh CMID on every iteration.
    Repeat(RepeatStep),
    /// An activation-service operation (MAK / CSVLK), judged in-process.
    Service(ServiceStep),
}

/// Names a connection; absent means the case's default connection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnRef {
    /// Connection name.
    #[serde(default)]
    pub conn: Option<String>,
}

/// `connect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// Connection name.
    #[serde(default)]
    pub conn: Option<String>,
    /// Skip the implicit bind (for cases that send their own first PDU).
    #[serde(default)]
    pub no_bind: bool,
}

/// A presentation context offered in a bind: a shorthand (`ndr32`, `ndr64`, `btfn`,
/// `unknown_syntax`, `unknown_interface`) or a full element.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ContextSpec {
    /// Shorthand name.
    Named(String),
    /// Explicit element.
    Explicit(ContextElement),
}

/// An explicit presentation context element.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextElement {
    /// Context id (defaults to the element's position).
    #[serde(default)]
    pub id: Option<u16>,
    /// Abstract syntax (interface) UUID; default the KMS interface.
    #[serde(default)]
    pub interface: Option<String>,
    /// Transfer syntaxes: shorthand names or UUID text; several make n_transfer_syn > 1.
    pub transfer: Vec<String>,
    /// BTFN feature bits when a transfer is `btfn` (default 3).
    #[serde(default)]
    pub btfn_features: Option<u16>,
}

/// `bind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindStep {
    /// Connection name.
    #[serde(default)]
    pub conn: Option<String>,
    /// Send an alter_context instead of a bind.
    #[serde(default)]
    pub alter: bool,
    /// Contexts offered, in order.
    pub contexts: Vec<ContextSpec>,
    /// call_id (default: the connection's next call id).
    #[serde(default)]
    pub call_id: Option<u32>,
    /// Header flags (default FIRST|LAST|CONC_MPX for bind, as Windows clients send).
    #[serde(default)]
    pub flags: Option<u8>,
    /// What the answer must be.
    #[serde(default)]
    pub expect: BindExpect,
}

/// Expected bind results, per offered context, in order: `accept`, `reject`, `reject_abstract`,
/// `reject_transfer`, `negotiate_ack`, or `any`. Absent: judged by the model's rules only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindExpect {
    /// Per-context results.
    #[serde(default)]
    pub results: Option<Vec<String>>,
    /// Outcome of the PDU as a whole (default `answer`).
    #[serde(default)]
    pub outcome: Option<OutcomeSet>,
}

/// How the CMID of a request is chosen.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CmidSpec {
    /// `new` (a fresh random CMID, the default), `same` (the case's previous CMID), `@name`
    /// (a CMID remembered under a name: set on first use), or a literal UUID.
    Text(String),
}

/// `request`: one KMS activation request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestStep {
    /// Connection name.
    #[serde(default)]
    pub conn: Option<String>,
    /// Product (SKU) name from the catalog, e.g. `Windows 10 Enterprise`.
    pub product: Spanned<String>,
    /// Override the KMS counted id (UUID text), e.g. to send an id no host knows.
    #[serde(default)]
    pub kms_id: Option<String>,
    /// Override the application id (UUID text).
    #[serde(default)]
    pub app_id: Option<String>,
    /// Protocol version `major.minor` (default `6.0`).
    #[serde(default)]
    pub version: Option<String>,
    /// Transfer syntax for the stub: `ndr32` (default) or `ndr64`.
    #[serde(default)]
    pub ndr: Option<String>,
    /// Presentation context id (default: the one the host accepted for `ndr`).
    #[serde(default)]
    pub context_id: Option<u16>,
    /// CMID choice (default `new`).
    #[serde(default)]
    pub cmid: Option<CmidSpec>,
    /// Required client count N (default: the product's threshold).
    #[serde(default)]
    pub required_count: Option<u32>,
    /// Client clock offset from the host's clock, e.g. `+5h`, `-30m` (default 0).
    #[serde(default)]
    pub time_offset: Option<String>,
    /// VM flag.
    #[serde(default)]
    pub vm: bool,
    /// License status value (default 2, out-of-box grace).
    #[serde(default)]
    pub license_status: Option<u32>,
    /// Workstation name.
    #[serde(default)]
    pub workstation: Option<String>,
    /// RPC call id (default: next).
    #[serde(default)]
    pub call_id: Option<u32>,
    /// RPC opnum (default 0).
    #[serde(default)]
    pub opnum: Option<u16>,
    /// Byte-level mutations applied after encoding, in order.
    #[serde(default)]
    pub mutate: Vec<Mutation>,
    /// Split the request into DCE/RPC fragments with at most this many stub bytes each.
    #[serde(default)]
    pub fragment: Option<usize>,
    /// Write to TCP in chunks of this many bytes.
    #[serde(default)]
    pub chunk: Option<usize>,
    /// Pause between chunks, in milliseconds (bounded by the runner).
    #[serde(default)]
    pub chunk_delay_ms: Option<u64>,
    /// Send this many copies back to back before reading any answer (pipelining).
    #[serde(default)]
    pub pipeline: Option<u32>,
    /// What the answer must be.
    #[serde(default)]
    pub expect: RequestExpect,
}

/// A byte-level mutation of an encoded request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    /// Which bytes `offset` counts from: `pdu` (whole PDU), `stub`, `kms` (the KMS message),
    /// `plain` (the KMS plaintext before encryption, so MACs and padding stay valid).
    #[serde(default = "default_mutation_scope")]
    pub scope: String,
    /// Offset within the scope (negative counts from the end).
    #[serde(default)]
    pub offset: i64,
    /// Bytes to write (hex).
    #[serde(default)]
    pub set: Option<String>,
    /// XOR mask to apply (hex).
    #[serde(default)]
    pub xor: Option<String>,
    /// Truncate the scope to this many bytes (the enclosing lengths are fixed up unless
    /// `keep_lengths`).
    #[serde(default)]
    pub truncate: Option<usize>,
    /// Append these bytes (hex).
    #[serde(default)]
    pub extend: Option<String>,
    /// Leave frag_length, alloc_hint and NDR sizes as they were (so they lie).
    #[serde(default)]
    pub keep_lengths: bool,
}

fn default_mutation_scope() -> String {
    "kms".to_string()
}

/// What kind of answer is acceptable: one name or a list of `answer` (a KMS response),
/// `error` (a response with an HRESULT error stub), `fault` (an RPC fault PDU), `close` (the
/// host closed the connection cleanly), `reject` (bind_nak / provider rejection), `silence`
/// (nothing within the read timeout, connection still open: the host is rightly waiting for
/// bytes a lying length promised; valid for `raw` and `request` steps).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OutcomeSet {
    /// One outcome.
    One(String),
    /// Any of several.
    Any(Vec<String>),
}

/// Expectations on the answer to a request. Absent fields are judged by the reference model
/// (the answer a conforming host gives) and by the response checks (spec §3.6/§4.6).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestExpect {
    /// Acceptable outcomes (default: what the model decides).
    #[serde(default)]
    pub outcome: Option<OutcomeSet>,
    /// Acceptable HRESULTs (hex text `0xC004F042`, or a list).
    #[serde(default)]
    pub hresult: Option<OutcomeSet>,
    /// Whether a genuine client activates on this answer.
    #[serde(default)]
    pub activates: Option<bool>,
    /// The count the host must report: a number, `model`, or `>= N` / `<= N`.
    #[serde(default)]
    pub count: Option<CountExpect>,
    /// The fault status when `outcome` includes `fault` (hex text).
    #[serde(default)]
    pub fault_status: Option<String>,
    /// Run a sanity exchange on a fresh connection afterwards (robustness cases).
    #[serde(default)]
    pub then_sanity: bool,
    /// The answer must arrive within this many milliseconds after the request's last byte was
    /// written (a latency bound, e.g. for hosts that delay V4 answers).
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    /// Level override for the explicit expectations of this step (default: the case level).
    #[serde(default)]
    pub level: Option<Level>,
}

/// An expected count.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CountExpect {
    /// Exactly this count.
    Exact(u32),
    /// `model`, `>= N`, `<= N`, `> N`, `< N`.
    Text(String),
}

/// `raw`: arbitrary bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Connection name.
    #[serde(default)]
    pub conn: Option<String>,
    /// The bytes, hex (whitespace allowed).
    pub hex: String,
    /// Write in chunks of this many bytes.
    #[serde(default)]
    pub chunk: Option<usize>,
    /// Pause between chunks (ms).
    #[serde(default)]
    pub chunk_delay_ms: Option<u64>,
    /// Acceptable outcomes (`answer`, `error`, `fault`, `close`, `reject`, `silence`).
    pub expect: OutcomeSet,
    /// The fault status required when the answer is a fault (hex, e.g. `0x1C010003`).
    #[serde(default)]
    pub fault_status: Option<String>,
    /// Run a sanity exchange on a fresh connection afterwards.
    #[serde(default)]
    pub then_sanity: bool,
}

/// `idle`: stay silent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleStep {
    /// Connection name.
    #[serde(default)]
    pub conn: Option<String>,
    /// How long (ms; bounded by the runner).
    pub ms: u64,
    /// Run a sanity exchange on a fresh connection meanwhile (the host must serve others while
    /// this connection is idle).
    #[serde(default)]
    pub then_sanity: bool,
}

/// `sanity`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanityStep {
    /// Product for the sanity request (default the suite's sanity product).
    #[serde(default)]
    pub product: Option<String>,
}

/// `repeat`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    /// Iterations (bounded by the loader).
    pub times: u32,
    /// Steps of one iteration.
    pub steps: Vec<Step>,
}

/// `service`: an activation-service operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStep {
    /// `add_mak`, `activate` (independent), `proxy` (VAMT batch), `raise_limit`,
    /// `add_csvlk`, `activate_host`.
    pub op: String,
    /// Key name (a label the case chooses).
    pub key: String,
    /// Product key group or product name (for `add_*` and `activate`).
    #[serde(default)]
    pub product: Option<String>,
    /// Budget for `add_mak` / amount for `raise_limit`.
    #[serde(default)]
    pub count: Option<u32>,
    /// Machines for `activate` / `proxy` (labels; reuse a label to reactivate).
    #[serde(default)]
    pub machines: Vec<String>,
    /// Whether the machine is virtual.
    #[serde(default)]
    pub vm: bool,
    /// Whether the machines were configured as KMS clients before (rule MAK-AFTER-KMS).
    #[serde(default)]
    pub was_kms_client: bool,
    /// Expected result: `ok`, an HRESULT (hex), or `refused` (a refusal Microsoft documents
    /// no HRESULT for, such as an edition outside the key's product key group).
    pub expect: String,
    /// Expected remaining budget afterwards.
    #[serde(default)]
    pub remaining: Option<u32>,
}
