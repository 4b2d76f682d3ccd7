//! One TCP connection of the reference host, sans-I/O: feed it the bytes received (in any
//! chunking), it appends the reply bytes and says whether to close. It holds the association
//! state: accepted presentation contexts with their NDR syntax, the fragment reassembly
//! buffer and the association group id. Shared host state ([`HostState`]) is passed in.
//!
//! Choices of the conforming reference host (spec sections in brackets):
//! * Framing by `frag_length` [§1.2]; `frag_length` > [`MAX_FRAG`] or a header that cannot
//!   start a PDU (rpc_vers ≠ 5, big-endian drep, `frag_length` < 16) closes the connection
//!   without reply [§1.12]. A whole PDU that does not decode (auth_length ≠ 0, unknown or
//!   server-to-client type, truncated body) closes it too.
//! * bind / alter_context [§1.6, §1.9]: each element judged on its own; see [`judge_element`].
//!   A bind with zero elements gets a bind_nak with reason 0 (not specified) offering
//!   version 5.0 and the connection stays open; an alter_context with zero elements gets an
//!   alter_context_resp with zero results. A second bind on a bound connection replaces the
//!   contexts (the association group stays).
//! * bind_ack [§1.8]: frag sizes echoed, clamped to [`MAX_FRAG`]; a fresh non-zero
//!   association group per connection (the client's proposed group is not joined: the host
//!   has no other association to share it with); secondary address = listener port + NUL with
//!   zero padding (empty in alter_context_resp); flags FIRST|LAST, plus CONC_MPX on bind_ack
//!   only when the bind had it; drep `10 00 00 00`; call_id echoed.
//! * request [§1.10–§1.12]: FIRST-without-LAST fragments are buffered (≤ [`MAX_STUB`] bytes
//!   of stub, more closes the connection) until LAST of the same call id; a continuation
//!   fragment with no call in progress or another call id gets fault nca_proto_error. The
//!   context id is checked (fault nca_s_unk_if), then the opnum (fault nca_s_op_rng_error);
//!   faults echo call_id and p_cont_id with flags FIRST|LAST|DID_NOT_EXECUTE and alloc_hint 0.
//!   Inconsistent NDR sizes → error stub 0x8007000D; the KMS message → [`HostState::answer`].
//!   Responses: FIRST|LAST, call_id and p_cont_id echoed, alloc_hint = stub length,
//!   cancel_count 0. The association stays open (keep-alive); pipelined PDUs are answered
//!   in order.

use super::flaw::HostFlaw;
use super::state::{HostState, KmsReply};
use crate::model::decision::HR_INVALID_DATA;
use crate::wire::rpc::{
    pdu_length, Bind, BindAck, BindNak, Common, ContextElement, ContextResult, DataRep, Fault,
    NdrSyntax, Pdu, PfcFlags, RequestStub, Response, ResponseStub, ResultKind, RpcVersion,
    SyntaxId, TransferSyntaxKind, KMS_INTERFACE, NCA_PROTO_ERROR, NCA_S_OP_RNG_ERROR, NCA_S_UNK_IF,
    REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED, REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED,
};
use std::borrow::Cow;

/// Largest PDU accepted and largest frag size advertised (the usual Windows value).
pub const MAX_FRAG: usize = 5840;
/// Largest reassembled request stub.
pub const MAX_STUB: usize = 64 * 1024;
/// Most presentation contexts remembered per connection (oldest dropped beyond).
pub const MAX_CONTEXTS: usize = 64;

/// What the I/O layer does after a [`HostConnection::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Keep the connection open.
    Open,
    /// Write the reply bytes (if any), then close.
    Close,
}

/// A request call whose fragments are being collected.
#[derive(Debug)]
struct PendingCall {
    call_id: u32,
    p_cont_id: u16,
    opnum: u16,
    stub: Vec<u8>,
}

/// What handling one PDU asks of the connection.
enum Step {
    Continue,
    Close,
    Hang,
}

/// The per-connection protocol state of the reference host.
#[derive(Debug)]
pub struct HostConnection {
    port: u16,
    inbuf: Vec<u8>,
    contexts: Vec<(u16, NdrSyntax)>,
    assoc_group: u32,
    pending: Option<PendingCall>,
    hung: bool,
    closed: bool,
    /// The header of the request PDU last received (only [`HostFlaw::EchoesRequestHeader`]
    /// reads it).
    request_header: Option<Common>,
}

impl HostConnection {
    /// A new connection accepted on listener port `port` (written as the secondary address).
    pub fn new(port: u16) -> Self {
        Self {
            port,
            inbuf: Vec::new(),
            contexts: Vec::new(),
            assoc_group: 0,
            pending: None,
            hung: false,
            closed: false,
            request_header: None,
        }
    }

    /// Bytes buffered (an incomplete PDU plus collected fragments): bounded by about
    /// [`MAX_FRAG`] + [`MAX_STUB`] + the last input chunk.
    pub fn buffered(&self) -> usize {
        self.inbuf.len() + self.pending.as_ref().map_or(0, |p| p.stub.len())
    }

    /// The association group, once a bind or alter_context assigned one.
    pub fn assoc_group(&self) -> Option<u32> {
        (self.assoc_group != 0).then_some(self.assoc_group)
    }

    /// The accepted presentation contexts (id, NDR syntax), oldest first.
    pub fn contexts(&self) -> &[(u16, NdrSyntax)] {
        &self.contexts
    }

    /// Whether the connection decided to close (further input is ignored).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes received bytes, appends every reply they complete to `out` (in order), and says
    /// whether to close. Never panics; input after a close (or a hang) is ignored.
    pub fn feed(&mut self, state: &mut HostState, input: &[u8], out: &mut Vec<u8>) -> Disposition {
        if self.closed {
            return Disposition::Close;
        }
        if self.hung {
            return Disposition::Open;
        }
        let mut buf = std::mem::take(&mut self.inbuf);
        buf.extend_from_slice(input);
        let mut pos = 0;
        let mut step = Step::Continue;
        while let Some(rest) = buf.get(pos..) {
            let n = match pdu_length(rest) {
                Ok(None) => break,
                Ok(Some(n)) if n <= MAX_FRAG => n,
                _ => {
                    step = Step::Close;
                    break;
                }
            };
            let Some(pdu) = rest.get(..n) else { break };
            pos += n;
            step = self.on_pdu(state, pdu, out);
            if !matches!(step, Step::Continue) {
                break;
            }
        }
        match step {
            Step::Continue => {
                buf.drain(..pos.min(buf.len()));
                self.inbuf = buf;
                Disposition::Open
            }
            Step::Hang => {
                self.hung = true;
                self.pending = None;
                Disposition::Open
            }
            Step::Close => {
                self.closed = true;
                self.pending = None;
                Disposition::Close
            }
        }
    }

    fn on_pdu(&mut self, state: &mut HostState, bytes: &[u8], out: &mut Vec<u8>) -> Step {
        let Ok(pdu) = Pdu::parse(bytes) else {
            return Step::Close;
        };
        match pdu {
            Pdu::Bind(c, b) => self.negotiate(state, &c, &b, true, out),
            Pdu::AlterContext(c, b) => self.negotiate(state, &c, &b, false, out),
            Pdu::Request(c, r) => {
                self.request_header = Some(c);
                let first = c.pfc_flags.contains(PfcFlags::FIRST_FRAG);
                let last = c.pfc_flags.contains(PfcFlags::LAST_FRAG);
                match (first, self.pending.take()) {
                    (true, _) if last => {
                        self.call(state, c.call_id, r.p_cont_id, r.opnum, &r.stub, out)
                    }
                    (true, _) => {
                        if r.stub.len() > MAX_STUB {
                            return Step::Close;
                        }
                        self.pending = Some(PendingCall {
                            call_id: c.call_id,
                            p_cont_id: r.p_cont_id,
                            opnum: r.opnum,
                            stub: r.stub.into_owned(),
                        });
                        Step::Continue
                    }
                    (false, Some(mut p)) if p.call_id == c.call_id => {
                        if p.stub.len() + r.stub.len() > MAX_STUB {
                            return Step::Close;
                        }
                        p.stub.extend_from_slice(&r.stub);
                        if last {
                            self.call(state, p.call_id, p.p_cont_id, p.opnum, &p.stub, out)
                        } else {
                            self.pending = Some(p);
                            Step::Continue
                        }
                    }
                    (false, _) => {
                        fault(state, c.call_id, r.p_cont_id, NCA_PROTO_ERROR, out);
                        Step::Continue
                    }
                }
            }
            // Server-to-client PDUs make no sense here.
            _ => Step::Close,
        }
    }

    fn negotiate(
        &mut self,
        state: &mut HostState,
        c: &Common,
        b: &Bind<'_>,
        is_bind: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        let reply_common = |flags| Common {
            rpc_vers_minor: 0,
            pfc_flags: flags,
            drep: DataRep::LITTLE_ENDIAN,
            call_id: c.call_id,
        };
        if is_bind && b.contexts.is_empty() {
            let nak = BindNak {
                reject_reason: 0,
                versions: vec![RpcVersion { major: 5, minor: 0 }],
                trailing: Cow::Borrowed(&[]),
            };
            Pdu::BindNak(reply_common(PfcFlags::SINGLE), nak).encode_into(out);
            return Step::Continue;
        }
        if is_bind {
            self.contexts.clear();
        }
        if self.assoc_group == 0 {
            self.assoc_group = state.new_assoc_group();
        }
        let flaw = state.flaw();
        let mut results = Vec::with_capacity(b.contexts.len());
        for el in &b.contexts {
            let (res, syntax) = judge_element(el, flaw);
            if let Some(s) = syntax {
                self.contexts.retain(|(id, _)| *id != el.p_cont_id);
                if self.contexts.len() >= MAX_CONTEXTS {
                    self.contexts.remove(0);
                }
                self.contexts.push((el.p_cont_id, s));
            }
            results.push(res);
        }
        let sec_addr = if is_bind {
            let mut s = self.port.to_string().into_bytes();
            s.push(0);
            s
        } else {
            Vec::new()
        };
        let ack = BindAck {
            max_xmit_frag: b.max_xmit_frag.min(MAX_FRAG as u16),
            max_recv_frag: b.max_recv_frag.min(MAX_FRAG as u16),
            assoc_group_id: self.assoc_group,
            sec_addr: Cow::Owned(sec_addr),
            pad: [0; 3],
            reserved: [0; 3],
            results,
            trailing: Cow::Borrowed(&[]),
        };
        let mut flags = PfcFlags::SINGLE;
        if is_bind && c.pfc_flags.contains(PfcFlags::CONC_MPX) {
            flags = flags | PfcFlags::CONC_MPX;
        }
        let pdu = if is_bind {
            Pdu::BindAck(reply_common(flags), ack)
        } else {
            Pdu::AlterContextResp(reply_common(flags), ack)
        };
        pdu.encode_into(out);
        Step::Continue
    }

    fn call(
        &mut self,
        state: &mut HostState,
        call_id: u32,
        p_cont_id: u16,
        opnum: u16,
        stub: &[u8],
        out: &mut Vec<u8>,
    ) -> Step {
        let bound = self.contexts.iter().find(|(id, _)| *id == p_cont_id);
        let syntax = match bound {
            Some(&(_, s)) => s,
            None if self.assoc_group == 0 && state.flaw() == Some(HostFlaw::AnswersWithoutBind) => {
                NdrSyntax::Ndr32
            }
            None => {
                fault(state, call_id, p_cont_id, NCA_S_UNK_IF, out);
                return Step::Continue;
            }
        };
        if opnum != 0 {
            fault(state, call_id, p_cont_id, NCA_S_OP_RNG_ERROR, out);
            return Step::Continue;
        }
        let reply = match RequestStub::parse(stub, syntax) {
            Ok(s) if s.validate(syntax).is_ok() => state.answer(s.message),
            _ => KmsReply::Error(HR_INVALID_DATA),
        };
        let msg;
        let rs = match reply {
            KmsReply::Message(m) => {
                msg = m;
                ResponseStub::success(&msg)
            }
            KmsReply::Error(hr) => ResponseStub::error(hr),
            KmsReply::Close => return Step::Close,
            KmsReply::Hang => return Step::Hang,
        };
        let echoed = (state.flaw() == Some(HostFlaw::EchoesRequestHeader))
            .then_some(self.request_header)
            .flatten();
        respond(state, call_id, p_cont_id, syntax, &rs, echoed, out);
        if state.flaw() == Some(HostFlaw::ClosesAfterEveryAnswer) {
            return Step::Close;
        }
        Step::Continue
    }
}

/// Judges one offered presentation context [§1.9]: abstract syntax ≠ KMS interface v1.0 →
/// provider rejection reason 1; else the first transfer syntax that is NDR32 v2 or NDR64 v1 is
/// accepted (echoed), or a BTFN offer gets negotiate_ack (3) with reason = offered features
/// & 0x0003 and the nil syntax; nothing usable → provider rejection reason 2. Returns the
/// result and, for an acceptance, the NDR syntax the context will use.
pub fn judge_element(
    el: &ContextElement,
    flaw: Option<HostFlaw>,
) -> (ContextResult, Option<NdrSyntax>) {
    let reject = |reason| ContextResult {
        result: ResultKind::ProviderRejection,
        reason,
        transfer_syntax: SyntaxId::NIL,
    };
    if el.abstract_syntax != KMS_INTERFACE {
        return (reject(REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED), None);
    }
    for ts in &el.transfer_syntaxes {
        let accept = |s| {
            (
                ContextResult {
                    result: ResultKind::Acceptance,
                    reason: 0,
                    transfer_syntax: *ts,
                },
                Some(s),
            )
        };
        match ts.kind() {
            TransferSyntaxKind::Ndr32 if ts.version == 2 => return accept(NdrSyntax::Ndr32),
            TransferSyntaxKind::Ndr64
                if ts.version == 1 && flaw != Some(HostFlaw::RejectsNdr64) =>
            {
                return accept(NdrSyntax::Ndr64)
            }
            TransferSyntaxKind::Btfn { features } if flaw != Some(HostFlaw::NoBtfnAck) => {
                let ack = ContextResult {
                    result: ResultKind::NegotiateAck,
                    reason: features & 0x0003,
                    transfer_syntax: SyntaxId::NIL,
                };
                return (ack, None);
            }
            _ => {}
        }
    }
    (reject(REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED), None)
}

fn reply_common(state: &HostState, call_id: u32, flags: PfcFlags) -> Common {
    let wrong = state.flaw() == Some(HostFlaw::WrongCallId);
    Common {
        rpc_vers_minor: 0,
        pfc_flags: flags,
        drep: DataRep::LITTLE_ENDIAN,
        call_id: if wrong {
            call_id.wrapping_add(1)
        } else {
            call_id
        },
    }
}

/// Writes a response PDU. `echoed`, set only by [`HostFlaw::EchoesRequestHeader`], is the
/// request header whose version, flags and drep the flawed host copies.
fn respond(
    state: &HostState,
    call_id: u32,
    p_cont_id: u16,
    syntax: NdrSyntax,
    stub: &ResponseStub<'_>,
    echoed: Option<Common>,
    out: &mut Vec<u8>,
) {
    let bytes = stub.encode(syntax);
    let mut alloc_hint = bytes.len() as u32;
    let mut flags = PfcFlags::SINGLE;
    match state.flaw() {
        Some(HostFlaw::WrongAllocHint) => alloc_hint += 8,
        Some(HostFlaw::SetsConcMpxOnResponse) => flags = flags | PfcFlags::CONC_MPX,
        _ => {}
    }
    let body = Response {
        alloc_hint,
        p_cont_id,
        cancel_count: 0,
        reserved: 0,
        stub: Cow::Owned(bytes),
    };
    let common = match echoed {
        Some(req) => req,
        None => reply_common(state, call_id, flags),
    };
    Pdu::Response(common, body).encode_into(out);
}

fn fault(state: &HostState, call_id: u32, p_cont_id: u16, status: u32, out: &mut Vec<u8>) {
    let body = Fault {
        alloc_hint: 0,
        p_cont_id,
        cancel_count: 0,
        reserved: 0,
        status,
        reserved2: 0,
        extra: Cow::Borrowed(&[]),
    };
    let flags = PfcFlags::SINGLE | PfcFlags::DID_NOT_EXECUTE;
    Pdu::Fault(reply_common(state, call_id, flags), body).encode_into(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostClock;
    use crate::model::{HostConfig, Timestamp};
    use crate::wire::rpc::{Request, NDR32};

    fn state() -> HostState {
        HostState::new(
            HostConfig::default(),
            HostClock::Fixed(Timestamp(1_700_000_000)),
            3,
            None,
        )
        .unwrap()
    }

    fn feed_one(
        conn: &mut HostConnection,
        st: &mut HostState,
        bytes: &[u8],
    ) -> Option<Pdu<'static>> {
        let mut out = Vec::new();
        conn.feed(st, bytes, &mut out);
        (!out.is_empty()).then(|| Pdu::parse(&out).unwrap().into_owned())
    }

    fn req(call_id: u32, flags: PfcFlags, stub: &[u8]) -> Vec<u8> {
        let mut c = Common::new(call_id);
        c.pfc_flags = flags;
        Pdu::Request(
            c,
            Request {
                alloc_hint: 0,
                p_cont_id: 0,
                opnum: 0,
                object: None,
                stub: Cow::Borrowed(stub),
            },
        )
        .encode()
    }

    #[test]
    fn zero_element_bind_gets_bind_nak_and_stays_open() {
        let (mut st, mut conn) = (state(), HostConnection::new(1688));
        let bind = Pdu::Bind(Common::new(2), Bind::new(vec![])).encode();
        let Some(Pdu::BindNak(c, nak)) = feed_one(&mut conn, &mut st, &bind) else {
            panic!("no bind_nak")
        };
        assert_eq!((c.call_id, nak.reject_reason), (2, 0));
        assert!(!conn.is_closed());
        assert_eq!(conn.assoc_group(), None);
    }

    #[test]
    fn alter_context_adds_a_context_with_empty_sec_addr() {
        let (mut st, mut conn) = (state(), HostConnection::new(1688));
        let alter = Pdu::AlterContext(
            Common::new(4),
            Bind::new(vec![ContextElement::new(9, KMS_INTERFACE, NDR32)]),
        )
        .encode();
        let Some(Pdu::AlterContextResp(_, ack)) = feed_one(&mut conn, &mut st, &alter) else {
            panic!("no alter_context_resp")
        };
        assert!(ack.sec_addr.is_empty());
        assert_eq!(ack.results[0].result, ResultKind::Acceptance);
        assert_eq!(conn.contexts(), &[(9, NdrSyntax::Ndr32)]);
        assert!(conn.assoc_group().is_some());
    }

    #[test]
    fn wrong_interface_and_unknown_syntax_are_rejected_with_reasons() {
        let other = ContextElement::new(0, NDR32, NDR32);
        assert_eq!(judge_element(&other, None).0.reason, 1);
        let unknown = ContextElement::new(0, KMS_INTERFACE, SyntaxId::NIL);
        let (r, s) = judge_element(&unknown, None);
        assert_eq!(
            (r.result, r.reason, s),
            (ResultKind::ProviderRejection, 2, None)
        );
        // NDR32 with the wrong version is not NDR32 v2.
        let mut v1 = NDR32;
        v1.version = 1;
        assert_eq!(
            judge_element(&ContextElement::new(0, KMS_INTERFACE, v1), None)
                .0
                .reason,
            2
        );
    }

    #[test]
    fn orphan_continuation_faults_and_oversize_reassembly_closes() {
        let (mut st, mut conn) = (state(), HostConnection::new(1688));
        let Some(Pdu::Fault(_, f)) =
            feed_one(&mut conn, &mut st, &req(5, PfcFlags::LAST_FRAG, &[0; 8]))
        else {
            panic!("no fault")
        };
        assert_eq!(f.status, NCA_PROTO_ERROR);
        let chunk = vec![0u8; 5000];
        let mut out = Vec::new();
        let mut d = conn.feed(&mut st, &req(6, PfcFlags::FIRST_FRAG, &chunk), &mut out);
        let mut n = 0;
        while d == Disposition::Open && n < 100 {
            d = conn.feed(&mut st, &req(6, PfcFlags(0), &chunk), &mut out);
            assert!(conn.buffered() <= MAX_STUB);
            n += 1;
        }
        assert_eq!(d, Disposition::Close);
        assert!(n * chunk.len() >= MAX_STUB - chunk.len());
        assert!(out.is_empty());
    }

    #[test]
    fn oversize_or_bad_header_closes_without_reply() {
        let (mut st, mut conn) = (state(), HostConnection::new(1688));
        let mut big = req(2, PfcFlags::SINGLE, &[0; 8]);
        big[8..10].copy_from_slice(&6000u16.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(conn.feed(&mut st, &big[..16], &mut out), Disposition::Close);
        assert!(out.is_empty());
        let (mut st, mut conn) = (state(), HostConnection::new(1688));
        let mut auth = req(2, PfcFlags::SINGLE, &[0; 8]);
        auth[10] = 8;
        assert_eq!(conn.feed(&mut st, &auth, &mut out), Disposition::Close);
        assert!(out.is_empty());
    }
}
