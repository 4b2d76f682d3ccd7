//! DCE/RPC over a reassembled TCP byte stream: [`PduFramer`] cuts one direction's bytes into
//! whole PDUs (several per segment, one split across segments, resynchronising after gaps), and
//! [`Association`] keeps one connection's state — presentation contexts with their NDR syntax
//! (from bind / alter_context and their acks), whether the KMS interface was bound, and
//! fragmented request/response stubs put back together (FIRST … LAST) — turning PDUs into
//! [`RpcEvent`]s. Sans-I/O and bounded: a framer holds at most one PDU (≤ 64 KiB) plus the
//! current chunk, an association at most [`MAX_CONTEXTS`] contexts and [`MAX_OPEN_CALLS`]
//! partial calls of at most [`MAX_STUB`] bytes each.

use std::borrow::Cow;

use uuid::Uuid;

use crate::wire::rpc::{
    looks_like_pdu_start, pdu_length, NdrSyntax, Pdu, PfcFlags, ResultKind, SyntaxId,
    TransferSyntaxKind, HEADER_LEN, KMS_INTERFACE_UUID,
};
use crate::wire::WireError;

/// Most presentation contexts remembered per connection.
pub const MAX_CONTEXTS: usize = 64;
/// Most calls being reassembled from fragments at once per connection and direction.
pub const MAX_OPEN_CALLS: usize = 16;
/// Largest reassembled stub accepted (KMS stubs are a few hundred bytes).
pub const MAX_STUB: usize = 256 * 1024;

/// What the framer found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed<'a> {
    /// One whole PDU (exactly `frag_length` bytes) at stream offset `offset`.
    Pdu {
        /// Stream offset of its first byte.
        offset: u64,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// The bytes at `offset` cannot start a PDU; the framer now looks for the next PDU start.
    BadHeader {
        /// Stream offset.
        offset: u64,
        /// Why the header was refused.
        error: WireError,
    },
    /// Bytes dropped while resynchronising (after a gap, a bad header, or a capture that
    /// started mid-connection).
    Skipped {
        /// Stream offset of the first dropped byte.
        offset: u64,
        /// How many.
        len: u64,
    },
}

/// Cuts one direction of a connection into PDUs.
#[derive(Debug, Default)]
pub struct PduFramer {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]` (or of the next byte expected when `buf` is empty).
    base: u64,
    resync: bool,
}

impl PduFramer {
    /// Buffer capacity [`PduFramer::reset`] keeps (KMS PDUs are well under 1 KiB).
    pub const KEPT_CAPACITY: usize = 8 * 1024;

    /// A framer for a stream that starts at a PDU boundary (a connection whose SYN was seen),
    /// or (`resync`) one that must first find a PDU start (mid-connection capture).
    pub fn new(resync: bool) -> Self {
        PduFramer {
            buf: Vec::new(),
            base: 0,
            resync,
        }
    }

    /// Makes the framer fresh for a new stream (as [`PduFramer::new`]), keeping its buffer's
    /// allocation for reuse up to [`PduFramer::KEPT_CAPACITY`] bytes (a reused framer must not
    /// hold on to the memory of an earlier connection's large partial PDU).
    pub fn reset(&mut self, resync: bool) {
        self.buf.clear();
        self.buf.shrink_to(Self::KEPT_CAPACITY);
        self.base = 0;
        self.resync = resync;
    }

    /// Bytes buffered (part of a PDU, or a possible PDU start being looked at).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes `missing` at `offset` will never come: drop any partial PDU and resynchronise.
    pub fn gap<F: FnMut(Framed<'_>)>(&mut self, offset: u64, missing: u64, emit: &mut F) {
        if !self.buf.is_empty() {
            emit(Framed::Skipped {
                offset: self.base,
                len: self.buf.len() as u64,
            });
            self.buf.clear();
        }
        self.base = offset.saturating_add(missing);
        self.resync = true;
    }

    /// Feeds in-order bytes starting at stream offset `offset`.
    pub fn push<F: FnMut(Framed<'_>)>(&mut self, offset: u64, bytes: &[u8], emit: &mut F) {
        let expected = self.base + self.buf.len() as u64;
        if offset != expected {
            // Reassembly delivers contiguously between gaps; treat a jump as a gap anyway.
            let missing = offset.saturating_sub(expected);
            self.gap(expected, missing, emit);
            self.base = offset;
        }
        if self.buf.is_empty() {
            let used = Self::frame(&mut self.resync, offset, bytes, emit);
            self.buf.extend_from_slice(&bytes[used..]);
            self.base = offset + used as u64;
        } else {
            self.buf.extend_from_slice(bytes);
            let used = Self::frame(&mut self.resync, self.base, &self.buf, emit);
            self.buf.drain(..used);
            self.base += used as u64;
        }
    }

    /// End of stream: the partial PDU left, as (stream offset, bytes held, bytes its header
    /// claims or 0 when not even a header is there).
    pub fn finish(&mut self) -> Option<(u64, usize, usize)> {
        if self.buf.is_empty() || self.resync {
            return None;
        }
        let need = match pdu_length(&self.buf) {
            Ok(Some(n)) => n,
            _ => 0,
        };
        let out = (self.base, self.buf.len(), need);
        self.buf.clear();
        Some(out)
    }

    /// Frames as much of `data` (at stream offset `base`) as possible; returns bytes used.
    fn frame<F: FnMut(Framed<'_>)>(
        resync: &mut bool,
        base: u64,
        data: &[u8],
        emit: &mut F,
    ) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            if *resync {
                let last_start = rest.len().saturating_sub(HEADER_LEN);
                let found = if rest.len() >= HEADER_LEN {
                    (0..=last_start).find(|&i| looks_like_pdu_start(&rest[i..]))
                } else {
                    None
                };
                match found {
                    Some(i) => {
                        if i > 0 {
                            emit(Framed::Skipped {
                                offset: base + pos as u64,
                                len: i as u64,
                            });
                        }
                        pos += i;
                        *resync = false;
                        continue;
                    }
                    None => {
                        let keep = rest.len().min(HEADER_LEN - 1);
                        let drop = rest.len() - keep;
                        if drop > 0 {
                            emit(Framed::Skipped {
                                offset: base + pos as u64,
                                len: drop as u64,
                            });
                        }
                        return pos + drop;
                    }
                }
            }
            match pdu_length(rest) {
                Ok(None) => return pos,
                Ok(Some(n)) if n < HEADER_LEN => {
                    // validate() refuses this already; keep the framer safe regardless.
                    *resync = true;
                    pos += 1;
                }
                Ok(Some(n)) => {
                    let Some(pdu) = rest.get(..n) else {
                        return pos;
                    };
                    emit(Framed::Pdu {
                        offset: base + pos as u64,
                        bytes: pdu,
                    });
                    pos += n;
                }
                Err(error) => {
                    emit(Framed::BadHeader {
                        offset: base + pos as u64,
                        error,
                    });
                    *resync = true;
                    // Resynchronise from the next byte on.
                    emit(Framed::Skipped {
                        offset: base + pos as u64,
                        len: 1,
                    });
                    pos += 1;
                }
            }
        }
        pos
    }
}

/// Which side sent a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The client (bind, alter_context, request).
    Client,
    /// The server (bind_ack, bind_nak, alter_context_resp, response, fault).
    Server,
}

/// One presentation context as negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextOutcome {
    /// Context id.
    pub id: u16,
    /// Abstract syntax (interface) UUID.
    pub interface: Uuid,
    /// Interface version `major.minor`.
    pub interface_version: (u16, u16),
    /// Transfer syntaxes proposed, as on the wire ([`TransferSyntaxKind::of`] classifies).
    pub proposed: Vec<SyntaxId>,
    /// Result kind from the ack (`None` when no ack was seen).
    pub result: Option<ResultKind>,
    /// Result reason (for BTFN: the accepted feature bits).
    pub reason: u16,
    /// The accepted NDR syntax, when the context was accepted with NDR32 or NDR64.
    pub syntax: Option<NdrSyntax>,
}

/// A bind or alter_context and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindOutcome {
    /// Call id of the bind.
    pub call_id: u32,
    /// True for alter_context.
    pub alter: bool,
    /// `ack`, `nak` or `none` (connection ended before an answer).
    pub answer: &'static str,
    /// nak reject reason.
    pub reject_reason: Option<u16>,
    /// Per-context outcome, in proposal order.
    pub contexts: Vec<ContextOutcome>,
    /// Stream offset of the bind PDU (client direction).
    pub offset: u64,
}

/// A complete call body (all fragments joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPdu<'a> {
    /// Call id.
    pub call_id: u32,
    /// Presentation context id.
    pub p_cont_id: u16,
    /// Operation number (requests; 0 for responses).
    pub opnum: u16,
    /// The joined stub.
    pub stub: Cow<'a, [u8]>,
    /// Fragments it came in.
    pub fragments: u32,
    /// Stream offset of its first fragment.
    pub offset: u64,
    /// The context it names, as negotiated (`None`: no bind/ack accepted that id).
    pub context: Option<ContextInfo>,
    /// Whether any bind was seen on the connection (false: capture started mid-connection or
    /// the client never bound).
    pub any_bind: bool,
    /// The whole PDU when the call came in one fragment (replay judges its header), else
    /// `None`.
    pub pdu: Option<&'a [u8]>,
}

/// What an [`Association`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcEvent<'a> {
    /// A bind/alter_context was answered (or the connection ended before).
    Bind(BindOutcome),
    /// A complete request from the client.
    Request(CallPdu<'a>),
    /// A complete response from the server.
    Response(CallPdu<'a>),
    /// A fault from the server.
    Fault {
        /// Call id.
        call_id: u32,
        /// Context id.
        p_cont_id: u16,
        /// NCA status.
        status: u32,
        /// Stream offset.
        offset: u64,
    },
    /// Something that is not a well-formed PDU sequence.
    Problem {
        /// Which side sent it.
        side: Side,
        /// Stream offset.
        offset: u64,
        /// What.
        message: String,
    },
}

#[derive(Debug)]
struct Partial {
    call_id: u32,
    p_cont_id: u16,
    opnum: u16,
    stub: Vec<u8>,
    fragments: u32,
    offset: u64,
}

/// A negotiated context.
#[derive(Debug, Clone, Copy)]
struct Context {
    id: u16,
    kms: bool,
    syntax: Option<NdrSyntax>,
}

/// One connection's DCE/RPC association state.
#[derive(Debug, Default)]
pub struct Association {
    contexts: Vec<Context>,
    pending_binds: Vec<BindOutcome>,
    partial: [Vec<Partial>; 2],
    kms_bound: bool,
    any_bind: bool,
}

/// Where a context id leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextInfo {
    /// The context names the KMS interface.
    pub kms: bool,
    /// Its accepted NDR syntax (`None` when accepted with an unknown syntax).
    pub syntax: Option<NdrSyntax>,
}

fn side_idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Association {
    /// A fresh association (no bind seen yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the association fresh for a new connection (as [`Association::new`]), keeping
    /// its lists' allocations for reuse.
    pub fn reset(&mut self) {
        let Association {
            contexts,
            pending_binds,
            partial,
            kms_bound,
            any_bind,
        } = self;
        contexts.clear();
        pending_binds.clear();
        for p in partial {
            p.clear();
        }
        *kms_bound = false;
        *any_bind = false;
    }

    /// True once a bind or alter_context named the KMS interface.
    pub fn kms_bound(&self) -> bool {
        self.kms_bound
    }

    /// True once any bind or alter_context was seen.
    pub fn any_bind(&self) -> bool {
        self.any_bind
    }

    /// The negotiated context `id`, if a bind/ack accepted it.
    pub fn context(&self, id: u16) -> Option<ContextInfo> {
        self.contexts
            .iter()
            .rev()
            .find(|c| c.id == id)
            .map(|c| ContextInfo {
                kms: c.kms,
                syntax: c.syntax,
            })
    }

    /// Handles one framed PDU from `side` at stream offset `offset`.
    pub fn pdu<F: FnMut(RpcEvent<'_>)>(
        &mut self,
        side: Side,
        offset: u64,
        bytes: &[u8],
        emit: &mut F,
    ) {
        // Looked at in place, then taken apart field by field below: moving the whole parsed
        // PDU out of the result stalled on store forwarding (perf).
        let parsed = Pdu::parse(bytes);
        let pdu = match &parsed {
            Ok(p) => p,
            Err(e) => {
                return emit(RpcEvent::Problem {
                    side,
                    offset,
                    message: format!("undecodable PDU: {e}"),
                })
            }
        };
        let expected_side = match pdu {
            Pdu::Bind(..) | Pdu::AlterContext(..) | Pdu::Request(..) => Side::Client,
            _ => Side::Server,
        };
        if side != expected_side {
            return emit(RpcEvent::Problem {
                side,
                offset,
                message: format!("{:?} PDU sent by the {side:?}", pdu.ptype()),
            });
        }
        let alter = matches!(pdu, Pdu::AlterContext(..));
        let Ok(pdu) = parsed else {
            return;
        };
        match pdu {
            Pdu::Bind(c, b) | Pdu::AlterContext(c, b) => {
                self.any_bind = true;
                let contexts = b
                    .contexts
                    .into_iter()
                    .map(|e| ContextOutcome {
                        id: e.p_cont_id,
                        interface: e.abstract_syntax.uuid,
                        interface_version: (e.abstract_syntax.major(), e.abstract_syntax.minor()),
                        // Moved from the parsed PDU: no copy.
                        proposed: e.transfer_syntaxes,
                        result: None,
                        reason: 0,
                        syntax: None,
                    })
                    .collect::<Vec<_>>();
                if contexts.iter().any(|c| c.interface == KMS_INTERFACE_UUID) {
                    self.kms_bound = true;
                }
                if self.pending_binds.len() >= MAX_OPEN_CALLS {
                    let old = self.pending_binds.remove(0);
                    emit(RpcEvent::Bind(old));
                }
                self.pending_binds.push(BindOutcome {
                    call_id: c.call_id,
                    alter,
                    answer: "none",
                    reject_reason: None,
                    contexts,
                    offset,
                });
            }
            Pdu::BindAck(c, a) | Pdu::AlterContextResp(c, a) => {
                let mut out = self.take_bind(c.call_id);
                for (i, r) in a.results.iter().enumerate() {
                    let Some(ctx) = out.contexts.get_mut(i) else {
                        break;
                    };
                    ctx.result = Some(r.result);
                    ctx.reason = r.reason;
                    if r.result == ResultKind::Acceptance {
                        ctx.syntax = match TransferSyntaxKind::of(&r.transfer_syntax.uuid) {
                            TransferSyntaxKind::Ndr32 => Some(NdrSyntax::Ndr32),
                            TransferSyntaxKind::Ndr64 => Some(NdrSyntax::Ndr64),
                            _ => None,
                        };
                        if self.contexts.len() >= MAX_CONTEXTS {
                            self.contexts.remove(0);
                        }
                        self.contexts.push(Context {
                            id: ctx.id,
                            kms: ctx.interface == KMS_INTERFACE_UUID,
                            syntax: ctx.syntax,
                        });
                    }
                }
                out.answer = "ack";
                emit(RpcEvent::Bind(out));
            }
            Pdu::BindNak(c, n) => {
                let mut out = self.take_bind(c.call_id);
                out.answer = "nak";
                out.reject_reason = Some(n.reject_reason);
                emit(RpcEvent::Bind(out));
            }
            Pdu::Request(c, r) => self.call(
                Side::Client,
                offset,
                c.call_id,
                c.pfc_flags,
                r.p_cont_id,
                r.opnum,
                bytes,
                r.stub,
                emit,
            ),
            Pdu::Response(c, r) => self.call(
                Side::Server,
                offset,
                c.call_id,
                c.pfc_flags,
                r.p_cont_id,
                0,
                bytes,
                r.stub,
                emit,
            ),
            Pdu::Fault(c, f) => {
                self.partial[1].retain(|p| p.call_id != c.call_id);
                emit(RpcEvent::Fault {
                    call_id: c.call_id,
                    p_cont_id: f.p_cont_id,
                    status: f.status,
                    offset,
                });
            }
        }
    }

    fn take_bind(&mut self, call_id: u32) -> BindOutcome {
        match self.pending_binds.iter().position(|b| b.call_id == call_id) {
            Some(i) => self.pending_binds.remove(i),
            None => BindOutcome {
                call_id,
                alter: false,
                answer: "none",
                reject_reason: None,
                contexts: Vec::new(),
                offset: 0,
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn call<'s, F: FnMut(RpcEvent<'_>)>(
        &mut self,
        side: Side,
        offset: u64,
        call_id: u32,
        flags: PfcFlags,
        p_cont_id: u16,
        opnum: u16,
        raw: &'s [u8],
        stub: Cow<'s, [u8]>,
        emit: &mut F,
    ) {
        let first = flags.contains(PfcFlags::FIRST_FRAG);
        let last = flags.contains(PfcFlags::LAST_FRAG);
        let context = self.context(p_cont_id);
        let any_bind = self.any_bind;
        let open = &mut self.partial[side_idx(side)];
        let wrap = |c: CallPdu<'_>, emit: &mut F| match side {
            Side::Client => emit(RpcEvent::Request(c)),
            Side::Server => emit(RpcEvent::Response(c)),
        };
        if first && last {
            if let Some(i) = open.iter().position(|p| p.call_id == call_id) {
                open.remove(i);
                emit(RpcEvent::Problem {
                    side,
                    offset,
                    message: format!("call {call_id}: new call before the last fragment"),
                });
            }
            return wrap(
                CallPdu {
                    call_id,
                    p_cont_id,
                    opnum,
                    stub,
                    fragments: 1,
                    offset,
                    context,
                    any_bind,
                    pdu: Some(raw),
                },
                emit,
            );
        }
        let existing = open.iter().position(|p| p.call_id == call_id);
        let idx = match (first, existing) {
            (true, prev) => {
                if let Some(i) = prev {
                    open.remove(i);
                    emit(RpcEvent::Problem {
                        side,
                        offset,
                        message: format!("call {call_id}: FIRST fragment again before LAST"),
                    });
                }
                if open.len() >= MAX_OPEN_CALLS {
                    let dropped = open.remove(0);
                    emit(RpcEvent::Problem {
                        side,
                        offset,
                        message: format!(
                            "call {}: too many fragmented calls open, dropped",
                            dropped.call_id
                        ),
                    });
                }
                open.push(Partial {
                    call_id,
                    p_cont_id,
                    opnum,
                    stub: Vec::with_capacity(stub.len() * 2),
                    fragments: 0,
                    offset,
                });
                open.len() - 1
            }
            (false, Some(i)) => i,
            (false, None) => {
                return emit(RpcEvent::Problem {
                    side,
                    offset,
                    message: format!("call {call_id}: fragment without a FIRST fragment"),
                })
            }
        };
        let Some(p) = open.get_mut(idx) else {
            return;
        };
        if p.stub.len() + stub.len() > MAX_STUB {
            open.remove(idx);
            return emit(RpcEvent::Problem {
                side,
                offset,
                message: format!("call {call_id}: fragmented stub over {MAX_STUB} bytes, dropped"),
            });
        }
        p.stub.extend_from_slice(&stub);
        p.fragments += 1;
        if last {
            let p = open.remove(idx);
            wrap(
                CallPdu {
                    call_id: p.call_id,
                    p_cont_id: p.p_cont_id,
                    opnum: p.opnum,
                    stub: Cow::Owned(p.stub),
                    fragments: p.fragments,
                    offset: p.offset,
                    context,
                    any_bind,
                    pdu: None,
                },
                emit,
            );
        }
    }

    /// End of the connection: binds never answered, calls whose LAST fragment never came.
    pub fn finish<F: FnMut(RpcEvent<'_>)>(&mut self, emit: &mut F) {
        for b in self.pending_binds.drain(..) {
            emit(RpcEvent::Bind(b));
        }
        for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
            for p in self.partial[i].drain(..) {
                emit(RpcEvent::Problem {
                    side,
                    offset: p.offset,
                    message: format!(
                        "call {}: connection ended after {} fragment(s), LAST never came",
                        p.call_id, p.fragments
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rpc::{Bind, Common, ContextElement, PduType, Request, KMS_INTERFACE, NDR32};

    fn request(call_id: u32, flags: PfcFlags, stub: &[u8]) -> Vec<u8> {
        let mut c = Common::new(call_id);
        c.pfc_flags = flags;
        Pdu::Request(
            c,
            Request {
                alloc_hint: stub.len() as u32,
                p_cont_id: 0,
                opnum: 0,
                object: None,
                stub: Cow::Borrowed(stub),
            },
        )
        .encode()
    }

    #[test]
    fn framer_splits_and_joins() {
        let a = request(1, PfcFlags::SINGLE, &[1; 20]);
        let b = request(2, PfcFlags::SINGLE, &[2; 30]);
        let mut stream = a.clone();
        stream.extend_from_slice(&b);
        for cut in 0..stream.len() {
            let mut f = PduFramer::new(false);
            let mut got = Vec::new();
            let mut sink = |x: Framed<'_>| {
                if let Framed::Pdu { offset, bytes } = x {
                    got.push((offset, bytes.to_vec()))
                }
            };
            f.push(0, &stream[..cut], &mut sink);
            f.push(cut as u64, &stream[cut..], &mut sink);
            assert_eq!(got.len(), 2, "cut {cut}");
            assert_eq!(got[0], (0, a.clone()));
            assert_eq!(got[1], (a.len() as u64, b.clone()));
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn framer_resyncs_after_gap_and_garbage() {
        let a = request(1, PfcFlags::SINGLE, &[1; 20]);
        let mut f = PduFramer::new(false);
        let mut pdus = 0;
        let mut bad = 0;
        let mut sink = |x: Framed<'_>| match x {
            Framed::Pdu { .. } => pdus += 1,
            Framed::BadHeader { .. } => bad += 1,
            Framed::Skipped { .. } => {}
        };
        f.push(0, &a[..10], &mut sink);
        f.gap(10, 100, &mut sink);
        let mut after = vec![0xAA; 7];
        after.extend_from_slice(&a);
        f.push(110, &after, &mut sink);
        f.push(110 + after.len() as u64, b"GET / HTTP/1.1\r\n", &mut sink);
        f.push(126 + after.len() as u64, &a, &mut sink);
        assert_eq!(pdus, 2);
        assert_eq!(bad, 1);
    }

    #[test]
    fn fragments_are_joined_and_contexts_tracked() {
        let mut assoc = Association::new();
        let mut events = Vec::new();
        let bind = Pdu::Bind(
            Common::new(1),
            Bind::new(vec![ContextElement::new(0, KMS_INTERFACE, NDR32)]),
        )
        .encode();
        assoc.pdu(Side::Client, 0, &bind, &mut |e| {
            events.push(format!("{e:?}"))
        });
        assert!(assoc.kms_bound());
        let p1 = request(2, PfcFlags::FIRST_FRAG, &[1; 10]);
        let p2 = request(2, PfcFlags(0), &[2; 10]);
        let p3 = request(2, PfcFlags::LAST_FRAG, &[3; 5]);
        let mut stub = None;
        for p in [&p1, &p2, &p3] {
            assoc.pdu(Side::Client, 0, p, &mut |e| {
                if let RpcEvent::Request(c) = e {
                    stub = Some((c.stub.to_vec(), c.fragments));
                }
            });
        }
        let (s, n) = stub.expect("joined request");
        assert_eq!(n, 3);
        assert_eq!(s.len(), 25);
        assert_eq!(&s[10..20], &[2; 10]);
        assert_eq!(PduType::Request, Pdu::parse(&p1).unwrap().ptype());
        let mut problems = 0;
        assoc.pdu(Side::Client, 0, &p2, &mut |e| {
            if matches!(e, RpcEvent::Problem { .. }) {
                problems += 1
            }
        });
        assert_eq!(problems, 1, "middle fragment without FIRST");
    }

    #[test]
    fn reset_states_equal_new_ones() {
        let mut assoc = Association::new();
        let bind = Pdu::Bind(
            Common::new(1),
            Bind::new(vec![ContextElement::new(0, KMS_INTERFACE, NDR32)]),
        )
        .encode();
        assoc.pdu(Side::Client, 0, &bind, &mut |_| {});
        let first = request(2, PfcFlags::FIRST_FRAG, &[1; 10]);
        assoc.pdu(Side::Client, 0, &first, &mut |_| {});
        assert!(assoc.kms_bound() && assoc.any_bind());
        assert_ne!(format!("{assoc:?}"), format!("{:?}", Association::new()));
        assoc.reset();
        assert_eq!(format!("{assoc:?}"), format!("{:?}", Association::new()));

        let mut framer = PduFramer::new(false);
        framer.push(0, &first[..first.len() - 1], &mut |_| {});
        assert!(framer.buffered() > 0);
        framer.reset(true);
        assert_eq!(format!("{framer:?}"), format!("{:?}", PduFramer::new(true)));

        // A buffer grown by a large segment (arriving after a partial PDU) is not kept whole
        // by a reset framer.
        let small = request(3, PfcFlags::FIRST_FRAG | PfcFlags::LAST_FRAG, &[7; 100]);
        let mut stream: Vec<u8> = small
            .iter()
            .copied()
            .cycle()
            .take(400 * small.len())
            .collect();
        stream.extend_from_slice(&small[..10]);
        let mut framer = PduFramer::new(false);
        framer.push(0, &stream[..10], &mut |_| {});
        framer.push(10, &stream[10..], &mut |_| {});
        assert_eq!(framer.buffered(), 10);
        assert!(framer.buf.capacity() >= 400 * small.len());
        framer.reset(false);
        assert!(framer.buf.capacity() <= PduFramer::KEPT_CAPACITY);
        assert_eq!(framer.buffered(), 0);
    }
}
