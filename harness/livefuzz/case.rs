//! What one fuzz case is: a session of actions (connect, send bytes with optional chunking
//! and pauses, expect one answer, close), the mutation that made it, and what each expected
//! answer is judged against. Serialized as JSON with bytes in hex: the reproducer format
//! (`session.json`, read back by `kmsspec fuzz --replay`).

use serde::{Deserialize, Serialize};

/// Longest pause between chunks of one send, in microseconds (slow delivery stays bounded).
pub const MAX_PAUSE_US: u32 = 5_000;
/// Most bytes one send may carry.
pub const MAX_SEND: usize = 64 * 1024;
/// Most actions in one session.
pub const MAX_ACTIONS: usize = 256;

/// The structure-aware mutation a case carries (its label in reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutationKind {
    /// No mutation: a well-formed control session.
    WellFormed,
    /// Request PDU type replaced.
    PduType,
    /// Request pfc_flags bits toggled.
    Flags,
    /// Data representation bytes changed.
    Drep,
    /// frag_length changed (shorter, or longer with extra bytes).
    FragLength,
    /// auth_length non-zero.
    AuthLength,
    /// Unusual call ids on bind and request.
    CallId,
    /// Bind context list: counts, duplicate or odd ids.
    BindContexts,
    /// Bind transfer syntaxes: unknown uuid, versions, NDR64 only.
    BindSyntax,
    /// Bind interface uuid or version.
    BindInterface,
    /// A bind-time feature negotiation element with arbitrary bits.
    Btfn,
    /// n_transfer_syn of an element: none or several.
    TransferSyntaxCount,
    /// Request opnum not 0.
    Opnum,
    /// Request p_cont_id not bound.
    ContextId,
    /// Request alloc_hint arbitrary.
    AllocHint,
    /// NDR declared size / max_count inconsistent with the message.
    NdrSize,
    /// KMS outer version word.
    KmsVersion,
    /// One base-request field in the plaintext (re-encrypted so the crypto stays valid).
    RequestField,
    /// Bit flips in the encrypted payload.
    PayloadBitFlip,
    /// Padding bytes of a V5/V6 plaintext (re-encrypted).
    Padding,
    /// The V4 MAC.
    Mac,
    /// The request IV.
    Iv,
    /// KMS message truncated (framing kept consistent).
    KmsTruncate,
    /// KMS message extended with bytes (framing kept consistent).
    KmsExtend,
    /// Request PDU cut short, then the connection closed.
    PduTruncate,
    /// Bytes after the request PDU, or inside it past the stub.
    PduExtend,
    /// Request split into FIRST/…/LAST fragments.
    Fragmented,
    /// Several requests in one write, or back to back on one connection.
    Pipelined,
    /// Every byte in its own write.
    OneByteChunks,
    /// Small writes with pauses between them.
    SlowDelivery,
    /// Many short connections before the session.
    Churn,
}

impl MutationKind {
    /// Every kind, in report order.
    pub const ALL: [MutationKind; 31] = [
        MutationKind::WellFormed,
        MutationKind::PduType,
        MutationKind::Flags,
        MutationKind::Drep,
        MutationKind::FragLength,
        MutationKind::AuthLength,
        MutationKind::CallId,
        MutationKind::BindContexts,
        MutationKind::BindSyntax,
        MutationKind::BindInterface,
        MutationKind::Btfn,
        MutationKind::TransferSyntaxCount,
        MutationKind::Opnum,
        MutationKind::ContextId,
        MutationKind::AllocHint,
        MutationKind::NdrSize,
        MutationKind::KmsVersion,
        MutationKind::RequestField,
        MutationKind::PayloadBitFlip,
        MutationKind::Padding,
        MutationKind::Mac,
        MutationKind::Iv,
        MutationKind::KmsTruncate,
        MutationKind::KmsExtend,
        MutationKind::PduTruncate,
        MutationKind::PduExtend,
        MutationKind::Fragmented,
        MutationKind::Pipelined,
        MutationKind::OneByteChunks,
        MutationKind::SlowDelivery,
        MutationKind::Churn,
    ];

    /// The snake_case name used in JSON and on the terminal.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{self:?}"))
    }
}

/// How strictly an answer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectKind {
    /// A well-formed bind: a bind_ack is required.
    BindAck,
    /// A mutated bind: bind_ack, bind_nak or a clean close.
    Bind,
    /// A request with intact RPC framing: the host decodes exactly `kms`; the answer must be
    /// what the model permits (with every response check passing), or for a KMS message a
    /// host cannot decode, a documented refusal.
    Answer,
    /// An RPC-level oddity a host may accept or refuse: an answer is judged like
    /// [`ExpectKind::Answer`]; an error stub, fault, bind answer or clean close is fine.
    Tolerant,
    /// Malformed at the RPC level: anything but a success answer (error stub, fault, close).
    Refusal,
}

/// One expected answer and what it is judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// How strictly.
    pub kind: ExpectKind,
    /// Call id the answer must echo.
    pub call_id: u32,
    /// Context id the answer must echo.
    pub p_cont_id: u16,
    /// The request stub used NDR64 (else NDR32).
    pub ndr64: bool,
    /// Silence is acceptable (a host may wait for bytes that never come).
    #[serde(default)]
    pub silence_ok: bool,
    /// The context may be bound with either NDR syntax (after a mutated bind): the answer
    /// stub is read in whichever syntax it is well formed in.
    #[serde(default)]
    pub any_ndr: bool,
    /// The KMS message the host decodes, for requests.
    #[serde(with = "super::hex::opt_bytes", default)]
    pub kms: Option<Vec<u8>>,
}

/// One step of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Open a new connection (closing the current one, if any).
    Connect,
    /// Write bytes, in `chunk`-byte writes (0 = one write) with `pause_us` between them.
    Send {
        /// The bytes.
        #[serde(with = "super::hex::bytes")]
        bytes: Vec<u8>,
        /// Write size, 0 for all at once.
        #[serde(default)]
        chunk: usize,
        /// Pause between writes in microseconds (bounded by [`MAX_PAUSE_US`]).
        #[serde(default)]
        pause_us: u32,
    },
    /// Wait for one answer and judge it.
    Expect(Expect),
    /// Close the current connection.
    Close,
}

/// One fuzz case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuzzCase {
    /// Seed of the run.
    pub seed: u64,
    /// Index of the case in the run.
    pub index: u64,
    /// The mutation it carries.
    pub kind: MutationKind,
    /// Human description of the mutation (field, value).
    pub note: String,
    /// Run a sanity exchange after it (the session ends in a way a host cannot answer).
    #[serde(default)]
    pub sanity_after: bool,
    /// The actions.
    pub session: Vec<Action>,
}

impl FuzzCase {
    /// JSON text of the case (the reproducer format).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a case from JSON, with the bounds on sends, pauses and actions checked.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let c: FuzzCase = serde_json::from_str(text).map_err(|e| format!("bad case JSON: {e}"))?;
        if c.session.len() > MAX_ACTIONS {
            return Err(format!(
                "{} actions, more than {MAX_ACTIONS}",
                c.session.len()
            ));
        }
        for (i, a) in c.session.iter().enumerate() {
            if let Action::Send {
                bytes, pause_us, ..
            } = a
            {
                if bytes.len() > MAX_SEND || *pause_us > MAX_PAUSE_US {
                    return Err(format!("action {i}: send beyond the bounds"));
                }
            }
        }
        Ok(c)
    }
}
