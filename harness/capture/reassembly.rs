//! TCP reassembly: a sans-I/O [`FlowTable`] fed parsed segments, emitting ordered byte streams
//! per connection and direction as [`Event`]s, with gaps, overlaps, overflows and closes
//! reported.
//!
//! Memory is bounded by data in flight, never by capture size: out-of-order bytes per direction
//! are capped (overflow → reported, then treated as a gap), the number of tracked connections is
//! capped (oldest idle evicted, reported), and closed or idle connections are flushed and
//! dropped. In-order data is delivered straight from the packet slice, without copying.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use std::net::{IpAddr, SocketAddr};

use super::ip::{DroppedDatagram, IpError};
use super::link::LinkError;
use super::tcp::{TcpError, TcpSegment};

/// Identifies one TCP connection for the life of a capture (port reuse gets a new id).
pub type ConnId = u64;

/// Which way bytes flow in a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → server.
    ToServer,
    /// Server → client.
    ToClient,
}

impl Direction {
    fn idx(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Why a connection stopped being tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent FIN and all data up to them was delivered.
    Fin,
    /// A RST was seen.
    Rst,
    /// A new SYN reused the 5-tuple.
    Reused,
    /// No packet for longer than the idle timeout.
    Idle,
    /// Evicted to respect the connection cap.
    Evicted,
    /// The capture ended with the connection open.
    EndOfCapture,
}

/// Something odd about a packet, reported rather than silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// Capture file damage; nothing after it was read.
    Link(LinkError),
    /// Bad IP header.
    Ip(IpError),
    /// Bad TCP header.
    Tcp(TcpError),
    /// IPv4 fragments that could not be reassembled.
    FragmentsDropped(DroppedDatagram),
    /// A segment overlapping earlier data disagrees with it (the earlier data was kept).
    ConflictingOverlap {
        /// Connection.
        conn: ConnId,
        /// Direction.
        dir: Direction,
        /// Stream offset of the first differing byte range.
        offset: u64,
        /// Length of the overlapping range that differs.
        len: u64,
    },
    /// The packet was cut by the capture's snap length (missing bytes become a gap).
    Snapped,
}

/// What reassembly reports. `Data` borrows the packet (or the reassembly buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A connection is tracked from now on.
    Opened {
        /// Its id.
        conn: ConnId,
        /// Client side (SYN sender when seen).
        client: SocketAddr,
        /// Server side.
        server: SocketAddr,
        /// True when no SYN/SYN-ACK showed who the client is (port 1688 / higher-port guess).
        client_guessed: bool,
        /// Packet that opened it.
        packet_index: u64,
        /// Its timestamp.
        timestamp_ns: u64,
    },
    /// In-order bytes.
    Data {
        /// Connection.
        conn: ConnId,
        /// Direction.
        dir: Direction,
        /// Stream offset of `bytes[0]` (bytes and gaps before it in this direction).
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
        /// Packet whose arrival made them deliverable.
        packet_index: u64,
        /// That packet's timestamp.
        timestamp_ns: u64,
    },
    /// Bytes missing from the capture; the stream continues after them.
    Gap {
        /// Connection.
        conn: ConnId,
        /// Direction.
        dir: Direction,
        /// Stream offset where the hole starts.
        offset: u64,
        /// Bytes missing.
        missing: u64,
        /// Packet being processed when the gap was declared.
        packet_index: u64,
    },
    /// The out-of-order buffer cap was hit; the earliest hole(s) are declared gaps.
    Overflow {
        /// Connection.
        conn: ConnId,
        /// Direction.
        dir: Direction,
        /// Bytes buffered when the cap was hit.
        buffered: usize,
        /// Packet that hit it.
        packet_index: u64,
    },
    /// The connection is no longer tracked; no more events for `conn`.
    Closed {
        /// Connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
        /// Packet being processed.
        packet_index: u64,
    },
    /// A malformed or odd packet.
    Warning {
        /// The packet.
        packet_index: u64,
        /// What.
        warning: Warning,
    },
}

/// Reassembly limits and heuristics.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    /// Most out-of-order bytes buffered per connection direction (at least 64 KiB is used).
    pub max_buffered: usize,
    /// Most connections tracked at once.
    pub max_connections: usize,
    /// A connection idle this long (capture time) is flushed and dropped.
    pub idle_timeout_ns: u64,
    /// Port that marks the server when no SYN was seen.
    pub server_port: u16,
    /// Recently closed 5-tuples remembered so late segments do not reopen them.
    pub max_tombstones: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_buffered: 1024 * 1024,
            max_connections: 65_536,
            idle_timeout_ns: 600 * 1_000_000_000,
            server_port: 1688,
            max_tombstones: 4096,
        }
    }
}

/// Running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Connections opened.
    pub connections: u64,
    /// Bytes delivered as `Data`.
    pub bytes: u64,
    /// `Gap` events.
    pub gaps: u64,
    /// Bytes declared missing.
    pub gap_bytes: u64,
    /// `Overflow` events.
    pub overflows: u64,
    /// Conflicting overlaps.
    pub conflicts: u64,
    /// Segments already delivered (retransmissions), ignored.
    pub retransmissions: u64,
    /// Packets for no tracked connection carrying nothing to open one (stray ACK/FIN/RST, late).
    pub stray: u64,
}

/// One connection's endpoints in a canonical order (so both directions give the same key),
/// as fixed-size integers: cheap to build, compare and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    lo_ip: u128,
    hi_ip: u128,
    lo_port: u16,
    hi_port: u16,
    /// Bit 0: `lo` is IPv6; bit 1: `hi` is IPv6.
    v6: u8,
}

/// An endpoint as (is IPv6, address bits, port): ordered and compared as a tuple.
fn endpoint(ip: IpAddr, port: u16) -> (bool, u128, u16) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(a.to_bits()), port),
        IpAddr::V6(a) => (true, a.to_bits(), port),
    }
}

/// Hashes the addresses and ports in two or three fixed-size writes. Equal keys hash equally;
/// every write is injective in the key's fields, so a keyed hasher stays collision-resistant.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if self.v6 == 0 {
            // Both IPv4: the two 32-bit addresses fit one word.
            h.write_u64((self.lo_ip as u64) << 32 | (self.hi_ip as u64 & 0xffff_ffff));
        } else {
            h.write_u128(self.lo_ip);
            h.write_u128(self.hi_ip);
        }
        h.write_u64(
            u64::from(self.v6) << 32 | u64::from(self.lo_port) << 16 | u64::from(self.hi_port),
        );
    }
}

impl FlowKey {
    /// The key of a segment from `a` to `b`, and whether `a` is the key's `lo` endpoint (always
    /// true when both ends are the same).
    #[inline]
    fn new(a_ip: &IpAddr, a_port: u16, b_ip: &IpAddr, b_port: u16) -> (Self, bool) {
        if let (IpAddr::V4(a), IpAddr::V4(b)) = (a_ip, b_ip) {
            // The common case, in one word per endpoint: `address << 16 | port` orders as the
            // (address, port) tuple does.
            let a = u64::from(a.to_bits()) << 16 | u64::from(a_port);
            let b = u64::from(b.to_bits()) << 16 | u64::from(b_port);
            let a_is_lo = a <= b;
            let (lo, hi) = if a_is_lo { (a, b) } else { (b, a) };
            let key = FlowKey {
                lo_ip: u128::from(lo >> 16),
                hi_ip: u128::from(hi >> 16),
                lo_port: lo as u16,
                hi_port: hi as u16,
                v6: 0,
            };
            return (key, a_is_lo);
        }
        Self::of_endpoints(endpoint(*a_ip, a_port), endpoint(*b_ip, b_port))
    }

    /// [`FlowKey::new`] for any endpoints (as [`endpoint`] gives them).
    fn of_endpoints(a: (bool, u128, u16), b: (bool, u128, u16)) -> (Self, bool) {
        let a_is_lo = a <= b;
        let (lo, hi) = if a_is_lo { (a, b) } else { (b, a) };
        let key = FlowKey {
            lo_ip: lo.1,
            hi_ip: hi.1,
            lo_port: lo.2,
            hi_port: hi.2,
            v6: u8::from(lo.0) | u8::from(hi.0) << 1,
        };
        (key, a_is_lo)
    }

    /// True when both endpoints are the same address and port.
    fn degenerate(&self) -> bool {
        self.lo_ip == self.hi_ip && self.lo_port == self.hi_port && self.v6 & 1 == self.v6 >> 1
    }
}
/// One direction's reassembly state.
#[derive(Default)]
struct Half {
    started: bool,
    /// Sequence number of stream offset 0.
    base: u32,
    /// Next stream offset to deliver.
    next: u64,
    /// Out-of-order pieces by stream offset, non-overlapping.
    pending: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    /// Stream offset of the FIN.
    fin: Option<u64>,
    /// Initial sequence number from a SYN.
    isn: Option<u32>,
}

/// Context for emitting one half's events.
#[derive(Clone, Copy)]
struct Ctx {
    conn: ConnId,
    dir: Direction,
    packet_index: u64,
    timestamp_ns: u64,
}

impl Half {
    fn start_at(&mut self, seq: u32) {
        self.started = true;
        self.base = seq;
        self.next = 0;
    }

    /// Stream offset of `seq`, relative to the next expected byte (may be negative).
    fn offset_of(&self, seq: u32) -> i128 {
        let expected = self.base.wrapping_add(self.next as u32);
        i128::from(self.next) + i128::from(seq.wrapping_sub(expected) as i32)
    }

    fn deliver<F: FnMut(Event<'_>)>(
        &mut self,
        ctx: Ctx,
        bytes: &[u8],
        c: &mut FlowCounters,
        emit: &mut F,
    ) {
        if bytes.is_empty() {
            return;
        }
        c.bytes += bytes.len() as u64;
        emit(Event::Data {
            conn: ctx.conn,
            dir: ctx.dir,
            offset: self.next,
            bytes,
            packet_index: ctx.packet_index,
            timestamp_ns: ctx.timestamp_ns,
        });
        self.next += bytes.len() as u64;
    }

    fn gap<F: FnMut(Event<'_>)>(&mut self, ctx: Ctx, to: u64, c: &mut FlowCounters, emit: &mut F) {
        if to <= self.next {
            return;
        }
        let missing = to - self.next;
        c.gaps += 1;
        c.gap_bytes += missing;
        emit(Event::Gap {
            conn: ctx.conn,
            dir: ctx.dir,
            offset: self.next,
            missing,
            packet_index: ctx.packet_index,
        });
        self.next = to;
    }

    /// Delivers buffered pieces that have become contiguous.
    fn drain<F: FnMut(Event<'_>)>(&mut self, ctx: Ctx, c: &mut FlowCounters, emit: &mut F) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let piece = entry.remove();
            self.buffered = self.buffered.saturating_sub(piece.len());
            let skip = (self.next - start) as usize;
            if let Some(rest) = piece.get(skip..) {
                self.deliver(ctx, rest, c, emit);
            }
        }
    }

    /// Buffers `[start, start+data.len())`, keeping earlier data where pieces overlap.
    fn insert<F: FnMut(Event<'_>)>(
        &mut self,
        ctx: Ctx,
        start: u64,
        data: &[u8],
        c: &mut FlowCounters,
        emit: &mut F,
    ) {
        let end = start + data.len() as u64;
        let mut overlaps: Vec<(u64, u64)> = Vec::new();
        if let Some((&ps, p)) = self.pending.range(..start).next_back() {
            let pe = ps + p.len() as u64;
            if pe > start {
                overlaps.push((ps, pe));
            }
        }
        for (&ps, p) in self.pending.range(start..end) {
            overlaps.push((ps, ps + p.len() as u64));
        }
        let mut cursor = start;
        for (ps, pe) in overlaps {
            if cursor < ps {
                self.put(cursor, data, start, ps);
            }
            // Compare the overlapping bytes: first data wins, differences are reported.
            let (os, oe) = (cursor.max(ps), end.min(pe));
            if os < oe {
                let old = self
                    .pending
                    .get(&ps)
                    .and_then(|p| p.get((os - ps) as usize..(oe - ps) as usize));
                let new = data.get((os - start) as usize..(oe - start) as usize);
                if old != new {
                    c.conflicts += 1;
                    emit(Event::Warning {
                        packet_index: ctx.packet_index,
                        warning: Warning::ConflictingOverlap {
                            conn: ctx.conn,
                            dir: ctx.dir,
                            offset: os,
                            len: oe - os,
                        },
                    });
                }
            }
            cursor = cursor.max(pe);
        }
        if cursor < end {
            self.put(cursor, data, start, end);
        }
    }

    fn put(&mut self, from: u64, data: &[u8], data_start: u64, to: u64) {
        if let Some(piece) = data.get((from - data_start) as usize..(to - data_start) as usize) {
            self.buffered += piece.len();
            self.pending.insert(from, piece.to_vec());
        }
    }

    /// Handles one segment's payload (and FIN) in this direction.
    #[allow(clippy::too_many_arguments)]
    fn segment<F: FnMut(Event<'_>)>(
        &mut self,
        ctx: Ctx,
        seq: u32,
        payload: &[u8],
        fin: bool,
        cap: usize,
        c: &mut FlowCounters,
        emit: &mut F,
    ) {
        if !self.started {
            if payload.is_empty() && !fin {
                return;
            }
            self.start_at(seq);
        }
        let rel = self.offset_of(seq);
        // Bytes before stream offset 0 (or long delivered) are dropped from the front.
        let (start, data) = if rel < 0 {
            let skip = usize::try_from(-rel).unwrap_or(usize::MAX);
            (0u64, payload.get(skip..).unwrap_or(&[]))
        } else {
            (rel as u64, payload)
        };
        let end = start + data.len() as u64;
        if fin && self.fin.is_none() && rel >= 0 {
            self.fin = Some(end);
        }
        if data.is_empty() {
            if !payload.is_empty() {
                c.retransmissions += 1;
            }
            return;
        }
        if end <= self.next {
            c.retransmissions += 1;
            return;
        }
        let pending_before_end = self
            .pending
            .first_key_value()
            .is_some_and(|(&k, _)| k < end);
        if start <= self.next && !pending_before_end {
            // Fast path: contiguous and nothing buffered in the way: deliver from the packet.
            let skip = (self.next - start) as usize;
            self.deliver(ctx, data.get(skip..).unwrap_or(&[]), c, emit);
            // Usually nothing is buffered: skip the call.
            if !self.pending.is_empty() {
                self.drain(ctx, c, emit);
            }
            return;
        }
        self.insert(ctx, start, data, c, emit);
        self.drain(ctx, c, emit);
        if self.buffered > cap {
            c.overflows += 1;
            emit(Event::Overflow {
                conn: ctx.conn,
                dir: ctx.dir,
                buffered: self.buffered,
                packet_index: ctx.packet_index,
            });
            while self.buffered > cap {
                let Some(&first) = self.pending.keys().next() else {
                    break;
                };
                self.gap(ctx, first, c, emit);
                self.drain(ctx, c, emit);
            }
        }
    }

    /// Delivers everything buffered, declaring holes (and a missing tail before FIN) gaps.
    fn flush<F: FnMut(Event<'_>)>(&mut self, ctx: Ctx, c: &mut FlowCounters, emit: &mut F) {
        while let Some(&first) = self.pending.keys().next() {
            self.gap(ctx, first, c, emit);
            self.drain(ctx, c, emit);
        }
        if let Some(fin) = self.fin {
            self.gap(ctx, fin, c, emit);
        }
    }

    fn finished(&self) -> bool {
        self.fin.is_some_and(|f| self.next >= f)
    }
}

struct Conn {
    id: ConnId,
    /// The client is the key's `lo` endpoint.
    client_is_lo: bool,
    halves: [Half; 2],
    last_ns: u64,
    last_packet: u64,
}

impl Conn {
    /// Feeds one segment (`from_is_lo`: it comes from the key's `lo` endpoint); true when both
    /// directions are finished.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn feed<F: FnMut(Event<'_>)>(
        &mut self,
        from_is_lo: bool,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        timestamp_ns: u64,
        cap: usize,
        counters: &mut FlowCounters,
        emit: &mut F,
    ) -> bool {
        self.last_ns = self.last_ns.max(timestamp_ns);
        self.last_packet = packet_index;
        let dir = if from_is_lo == self.client_is_lo {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let ctx = Ctx {
            conn: self.id,
            dir,
            packet_index,
            timestamp_ns,
        };
        let half = &mut self.halves[dir.idx()];
        let seq = if seg.syn {
            if half.isn.is_none() && !half.started {
                half.isn = Some(seg.seq);
                half.start_at(seg.seq.wrapping_add(1));
            }
            // SYN payload (TCP fast open) starts after the SYN's sequence number.
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        half.segment(ctx, seq, seg.payload, seg.fin, cap, counters, emit);
        self.halves.iter().all(Half::finished)
    }
}

/// A table entry: a tracked connection (its index in the connection slab), or a tombstone (a
/// recently closed 5-tuple, so late segments do not reopen it). One table for both means one
/// lookup per packet; small entries keep the table cache-friendly.
struct Slot {
    key: FlowKey,
    /// `key`'s hash, kept so the table never rehashes keys when it grows.
    hash: u64,
    /// Index into [`FlowTable::conns`], or [`TOMBSTONE`].
    conn: usize,
    /// Number of the key's latest tombstoning close, or [`NO_CLOSE`]; kept while the key is
    /// tracked again, so its next close knows its earlier ones.
    last_close: u64,
    /// The key's earliest close among the `max_tombstones` closes up to `last_close`: the
    /// tombstone lasts until `max_tombstones` closes have followed that one (see
    /// [`FlowTable::tombstone_live`]).
    first_close: u64,
}

/// [`Slot::conn`] of a tombstone.
const TOMBSTONE: usize = usize::MAX;

/// No close (in [`Slot::last_close`] and [`FlowTable::next_close`]).
const NO_CLOSE: u64 = u64::MAX;

/// Fewest tombstoning closes between sweeps of expired tombstones out of the table.
const MIN_SWEEP_EVERY: u64 = 64;

/// A tracked connection with its key, as stored in the slab.
struct Tracked {
    key: FlowKey,
    hash: u64,
    conn: Conn,
}

/// Where close `c` sits in [`FlowTable::next_close`] (a ring of `2 × window` closes).
fn ring_index(c: u64, window: u64) -> Option<usize> {
    usize::try_from(c % window.saturating_mul(2).max(1)).ok()
}

/// How many tombstoning closes go between sweeps of expired tombstones: the table then holds
/// at most about 1.25 × `max_tombstones` of them (few enough to keep the table the size the
/// eager removal gave it), and each sweep is paid over many closes.
fn window_sweep(max_tombstones: usize) -> u64 {
    (max_tombstones as u64 / 4).max(MIN_SWEEP_EVERY)
}

/// The flow table's hasher: foldhash, keyed with a per-process random seed, so a capture
/// crafted to collide cannot degrade the table (SipHash was ~7 % of decode time). Each key is
/// hashed once per packet.
type FlowHasher = foldhash::fast::RandomState;

/// The reassembly state machine: feed it TCP segments, get [`Event`]s.
pub struct FlowTable {
    cfg: FlowConfig,
    hasher: FlowHasher,
    /// Tracked connections and tombstones, by key.
    slots: HashTable<Slot>,
    /// Tracked connections; freed entries are reused (most recently freed first, still warm in
    /// cache), so the slab never outgrows the peak number tracked at once.
    conns: Vec<Option<Tracked>>,
    /// Free indices in `conns`.
    free: Vec<usize>,
    /// Tracked connections.
    live: usize,
    /// The last connection looked up (key, hash, slab index): packets mostly come in runs of
    /// one connection, and this skips hashing and the table (often a cache miss) for them.
    /// Cleared when that connection closes.
    last: Option<(FlowKey, u64, usize)>,
    /// Tombstoning closes so far; a close's number is the count before it.
    closes: u64,
    /// For each of the last `2 × max_tombstones` closes (at its number modulo that): the number
    /// of the same key's next close, or [`NO_CLOSE`]. A close walks these forward from its
    /// key's previous `first_close` to find its own (each link crossed once per key).
    next_close: Vec<u64>,
    next_id: ConnId,
    counters: FlowCounters,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::new(FlowConfig::default())
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg: FlowConfig {
                max_buffered: cfg.max_buffered.max(65_536),
                max_connections: cfg.max_connections.max(1),
                ..cfg
            },
            hasher: FlowHasher::default(),
            slots: HashTable::new(),
            conns: Vec::new(),
            free: Vec::new(),
            live: 0,
            last: None,
            closes: 0,
            next_close: Vec::new(),
            next_id: 0,
            counters: FlowCounters::default(),
        }
    }

    /// Running totals.
    pub fn counters(&self) -> FlowCounters {
        self.counters
    }

    /// Connections currently tracked.
    pub fn tracked(&self) -> usize {
        self.live
    }

    /// Feeds one TCP segment from `src` to `dst` seen in packet `packet_index`.
    #[inline]
    pub fn segment<F: FnMut(Event<'_>)>(
        &mut self,
        src: &IpAddr,
        dst: &IpAddr,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        timestamp_ns: u64,
        emit: &mut F,
    ) {
        let (key, from_is_lo) = FlowKey::new(src, seg.src_port, dst, seg.dst_port);
        let fresh_syn = seg.syn && !seg.ack;
        let cap = self.cfg.max_buffered;
        // One lookup for "tracked, and not reused by this SYN" (the common case).
        let (hash, found) = match self.last {
            Some((k, h, i)) if k == key => (h, Some(i)),
            _ => {
                let hash = self.hasher.hash_one(key);
                let found = self
                    .slots
                    .find(hash, |s| s.key == key)
                    .map(|s| (s.conn, s.first_close))
                    .and_then(|(conn, first)| {
                        // An expired tombstone (swept out later) counts as absent.
                        (conn != TOMBSTONE || self.tombstone_live(first)).then_some(conn)
                    });
                if let Some(i) = found.filter(|&i| i != TOMBSTONE) {
                    self.last = Some((key, hash, i));
                }
                (hash, found)
            }
        };
        let tombstoned = found == Some(TOMBSTONE);
        // Whether `found` is a tracked connection, and this SYN reuses its 5-tuple.
        let tracked = found
            .and_then(|i| self.conns.get(i))
            .and_then(Option::as_ref)
            .map(|t| {
                fresh_syn
                    && (from_is_lo != t.conn.client_is_lo
                        || t.conn.halves[0].isn.is_some_and(|isn| isn != seg.seq))
            });
        let index = match (found, tracked) {
            (Some(i), Some(false)) => i,
            (_, reused) => {
                if reused == Some(true) {
                    self.close(hash, key, CloseReason::Reused, packet_index, emit);
                }
                // Not tracked (or just closed by a reusing SYN).
                if !seg.syn && (tombstoned || seg.payload.is_empty()) {
                    self.counters.stray += 1;
                    return;
                }
                let from = SocketAddr::new(*src, seg.src_port);
                let to = SocketAddr::new(*dst, seg.dst_port);
                self.open(
                    hash,
                    key,
                    from_is_lo,
                    from,
                    to,
                    seg,
                    packet_index,
                    timestamp_ns,
                    emit,
                )
            }
        };
        // One call site for tracked and new connections, so feeding is inlined here.
        let Some(t) = self.conns.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let done = t.conn.feed(
            from_is_lo,
            seg,
            packet_index,
            timestamp_ns,
            cap,
            &mut self.counters,
            emit,
        );
        self.after_feed(hash, key, seg.rst, done, packet_index, emit);
    }

    /// Closes a connection after a segment: on RST, or once both sides' FINs are delivered.
    #[inline]
    fn after_feed<F: FnMut(Event<'_>)>(
        &mut self,
        hash: u64,
        key: FlowKey,
        rst: bool,
        done: bool,
        packet_index: u64,
        emit: &mut F,
    ) {
        if rst {
            self.close(hash, key, CloseReason::Rst, packet_index, emit);
        } else if done {
            self.close(hash, key, CloseReason::Fin, packet_index, emit);
        }
    }

    /// Starts tracking `key` (replacing its tombstone, if any) with `seg` as its first segment
    /// (not fed yet); returns its index in the slab.
    #[allow(clippy::too_many_arguments)]
    fn open<F: FnMut(Event<'_>)>(
        &mut self,
        hash: u64,
        key: FlowKey,
        from_is_lo: bool,
        from: SocketAddr,
        to: SocketAddr,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        timestamp_ns: u64,
        emit: &mut F,
    ) -> usize {
        if self.live >= self.cfg.max_connections {
            let oldest = self
                .conns
                .iter()
                .flatten()
                .min_by_key(|t| (t.conn.last_packet, t.conn.id))
                .map(|t| (t.hash, t.key));
            if let Some((h, k)) = oldest {
                self.close(h, k, CloseReason::Evicted, packet_index, emit);
            }
        }
        let (client, server, client_guessed) = if seg.syn && !seg.ack {
            (from, to, false)
        } else if seg.syn {
            (to, from, false)
        } else if to.port() == self.cfg.server_port {
            (from, to, true)
        } else if from.port() == self.cfg.server_port || from.port() < to.port() {
            (to, from, true)
        } else {
            (from, to, true)
        };
        // When both ends are the same, every segment counts as coming from the client.
        let client_is_lo = key.degenerate() || (client == from) == from_is_lo;
        let id = self.next_id;
        self.next_id += 1;
        self.counters.connections += 1;
        self.live += 1;
        emit(Event::Opened {
            conn: id,
            client,
            server,
            client_guessed,
            packet_index,
            timestamp_ns,
        });
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        match self.slots.entry(hash, |s| s.key == key, |s: &Slot| s.hash) {
            Entry::Occupied(mut e) => e.get_mut().conn = index,
            Entry::Vacant(e) => {
                e.insert(Slot {
                    key,
                    hash,
                    conn: index,
                    last_close: NO_CLOSE,
                    first_close: NO_CLOSE,
                });
            }
        }
        if let Some(slab) = self.conns.get_mut(index) {
            // Built in its slot (the state is large).
            *slab = Some(Tracked {
                key,
                hash,
                conn: Conn {
                    id,
                    client_is_lo,
                    halves: [Half::default(), Half::default()],
                    last_ns: timestamp_ns,
                    last_packet: packet_index,
                },
            });
        }
        self.last = Some((key, hash, index));
        index
    }

    fn close<F: FnMut(Event<'_>)>(
        &mut self,
        hash: u64,
        key: FlowKey,
        reason: CloseReason,
        packet_index: u64,
        emit: &mut F,
    ) {
        let tombstone = self.cfg.max_tombstones > 0 && reason != CloseReason::EndOfCapture;
        let Ok(mut entry) = self.slots.find_entry(hash, |s| s.key == key) else {
            return;
        };
        let index = entry.get().conn;
        let Some(slab) = self.conns.get_mut(index) else {
            return;
        };
        // Flushed in place, then dropped there: taking the (large) state out first copied it.
        let Some(Tracked { conn, .. }) = slab.as_mut() else {
            return;
        };
        for dir in [Direction::ToServer, Direction::ToClient] {
            let ctx = Ctx {
                conn: conn.id,
                dir,
                packet_index,
                timestamp_ns: conn.last_ns,
            };
            conn.halves[dir.idx()].flush(ctx, &mut self.counters, emit);
        }
        let id = conn.id;
        *slab = None;
        self.free.push(index);
        if self.last.is_some_and(|(_, _, i)| i == index) {
            self.last = None;
        }
        if tombstone {
            let slot = entry.get_mut();
            let m = self.closes;
            let window = self.cfg.max_tombstones as u64;
            let p = slot.last_close;
            let recent = p != NO_CLOSE && p.saturating_add(window) > m;
            slot.first_close = if recent {
                Self::first_in_window(&self.next_close, window, slot.first_close, m)
            } else {
                m
            };
            slot.last_close = m;
            slot.conn = TOMBSTONE;
            if recent {
                Self::set_next_close(&mut self.next_close, window, p, m);
            }
            Self::set_next_close(&mut self.next_close, window, m, NO_CLOSE);
            self.closes += 1;
        } else {
            entry.remove();
        }
        self.live -= 1;
        emit(Event::Closed {
            conn: id,
            reason,
            packet_index,
        });
        if tombstone && self.closes % window_sweep(self.cfg.max_tombstones) == 0 {
            let (closes, window) = (self.closes, self.cfg.max_tombstones as u64);
            // Expired, and too old to matter to a later close of the same key.
            self.slots
                .retain(|s| s.conn != TOMBSTONE || s.last_close.saturating_add(window) >= closes);
        }
    }

    /// Whether a tombstone whose `first_close` is `first` still holds. The rule: each
    /// tombstoning close joins a window of the last `max_tombstones` closes, and a close
    /// leaving the window ends its key's tombstone (if the key is one then). So a tombstone
    /// set at close `m` ends when its key's earliest close in the window at `m` leaves it.
    #[inline]
    fn tombstone_live(&self, first: u64) -> bool {
        self.closes <= first.saturating_add(self.cfg.max_tombstones as u64)
    }

    /// The key's earliest close in the window at close `m`, given its earliest in the window
    /// at its previous close (which is still in the window at `m`): follow the key's
    /// next-close links past the closes that have left the window.
    fn first_in_window(next_close: &[u64], window: u64, first: u64, m: u64) -> u64 {
        let mut f = first;
        while f.saturating_add(window) <= m {
            let next = ring_index(f, window)
                .and_then(|i| next_close.get(i))
                .copied();
            match next {
                Some(n) if n != NO_CLOSE && n > f && n < m => f = n,
                _ => return m,
            }
        }
        f
    }

    /// Records `next` as the next close of the key closed at close `c`.
    fn set_next_close(next_close: &mut Vec<u64>, window: u64, c: u64, next: u64) {
        let Some(i) = ring_index(c, window) else {
            return;
        };
        if i == next_close.len() {
            next_close.push(next);
        } else if let Some(x) = next_close.get_mut(i) {
            *x = next;
        }
    }

    /// Tracked connections matching `pick`, as (id, hash, key) in id order.
    fn live_in_id_order(&self, pick: impl Fn(&Conn) -> bool) -> Vec<(ConnId, u64, FlowKey)> {
        let mut v: Vec<(ConnId, u64, FlowKey)> = self
            .conns
            .iter()
            .flatten()
            .filter(|t| pick(&t.conn))
            .map(|t| (t.conn.id, t.hash, t.key))
            .collect();
        v.sort_unstable_by_key(|(id, _, _)| *id);
        v
    }

    /// Flushes and drops connections idle longer than the timeout as of `now_ns`.
    pub fn expire_idle<F: FnMut(Event<'_>)>(
        &mut self,
        now_ns: u64,
        packet_index: u64,
        emit: &mut F,
    ) {
        let timeout = self.cfg.idle_timeout_ns;
        let idle = self.live_in_id_order(|c| now_ns.saturating_sub(c.last_ns) > timeout);
        for (_, h, k) in idle {
            self.close(h, k, CloseReason::Idle, packet_index, emit);
        }
    }

    /// End of input: flushes every connection (in id order) with `EndOfCapture`.
    pub fn finish<F: FnMut(Event<'_>)>(&mut self, packet_index: u64, emit: &mut F) {
        for (_, h, k) in self.live_in_id_order(|_| true) {
            self.close(h, k, CloseReason::EndOfCapture, packet_index, emit);
        }
        self.slots.clear();
        self.last = None;
        self.conns.clear();
        self.free.clear();
        self.closes = 0;
        self.next_close.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_key_orders_as_the_general_one() {
        let addrs = [
            ("10.0.0.1", 1688),
            ("10.0.0.1", 49152),
            ("10.0.0.2", 1),
            ("9.255.255.255", 65535),
            ("255.255.255.255", 0),
            ("0.0.0.0", 65535),
        ];
        for (a, ap) in addrs {
            for (b, bp) in addrs {
                let (a, b): (IpAddr, IpAddr) = (a.parse().unwrap(), b.parse().unwrap());
                let fast = FlowKey::new(&a, ap, &b, bp);
                let general = FlowKey::of_endpoints(endpoint(a, ap), endpoint(b, bp));
                assert_eq!(fast, general, "{a}:{ap} -> {b}:{bp}");
            }
        }
    }
}
