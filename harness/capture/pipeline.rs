//! Ties the layers together: packets → link → IP (with IPv4 defragmentation) → TCP →
//! [`FlowTable`], with summary counters. [`Pipeline`] is sans-I/O (feed it [`PacketRef`]s);
//! [`read_capture`] drives it from any `std::io::Read`.

use std::io::Read;

use super::ip::{
    parse_ipv4, parse_ipv6, DefragConfig, DefragOutcome, Defragmenter, DroppedDatagram, IpParsed,
    PROTO_TCP,
};
use super::link::{network_layer, Network};
use super::reader::{CaptureError, CaptureReader, PacketRef};
use super::reassembly::{Event, FlowConfig, FlowCounters, FlowTable, Warning};
use super::tcp::parse_tcp;
use std::net::IpAddr;

/// How often (in packets) idle connections are looked for.
const IDLE_SCAN_EVERY: u64 = 4096;

/// Totals for one capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes in those packets.
    pub captured_bytes: u64,
    /// Packets that were not IP (ARP, …).
    pub non_ip: u64,
    /// IP packets that were not TCP.
    pub non_tcp: u64,
    /// Packets whose link, IP or TCP header was malformed.
    pub malformed: u64,
    /// IPv4 datagrams reassembled from fragments.
    pub defragmented: u64,
    /// IPv4 datagrams whose fragments were given up on.
    pub fragments_dropped: u64,
    /// Reassembly totals (connections, bytes, gaps, …).
    pub flows: FlowCounters,
}

/// A capture that broke part-way: everything before the damage was delivered and flushed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ReadFailure {
    /// What broke, and where.
    pub error: CaptureError,
    /// Totals up to the damage (boxed to keep the error small).
    pub summary: Box<Summary>,
}

/// Packets → events, sans I/O.
pub struct Pipeline {
    flows: FlowTable,
    defrag: Defragmenter,
    summary: Summary,
    dropped: Vec<DroppedDatagram>,
    last_index: u64,
    last_ns: u64,
}

impl Pipeline {
    /// A pipeline with the given reassembly limits and default defragmentation limits.
    pub fn new(cfg: FlowConfig) -> Self {
        Self::with_defrag(cfg, DefragConfig::default())
    }

    /// A pipeline with explicit limits.
    pub fn with_defrag(cfg: FlowConfig, defrag: DefragConfig) -> Self {
        Pipeline {
            flows: FlowTable::new(cfg),
            defrag: Defragmenter::new(defrag),
            summary: Summary::default(),
            dropped: Vec::new(),
            last_index: 0,
            last_ns: 0,
        }
    }

    /// Totals so far.
    pub fn summary(&self) -> Summary {
        Summary {
            flows: self.flows.counters(),
            ..self.summary
        }
    }

    fn warn<F: FnMut(Event<'_>)>(&mut self, packet_index: u64, warning: Warning, emit: &mut F) {
        self.summary.malformed += 1;
        emit(Event::Warning {
            packet_index,
            warning,
        });
    }

    fn report_dropped<F: FnMut(Event<'_>)>(&mut self, packet_index: u64, emit: &mut F) {
        for d in self.dropped.drain(..) {
            self.summary.fragments_dropped += 1;
            emit(Event::Warning {
                packet_index,
                warning: Warning::FragmentsDropped(d),
            });
        }
    }

    /// Feeds one captured packet.
    pub fn packet<F: FnMut(Event<'_>)>(&mut self, pkt: &PacketRef<'_>, emit: &mut F) {
        let idx = pkt.index;
        self.summary.packets += 1;
        self.summary.captured_bytes += pkt.data.len() as u64;
        self.last_index = idx;
        self.last_ns = self.last_ns.max(pkt.timestamp_ns);
        if idx % IDLE_SCAN_EVERY == 0 && idx > 0 {
            self.flows.expire_idle(self.last_ns, idx, emit);
        }
        let net = match network_layer(pkt.link_type, pkt.data) {
            Ok(n) => n,
            Err(e) => return self.warn(idx, Warning::Link(e), emit),
        };
        let parsed = match net {
            Network::Ipv4(d) => parse_ipv4(d),
            Network::Ipv6(d) => parse_ipv6(d),
            Network::Other { .. } => {
                self.summary.non_ip += 1;
                return;
            }
        };
        // A reassembled datagram's addresses and bytes (they outlive the match below).
        let defragmented: (IpAddr, IpAddr, Vec<u8>);
        // Addresses by reference: copying a whole `IpAddr` that was written as IPv4 (a tag
        // and four bytes) stalled on store forwarding.
        let (src, dst, payload) = match &parsed {
            Ok(IpParsed::Packet(ip)) => {
                if ip.protocol != PROTO_TCP {
                    self.summary.non_tcp += 1;
                    return;
                }
                if ip.snapped {
                    emit(Event::Warning {
                        packet_index: idx,
                        warning: Warning::Snapped,
                    });
                }
                (&ip.src, &ip.dst, ip.payload)
            }
            Ok(IpParsed::Fragment(f)) => {
                if f.protocol != PROTO_TCP {
                    self.summary.non_tcp += 1;
                    return;
                }
                let outcome = self.defrag.push(f, idx, &mut self.dropped);
                self.report_dropped(idx, emit);
                let DefragOutcome::Complete {
                    src, dst, payload, ..
                } = outcome
                else {
                    return;
                };
                self.summary.defragmented += 1;
                defragmented = (IpAddr::V4(src), IpAddr::V4(dst), payload);
                (&defragmented.0, &defragmented.1, &defragmented.2[..])
            }
            Err(e) => return self.warn(idx, Warning::Ip(e.clone()), emit),
        };
        // One call site for both paths, so the TCP and reassembly step is inlined here.
        match parse_tcp(payload) {
            Ok(seg) => self
                .flows
                .segment(src, dst, &seg, idx, pkt.timestamp_ns, emit),
            Err(e) => self.warn(idx, Warning::Tcp(e), emit),
        }
    }

    /// End of input: reports incomplete fragments, flushes and closes every connection.
    pub fn finish<F: FnMut(Event<'_>)>(&mut self, emit: &mut F) -> Summary {
        self.defrag.drain(&mut self.dropped);
        let idx = self.last_index;
        self.report_dropped(idx, emit);
        self.flows.finish(idx, emit);
        self.summary()
    }
}

/// Reads a whole capture, calling `on_event` for every event, and returns the totals. A file
/// that is not a capture fails at once; a damaged one delivers (and flushes) everything before
/// the damage, then fails with the error and the totals so far.
pub fn read_capture<R: Read, F: FnMut(Event<'_>)>(
    reader: R,
    cfg: FlowConfig,
    on_event: F,
) -> Result<Summary, ReadFailure> {
    let r = CaptureReader::new(reader).map_err(|error| ReadFailure {
        error,
        summary: Box::default(),
    })?;
    read_capture_from(r, cfg, on_event)
}

/// [`read_capture`] over an opened reader, e.g. [`CaptureReader::for_bytes`] for an input
/// already in memory (the fuzz targets).
pub fn read_capture_from<F: FnMut(Event<'_>)>(
    mut r: CaptureReader<'_>,
    cfg: FlowConfig,
    mut on_event: F,
) -> Result<Summary, ReadFailure> {
    let mut p = Pipeline::new(cfg);
    let mut failure = None;
    while let Some(next) = r.next_packet() {
        match next {
            Ok(pkt) => p.packet(&pkt, &mut on_event),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let summary = p.finish(&mut on_event);
    match failure {
        Some(error) => Err(ReadFailure {
            error,
            summary: Box::new(summary),
        }),
        None => Ok(summary),
    }
}
