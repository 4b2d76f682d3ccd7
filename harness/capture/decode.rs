//! Capture → typed, verified KMS records: the library behind `kmsspec decode`, replay and the
//! fuzz targets. [`Decoder`] is sans-I/O (feed it reassembly [`Event`]s); [`decode_capture`]
//! drives it from any reader.
//!
//! Per connection: two [`PduFramer`]s, an [`Association`], and the calls awaiting an answer
//! (paired by call id). A connection is KMS once a bind names the KMS interface; calls on a
//! connection with no bind seen (capture started mid-connection, or a client that never bound)
//! are still tried as KMS — always when the server port is the KMS port hint, otherwise only
//! when the stub decodes as a KMS request. Non-DCE/RPC connections off the KMS port are ignored
//! quietly.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use super::dcerpc::{
    Association, BindOutcome, CallPdu, Framed, PduFramer, RpcEvent, Side, MAX_CONTEXTS,
    MAX_OPEN_CALLS,
};
use super::pipeline::Pipeline;
use super::reader::{CaptureError, CaptureReader};
use super::reassembly::{CloseReason, ConnId, Direction, Event, FlowConfig, Warning};
use super::records::{
    hresult_text, ndr_name, AssocFacts, BindRecord, ConnEnd, ContextState, ErrorRecord,
    ExchangeRecord, FaultRecord, Flow, GapRecord, RawExchange, Record, RequestView, ResponseView,
    SummaryRecord,
};
use crate::wire::kms::{
    verify_parsed_failures, verify_parsed_failures_with_epid, DecodedRequest, DecodedResponse,
};
use crate::wire::rpc::ResultKind;
use crate::wire::rpc::{
    NdrSyntax, RequestStub, ResponseStub, KMS_INTERFACE_UUID, NCA_PROTO_ERROR, NCA_S_OP_RNG_ERROR,
    NCA_S_UNK_IF,
};

/// Decoder settings.
#[derive(Debug, Clone, Copy)]
pub struct DecodeConfig {
    /// Reassembly limits (its `server_port` is also the KMS port hint).
    pub flow: FlowConfig,
    /// Report progress every this many packets (0: never).
    pub progress_every: u64,
    /// Keep each exchange's decoded request and raw response bytes in
    /// [`ExchangeRecord::raw`](super::records::ExchangeRecord) (replay judges them again);
    /// `kmsspec decode` does not need them and saves the copies.
    pub keep_raw: bool,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            flow: FlowConfig::default(),
            progress_every: 4096,
            keep_raw: true,
        }
    }
}

/// A call waiting for its response.
struct Pending {
    call_id: u32,
    context_id: u16,
    ndr: Option<NdrSyntax>,
    ndr_guessed: bool,
    fragments: u32,
    packet: u64,
    /// Whether a bind or alter_context had been seen when the request came.
    any_bind: bool,
    request: Result<DecodedRequest, String>,
}

/// A response whose request has not been seen (yet).
struct Orphan {
    call_id: u32,
    p_cont_id: u16,
    ctx_ndr: Option<NdrSyntax>,
    stub: Vec<u8>,
    /// The whole response PDU when it came in one fragment (for replay's RPC checks).
    pdu: Option<Vec<u8>>,
    packet: u64,
}

/// Per-connection state apart from the framers.
struct Calls {
    flow: Flow,
    kms_port: bool,
    /// Seen a well-formed PDU (so the stream is DCE/RPC).
    seen_pdu: bool,
    /// Not DCE/RPC and not on the KMS port: ignore the rest quietly.
    ignored: bool,
    kms: bool,
    pending: Vec<Pending>,
    orphans: Vec<Orphan>,
    /// The connection's start (SYN) was captured.
    start_seen: bool,
    /// Bytes of the connection went missing (a gap) at some point so far.
    gapped: bool,
    /// A bind or alter_context was answered (or given up on) on the connection.
    bind_seen: bool,
    /// Context ids answered by bind_ack / alter_context_resp / bind_nak, with whether they
    /// were accepted, oldest first (the latest answer naming an id wins); bounded by
    /// [`MAX_CONTEXTS`].
    negotiated: Vec<(u16, bool)>,
}

struct Conn {
    framers: [PduFramer; 2],
    assoc: Association,
    calls: Calls,
}

impl Conn {
    /// State for a new connection (`resync`: no SYN seen, so streams may start mid-PDU).
    fn new(flow: Flow, kms_port: bool, resync: bool) -> Self {
        Conn {
            framers: [PduFramer::new(resync), PduFramer::new(resync)],
            assoc: Association::new(),
            calls: Calls {
                flow,
                kms_port,
                seen_pdu: false,
                ignored: false,
                kms: false,
                pending: Vec::new(),
                orphans: Vec::new(),
                start_seen: !resync,
                gapped: false,
                bind_seen: false,
                negotiated: Vec::new(),
            },
        }
    }

    /// Makes a closed connection's state fresh for a new one (as [`Conn::new`]), keeping its
    /// buffers' and lists' allocations.
    fn reset(&mut self, flow: Flow, kms_port: bool, resync: bool) {
        let Conn {
            framers,
            assoc,
            calls,
        } = self;
        for f in framers {
            f.reset(resync);
        }
        assoc.reset();
        calls.flow = flow;
        calls.kms_port = kms_port;
        calls.seen_pdu = false;
        calls.ignored = false;
        calls.kms = false;
        calls.pending.clear();
        calls.orphans.clear();
        calls.start_seen = !resync;
        calls.gapped = false;
        calls.bind_seen = false;
        calls.negotiated.clear();
    }
}

/// Most closed connections' states kept for reuse.
const MAX_SPARE_CONNS: usize = 64;

/// Where records go, plus running totals.
struct Out<'a, F> {
    name: &'a Arc<str>,
    keep_raw: bool,
    sum: &'a mut SummaryRecord,
    emit: &'a mut F,
    /// Emitted records taken back for the next ones to reuse.
    spare: &'a mut Spare,
}

/// Emitted records, taken back after emitting: the next record of the kind reuses the
/// allocation and, when they are the same, the shared texts (sparing atomic reference-count
/// updates).
#[derive(Default)]
struct Spare {
    /// The last exchange record's box.
    exchange: Option<Box<ExchangeRecord>>,
    /// The last bind record.
    bind: Option<BindRecord>,
}

impl<F: FnMut(&Record)> Out<'_, F> {
    fn record(&mut self, r: Record) {
        match &r {
            Record::Bind(_) => self.sum.binds += 1,
            Record::Exchange(x) => {
                self.sum.exchanges += 1;
                if x.response.is_some() {
                    self.sum.answered += 1;
                }
                if !x.failed.is_empty() {
                    self.sum.failed_exchanges += 1;
                    self.sum.failed_checks += x.failed.len() as u64;
                }
                if x.request_error.is_some() || x.response_error.is_some() {
                    self.sum.undecodable += 1;
                }
            }
            Record::Fault(_) => self.sum.faults += 1,
            Record::Gap(_) => self.sum.gaps += 1,
            Record::Error(_) => self.sum.errors += 1,
            Record::Summary(_) => {}
        }
        (self.emit)(&r);
        match r {
            Record::Exchange(x) => self.spare.exchange = Some(x),
            Record::Bind(b) => self.spare.bind = Some(b),
            _ => {}
        }
    }

    /// The record of bind `b` on `flow`, in the spare bind record when there is one.
    fn bind(&mut self, flow: &Flow, b: BindOutcome, kms: bool) -> BindRecord {
        let pdu = if b.alter { "alter_context" } else { "bind" };
        let Some(mut r) = self.spare.bind.take() else {
            return BindRecord {
                capture: self.name.clone(),
                flow: flow.clone(),
                call_id: b.call_id,
                pdu,
                answer: b.answer,
                reject_reason: b.reject_reason,
                kms,
                contexts: b.contexts,
            };
        };
        // Every field named, so a new one cannot be left stale.
        let BindRecord {
            capture,
            flow: r_flow,
            call_id,
            pdu: r_pdu,
            answer,
            reject_reason,
            kms: r_kms,
            contexts,
        } = &mut r;
        share(capture, self.name);
        share(&mut r_flow.client, &flow.client);
        share(&mut r_flow.server, &flow.server);
        *call_id = b.call_id;
        *r_pdu = pdu;
        *answer = b.answer;
        *reject_reason = b.reject_reason;
        *r_kms = kms;
        *contexts = b.contexts;
        r
    }

    /// A new exchange record of `flow` with `start`'s fields and nothing decoded yet. It is
    /// built in the spare box when there is one: the record is large, and building it on the
    /// stack then moving it into a box showed in profiles.
    fn exchange(&mut self, flow: &Flow, start: ExchangeStart) -> Box<ExchangeRecord> {
        let Some(mut x) = self.spare.exchange.take() else {
            return Box::new(ExchangeRecord {
                capture: self.name.clone(),
                flow: flow.clone(),
                call_id: start.call_id,
                ndr: start.ndr.map(ndr_name),
                ndr_guessed: start.ndr_guessed,
                context_id: start.context_id,
                fragments: start.fragments,
                request_packet: start.request_packet,
                response_packet: None,
                request: None,
                request_error: None,
                response: None,
                response_error: None,
                checks: Default::default(),
                failed: Vec::new(),
                raw: None,
                assoc: start.assoc,
            });
        };
        // Every field named, so a new one cannot be left stale.
        let ExchangeRecord {
            capture,
            flow: x_flow,
            call_id,
            ndr,
            ndr_guessed,
            context_id,
            fragments,
            request_packet,
            response_packet,
            request,
            request_error,
            response,
            response_error,
            checks,
            failed,
            raw,
            assoc,
        } = &mut *x;
        share(capture, self.name);
        share(&mut x_flow.client, &flow.client);
        share(&mut x_flow.server, &flow.server);
        *call_id = start.call_id;
        *ndr = start.ndr.map(ndr_name);
        *ndr_guessed = start.ndr_guessed;
        *context_id = start.context_id;
        *fragments = start.fragments;
        *request_packet = start.request_packet;
        *response_packet = None;
        *request = None;
        *request_error = None;
        *response = None;
        *response_error = None;
        *checks = Default::default();
        failed.clear();
        *raw = None;
        *assoc = start.assoc;
        x
    }

    fn error(&mut self, flow: Option<&Flow>, side: Option<Side>, at: ErrAt, message: String) {
        let (layer, packet, file_offset, stream_offset) = match at {
            ErrAt::Stream(p, o) => ("rpc", Some(p), None, Some(o)),
            ErrAt::Packet(p) => ("packet", Some(p), None, None),
        };
        self.record(Record::Error(ErrorRecord {
            capture: self.name.to_owned(),
            flow: flow.cloned(),
            layer,
            packet,
            file_offset,
            stream_offset,
            direction: side.map(side_dir),
            message,
        }));
    }
}

/// Points `dst` at `src`'s text. The reference counts are only touched when `dst` points
/// elsewhere: they are atomic, and their updates showed in profiles (a reused record mostly
/// names the same capture and server, often the same client).
fn share(dst: &mut Arc<str>, src: &Arc<str>) {
    if !Arc::ptr_eq(dst, src) {
        *dst = src.clone();
    }
}

/// The fields an exchange record starts with (see [`Out::exchange`]).
struct ExchangeStart {
    call_id: u32,
    ndr: Option<NdrSyntax>,
    ndr_guessed: bool,
    context_id: u16,
    fragments: u32,
    request_packet: Option<u64>,
    assoc: AssocFacts,
}

enum ErrAt {
    Stream(u64, u64),
    Packet(u64),
}

fn side_dir(s: Side) -> &'static str {
    match s {
        Side::Client => "to_server",
        Side::Server => "to_client",
    }
}

/// Decodes a request stub's KMS message with `syntax`.
fn decode_request(stub: &[u8], syntax: NdrSyntax) -> Result<DecodedRequest, String> {
    let s = RequestStub::parse(stub, syntax).map_err(|e| format!("request stub: {e}"))?;
    DecodedRequest::parse(s.message).map_err(|e| format!("request message: {e}"))
}

/// Picks the syntax a stub most plausibly uses when no bind told: the one whose framing
/// validates (NDR32 first, the common case).
fn guess_syntax(stub: &[u8]) -> NdrSyntax {
    for s in [NdrSyntax::Ndr32, NdrSyntax::Ndr64] {
        if RequestStub::parse(stub, s).is_ok_and(|r| r.validate(s).is_ok()) {
            return s;
        }
    }
    NdrSyntax::Ndr32
}

/// Like [`guess_syntax`], for a response stub whose request was not captured.
fn guess_response_syntax(stub: &[u8]) -> NdrSyntax {
    for s in [NdrSyntax::Ndr32, NdrSyntax::Ndr64] {
        if ResponseStub::parse(stub, s).is_ok_and(|r| r.validate(s).is_ok()) {
            return s;
        }
    }
    NdrSyntax::Ndr32
}

fn fault_name(status: u32) -> Option<&'static str> {
    match status {
        NCA_S_UNK_IF => Some("nca_unk_if"),
        NCA_S_OP_RNG_ERROR => Some("nca_op_rng_error"),
        NCA_PROTO_ERROR => Some("nca_proto_error"),
        _ => None,
    }
}

impl Calls {
    fn rpc<F: FnMut(&Record)>(&mut self, ev: RpcEvent<'_>, packet: u64, out: &mut Out<'_, F>) {
        match ev {
            RpcEvent::Bind(b) => self.bind(b, out),
            RpcEvent::Request(c) => self.request(c, packet, out),
            RpcEvent::Response(c) => self.response(c, packet, out),
            RpcEvent::Fault {
                call_id,
                status,
                p_cont_id,
                ..
            } => {
                let pending = self.take(call_id);
                let assoc = match &pending {
                    Some(p) => self.facts(p.context_id, p.any_bind, ConnEnd::Open),
                    None => self.facts(p_cont_id, false, ConnEnd::Open),
                };
                let request = pending
                    .and_then(|p| p.request.ok())
                    .map(|r| Box::new(RequestView::of(&r)));
                out.record(Record::Fault(FaultRecord {
                    capture: out.name.clone(),
                    flow: self.flow.clone(),
                    call_id,
                    status: hresult_text(status),
                    status_name: fault_name(status),
                    packet,
                    request,
                    assoc,
                }));
            }
            RpcEvent::Problem {
                side,
                offset,
                message,
            } => out.error(
                Some(&self.flow),
                Some(side),
                ErrAt::Stream(packet, offset),
                message,
            ),
        }
    }

    fn bind<F: FnMut(&Record)>(&mut self, b: BindOutcome, out: &mut Out<'_, F>) {
        let kms = b.contexts.iter().any(|c| c.interface == KMS_INTERFACE_UUID);
        self.kms |= kms;
        self.bind_seen = true;
        if b.answer != "none" {
            for c in &b.contexts {
                if self.negotiated.len() >= MAX_CONTEXTS {
                    self.negotiated.remove(0);
                }
                let accepted = b.answer == "ack" && c.result == Some(ResultKind::Acceptance);
                self.negotiated.push((c.id, accepted));
            }
        }
        let r = out.bind(&self.flow, b, kms);
        out.record(Record::Bind(r));
    }

    /// The association facts of a call on `context_id` now (`any_bind`: a bind had been seen
    /// when the request came; `ended`: how the connection ended, for an unanswered call).
    fn facts(&self, context_id: u16, any_bind: bool, ended: ConnEnd) -> AssocFacts {
        let context = match self
            .negotiated
            .iter()
            .rev()
            .find(|(id, _)| *id == context_id)
        {
            Some((_, true)) => ContextState::Accepted,
            Some((_, false)) => ContextState::Rejected,
            None if any_bind || self.bind_seen => ContextState::NotNegotiated,
            None => ContextState::NoBind,
        };
        AssocFacts {
            context_id,
            context,
            start_seen: self.start_seen,
            gap_before: self.gapped,
            ended,
        }
    }

    fn take(&mut self, call_id: u32) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.call_id == call_id)?;
        Some(self.pending.remove(i))
    }

    fn request<F: FnMut(&Record)>(&mut self, c: CallPdu<'_>, packet: u64, out: &mut Out<'_, F>) {
        let (ndr, guessed) = match c.context {
            Some(ctx) if !ctx.kms => return, // another interface: not ours
            Some(ctx) => match ctx.syntax {
                Some(s) => (s, false),
                None => (guess_syntax(&c.stub), true),
            },
            None => (guess_syntax(&c.stub), true),
        };
        // Decoded straight into the pending call (a decoded request is large).
        let p = Pending {
            call_id: c.call_id,
            context_id: c.p_cont_id,
            ndr: Some(ndr),
            ndr_guessed: guessed,
            fragments: c.fragments,
            packet,
            any_bind: c.any_bind,
            request: decode_request(&c.stub, ndr),
        };
        if c.context.is_none() && !c.any_bind && !self.kms_port && p.request.is_err() {
            // No bind, not the KMS port, not a KMS request: not KMS traffic.
            return;
        }
        self.kms = true;
        if let Some(old) = self.take(c.call_id) {
            self.unanswered(old, ConnEnd::Open, out);
        }
        if self.pending.len() >= MAX_OPEN_CALLS * 4 {
            let old = self.pending.remove(0);
            self.unanswered(old, ConnEnd::Open, out);
        }
        match self.orphans.iter().position(|o| o.call_id == c.call_id) {
            Some(i) => {
                let o = self.orphans.remove(i);
                self.answer(Some(&p), &o, out);
            }
            None => self.pending.push(p),
        }
    }

    /// The exchange record of pending call `p`, with its request decoded (or why not).
    fn exchange_of<F: FnMut(&Record)>(
        &self,
        p: &Pending,
        ended: ConnEnd,
        out: &mut Out<'_, F>,
        keep_raw: bool,
    ) -> Box<ExchangeRecord> {
        let mut x = out.exchange(
            &self.flow,
            ExchangeStart {
                call_id: p.call_id,
                ndr: p.ndr,
                ndr_guessed: p.ndr_guessed,
                context_id: p.context_id,
                fragments: p.fragments,
                request_packet: Some(p.packet),
                assoc: self.facts(p.context_id, p.any_bind, ended),
            },
        );
        match &p.request {
            Ok(r) => {
                x.request = Some(RequestView::of(r));
                if keep_raw {
                    x.raw = Some(Arc::new(RawExchange {
                        request: Some(r.clone()),
                        ..RawExchange::default()
                    }));
                }
            }
            Err(e) => x.request_error = Some(e.clone()),
        }
        x
    }

    fn unanswered<F: FnMut(&Record)>(&self, p: Pending, ended: ConnEnd, out: &mut Out<'_, F>) {
        let keep_raw = out.keep_raw;
        let x = self.exchange_of(&p, ended, out, keep_raw);
        out.record(Record::Exchange(x));
    }

    fn response<F: FnMut(&Record)>(&mut self, c: CallPdu<'_>, packet: u64, out: &mut Out<'_, F>) {
        let Some(i) = self.pending.iter().position(|p| p.call_id == c.call_id) else {
            if !self.kms && !self.kms_port {
                return;
            }
            // The request may still come: the client direction can be held back by
            // reassembly (a hole before it). Keep the response a while, bounded.
            if self.orphans.len() >= MAX_OPEN_CALLS * 4 {
                let old = self.orphans.remove(0);
                self.answer(None, &old, out);
            }
            self.orphans.push(Orphan {
                call_id: c.call_id,
                p_cont_id: c.p_cont_id,
                ctx_ndr: c.context.and_then(|x| x.syntax),
                stub: c.stub.into_owned(),
                pdu: c.pdu.map(<[u8]>::to_vec),
                packet,
            });
            return;
        };
        let o = Orphan {
            call_id: c.call_id,
            p_cont_id: c.p_cont_id,
            ctx_ndr: c.context.and_then(|x| x.syntax),
            stub: Vec::new(),
            pdu: None,
            packet,
        };
        self.answer_with(self.pending.get(i), &o, &c.stub, c.pdu, out);
        // Dropped in place: a pending call holds a large decoded request, and moving it out
        // of the list only to drop it showed in profiles.
        self.pending.drain(i..=i);
    }

    fn answer<F: FnMut(&Record)>(
        &self,
        pending: Option<&Pending>,
        o: &Orphan,
        out: &mut Out<'_, F>,
    ) {
        self.answer_with(pending, o, &o.stub, o.pdu.as_deref(), out);
    }

    /// Pairs a response stub (`o` describes it; its bytes are `stub`, its whole PDU `pdu`
    /// when it came in one fragment) with its request.
    fn answer_with<F: FnMut(&Record)>(
        &self,
        pending: Option<&Pending>,
        o: &Orphan,
        stub: &[u8],
        pdu: Option<&[u8]>,
        out: &mut Out<'_, F>,
    ) {
        let packet = o.packet;
        let ctx_ndr = o.ctx_ndr;
        let mut x = match pending {
            // The raw request is copied in at the end.
            Some(p) => self.exchange_of(p, ConnEnd::Open, out, false),
            None => out.exchange(
                &self.flow,
                ExchangeStart {
                    call_id: o.call_id,
                    ndr: None,
                    ndr_guessed: ctx_ndr.is_none(),
                    context_id: o.p_cont_id,
                    fragments: 0,
                    request_packet: None,
                    assoc: self.facts(o.p_cont_id, false, ConnEnd::Open),
                },
            ),
        };
        x.response_packet = Some(packet);
        let mut response_message = None;
        let ndr = pending
            .and_then(|p| p.ndr)
            .or(ctx_ndr)
            .unwrap_or_else(|| guess_response_syntax(stub));
        x.ndr = Some(ndr_name(ndr));
        match ResponseStub::parse(stub, ndr) {
            Err(e) => x.response_error = Some(format!("response stub: {e}")),
            Ok(ResponseStub::Error { hresult, .. }) => {
                x.response = Some(ResponseView::error(hresult))
            }
            Ok(s @ ResponseStub::Success { message, .. }) => {
                if out.keep_raw {
                    response_message = Some(message.to_vec());
                }
                let parsed = DecodedResponse::parse(message);
                match &parsed {
                    Ok(r) => x.response = Some(ResponseView::of(r, s.return_value())),
                    Err(e) => {
                        x.response = Some(ResponseView::error(s.return_value()));
                        x.response_error = Some(format!("response message: {e}"));
                    }
                }
                if let Some(Ok(req)) = pending.map(|p| &p.request) {
                    let parsed = parsed.as_ref().map_err(|e| *e);
                    // The record's ePID text is the one verification reads: made once.
                    let epid = x.response.as_ref().and_then(|r| r.epid.as_ref());
                    let v = match epid {
                        Some(text) => verify_parsed_failures_with_epid(req, parsed, text.as_str()),
                        None => verify_parsed_failures(req, parsed),
                    };
                    x.set_verification(&v);
                }
            }
        }
        if out.keep_raw {
            x.raw = Some(Arc::new(RawExchange {
                request: pending.and_then(|p| p.request.as_ref().ok()).cloned(),
                response_pdu: pdu.map(<[u8]>::to_vec),
                response_message,
            }));
        }
        out.record(Record::Exchange(x));
    }

    /// End of the connection (`ended` says how): answers left without their request, calls
    /// left unanswered. The lists keep their allocations (the state is reused for a later
    /// connection).
    fn finish<F: FnMut(&Record)>(&mut self, ended: ConnEnd, out: &mut Out<'_, F>) {
        let mut orphans = std::mem::take(&mut self.orphans);
        for o in orphans.drain(..) {
            let pending = self.take(o.call_id);
            self.answer(pending.as_ref(), &o, out);
        }
        self.orphans = orphans;
        let mut pending = std::mem::take(&mut self.pending);
        for p in pending.drain(..) {
            self.unanswered(p, ended, out);
        }
        self.pending = pending;
    }

    fn framed<F: FnMut(&Record)>(
        &mut self,
        assoc: &mut Association,
        side: Side,
        f: Framed<'_>,
        packet: u64,
        out: &mut Out<'_, F>,
    ) {
        if self.ignored {
            return;
        }
        match f {
            Framed::Pdu { offset, bytes } => {
                self.seen_pdu = true;
                assoc.pdu(side, offset, bytes, &mut |ev| self.rpc(ev, packet, out));
            }
            Framed::BadHeader { offset, error } => {
                if !self.seen_pdu && !self.kms_port {
                    self.ignored = true;
                    return;
                }
                out.error(
                    Some(&self.flow),
                    Some(side),
                    ErrAt::Stream(packet, offset),
                    format!("not a DCE/RPC PDU: {error}"),
                );
            }
            Framed::Skipped { len, .. } => out.sum.skipped_bytes += len,
        }
    }
}

/// Hasher for connection ids: they are small sequential numbers assigned by reassembly (not
/// taken from the capture), so a multiplicative mix is enough and much cheaper than SipHash.
#[derive(Default)]
struct ConnIdHasher(u64);

impl Hasher for ConnIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Sans-I/O decoder: reassembly events in, records out.
pub struct Decoder {
    name: Arc<str>,
    kms_port: u16,
    keep_raw: bool,
    /// Open connections' states, boxed so that moving one in or out of the map is cheap.
    conns: HashMap<ConnId, Box<Conn>, BuildHasherDefault<ConnIdHasher>>,
    /// Closed connections' states, to reuse (with their allocations) for new ones. Boxed: a
    /// state moves between this list and `conns` as a pointer, not a copy.
    #[allow(clippy::vec_box)]
    spare_conns: Vec<Box<Conn>>,
    sum: SummaryRecord,
    /// Emitted records, for the next ones to reuse.
    spare: Spare,
    /// The last server address and its text (most connections go to one server).
    last_server: Option<(SocketAddr, Arc<str>)>,
}

/// `ip:port` as `SocketAddr`'s `Display` writes it, as the shared text records hold. IPv4
/// (one connection each, so it showed in profiles) is written into a stack buffer and copied
/// once into the `Arc`, without the general formatter; IPv6 goes through it.
fn socket_text(a: SocketAddr) -> Arc<str> {
    let SocketAddr::V4(v4) = a else {
        return Arc::from(a.to_string());
    };
    /// Appends `v`'s decimal digits at `buf[at..]`; returns the new end.
    fn decimal(buf: &mut [u8; 21], at: usize, v: u16) -> usize {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(v).as_bytes();
        let end = at + digits.len();
        buf[at..end].copy_from_slice(digits);
        end
    }
    // "255.255.255.255:65535" is 21 bytes.
    let mut buf = [0u8; 21];
    let mut end = 0;
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            buf[end] = b'.';
            end += 1;
        }
        end = decimal(&mut buf, end, octet.into());
    }
    buf[end] = b':';
    end = decimal(&mut buf, end + 1, v4.port());
    // Only ASCII digits, dots and a colon were written.
    Arc::from(std::str::from_utf8(&buf[..end]).unwrap_or_default())
}

/// The flow texts, reusing the last server's text when the server is the same.
fn flow_of(
    client: SocketAddr,
    server: SocketAddr,
    last_server: &mut Option<(SocketAddr, Arc<str>)>,
) -> Flow {
    let server = match last_server {
        Some((addr, text)) if *addr == server => text.clone(),
        _ => {
            let text = socket_text(server);
            *last_server = Some((server, text.clone()));
            text
        }
    };
    Flow {
        client: socket_text(client),
        server,
    }
}

impl Decoder {
    /// A decoder for the capture called `name` (used in every record).
    pub fn new(name: &str, kms_port: u16) -> Self {
        Decoder {
            name: Arc::from(name),
            kms_port,
            keep_raw: true,
            spare: Spare::default(),
            conns: HashMap::default(),
            spare_conns: Vec::new(),
            sum: SummaryRecord {
                capture: Arc::from(name),
                ..Default::default()
            },
            last_server: None,
        }
    }

    /// Whether exchanges keep their raw request/response ([`DecodeConfig::keep_raw`]).
    pub fn keep_raw(mut self, keep: bool) -> Self {
        self.keep_raw = keep;
        self
    }

    /// Handles one reassembly event.
    pub fn event<F: FnMut(&Record)>(&mut self, ev: Event<'_>, emit: &mut F) {
        let mut out = Out {
            name: &self.name,
            keep_raw: self.keep_raw,
            sum: &mut self.sum,
            emit,
            spare: &mut self.spare,
        };
        match ev {
            Event::Opened {
                conn,
                client,
                server,
                client_guessed,
                ..
            } => {
                let kms_port = server.port() == self.kms_port || client.port() == self.kms_port;
                let flow = flow_of(client, server, &mut self.last_server);
                let state = match self.spare_conns.pop() {
                    Some(mut c) => {
                        c.reset(flow, kms_port, client_guessed);
                        c
                    }
                    None => Box::new(Conn::new(flow, kms_port, client_guessed)),
                };
                self.conns.insert(conn, state);
            }
            Event::Data {
                conn,
                dir,
                offset,
                bytes,
                packet_index,
                ..
            } => {
                let Some(c) = self.conns.get_mut(&conn).map(|c| &mut **c) else {
                    return;
                };
                if c.calls.ignored {
                    return;
                }
                let side = side_of(dir);
                let Conn {
                    framers,
                    assoc,
                    calls,
                } = c;
                let framer = &mut framers[dir_idx(dir)];
                framer.push(offset, bytes, &mut |f| {
                    calls.framed(assoc, side, f, packet_index, &mut out)
                });
            }
            Event::Gap {
                conn,
                dir,
                offset,
                missing,
                packet_index,
            } => {
                let Some(c) = self.conns.get_mut(&conn).map(|c| &mut **c) else {
                    return;
                };
                let Conn {
                    framers,
                    assoc,
                    calls,
                } = c;
                let side = side_of(dir);
                framers[dir_idx(dir)].gap(offset, missing, &mut |f| {
                    calls.framed(assoc, side, f, packet_index, &mut out)
                });
                calls.gapped = true;
                if !calls.ignored {
                    out.record(Record::Gap(GapRecord {
                        capture: out.name.clone(),
                        flow: calls.flow.clone(),
                        direction: side_dir(side),
                        offset,
                        missing,
                        packet: packet_index,
                    }));
                }
            }
            Event::Overflow { .. } => {}
            Event::Closed {
                conn,
                packet_index,
                reason,
            } => {
                let Some(mut c) = self.conns.remove(&conn) else {
                    return;
                };
                let ended = match reason {
                    CloseReason::Fin | CloseReason::Rst | CloseReason::Reused => ConnEnd::Closed,
                    CloseReason::Idle => ConnEnd::Idle,
                    CloseReason::Evicted | CloseReason::EndOfCapture => ConnEnd::CaptureEnded,
                };
                Self::close(&mut c, packet_index, ended, &mut out);
                if self.spare_conns.len() < MAX_SPARE_CONNS {
                    self.spare_conns.push(c);
                }
            }
            Event::Warning {
                packet_index,
                warning,
            } => {
                let message = match warning {
                    Warning::Link(e) => format!("bad link-layer header: {e:?}"),
                    Warning::Ip(e) => format!("bad IP header: {e:?}"),
                    Warning::Tcp(e) => format!("bad TCP header: {e:?}"),
                    Warning::FragmentsDropped(d) => format!("IPv4 fragments dropped: {d:?}"),
                    Warning::ConflictingOverlap {
                        offset, len, dir, ..
                    } => format!(
                        "retransmitted bytes differ from the first copy ({len} bytes at stream offset {offset}, {})",
                        side_dir(side_of(dir))
                    ),
                    Warning::Snapped => "packet cut by the snap length".to_owned(),
                };
                out.error(None, None, ErrAt::Packet(packet_index), message);
            }
        }
    }

    fn close<F: FnMut(&Record)>(c: &mut Conn, packet: u64, ended: ConnEnd, out: &mut Out<'_, F>) {
        let Conn {
            framers,
            assoc,
            calls,
        } = c;
        if !calls.ignored {
            for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
                if let Some((offset, have, need)) = framers[i].finish() {
                    let message = if need == 0 {
                        format!("connection ended inside a PDU header ({have} bytes)")
                    } else {
                        format!("connection ended inside a PDU: {have} of {need} bytes")
                    };
                    out.error(
                        Some(&calls.flow),
                        Some(side),
                        ErrAt::Stream(packet, offset),
                        message,
                    );
                }
            }
            assoc.finish(&mut |ev| calls.rpc(ev, packet, out));
            calls.finish(ended, out);
        }
        if calls.kms {
            out.sum.kms_flows += 1;
        }
    }

    /// End of input: closes what is still open and returns the totals (without emitting the
    /// summary record; [`decode_capture`] does).
    pub fn finish<F: FnMut(&Record)>(&mut self, emit: &mut F) -> SummaryRecord {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Out {
            name: &self.name,
            keep_raw: self.keep_raw,
            sum: &mut self.sum,
            emit,
            spare: &mut self.spare,
        };
        for id in ids {
            if let Some(mut c) = self.conns.remove(&id) {
                Self::close(&mut c, 0, ConnEnd::CaptureEnded, &mut out);
            }
        }
        self.sum.clone()
    }

    /// Records capture damage (file level).
    pub fn damage<F: FnMut(&Record)>(&mut self, e: &CaptureError, emit: &mut F) {
        let (packet, file_offset) = match e {
            CaptureError::Truncated {
                packet_index,
                offset,
            }
            | CaptureError::Corrupt {
                packet_index,
                offset,
                ..
            }
            | CaptureError::BlockTooLarge {
                packet_index,
                offset,
                ..
            } => (Some(*packet_index), Some(*offset)),
            CaptureError::Io { offset, .. } => (None, Some(*offset)),
            CaptureError::NotACapture | CaptureError::BadHeader { .. } => (None, Some(0)),
        };
        self.sum.damaged = true;
        let mut out = Out {
            name: &self.name,
            keep_raw: self.keep_raw,
            sum: &mut self.sum,
            emit,
            spare: &mut self.spare,
        };
        out.record(Record::Error(ErrorRecord {
            capture: self.name.clone(),
            flow: None,
            layer: "capture",
            packet,
            file_offset,
            stream_offset: None,
            direction: None,
            message: e.to_string(),
        }));
    }
}

fn side_of(d: Direction) -> Side {
    match d {
        Direction::ToServer => Side::Client,
        Direction::ToClient => Side::Server,
    }
}

fn dir_idx(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// Decodes a whole capture: every record goes to `on_record`, the summary last (also
/// returned). A file that is not a capture (or whose file header is broken) fails at once with
/// no records; a damaged one yields everything before the damage, an `error` record naming the
/// packet index and file offset, and a summary with `damaged: true`. `progress` is called with
/// the file offset reached every `cfg.progress_every` packets.
pub fn decode_capture<R: Read, F: FnMut(&Record), P: FnMut(u64)>(
    reader: R,
    name: &str,
    cfg: &DecodeConfig,
    on_record: F,
    progress: P,
) -> Result<SummaryRecord, CaptureError> {
    let r = CaptureReader::new(reader)?;
    Ok(decode_capture_from(r, name, cfg, on_record, progress))
}

/// [`decode_capture`] over an opened reader, e.g. [`CaptureReader::for_bytes`] for an input
/// already in memory (the fuzz targets); opening was the only way to fail.
pub fn decode_capture_from<F: FnMut(&Record), P: FnMut(u64)>(
    mut r: CaptureReader<'_>,
    name: &str,
    cfg: &DecodeConfig,
    mut on_record: F,
    mut progress: P,
) -> SummaryRecord {
    let mut pipeline = Pipeline::new(cfg.flow);
    let mut dec = Decoder::new(name, cfg.flow.server_port).keep_raw(cfg.keep_raw);
    let mut failure = None;
    let every = cfg.progress_every;
    while let Some(next) = r.next_packet() {
        match next {
            Ok(pkt) => {
                if every > 0 && pkt.index % every == 0 {
                    progress(pkt.file_offset);
                }
                pipeline.packet(&pkt, &mut |ev| dec.event(ev, &mut on_record));
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let totals = pipeline.finish(&mut |ev| dec.event(ev, &mut on_record));
    progress(r.offset());
    if let Some(e) = &failure {
        dec.damage(e, &mut on_record);
    }
    let mut sum = dec.finish(&mut on_record);
    sum.packets = totals.packets;
    sum.bytes = totals.captured_bytes;
    sum.flows = totals.flows.connections;
    on_record(&Record::Summary(sum.clone()));
    sum
}

/// [`decode_capture`] collecting the records into a vector (tests, small files).
pub fn decode_to_vec(bytes: &[u8], name: &str) -> Result<Vec<Record>, CaptureError> {
    let mut v = Vec::new();
    decode_capture(
        bytes,
        name,
        &DecodeConfig::default(),
        |r| v.push(r.clone()),
        |_| {},
    )?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_text_matches_display() {
        let addrs: Vec<SocketAddr> = vec![
            "0.0.0.0:0".parse().unwrap(),
            "255.255.255.255:65535".parse().unwrap(),
            "10.0.100.7:1688".parse().unwrap(),
            "192.168.1.10:49152".parse().unwrap(),
            "[::1]:1688".parse().unwrap(),
            "[fe80::1:2]:9".parse().unwrap(),
        ];
        for a in addrs {
            assert_eq!(&*socket_text(a), a.to_string());
        }
        for port in [1u16, 9, 10, 99, 100, 999, 1000, 9999, 10000] {
            let a = SocketAddr::from(([1, 22, 133, 4], port));
            assert_eq!(&*socket_text(a), a.to_string());
        }
    }
}
