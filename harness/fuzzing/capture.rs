//! Capture ingestion target: pcap/pcapng bytes through the whole pipeline.

use crate::capture::{
    read_capture_from, CaptureReader, ConnId, Direction, Event, FlowConfig, Summary,
};
use std::collections::{HashMap, HashSet};

/// Event totals and per-stream state, built from the events alone.
#[derive(Default)]
struct Tally {
    opened: HashSet<ConnId>,
    closed: HashSet<ConnId>,
    next: HashMap<(ConnId, bool), u64>,
    connections: u64,
    bytes: u64,
    gaps: u64,
    gap_bytes: u64,
    overflows: u64,
}

impl Tally {
    fn live(&self, conn: ConnId) {
        assert!(
            self.opened.contains(&conn),
            "event for connection {conn} never opened"
        );
        assert!(
            !self.closed.contains(&conn),
            "event for connection {conn} after Closed"
        );
    }

    /// Checks a Data/Gap event continues its stream exactly where the last one stopped.
    fn advance(&mut self, conn: ConnId, dir: Direction, offset: u64, len: u64) {
        self.live(conn);
        let next = self
            .next
            .entry((conn, dir == Direction::ToServer))
            .or_insert(0);
        assert_eq!(
            offset, *next,
            "stream offsets not contiguous on {conn} {dir:?}"
        );
        *next = offset + len;
    }

    fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::Opened { conn, .. } => {
                assert!(self.opened.insert(conn), "connection {conn} opened twice");
                self.connections += 1;
            }
            Event::Data {
                conn,
                dir,
                offset,
                bytes,
                ..
            } => {
                assert!(!bytes.is_empty(), "empty Data event");
                self.advance(conn, dir, offset, bytes.len() as u64);
                self.bytes += bytes.len() as u64;
            }
            Event::Gap {
                conn,
                dir,
                offset,
                missing,
                ..
            } => {
                assert!(missing > 0, "empty Gap event");
                self.advance(conn, dir, offset, missing);
                self.gaps += 1;
                self.gap_bytes += missing;
            }
            Event::Overflow { conn, .. } => {
                self.live(conn);
                self.overflows += 1;
            }
            Event::Closed { conn, .. } => {
                self.live(conn);
                self.closed.insert(conn);
            }
            Event::Warning { .. } => {}
        }
    }

    fn check(&self, s: &Summary, input_len: usize) {
        assert_eq!(
            s.flows.connections, self.connections,
            "connections ≠ Opened events"
        );
        assert_eq!(s.flows.bytes, self.bytes, "bytes ≠ Data bytes");
        assert_eq!(s.flows.gaps, self.gaps, "gaps ≠ Gap events");
        assert_eq!(s.flows.gap_bytes, self.gap_bytes, "gap_bytes ≠ Gap bytes");
        assert_eq!(
            s.flows.overflows, self.overflows,
            "overflows ≠ Overflow events"
        );
        assert_eq!(
            self.opened, self.closed,
            "a connection was left open at the end"
        );
        assert!(
            s.captured_bytes <= input_len as u64,
            "more bytes captured than read"
        );
        assert!(
            s.packets.saturating_mul(16) <= input_len as u64,
            "too many packets"
        );
        assert!(
            s.non_ip + s.non_tcp + s.malformed <= s.packets,
            "more packets classified than read: {s:?}"
        );
    }
}

/// `capture`: [`read_capture_from`] over the input as a capture file (small flow limits so the
/// caps are reached). It must terminate; the summary must equal what the events show
/// (connections, data bytes, gaps, overflows), every stream's Data/Gap offsets must be
/// contiguous, no event may follow a connection's `Closed`, and every opened connection is
/// closed by the end — also when the capture is damaged part-way.
pub fn fuzz_capture(data: &[u8]) {
    let cfg = FlowConfig {
        max_buffered: 64 * 1024,
        max_connections: 8,
        idle_timeout_ns: 60 * 1_000_000_000,
        server_port: 1688,
        max_tombstones: 8,
    };
    let mut tally = Tally::default();
    // `read_capture` is open + `read_capture_from`; a file that does not open has no events.
    let summary = match CaptureReader::for_bytes(data) {
        Ok(reader) => match read_capture_from(reader, cfg, |ev| tally.event(ev)) {
            Ok(s) => s,
            Err(f) => *f.summary,
        },
        Err(_) => Summary::default(),
    };
    tally.check(&summary, data.len());
}
