//! Connection-oriented DCE/RPC (`ncacn_ip_tcp`) PDU codec for KMS traffic (spec §1), pure:
//! no I/O, no state.
//!
//! * [`Pdu::parse`] / [`Pdu::encode`]: one whole PDU ↔ typed header fields ([`Common`]) and
//!   body ([`Bind`], [`BindAck`], [`BindNak`], [`Request`], [`Response`], [`Fault`]). Every
//!   reserved/pad byte is kept, so decode → encode is byte-exact for all accepted input.
//! * [`pdu_length`] / [`looks_like_pdu_start`]: split and resynchronise TCP byte streams.
//! * [`Header::read`]: the raw 16-byte header, for checkers that must see lying headers.
//! * [`RequestStub`] / [`ResponseStub`]: the NDR32/NDR64 framing of the KMS operation.
//! * [`SyntaxId`] and the well-known interface / transfer syntaxes.
//!
//! Refused (typed errors): big-endian drep, rpc_vers ≠ 5, `auth_length` ≠ 0, PDU types
//! other than the eight above, `frag_length` ≠ input length; see [`pdu`] for details.

mod bind;
mod bind_ack;
mod call;
pub mod header;
pub mod pdu;
pub mod stub;
pub mod syntax;

pub use bind::{Bind, ContextElement};
pub use bind_ack::{
    BindAck, BindNak, ContextResult, ResultKind, RpcVersion, REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED,
    REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED,
};
pub use call::{Fault, Request, Response, NCA_PROTO_ERROR, NCA_S_OP_RNG_ERROR, NCA_S_UNK_IF};
pub use header::{DataRep, Header, PduType, PfcFlags, HEADER_LEN, RPC_VERS};
pub use pdu::{looks_like_pdu_start, pdu_length, Common, Pdu, MAX_SANE_FRAG_LENGTH};
pub use stub::{response_pad_len, NdrSyntax, RequestStub, ResponseStub, UNIQUE_REFERENT_ID};
pub use syntax::{
    btfn, SyntaxId, TransferSyntaxKind, BTFN_KEEP_CONNECTION_ON_ORPHAN,
    BTFN_SECURITY_CONTEXT_MULTIPLEXING, BTFN_WIRE_PREFIX, KMS_INTERFACE, KMS_INTERFACE_UUID, NDR32,
    NDR32_UUID, NDR64, NDR64_UUID,
};
