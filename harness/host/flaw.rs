//! Mutants: the reference host with exactly ONE behaviour broken. A conformance suite that
//! passes the reference host must fail each of these on at least one case — that is the proof
//! the suite has teeth. Selected with `EmbeddedConfig::flaw`.

use crate::wire::kms::crypto::{cbc_encrypt, pkcs7_pad, sha256, xor16, Block16};
use crate::wire::kms::response::v6_hmac;
use crate::wire::kms::{BaseResponse, DecodedRequest, Protocol, ResponseParams};
use crate::wire::{WireError, WireResult};

/// One deliberate deviation from the reference host (spec section in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostFlaw {
    /// Reports this count in every answer, whatever the table holds (§6.2).
    FixedCount(u32),
    /// Counts every request as a new client, even a known CMID (§6.2, CNT-DISTINCT-CMID).
    CountsRepeatedCmids,
    /// Answers every KMS id instead of refusing ones its host key does not cover (§5.3).
    IgnoresHierarchy,
    /// Echoes a CMID with its first byte flipped (§2.5, §6.7).
    WrongCmidEcho,
    /// V6 answers reuse the request IV as response IV, the V5 rule (§3.5, §8).
    V5IvRuleInV6,
    /// V6 HMAC keyed from time slot +3, outside the client's ±1 tolerance (§3.5).
    HmacWrongSlot,
    /// Closes the connection on an unknown protocol version instead of 0x8007000D (§6.4).
    DropsOnUnknownVersion,
    /// Closes the connection after every response (no keep-alive, §1.1).
    ClosesAfterEveryAnswer,
    /// On a KMS message shorter than its version needs: never answers, keeps the connection.
    HangsOnTruncatedRequest,
    /// Response call_id = request call_id + 1 (§1.13).
    WrongCallId,
    /// CMIDs never expire: the count includes clients unseen for 30 days (§6.2).
    NeverExpiresCmids,
    /// Response time = request time + 1 hour instead of an exact echo (§2.5, §8).
    WrongTimeEcho,
    /// A different ePID (key id part) in every answer (§4.6, EPID-STABLE).
    ChangesEpidEveryRequest,
    /// An ePID that does not follow the ePID syntax (§4.1).
    BadEpidSyntax,
    /// Sets PFC_CONC_MPX on responses (§8: no CONC_MPX on response).
    SetsConcMpxOnResponse,
    /// Response alloc_hint = stub length + 8 (§1.10).
    WrongAllocHint,
    /// Refuses NDR64 (provider rejection 2) though it is offered (§1.9).
    RejectsNdr64,
    /// Activation interval of 5 minutes, outside 15…43200 (§6.3).
    IntervalsOutOfRange,
    /// Answers a BTFN element with provider rejection instead of negotiate_ack (§1.9).
    NoBtfnAck,
    /// Reports a count of at least the client's threshold N, whatever the table holds (§6.2).
    IgnoresThreshold,
    /// Reports twice the client's threshold N in every answer, whatever the table holds
    /// (the fixed `2 × N` of vlmcsd's defaults; §6.2, CNT-DISTINCT-CMID).
    FixedCountTwiceN,
    /// A new random (well-formed) ePID in every answer: serial and date drawn afresh each
    /// time, as py-kms does (§4.6, EPID-STABLE).
    RandomEpidPerRequest,
    /// Answers a request on a connection that never bound, as if NDR32 were bound
    /// (§1.11: fault nca_s_unk_if or a close is required).
    AnswersWithoutBind,
    /// Builds each response header from its request's: rpc_vers_minor, pfc_flags and drep are
    /// copied instead of written fresh (§1.4, §8; vlmcsd and py-kms copy request headers).
    EchoesRequestHeader,
}

impl HostFlaw {
    /// Every flaw (with `FixedCount(50)` standing for its family), for suites that run all.
    pub const ALL: [HostFlaw; 24] = [
        HostFlaw::FixedCount(50),
        HostFlaw::CountsRepeatedCmids,
        HostFlaw::IgnoresHierarchy,
        HostFlaw::WrongCmidEcho,
        HostFlaw::V5IvRuleInV6,
        HostFlaw::HmacWrongSlot,
        HostFlaw::DropsOnUnknownVersion,
        HostFlaw::ClosesAfterEveryAnswer,
        HostFlaw::HangsOnTruncatedRequest,
        HostFlaw::WrongCallId,
        HostFlaw::NeverExpiresCmids,
        HostFlaw::WrongTimeEcho,
        HostFlaw::ChangesEpidEveryRequest,
        HostFlaw::BadEpidSyntax,
        HostFlaw::SetsConcMpxOnResponse,
        HostFlaw::WrongAllocHint,
        HostFlaw::RejectsNdr64,
        HostFlaw::IntervalsOutOfRange,
        HostFlaw::NoBtfnAck,
        HostFlaw::IgnoresThreshold,
        HostFlaw::FixedCountTwiceN,
        HostFlaw::RandomEpidPerRequest,
        HostFlaw::AnswersWithoutBind,
        HostFlaw::EchoesRequestHeader,
    ];

    /// A short stable name (for reports and test names).
    pub fn name(self) -> &'static str {
        match self {
            HostFlaw::FixedCount(_) => "fixed-count",
            HostFlaw::CountsRepeatedCmids => "counts-repeated-cmids",
            HostFlaw::IgnoresHierarchy => "ignores-hierarchy",
            HostFlaw::WrongCmidEcho => "wrong-cmid-echo",
            HostFlaw::V5IvRuleInV6 => "v5-iv-rule-in-v6",
            HostFlaw::HmacWrongSlot => "hmac-wrong-slot",
            HostFlaw::DropsOnUnknownVersion => "drops-on-unknown-version",
            HostFlaw::ClosesAfterEveryAnswer => "closes-after-every-answer",
            HostFlaw::HangsOnTruncatedRequest => "hangs-on-truncated-request",
            HostFlaw::WrongCallId => "wrong-call-id",
            HostFlaw::NeverExpiresCmids => "never-expires-cmids",
            HostFlaw::WrongTimeEcho => "wrong-time-echo",
            HostFlaw::ChangesEpidEveryRequest => "changes-epid-every-request",
            HostFlaw::BadEpidSyntax => "bad-epid-syntax",
            HostFlaw::SetsConcMpxOnResponse => "sets-conc-mpx-on-response",
            HostFlaw::WrongAllocHint => "wrong-alloc-hint",
            HostFlaw::RejectsNdr64 => "rejects-ndr64",
            HostFlaw::IntervalsOutOfRange => "intervals-out-of-range",
            HostFlaw::NoBtfnAck => "no-btfn-ack",
            HostFlaw::IgnoresThreshold => "ignores-threshold",
            HostFlaw::FixedCountTwiceN => "fixed-count-2n",
            HostFlaw::RandomEpidPerRequest => "random-epid",
            HostFlaw::AnswersWithoutBind => "answers-without-bind",
            HostFlaw::EchoesRequestHeader => "echoes-request-header",
        }
    }

    /// The flaw with this [`HostFlaw::name`] (`fixed-count` stands for `FixedCount(50)`), for
    /// command lines and test tables.
    pub fn from_name(name: &str) -> Option<HostFlaw> {
        HostFlaw::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Slot offset used by [`HostFlaw::HmacWrongSlot`] (the client tolerates −1, 0, +1).
pub const WRONG_HMAC_SLOT: i64 = 3;

/// A V6 response built like `kms::encode_response` but with the HMAC keyed from time slot
/// `slot` instead of 0 (spec §3.5). Only for [`HostFlaw::HmacWrongSlot`].
pub fn encode_v6_with_slot(
    request: &DecodedRequest,
    base: &BaseResponse,
    params: &ResponseParams,
    slot: i64,
) -> WireResult<Vec<u8>> {
    let Some(request_iv) = request.iv() else {
        return Err(WireError::invalid("kms.request.version", 0, 4 << 16));
    };
    let cipher = Protocol::V6.cipher();
    let div: Block16 = cipher.decrypt_block(&request_iv);
    let mut plain = Vec::with_capacity(base.wire_len() + 104);
    base.encode_into(&mut plain);
    plain.extend_from_slice(&xor16(&params.random, &div));
    plain.extend_from_slice(&sha256(&params.random));
    plain.extend_from_slice(&params.hwid);
    plain.extend_from_slice(&div);
    let r = cipher.decrypt_block(&params.response_iv);
    let mac = v6_hmac(&r, &plain, base.response_time, slot);
    plain.extend_from_slice(&mac);
    pkcs7_pad(&mut plain);
    cbc_encrypt(cipher, &params.response_iv, &mut plain)?;
    let mut out = Vec::with_capacity(20 + plain.len());
    out.extend_from_slice(&params.outer_version.to_wire());
    out.extend_from_slice(&params.response_iv);
    out.extend_from_slice(&plain);
    Ok(out)
}
