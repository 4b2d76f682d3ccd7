//! The wire log of a case: a [`Target`] wrapper that notes every PDU the runner sends and
//! receives (its bytes and decoded form) and every connection event, so the HTML report can
//! show exactly what went over the wire. The runner is unchanged: it talks to the recorder as
//! to any target, and takes the log after each case ([`Recorder::take`]).
//!
//! Decoding is `kmsspec decode`'s own ([`LiveDecoder`] per connection), so a report shows the
//! same records as a capture of the same run would.

use crate::capture::live::LiveDecoder;
use crate::capture::records::Record;
use crate::capture::text::record_text;
use crate::report::model::{WIRE_ENTRY_LIMIT, WIRE_HEX_LIMIT};
use crate::report::{WireDir, WireEntry};
use crate::target::{Connection, Received, Target, TargetError, TargetFacts};
use crate::wire::kms::hex;
use crate::wire::rpc::{pdu_length, Pdu, HEADER_LEN};
use crate::wire::FileTime;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the recorder and its connections share.
#[derive(Debug, Default)]
struct Log {
    entries: Vec<WireEntry>,
    /// Entries not kept because the case already had [`WIRE_ENTRY_LIMIT`].
    dropped: usize,
    /// Connections opened since the last [`Recorder::take`].
    opened: u32,
}

impl Log {
    fn push(&mut self, e: WireEntry) {
        if self.entries.len() < WIRE_ENTRY_LIMIT {
            self.entries.push(e);
        } else {
            self.dropped += 1;
        }
    }
}

type SharedLog = Arc<Mutex<Log>>;

fn lock(log: &SharedLog) -> MutexGuard<'_, Log> {
    // A panic while holding the log leaves at worst a partial entry list.
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// A target that records the wire log of everything done through it.
pub struct Recorder<'t> {
    inner: &'t dyn Target,
    log: SharedLog,
}

impl<'t> Recorder<'t> {
    /// Wraps `inner`.
    pub fn new(inner: &'t dyn Target) -> Self {
        Recorder {
            inner,
            log: SharedLog::default(),
        }
    }

    /// A recorder of its own (an empty log) for the same target, for a concurrent worker.
    pub fn sibling_log(&self) -> Recorder<'t> {
        Recorder::new(self.inner)
    }

    /// The entries recorded since the last call (connection numbers start again at 1); when
    /// some were left out, the last entry says how many.
    pub fn take(&self) -> Vec<WireEntry> {
        let mut log = lock(&self.log);
        let mut entries = std::mem::take(&mut log.entries);
        if log.dropped > 0 {
            entries.push(WireEntry {
                conn: 0,
                dir: WireDir::Event,
                summary: format!(
                    "{} more entries not kept (at most {WIRE_ENTRY_LIMIT} per case)",
                    log.dropped
                ),
                hex: String::new(),
                decoded: Vec::new(),
            });
        }
        log.dropped = 0;
        log.opened = 0;
        entries
    }
}

impl Target for Recorder<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn facts(&self) -> TargetFacts {
        self.inner.facts()
    }

    fn connect(&self) -> Result<Box<dyn Connection>, TargetError> {
        let conn = {
            let mut log = lock(&self.log);
            log.opened += 1;
            log.opened
        };
        match self.inner.connect() {
            Ok(c) => {
                let (client, server) = c.addrs().unwrap_or((
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                    SocketAddr::from(([0, 0, 0, 0], 1688)),
                ));
                event(
                    &self.log,
                    conn,
                    format!("connection {conn} opened: {client} -> {server}"),
                    Vec::new(),
                );
                Ok(Box::new(RecordingConnection {
                    inner: c,
                    conn,
                    log: Arc::clone(&self.log),
                    dec: LiveDecoder::new("run", client, server),
                    closed: false,
                }))
            }
            Err(e) => {
                event(&self.log, conn, format!("connect failed: {e}"), Vec::new());
                Err(e)
            }
        }
    }

    fn now(&self) -> FileTime {
        self.inner.now()
    }

    fn reset(&self) -> Result<(), TargetError> {
        self.inner.reset()
    }

    fn rewind(&self) -> Result<(), TargetError> {
        self.inner.rewind()
    }

    fn idle_wait(&self, asked: Duration) -> Duration {
        self.inner.idle_wait(asked)
    }

    fn advance_clock(&self, by: Duration) -> Result<(), TargetError> {
        self.inner.advance_clock(by)
    }
}

fn event(log: &SharedLog, conn: u32, summary: String, decoded: Vec<String>) {
    lock(log).push(WireEntry {
        conn,
        dir: WireDir::Event,
        summary,
        hex: String::new(),
        decoded,
    });
}

/// A connection that notes what goes through it.
struct RecordingConnection {
    inner: Box<dyn Connection>,
    conn: u32,
    log: SharedLog,
    dec: LiveDecoder,
    closed: bool,
}

impl RecordingConnection {
    /// Notes bytes kmsspec writes, one entry per PDU they hold (pipelines, fragments).
    fn note_sent(&mut self, bytes: &[u8], how: &str) {
        let mut rest = bytes;
        let mut first = true;
        while !rest.is_empty() {
            let n = match pdu_length(rest) {
                Ok(Some(n)) if n >= HEADER_LEN && n <= rest.len() => n,
                _ => rest.len(),
            };
            let (piece, tail) = rest.split_at(n);
            rest = tail;
            let mut summary = pdu_summary(piece);
            if first && !how.is_empty() {
                summary.push_str(how);
            }
            first = false;
            let decoded = decoded(|emit| self.dec.client_bytes(piece, &mut { emit }));
            self.push(WireDir::Sent, summary, piece, decoded);
        }
    }

    fn note_received(&mut self, r: &Result<Received, TargetError>) {
        match r {
            Ok(Received::Pdu(b)) => {
                let decoded = decoded(|emit| self.dec.server_bytes(b, &mut { emit }));
                self.push(WireDir::Received, pdu_summary(b), b, decoded);
            }
            Ok(Received::Garbage(b)) => {
                let decoded = decoded(|emit| self.dec.server_bytes(b, &mut { emit }));
                let summary = format!("{} bytes that do not start a DCE/RPC PDU", b.len());
                self.push(WireDir::Received, summary, b, decoded);
            }
            Ok(Received::Silence) => self.note_event("no answer within the read timeout".into()),
            Ok(Received::Closed) => self.note_end("connection closed by the target"),
            Ok(Received::Reset) => self.note_end("connection reset by the target"),
            Err(TargetError::Closed) => self.note_end("connection closed by the target"),
            Err(e @ TargetError::Timeout { .. }) => self.note_event(e.to_string()),
            Err(e) => self.note_end(&e.to_string()),
        }
    }

    fn note_event(&mut self, summary: String) {
        event(&self.log, self.conn, summary, Vec::new());
    }

    /// The connection ended: what the decoder still held (a request without an answer) is
    /// shown with the event.
    fn note_end(&mut self, what: &str) {
        let decoded = decoded(|emit| self.dec.close(&mut { emit }));
        event(
            &self.log,
            self.conn,
            format!("connection {}: {what}", self.conn),
            decoded,
        );
    }

    fn push(&mut self, dir: WireDir, mut summary: String, bytes: &[u8], decoded: Vec<String>) {
        let kept = bytes.get(..WIRE_HEX_LIMIT).unwrap_or(bytes);
        if kept.len() < bytes.len() {
            summary.push_str(&format!(
                " ({} bytes; the first {WIRE_HEX_LIMIT} kept)",
                bytes.len()
            ));
        }
        lock(&self.log).push(WireEntry {
            conn: self.conn,
            dir,
            summary,
            hex: hex(kept),
            decoded,
        });
    }
}

impl Connection for RecordingConnection {
    fn send(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        self.note_sent(bytes, "");
        let r = self.inner.send(bytes);
        if let Err(e) = &r {
            self.note_event(format!("write failed: {e}"));
        }
        r
    }

    fn send_chunked(
        &mut self,
        bytes: &[u8],
        chunk: usize,
        pause: Duration,
    ) -> Result<(), TargetError> {
        let how = format!(
            " (written {chunk} bytes at a time, {} ms apart)",
            pause.as_millis()
        );
        self.note_sent(bytes, &how);
        let r = self.inner.send_chunked(bytes, chunk, pause);
        if let Err(e) = &r {
            self.note_event(format!("write failed: {e}"));
        }
        r
    }

    fn recv(&mut self) -> Result<Received, TargetError> {
        let r = self.inner.recv();
        self.note_received(&r);
        r
    }

    fn recv_within(&mut self, timeout: Duration) -> Result<Received, TargetError> {
        let r = self.inner.recv_within(timeout);
        self.note_received(&r);
        r
    }

    fn close(&mut self) {
        self.inner.close();
        if !self.closed {
            self.closed = true;
            self.note_end("closed by kmsspec");
        }
    }

    fn addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.inner.addrs()
    }
}

impl Drop for RecordingConnection {
    fn drop(&mut self) {
        if !self.closed {
            self.closed = true;
            self.note_end("closed by kmsspec");
        }
    }
}

/// The records `feed` emits, in decode's text form.
fn decoded(feed: impl FnOnce(&mut dyn FnMut(&Record))) -> Vec<String> {
    let mut out = Vec::new();
    feed(&mut |r| out.push(record_text(r).trim_end().to_string()));
    out
}

/// One line naming a PDU and its header fields (or saying why the bytes are not one).
pub fn pdu_summary(bytes: &[u8]) -> String {
    let pdu = match Pdu::parse(bytes) {
        Ok(p) => p,
        Err(e) => return format!("{} bytes, not a well-formed PDU: {e}", bytes.len()),
    };
    let (kind, c, detail) = match &pdu {
        Pdu::Bind(c, b) | Pdu::AlterContext(c, b) => (
            pdu_name(&pdu),
            c,
            format!("{} context(s)", b.contexts.len()),
        ),
        Pdu::BindAck(c, a) | Pdu::AlterContextResp(c, a) => (
            pdu_name(&pdu),
            c,
            format!(
                "{} result(s), assoc group 0x{:08x}",
                a.results.len(),
                a.assoc_group_id
            ),
        ),
        Pdu::BindNak(c, n) => (pdu_name(&pdu), c, format!("reason {}", n.reject_reason)),
        Pdu::Request(c, r) => (
            pdu_name(&pdu),
            c,
            format!(
                "ctx {} opnum {} stub {} bytes",
                r.p_cont_id,
                r.opnum,
                r.stub.len()
            ),
        ),
        Pdu::Response(c, r) => (
            pdu_name(&pdu),
            c,
            format!("ctx {} stub {} bytes", r.p_cont_id, r.stub.len()),
        ),
        Pdu::Fault(c, f) => (
            pdu_name(&pdu),
            c,
            format!("ctx {} status 0x{:08X}", f.p_cont_id, f.status),
        ),
    };
    format!(
        "{kind} call {} flags 0x{:02x}, {} bytes, {detail}",
        c.call_id,
        c.pfc_flags.bits(),
        bytes.len()
    )
}

fn pdu_name(p: &Pdu<'_>) -> &'static str {
    match p {
        Pdu::Bind(..) => "bind",
        Pdu::BindAck(..) => "bind_ack",
        Pdu::BindNak(..) => "bind_nak",
        Pdu::AlterContext(..) => "alter_context",
        Pdu::AlterContextResp(..) => "alter_context_resp",
        Pdu::Request(..) => "request",
        Pdu::Response(..) => "response",
        Pdu::Fault(..) => "fault",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{bind_pdu, context_element, sanity_exchange_with, SplitMix64};
    use crate::target::{EmbeddedConfig, EmbeddedHost};
    use crate::wire::rpc::PfcFlags;

    #[test]
    fn every_pdu_and_event_of_an_exchange_is_recorded_with_its_decoded_form() {
        let host = EmbeddedHost::start(EmbeddedConfig::default()).unwrap();
        let rec = Recorder::new(&host);
        let mut rng = SplitMix64::new(5);
        sanity_exchange_with(&rec, "Windows 10 Enterprise", &mut rng, &mut |_| {}).unwrap();
        let log = rec.take();
        let dirs: Vec<WireDir> = log.iter().map(|e| e.dir).collect();
        assert_eq!(
            dirs,
            [
                WireDir::Event,
                WireDir::Sent,
                WireDir::Received,
                WireDir::Sent,
                WireDir::Received,
                WireDir::Event
            ],
            "{log:#?}"
        );
        assert!(
            log[1].summary.starts_with("bind call 1"),
            "{}",
            log[1].summary
        );
        assert!(log[1].hex.starts_with("05000b03"), "{}", log[1].hex);
        assert!(
            log[2].decoded[0].starts_with("bind "),
            "{:?}",
            log[2].decoded
        );
        assert!(
            log[4].summary.starts_with("response call"),
            "{}",
            log[4].summary
        );
        let exchange = &log[4].decoded[0];
        assert!(exchange.starts_with("exchange "), "{exchange}");
        assert!(exchange.contains("checks"), "{exchange}");
        assert!(!exchange.contains("FAIL"), "{exchange}");
        assert!(rec.take().is_empty(), "take empties the log");
    }

    #[test]
    fn pipelined_pdus_are_one_entry_each_and_the_log_is_bounded() {
        let host = EmbeddedHost::start(EmbeddedConfig::default()).unwrap();
        let rec = Recorder::new(&host);
        let mut c = rec.connect().unwrap();
        let bind = bind_pdu(
            1,
            vec![context_element("ndr32", 0).unwrap()],
            PfcFlags::SINGLE,
            false,
        );
        let mut three = bind.clone();
        three.extend_from_slice(&bind);
        three.extend_from_slice(&[0xde, 0xad]);
        c.send(&three).unwrap();
        drop(c);
        let log = rec.take();
        let sent: Vec<&WireEntry> = log.iter().filter(|e| e.dir == WireDir::Sent).collect();
        assert_eq!(sent.len(), 3, "{log:#?}");
        assert_eq!(sent[2].hex, "dead");
        assert!(sent[2].summary.contains("not a well-formed PDU"));
        assert!(log.last().unwrap().summary.contains("closed by kmsspec"));

        let mut c = rec.connect().unwrap();
        for _ in 0..WIRE_ENTRY_LIMIT + 5 {
            c.send(&bind).unwrap_or(());
        }
        drop(c);
        let log = rec.take();
        assert_eq!(log.len(), WIRE_ENTRY_LIMIT + 1);
        assert!(log.last().unwrap().summary.starts_with("7 more entries"));
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
