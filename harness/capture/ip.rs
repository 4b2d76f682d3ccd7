//! Network layer: IPv4 and IPv6 header views (via `etherparse`), and a bounded IPv4
//! defragmenter. Fragments are reassembled or reported, never silently lost.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{Ipv4HeaderSlice, Ipv6ExtensionsSlice, Ipv6HeaderSlice};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;

/// An unfragmented IP packet (or a reassembled one, when `payload` is owned elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// Upper-layer bytes, trimmed to the IP length (link padding removed).
    pub payload: &'a [u8],
    /// True when the capture holds fewer bytes than the IP length says (snap length).
    pub snapped: bool,
}

/// One IPv4 fragment awaiting reassembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Fragment<'a> {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// IP identification shared by the datagram's fragments.
    pub id: u16,
    /// Byte offset of this fragment in the datagram.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Fragment bytes.
    pub payload: &'a [u8],
}

/// Result of parsing an IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpParsed<'a> {
    /// A whole packet.
    Packet(IpPacket<'a>),
    /// An IPv4 fragment: feed it to a [`Defragmenter`].
    Fragment(Ipv4Fragment<'a>),
}

/// Why an IP header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    /// Header malformed or cut short (etherparse's explanation).
    #[error("bad {version} header: {reason}")]
    BadHeader {
        /// "IPv4" or "IPv6".
        version: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// IPv4 total length shorter than its own header.
    #[error("IPv4 total length {total} is shorter than the {header}-byte header")]
    BadTotalLength {
        /// The total length field.
        total: u16,
        /// The header length.
        header: usize,
    },
    /// IPv6 fragments are reported, not reassembled.
    #[error("IPv6 fragment (not reassembled)")]
    Ipv6Fragment,
}

/// Parses an IPv4 packet. The common case (a well-formed header) is read inline; anything
/// else goes through `etherparse` for its error.
#[inline]
pub fn parse_ipv4(d: &[u8]) -> Result<IpParsed<'_>, IpError> {
    if let Some(&h) = d.first_chunk::<20>() {
        let (version, ihl) = (h[0] >> 4, h[0] & 0x0f);
        let header = usize::from(ihl) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if version == 4 && ihl >= 5 && d.len() >= header && total >= header {
            let payload = d.get(header..total.min(d.len())).unwrap_or(&[]);
            let flags_offset = u16::from_be_bytes([h[6], h[7]]);
            let more = flags_offset & 0x2000 != 0;
            let offset = u32::from(flags_offset & 0x1fff) * 8;
            let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
            if more || offset != 0 {
                return Ok(IpParsed::Fragment(Ipv4Fragment {
                    src,
                    dst,
                    protocol: h[9],
                    id: u16::from_be_bytes([h[4], h[5]]),
                    offset,
                    more,
                    payload,
                }));
            }
            return Ok(IpParsed::Packet(IpPacket {
                src: IpAddr::V4(src),
                dst: IpAddr::V4(dst),
                protocol: h[9],
                payload,
                snapped: d.len() < total,
            }));
        }
    }
    parse_ipv4_checked(d)
}

/// [`parse_ipv4`] through `etherparse` (malformed headers: its explanation is the error).
#[cold]
#[inline(never)]
fn parse_ipv4_checked(d: &[u8]) -> Result<IpParsed<'_>, IpError> {
    let h = Ipv4HeaderSlice::from_slice(d).map_err(|e| IpError::BadHeader {
        version: "IPv4",
        reason: e.to_string(),
    })?;
    let header = h.slice().len();
    let total = h.total_len();
    if usize::from(total) < header {
        return Err(IpError::BadTotalLength { total, header });
    }
    let end = usize::from(total).min(d.len());
    let snapped = d.len() < usize::from(total);
    let payload = d.get(header..end).unwrap_or(&[]);
    let protocol = h.protocol().0;
    let offset = u32::from(h.fragments_offset().value()) * 8;
    if h.more_fragments() || offset != 0 {
        return Ok(IpParsed::Fragment(Ipv4Fragment {
            src: h.source_addr(),
            dst: h.destination_addr(),
            protocol,
            id: h.identification(),
            offset,
            more: h.more_fragments(),
            payload,
        }));
    }
    Ok(IpParsed::Packet(IpPacket {
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        protocol,
        payload,
        snapped,
    }))
}

/// Parses an IPv6 packet, skipping extension headers.
pub fn parse_ipv6(d: &[u8]) -> Result<IpParsed<'_>, IpError> {
    let bad = |reason: String| IpError::BadHeader {
        version: "IPv6",
        reason,
    };
    let h = Ipv6HeaderSlice::from_slice(d).map_err(|e| bad(e.to_string()))?;
    let plen = usize::from(h.payload_length());
    let body = d.get(40..).unwrap_or(&[]);
    // Payload length 0 means a jumbogram (or a sloppy writer): take what was captured.
    let (body, snapped) = if plen == 0 {
        (body, false)
    } else {
        (body.get(..plen).unwrap_or(body), body.len() < plen)
    };
    let (exts, protocol, payload) =
        Ipv6ExtensionsSlice::from_slice(h.next_header(), body).map_err(|e| bad(e.to_string()))?;
    if exts.is_fragmenting_payload() {
        return Err(IpError::Ipv6Fragment);
    }
    Ok(IpParsed::Packet(IpPacket {
        src: IpAddr::V6(Ipv6Addr::from(h.source())),
        dst: IpAddr::V6(Ipv6Addr::from(h.destination())),
        protocol: protocol.0,
        payload,
        snapped,
    }))
}

/// Limits of the IPv4 defragmenter.
#[derive(Debug, Clone, Copy)]
pub struct DefragConfig {
    /// Most datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// Most fragment bytes held in total.
    pub max_bytes: usize,
    /// A datagram still incomplete this many packets after its first fragment is dropped.
    pub timeout_packets: u64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_datagrams: 1024,
            max_bytes: 8 * 1024 * 1024,
            timeout_packets: 100_000,
        }
    }
}

/// Why fragments were given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentDrop {
    /// Datagram incomplete after the timeout.
    TimedOut,
    /// Too many datagrams or bytes in flight; the oldest was dropped.
    Evicted,
    /// The fragment would make the datagram exceed 65535 bytes.
    TooLong,
    /// Fragments disagree on where the datagram ends.
    Inconsistent,
}

/// Outcome of feeding one fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefragOutcome {
    /// More fragments needed.
    Pending,
    /// The datagram is complete: its upper-layer bytes.
    Complete {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
        /// Upper-layer protocol.
        protocol: u8,
        /// Reassembled payload.
        payload: Vec<u8>,
    },
}

/// A report of fragments given up on (packet index of the datagram's first fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedDatagram {
    /// Packet index of the first fragment seen.
    pub first_packet: u64,
    /// Fragment bytes thrown away.
    pub bytes: usize,
    /// Why.
    pub reason: FragmentDrop,
}

type DatagramKey = (Ipv4Addr, Ipv4Addr, u8, u16);

struct Datagram {
    first_packet: u64,
    pieces: Vec<(u32, Vec<u8>)>,
    bytes: usize,
    total: Option<u32>,
}

/// Bounded IPv4 fragment reassembly (first data wins on overlap).
#[derive(Default)]
pub struct Defragmenter {
    cfg: DefragConfig,
    pending: HashMap<DatagramKey, Datagram>,
    order: VecDeque<(DatagramKey, u64)>,
    bytes: usize,
}

impl Defragmenter {
    /// A defragmenter with the given limits.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            ..Default::default()
        }
    }

    /// Datagrams currently incomplete.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn remove(&mut self, key: &DatagramKey) -> Option<Datagram> {
        let d = self.pending.remove(key)?;
        self.bytes = self.bytes.saturating_sub(d.bytes);
        Some(d)
    }

    /// Feeds one fragment seen in packet `packet_index`; drops are pushed to `dropped`.
    pub fn push(
        &mut self,
        frag: &Ipv4Fragment<'_>,
        packet_index: u64,
        dropped: &mut Vec<DroppedDatagram>,
    ) -> DefragOutcome {
        self.expire(packet_index, dropped);
        let key = (frag.src, frag.dst, frag.protocol, frag.id);
        let end = frag.offset + frag.payload.len() as u32;
        if end > 65_535 {
            if let Some(d) = self.remove(&key) {
                dropped.push(DroppedDatagram {
                    first_packet: d.first_packet,
                    bytes: d.bytes,
                    reason: FragmentDrop::TooLong,
                });
            } else {
                dropped.push(DroppedDatagram {
                    first_packet: packet_index,
                    bytes: frag.payload.len(),
                    reason: FragmentDrop::TooLong,
                });
            }
            return DefragOutcome::Pending;
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.cfg.max_datagrams.max(1)
                || self.bytes + frag.payload.len() > self.cfg.max_bytes
            {
                if !self.evict_oldest(FragmentDrop::Evicted, dropped) {
                    break;
                }
            }
            self.pending.insert(
                key,
                Datagram {
                    first_packet: packet_index,
                    pieces: Vec::new(),
                    bytes: 0,
                    total: None,
                },
            );
            self.order.push_back((key, packet_index));
        }
        let Some(d) = self.pending.get_mut(&key) else {
            return DefragOutcome::Pending;
        };
        if !frag.more {
            if d.total.is_some_and(|t| t != end) {
                let first_packet = d.first_packet;
                let bytes = d.bytes;
                self.remove(&key);
                dropped.push(DroppedDatagram {
                    first_packet,
                    bytes,
                    reason: FragmentDrop::Inconsistent,
                });
                return DefragOutcome::Pending;
            }
            d.total = Some(end);
        }
        d.pieces.push((frag.offset, frag.payload.to_vec()));
        d.bytes += frag.payload.len();
        self.bytes += frag.payload.len();
        let Some(total) = d.total else {
            return DefragOutcome::Pending;
        };
        if !covers(&d.pieces, total) {
            return DefragOutcome::Pending;
        }
        let Some(d) = self.remove(&key) else {
            return DefragOutcome::Pending;
        };
        let mut payload = vec![0u8; total as usize];
        // Later pieces first, so the first data seen for any byte is what remains.
        for (off, bytes) in d.pieces.iter().rev() {
            let start = *off as usize;
            let end = (start + bytes.len()).min(payload.len());
            if let (Some(dst), Some(src)) = (
                payload.get_mut(start..end),
                bytes.get(..end.saturating_sub(start)),
            ) {
                dst.copy_from_slice(src);
            }
        }
        DefragOutcome::Complete {
            src: frag.src,
            dst: frag.dst,
            protocol: frag.protocol,
            payload,
        }
    }

    fn evict_oldest(&mut self, reason: FragmentDrop, dropped: &mut Vec<DroppedDatagram>) -> bool {
        while let Some((key, first)) = self.order.pop_front() {
            // Stale order entries (already completed) are skipped.
            if self
                .pending
                .get(&key)
                .is_some_and(|d| d.first_packet == first)
            {
                if let Some(d) = self.remove(&key) {
                    dropped.push(DroppedDatagram {
                        first_packet: d.first_packet,
                        bytes: d.bytes,
                        reason,
                    });
                }
                return true;
            }
        }
        false
    }

    /// Drops datagrams older than the timeout, as of packet `packet_index`.
    pub fn expire(&mut self, packet_index: u64, dropped: &mut Vec<DroppedDatagram>) {
        while let Some(&(key, first)) = self.order.front() {
            let live = self
                .pending
                .get(&key)
                .is_some_and(|d| d.first_packet == first);
            if live && packet_index.saturating_sub(first) < self.cfg.timeout_packets {
                break;
            }
            self.order.pop_front();
            if live {
                if let Some(d) = self.remove(&key) {
                    dropped.push(DroppedDatagram {
                        first_packet: d.first_packet,
                        bytes: d.bytes,
                        reason: FragmentDrop::TimedOut,
                    });
                }
            }
        }
    }

    /// Reports every incomplete datagram (end of capture).
    pub fn drain(&mut self, dropped: &mut Vec<DroppedDatagram>) {
        while self.evict_oldest(FragmentDrop::TimedOut, dropped) {}
        self.pending.clear();
        self.bytes = 0;
    }
}

/// True when `pieces` cover `0..total` without holes.
fn covers(pieces: &[(u32, Vec<u8>)], total: u32) -> bool {
    let mut spans: Vec<(u32, u32)> = pieces
        .iter()
        .map(|(o, b)| (*o, *o + b.len() as u32))
        .collect();
    spans.sort_unstable();
    let mut reached = 0u32;
    for (s, e) in spans {
        if s > reached {
            return false;
        }
        reached = reached.max(e);
    }
    reached >= total
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn inline_ipv4_parse_agrees_with_etherparse(
            mut d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..90),
            shape in 0u8..3,
        ) {
            // Mostly plausible headers: version 4, and a total length near the bytes present.
            if shape > 0 {
                if let Some(b) = d.first_mut() {
                    *b = 0x40 | (*b & 0x0f);
                }
            }
            if shape == 2 && d.len() >= 4 {
                let total = u16::from(d[2] % 100);
                d[2..4].copy_from_slice(&total.to_be_bytes());
            }
            proptest::prop_assert_eq!(parse_ipv4(&d), parse_ipv4_checked(&d));
        }
    }

    fn ipv4(id: u16, frag_off_units: u16, more: bool, proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = 20 + payload.len() as u16;
        let flags = if more { 0x2000 } else { 0 } | frag_off_units;
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn ipv4_whole_packet_trims_link_padding() {
        let mut p = ipv4(1, 0, false, 6, b"hello");
        p.extend_from_slice(&[0; 6]);
        let IpParsed::Packet(pkt) = parse_ipv4(&p).expect("parses") else {
            panic!("not whole")
        };
        assert_eq!(pkt.payload, b"hello");
        assert_eq!(pkt.protocol, 6);
        assert!(!pkt.snapped);
        assert_eq!(pkt.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let cut = &p[..22];
        let IpParsed::Packet(pkt) = parse_ipv4(cut).expect("parses") else {
            panic!("not whole")
        };
        assert!(pkt.snapped);
        assert_eq!(pkt.payload, b"he");
    }

    #[test]
    fn ipv4_bad_headers_are_errors() {
        assert!(parse_ipv4(&[0x45, 0, 0]).is_err());
        let mut p = ipv4(1, 0, false, 6, b"x");
        p[2] = 0;
        p[3] = 10;
        assert!(matches!(
            parse_ipv4(&p),
            Err(IpError::BadTotalLength { .. }) | Err(IpError::BadHeader { .. })
        ));
    }

    fn frag<'a>(p: &'a [u8]) -> Ipv4Fragment<'a> {
        match parse_ipv4(p).expect("parses") {
            IpParsed::Fragment(f) => f,
            IpParsed::Packet(_) => panic!("not a fragment"),
        }
    }

    #[test]
    fn ipv4_fragments_reassemble_out_of_order() {
        let data: Vec<u8> = (0..40u8).collect();
        let a = ipv4(7, 0, true, 6, &data[..16]);
        let b = ipv4(7, 2, true, 6, &data[16..32]);
        let c = ipv4(7, 4, false, 6, &data[32..]);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut dropped = Vec::new();
        assert_eq!(d.push(&frag(&c), 0, &mut dropped), DefragOutcome::Pending);
        assert_eq!(d.push(&frag(&a), 1, &mut dropped), DefragOutcome::Pending);
        match d.push(&frag(&b), 2, &mut dropped) {
            DefragOutcome::Complete {
                payload, protocol, ..
            } => {
                assert_eq!(payload, data);
                assert_eq!(protocol, 6);
            }
            other => panic!("expected completion, got {other:?}"),
        }
        assert!(dropped.is_empty());
        assert_eq!(d.in_flight(), 0);
    }

    #[test]
    fn ipv4_fragments_overlap_first_wins_and_timeouts_are_reported() {
        let mut d = Defragmenter::new(DefragConfig {
            timeout_packets: 10,
            ..DefragConfig::default()
        });
        let mut dropped = Vec::new();
        let a = ipv4(9, 0, true, 6, &[1; 16]);
        let a2 = ipv4(9, 0, true, 6, &[2; 16]);
        let b = ipv4(9, 2, false, 6, &[3; 8]);
        d.push(&frag(&a), 0, &mut dropped);
        d.push(&frag(&a2), 1, &mut dropped);
        let DefragOutcome::Complete { payload, .. } = d.push(&frag(&b), 2, &mut dropped) else {
            panic!("incomplete")
        };
        assert_eq!(&payload[..16], &[1; 16]);
        assert_eq!(&payload[16..], &[3; 8]);
        // A lone fragment times out and is reported.
        let lone = ipv4(10, 0, true, 6, &[0; 8]);
        d.push(&frag(&lone), 3, &mut dropped);
        d.expire(20, &mut dropped);
        assert_eq!(
            dropped,
            vec![DroppedDatagram {
                first_packet: 3,
                bytes: 8,
                reason: FragmentDrop::TimedOut
            }]
        );
    }

    #[test]
    fn ipv4_fragment_cap_evicts_oldest() {
        let mut d = Defragmenter::new(DefragConfig {
            max_datagrams: 2,
            ..DefragConfig::default()
        });
        let mut dropped = Vec::new();
        for id in 0..3u16 {
            let p = ipv4(id, 0, true, 6, &[0; 8]);
            d.push(&frag(&p), u64::from(id), &mut dropped);
        }
        assert_eq!(d.in_flight(), 2);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].first_packet, 0);
        assert_eq!(dropped[0].reason, FragmentDrop::Evicted);
        d.drain(&mut dropped);
        assert_eq!(dropped.len(), 3);
    }

    #[test]
    fn ipv6_with_extension_header() {
        let mut p = vec![0x60, 0, 0, 0];
        let body_len = 8 + 4u16;
        p.extend_from_slice(&body_len.to_be_bytes());
        p.push(60); // destination options
        p.push(64);
        p.extend_from_slice(&[0u8; 15]);
        p.push(1);
        p.extend_from_slice(&[0u8; 15]);
        p.push(2);
        p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // dest opts: next=TCP, len 0, PadN
        p.extend_from_slice(b"tcp!");
        let IpParsed::Packet(pkt) = parse_ipv6(&p).expect("parses") else {
            panic!("not whole")
        };
        assert_eq!(pkt.protocol, 6);
        assert_eq!(pkt.payload, b"tcp!");
        assert_eq!(pkt.src, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert!(parse_ipv6(&p[..30]).is_err());
    }
}
