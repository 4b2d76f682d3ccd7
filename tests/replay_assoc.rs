//! Replay judges each call with its connection's association (RPC-CTX-1): captures built here
//! from the reference host (and its mutants) driven in-process, written as pcap with or without
//! the TCP handshake, then replayed; and the same host behaviour judged by `run` and by replay
//! of a recording of exactly what `run` exchanged gets the same verdict.

use kmsspec::capture::decode_to_vec;
use kmsspec::capture::records::{AssocFacts, ConnEnd, ContextState, Record};
use kmsspec::capture::writer::{PcapWriter, Segment, TcpSession};
use kmsspec::client::{bind_pdu, context_element, EncodedRequest, RequestSpec};
use kmsspec::host::{Disposition, HostClock, HostConnection, HostFlaw, HostState};
use kmsspec::model::{HostConfig, Timestamp};
use kmsspec::report::{CaseReport, Finding, Level, Verdict};
use kmsspec::rng::SplitMix64;
use kmsspec::suite::names::load_default;
use kmsspec::suite::replay::{replay_bytes, ReplayOptions};
use kmsspec::suite::runner::{run_suite, RunOptions, Runner};
use kmsspec::target::embedded::{EmbeddedConfig, EmbeddedHost};
use kmsspec::target::{Connection, Received, Target, TargetError, TargetFacts};
use kmsspec::wire::rpc::{NdrSyntax, PfcFlags};
use kmsspec::wire::FileTime;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// The fixed host clock of the in-process conversations (2023-11-14T22:13:20Z).
const T0: i64 = 1_700_000_000;

/// Link type of the written captures (Ethernet).
const ETHERNET: u32 = 1;

// ---------------------------------------------------------------------------------------------
// Captures of in-process conversations with the reference host (or a mutant).

/// One connection to an in-process host, remembering every byte each way.
struct Conversation {
    state: HostState,
    conn: HostConnection,
    /// (from the client, bytes), in order.
    segments: Vec<(bool, Vec<u8>)>,
    /// The host decided to close.
    host_closed: bool,
    rng: SplitMix64,
}

impl Conversation {
    fn new(flaw: Option<HostFlaw>) -> Self {
        let state = HostState::new(
            HostConfig::default(),
            HostClock::Fixed(Timestamp(T0)),
            11,
            flaw,
        )
        .expect("host state");
        Conversation {
            state,
            conn: HostConnection::new(1688),
            segments: Vec::new(),
            host_closed: false,
            rng: SplitMix64::new(5),
        }
    }

    /// Sends `pdu`; returns what the host wrote back.
    fn send(&mut self, pdu: &[u8]) -> Vec<u8> {
        self.segments.push((true, pdu.to_vec()));
        let mut out = Vec::new();
        if self.conn.feed(&mut self.state, pdu, &mut out) == Disposition::Close {
            self.host_closed = true;
        }
        if !out.is_empty() {
            self.segments.push((false, out.clone()));
        }
        out
    }

    /// Binds `contexts` (shorthand names, ids 0, 1, …).
    fn bind(&mut self, contexts: &[&str]) -> Vec<u8> {
        let elements = contexts
            .iter()
            .enumerate()
            .map(|(i, n)| context_element(n, i as u16).expect("context"))
            .collect();
        self.send(&bind_pdu(1, elements, PfcFlags::SINGLE, false))
    }

    /// A Windows 10 Enterprise V6 request on context `ctx`.
    fn request_pdu(&mut self, call_id: u32, ctx: u16) -> Vec<u8> {
        let spec = RequestSpec::for_product(
            "Windows 10 Enterprise",
            Uuid::from_u128(0x1111_2222_3333_4444_8555_6666_7777_0000 + u128::from(call_id)),
            FileTime::from_unix_seconds(T0),
        )
        .expect("product");
        EncodedRequest::build(&spec, &mut self.rng, NdrSyntax::Ndr32, call_id, ctx, 0)
            .expect("request")
            .pdu
    }

    fn request(&mut self, call_id: u32, ctx: u16) -> Vec<u8> {
        let pdu = self.request_pdu(call_id, ctx);
        self.send(&pdu)
    }

    /// The conversation as a pcap: with the TCP handshake when `start` (else it begins
    /// mid-connection), then every segment, then FIN from both sides when `close`.
    fn pcap(&self, start: bool, close: bool) -> Vec<u8> {
        let conn = Recorded {
            port: 49_800,
            events: self
                .segments
                .iter()
                .enumerate()
                .map(|(i, (c, b))| {
                    (
                        T0 as u64 * 1_000_000_000 + i as u64 * 1_000_000,
                        *c,
                        b.clone(),
                    )
                })
                .collect(),
            end: close.then_some(End::ClientClose),
        };
        write_pcap(&[conn], start)
    }
}

/// How a recorded connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed (the host closes its side too).
    ClientClose,
    /// The host closed first.
    HostClose,
    /// The host reset it.
    Reset,
}

/// One connection's bytes each way with their times, and how it ended.
#[derive(Debug, Clone)]
struct Recorded {
    port: u16,
    /// (time ns, from the client, bytes).
    events: Vec<(u64, bool, Vec<u8>)>,
    end: Option<End>,
}

/// Writes connections as one pcap, packets in time order; `handshake` adds SYN, SYN-ACK, ACK
/// before each connection's first byte.
fn write_pcap(conns: &[Recorded], handshake: bool) -> Vec<u8> {
    let server: SocketAddr = "10.0.0.1:1688".parse().unwrap();
    let mut packets: Vec<(u64, usize, Segment)> = Vec::new();
    for (ci, c) in conns.iter().enumerate() {
        let client = SocketAddr::from(([10, 0, 0, 2], c.port));
        let mut tcp = TcpSession::new(client, server, 1000 + ci as u32 * 7919, 90_000);
        let first = c.events.first().map_or(0, |e| e.0);
        let at = |t: u64, s: Segment, packets: &mut Vec<(u64, usize, Segment)>| {
            let n = packets.len();
            packets.push((t, n, s));
        };
        if handshake {
            for s in tcp.handshake() {
                at(first.saturating_sub(1000), s, &mut packets);
            }
        }
        let mut last = first;
        for (t, from_client, bytes) in &c.events {
            last = *t;
            let s = tcp.data(*from_client, bytes);
            at(*t, s, &mut packets);
        }
        match c.end {
            Some(End::ClientClose) => {
                let a = tcp.fin(true);
                at(last + 1000, a, &mut packets);
                let b = tcp.fin(false);
                at(last + 2000, b, &mut packets);
            }
            Some(End::HostClose) => {
                let a = tcp.fin(false);
                at(last + 1000, a, &mut packets);
                let b = tcp.fin(true);
                at(last + 2000, b, &mut packets);
            }
            Some(End::Reset) => {
                let r = tcp.rst(false);
                at(last + 1000, r, &mut packets);
            }
            None => {}
        }
    }
    packets.sort_by_key(|p| (p.0, p.1));
    let mut w = PcapWriter::new(Vec::new(), ETHERNET, true, false).expect("pcap header");
    for (i, (t, _, s)) in packets.iter().enumerate() {
        w.packet(*t, &s.ethernet_frame(i as u16)).expect("packet");
    }
    w.into_inner()
}

fn replay(pcap: &[u8], stem: &str) -> Vec<CaseReport> {
    replay_bytes(pcap, stem, &ReplayOptions::default())
}

fn finding<'a>(c: &'a CaseReport, check: &str) -> Option<&'a Finding> {
    c.findings.iter().find(|f| f.check == check)
}

/// The one case judged by the association check.
fn ctx_case(cases: &[CaseReport]) -> (&CaseReport, &Finding) {
    let mut hits = cases
        .iter()
        .filter_map(|c| finding(c, "rpc.unbound_context").map(|f| (c, f)));
    let hit = hits
        .next()
        .unwrap_or_else(|| panic!("no rpc.unbound_context: {cases:#?}"));
    assert!(hits.next().is_none(), "{cases:#?}");
    hit
}

/// The association facts of the first exchange or fault in a capture.
fn first_facts(pcap: &[u8]) -> AssocFacts {
    decode_to_vec(pcap, "t")
        .expect("decodes")
        .iter()
        .find_map(|r| match r {
            Record::Exchange(x) => Some(x.assoc),
            Record::Fault(f) => Some(f.assoc),
            _ => None,
        })
        .expect("an exchange or fault")
}

fn is_fault(reply: &[u8], status: u32) -> bool {
    // Fault PDU type 3; status at offset 24.
    reply.get(2) == Some(&3) && reply.get(24..28) == Some(&status.to_le_bytes()[..])
}

const UNK_IF: u32 = 0x1C01_0003;

// ---------------------------------------------------------------------------------------------
// (a) A request on a context that was never bound, faulted with nca_unk_if: PASS.

#[test]
fn fault_on_a_context_never_negotiated_passes() {
    let mut c = Conversation::new(None);
    c.bind(&["ndr32"]);
    let reply = c.request(2, 99);
    assert!(is_fault(&reply, UNK_IF), "reference host faults ctx 99");
    let pcap = c.pcap(true, true);
    let facts = first_facts(&pcap);
    assert_eq!(facts.context_id, 99);
    assert_eq!(facts.context, ContextState::NotNegotiated);
    assert!(facts.history_complete() && facts.any_bind());
    let cases = replay(&pcap, "unknown_ctx");
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Pass, "{case:#?}");
    assert!(f.passed && f.level == Level::Must, "{f:?}");
    assert_eq!(f.rule.as_deref(), Some("RPC-CTX-1"));
    assert!(f.observed.contains("nca_unk_if"), "{}", f.observed);
    assert!(
        cases.iter().all(|c| c.verdict == Verdict::Pass),
        "{cases:#?}"
    );
}

#[test]
fn fault_on_a_request_with_no_bind_passes() {
    let mut c = Conversation::new(None);
    let reply = c.request(2, 0);
    assert!(is_fault(&reply, UNK_IF));
    let pcap = c.pcap(true, true);
    assert_eq!(first_facts(&pcap).context, ContextState::NoBind);
    let cases = replay(&pcap, "no_bind_fault");
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Pass, "{case:#?}");
    assert!(f.passed && f.observed.contains("no bind"), "{f:?}");
}

/// A fault with another status than nca_unk_if on an unbound context breaks RPC-CTX-1.
#[test]
fn other_fault_status_on_an_unbound_context_fails() {
    let mut c = Conversation::new(None);
    c.request(2, 0);
    // nca_unk_if → nca_op_rng_error (0x1C010002) in the captured fault.
    let fault = c.segments.last_mut().expect("fault");
    assert!(is_fault(&fault.1, UNK_IF));
    fault.1[24..28].copy_from_slice(&0x1C01_0002u32.to_le_bytes());
    let cases = replay(&c.pcap(true, true), "other_fault");
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Fail, "{case:#?}");
    assert!(
        !f.passed && f.observed.contains("nca_op_rng_error"),
        "{f:?}"
    );
}

/// A request on an unbound context left unanswered: a close PASSes, the capture ending
/// before any reaction is not judged.
#[test]
fn close_without_answer_passes_and_a_cut_capture_is_not_judged() {
    let mut c = Conversation::new(None);
    let pdu = c.request_pdu(2, 0);
    c.segments.push((true, pdu));
    let closed = replay(&c.pcap(true, true), "closed");
    let (case, f) = ctx_case(&closed);
    assert_eq!(case.verdict, Verdict::Pass, "{case:#?}");
    assert!(f.passed && f.observed.contains("closed"), "{f:?}");
    assert!(finding(case, "replay.answered").is_none(), "{case:#?}");
    let open = c.pcap(true, false);
    assert_eq!(first_facts(&open).ended, ConnEnd::CaptureEnded);
    let cut = replay(&open, "cut");
    let (case, f) = ctx_case(&cut);
    assert_eq!(case.verdict, Verdict::Info, "{case:#?}");
    assert!(!f.passed && f.level == Level::Info, "{f:?}");
}

// ---------------------------------------------------------------------------------------------
// (b) An answered request with no bind (HostFlaw::AnswersWithoutBind): FAIL.

#[test]
fn answer_without_bind_fails() {
    let mut c = Conversation::new(Some(HostFlaw::AnswersWithoutBind));
    let reply = c.request(2, 0);
    assert_eq!(
        reply.get(2),
        Some(&2),
        "the mutant answers with a response PDU"
    );
    let pcap = c.pcap(true, true);
    let cases = replay(&pcap, "answers_without_bind");
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Fail, "{case:#?}");
    assert!(!f.passed && f.level == Level::Must, "{f:?}");
    assert_eq!(f.rule.as_deref(), Some("RPC-CTX-1"));
    assert!(
        f.observed.contains("no bind") && f.observed.contains("answer"),
        "{f:?}"
    );
    // The answer itself is still checked; the model is not asked about an answer that
    // should not exist.
    assert!(
        finding(case, "kms.cmid_echo").is_some_and(|f| f.passed),
        "{case:#?}"
    );
    assert!(finding(case, "model.outcome").is_none(), "{case:#?}");
    // The same exchange with a bind first is a conforming answer.
    let mut bound = Conversation::new(Some(HostFlaw::AnswersWithoutBind));
    bound.bind(&["ndr32"]);
    bound.request(2, 0);
    let ok = replay(&bound.pcap(true, true), "bound");
    assert!(ok.iter().all(|c| c.verdict == Verdict::Pass), "{ok:#?}");
    assert!(ok
        .iter()
        .all(|c| finding(c, "rpc.unbound_context").is_none()));
}

// ---------------------------------------------------------------------------------------------
// (c) A request on a rejected context.

#[test]
fn request_on_a_rejected_context() {
    let mut c = Conversation::new(None);
    c.bind(&["unknown_syntax", "ndr32"]);
    let reply = c.request(2, 0);
    assert!(
        is_fault(&reply, UNK_IF),
        "reference host faults the rejected ctx 0"
    );
    let pcap = c.pcap(true, true);
    let facts = first_facts(&pcap);
    assert_eq!(
        (facts.context_id, facts.context),
        (0, ContextState::Rejected)
    );
    let cases = replay(&pcap, "rejected_fault");
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Pass, "{case:#?}");
    assert!(f.passed && f.observed.contains("rejected"), "{f:?}");

    // A host that processes the request on the rejected context anyway (as vlmcsd does,
    // kms-protocol.md §1.9): the reference host's answer on the accepted context 1, sent
    // back for the request on context 0.
    let mut c = Conversation::new(None);
    c.bind(&["unknown_syntax", "ndr32"]);
    let on_rejected = c.request_pdu(2, 0);
    let on_accepted = c.request_pdu(2, 1);
    let mut answer = Conversation::new(None);
    answer.bind(&["unknown_syntax", "ndr32"]);
    let mut response = answer.send(&on_accepted);
    assert_eq!(response.get(2), Some(&2), "a response PDU");
    response[20..22].copy_from_slice(&0u16.to_le_bytes()); // p_cont_id echoes 0
    c.segments.push((true, on_rejected));
    c.segments.push((false, response));
    let cases = replay(&c.pcap(true, true), "rejected_answer");
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Fail, "{case:#?}");
    assert!(!f.passed && f.observed.contains("rejected"), "{f:?}");
}

/// A bind pipelined with its request (both in one segment) is bound when the host answers:
/// the bind_ack precedes the response.
#[test]
fn pipelined_bind_and_request_are_bound() {
    let mut c = Conversation::new(None);
    let bind = bind_pdu(
        1,
        vec![context_element("ndr32", 0).unwrap()],
        PfcFlags::SINGLE,
        false,
    );
    let mut both = bind;
    both.extend_from_slice(&c.request_pdu(2, 0));
    let reply = c.send(&both);
    assert!(reply.len() > 100, "bind_ack and response");
    let pcap = c.pcap(true, true);
    assert_eq!(first_facts(&pcap).context, ContextState::Accepted);
    let cases = replay(&pcap, "pipelined");
    assert!(
        cases.iter().all(|c| c.verdict == Verdict::Pass),
        "{cases:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// (d) Captures that cannot show the association: recorded, not judged.

#[test]
fn midstream_capture_is_not_judged() {
    // The mutant's answer without bind, captured without the handshake: the bind may have
    // come before the capture started.
    let mut c = Conversation::new(Some(HostFlaw::AnswersWithoutBind));
    c.request(2, 0);
    let pcap = c.pcap(false, true);
    let facts = first_facts(&pcap);
    assert!(!facts.start_seen && !facts.history_complete());
    let cases = replay(&pcap, "midstream_answer");
    let (case, f) = ctx_case(&cases);
    assert_ne!(case.verdict, Verdict::Fail, "{case:#?}");
    assert_eq!(case.verdict, Verdict::Info, "{case:#?}");
    assert!(
        f.level == Level::Info && f.observed.contains("mid-connection"),
        "{f:?}"
    );
    assert!(
        cases.iter().all(|c| c.verdict != Verdict::Fail),
        "{cases:#?}"
    );
    // A fault mid-connection is not judged either way.
    let mut c = Conversation::new(None);
    c.request(2, 0);
    let cases = replay(&c.pcap(false, true), "midstream_fault");
    let (case, _) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Info, "{case:#?}");
}

#[test]
fn a_gap_before_the_call_makes_it_unjudged() {
    // bind, then a request answered on the bound context; the capture lost the bind.
    let mut c = Conversation::new(None);
    c.bind(&["ndr32"]);
    c.request(2, 0);
    let judged = replay(&c.pcap(true, true), "whole");
    assert!(
        judged.iter().all(|c| c.verdict == Verdict::Pass),
        "{judged:#?}"
    );
    let pcap = write_pcap_dropping_first_client_payload(&c.segments);
    let facts = first_facts(&pcap);
    assert!(facts.gap_before && !facts.history_complete(), "{facts:?}");
    let cases = replay(&pcap, "gap");
    assert!(
        cases.iter().all(|c| c.verdict != Verdict::Fail),
        "{cases:#?}"
    );
    let (case, f) = ctx_case(&cases);
    assert_eq!(case.verdict, Verdict::Info, "{case:#?}");
    assert!(f.observed.contains("missing"), "{f:?}");
}

/// The conversation written with its handshake, but the first client data segment (the
/// bind) left out of the file: the stream has a hole where it was.
fn write_pcap_dropping_first_client_payload(segments: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let server: SocketAddr = "10.0.0.1:1688".parse().unwrap();
    let client: SocketAddr = "10.0.0.2:49803".parse().unwrap();
    let mut tcp = TcpSession::new(client, server, 77, 88);
    let mut segs = tcp.handshake();
    let mut dropped = false;
    for (from_client, b) in segments {
        let s = tcp.data(*from_client, b);
        if *from_client && !dropped {
            dropped = true;
            continue;
        }
        segs.push(s);
    }
    segs.push(tcp.fin(true));
    segs.push(tcp.fin(false));
    let mut w = PcapWriter::new(Vec::new(), ETHERNET, true, false).unwrap();
    for (i, s) in segs.iter().enumerate() {
        let t = T0 as u64 * 1_000_000_000 + i as u64 * 1_000_000;
        w.packet(t, &s.ethernet_frame(i as u16)).unwrap();
    }
    w.into_inner()
}

// ---------------------------------------------------------------------------------------------
// (e) The CLI's exit status on such captures.

fn cli(pcap: &[u8], name: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("kmsspec-replay-assoc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(format!("{name}.pcap"));
    std::fs::write(&path, pcap).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kmsspec"))
        .args(["replay", "--quiet"])
        .arg(&path)
        .output()
        .expect("run kmsspec");
    let _ = std::fs::remove_file(&path);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn cli_exit_status_follows_the_association_verdict() {
    let mut fault = Conversation::new(None);
    fault.bind(&["ndr32"]);
    fault.request(2, 7);
    let (code, out) = cli(&fault.pcap(true, true), "unbound_fault");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 pass") && out.contains("0 fail"), "{out}");

    let mut answered = Conversation::new(Some(HostFlaw::AnswersWithoutBind));
    answered.request(2, 0);
    let (code, out) = cli(&answered.pcap(true, true), "answered_no_bind");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL") && out.contains("rpc.unbound_context"),
        "{out}"
    );

    let (code, out) = cli(&answered.pcap(false, true), "answered_midstream");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("INFO") && !out.contains("FAIL "), "{out}");
}

// ---------------------------------------------------------------------------------------------
// (f) run and replay agree: the same host behaviour, judged by `run` and by replay of a
// recording of exactly what `run` exchanged with the host, gets the same verdict.

/// A target that records every byte exchanged on every connection.
struct Recording<'a> {
    inner: &'a dyn Target,
    log: Arc<Mutex<Vec<Recorded>>>,
}

struct RecordingConnection {
    inner: Box<dyn Connection>,
    log: Arc<Mutex<Vec<Recorded>>>,
    index: usize,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl RecordingConnection {
    fn note(&self, from_client: bool, bytes: &[u8]) {
        if let Some(c) = self.log.lock().unwrap().get_mut(self.index) {
            if c.end.is_none() {
                c.events.push((now_ns(), from_client, bytes.to_vec()));
            }
        }
    }

    fn end(&self, end: End) {
        if let Some(c) = self.log.lock().unwrap().get_mut(self.index) {
            c.end.get_or_insert(end);
        }
    }

    fn received(&self, r: &Result<Received, TargetError>) {
        match r {
            Ok(Received::Pdu(b)) | Ok(Received::Garbage(b)) => self.note(false, b),
            Ok(Received::Closed) | Err(TargetError::Closed) => self.end(End::HostClose),
            Ok(Received::Reset) => self.end(End::Reset),
            _ => {}
        }
    }
}

impl Connection for RecordingConnection {
    fn send(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        self.note(true, bytes);
        self.inner.send(bytes)
    }
    fn send_chunked(
        &mut self,
        bytes: &[u8],
        chunk: usize,
        pause: Duration,
    ) -> Result<(), TargetError> {
        self.note(true, bytes);
        self.inner.send_chunked(bytes, chunk, pause)
    }
    fn recv(&mut self) -> Result<Received, TargetError> {
        let r = self.inner.recv();
        self.received(&r);
        r
    }
    fn recv_within(&mut self, timeout: Duration) -> Result<Received, TargetError> {
        let r = self.inner.recv_within(timeout);
        self.received(&r);
        r
    }
    fn close(&mut self) {
        self.end(End::ClientClose);
        self.inner.close();
    }
}

impl Target for Recording<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn facts(&self) -> TargetFacts {
        self.inner.facts()
    }
    fn connect(&self) -> Result<Box<dyn Connection>, TargetError> {
        let inner = self.inner.connect()?;
        let mut log = self.log.lock().unwrap();
        let index = log.len();
        log.push(Recorded {
            port: 50_000 + index as u16,
            events: Vec::new(),
            end: None,
        });
        Ok(Box::new(RecordingConnection {
            inner,
            log: Arc::clone(&self.log),
            index,
        }))
    }
    fn now(&self) -> FileTime {
        self.inner.now()
    }
    fn reset(&self) -> Result<(), TargetError> {
        self.inner.reset()
    }
    fn advance_clock(&self, by: Duration) -> Result<(), TargetError> {
        self.inner.advance_clock(by)
    }
}

fn host(flaw: Option<HostFlaw>) -> EmbeddedHost {
    let cfg = match flaw {
        Some(f) => EmbeddedConfig::with_flaw(f),
        None => EmbeddedConfig::default(),
    };
    EmbeddedHost::start(cfg).expect("embedded host")
}

/// The verdict `run --only case` gives, and the replay cases of a recording of the same case
/// run against another host with the same flaw.
fn run_and_replay(case: &str, flaw: Option<HostFlaw>) -> (Verdict, Vec<CaseReport>) {
    let cases = load_default(&[]).expect("specs load");
    let opts = RunOptions {
        only: vec![case.to_string()],
        seed: 3,
        ..RunOptions::default()
    };
    let plain = host(flaw);
    let report = run_suite(&plain, &cases, &opts);
    assert_eq!(report.cases.len(), 1, "{case}");
    let run = report.cases[0].verdict;

    let recorded = host(flaw);
    let rec = Recording {
        inner: &recorded,
        log: Arc::new(Mutex::new(Vec::new())),
    };
    let lc = cases
        .iter()
        .find(|c| c.case.id.value == case)
        .expect("case exists");
    let again = Runner::new(&rec, &opts).run_case(lc);
    assert_eq!(
        again.verdict, run,
        "{case}: the recorded run differs: {again:#?}"
    );
    let conns = rec.log.lock().unwrap().clone();
    assert!(!conns.is_empty(), "{case}: nothing recorded");
    let pcap = write_pcap(&conns, true);
    (run, replay(&pcap, case))
}

/// The replay verdict of a recorded case: the worst of its cases (every connection the run
/// case opened is part of what it judged).
fn worst(cases: &[CaseReport]) -> Verdict {
    cases
        .iter()
        .map(|c| c.verdict)
        .fold(Verdict::Pass, Verdict::worst)
}

#[test]
fn run_and_replay_agree_on_the_same_behaviour() {
    // (run case, host flaw, the verdict both must give, a check replay must judge it by).
    let table: &[(&str, Option<HostFlaw>, Verdict, &str)] = &[
        (
            "ROB-REQ-BEFORE-BIND-1",
            None,
            Verdict::Pass,
            "rpc.unbound_context",
        ),
        (
            "ROB-REQ-BEFORE-BIND-1",
            Some(HostFlaw::AnswersWithoutBind),
            Verdict::Fail,
            "rpc.unbound_context",
        ),
        (
            "ROB-CTX-UNKNOWN-1",
            None,
            Verdict::Pass,
            "rpc.unbound_context",
        ),
        (
            "ROB-CTX-REJECTED-1",
            None,
            Verdict::Pass,
            "rpc.unbound_context",
        ),
        ("RESP-ECHO-CMID-1", None, Verdict::Pass, "kms.cmid_echo"),
        (
            "RESP-ECHO-CMID-1",
            Some(HostFlaw::WrongCmidEcho),
            Verdict::Fail,
            "kms.cmid_echo",
        ),
        (
            "VER-MAJOR-7",
            None,
            Verdict::Pass,
            "model.undecodable_request",
        ),
        (
            "VER-MAJOR-7",
            Some(HostFlaw::DropsOnUnknownVersion),
            Verdict::Fail,
            "replay.answered",
        ),
        ("REQ-CALLID-1", None, Verdict::Pass, "rpc.call_id_echo"),
        (
            "REQ-CALLID-1",
            Some(HostFlaw::WrongCallId),
            Verdict::Fail,
            "replay.answered",
        ),
        (
            "RESP-ECHO-TIME-1",
            Some(HostFlaw::WrongTimeEcho),
            Verdict::Fail,
            "kms.time_echo",
        ),
    ];
    let mut disagreements = Vec::new();
    for &(case, flaw, want, check) in table {
        let name = flaw.map_or("reference", HostFlaw::name);
        let (run, cases) = run_and_replay(case, flaw);
        let replayed = worst(&cases);
        eprintln!("{case:<24} {name:<26} run {run:<10?} replay {replayed:?}");
        assert_eq!(run, want, "{case} on {name}: run gave {run:?}");
        if replayed != run {
            disagreements.push(format!(
                "{case} on {name}: run {run:?}, replay {replayed:?}: {cases:#?}"
            ));
        }
        // Replay judged it by the rule's own check, and that check decided.
        let judged: Vec<&Finding> = cases
            .iter()
            .flat_map(|c| &c.findings)
            .filter(|f| f.check == check)
            .collect();
        assert!(
            !judged.is_empty(),
            "{case} on {name}: no {check}: {cases:#?}"
        );
        if want == Verdict::Fail {
            assert!(
                judged
                    .iter()
                    .any(|f| !f.passed && f.level == Level::Must && !f.side),
                "{case} on {name}: {check} did not decide: {cases:#?}"
            );
        } else {
            assert!(
                judged.iter().all(|f| f.passed),
                "{case} on {name}: {judged:?}"
            );
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
}
