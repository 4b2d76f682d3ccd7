//! Capture synthesis: pcap and pcapng writers, and Ethernet / Linux SLL2 / IPv4 / IPv6 / TCP
//! frame building with valid checksums. Used by tests, benches and to generate the project's
//! own capture corpus; [`TcpSession`] produces segments that can then be split, reordered,
//! duplicated or started mid-connection.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Classic pcap writer.
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
    big_endian: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header: `link_type`, µs or ns timestamps, either byte order.
    pub fn new(mut out: W, link_type: u32, nanos: bool, big_endian: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        let w32 = |h: &mut Vec<u8>, v: u32| {
            h.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let w16 = |h: &mut Vec<u8>, v: u16| {
            h.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        w32(&mut h, magic);
        w16(&mut h, 2);
        w16(&mut h, 4);
        w32(&mut h, 0);
        w32(&mut h, 0);
        w32(&mut h, 262_144);
        w32(&mut h, link_type);
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            nanos,
            big_endian,
        })
    }

    /// Writes one packet record.
    pub fn packet(&mut self, timestamp_ns: u64, data: &[u8]) -> io::Result<()> {
        let sec = (timestamp_ns / 1_000_000_000) as u32;
        let frac = (timestamp_ns % 1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        let len = data.len() as u32;
        let mut h = [0u8; 16];
        for (i, v) in [sec, frac, len, len].into_iter().enumerate() {
            let b = if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            h[i * 4..i * 4 + 4].copy_from_slice(&b);
        }
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// pcapng writer: sections, interfaces (each with its own link type and timestamp
/// resolution), enhanced packet blocks. Little-endian unless asked otherwise.
pub struct PcapNgWriter<W: Write> {
    out: W,
    big_endian: bool,
    /// Per interface of the current section: units per second.
    interfaces: Vec<u64>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Starts a file with its first section header block.
    pub fn new(out: W, big_endian: bool) -> io::Result<Self> {
        let mut w = PcapNgWriter {
            out,
            big_endian,
            interfaces: Vec::new(),
        };
        w.section()?;
        Ok(w)
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (12 + body.len() + pad) as u32;
        let mut b = Vec::with_capacity(total as usize);
        b.extend_from_slice(&self.u32b(block_type));
        b.extend_from_slice(&self.u32b(total));
        b.extend_from_slice(body);
        b.extend(std::iter::repeat_n(0u8, pad));
        b.extend_from_slice(&self.u32b(total));
        self.out.write_all(&b)
    }

    /// Starts a new section (interfaces restart at id 0).
    pub fn section(&mut self) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32b(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        self.interfaces.clear();
        self.block(0x0a0d_0d0a, &body)
    }

    /// Adds an interface; `tsresol` is the pcapng `if_tsresol` (6 = µs, 9 = ns). Returns its id.
    pub fn interface(&mut self, link_type: u16, tsresol: u8) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16b(link_type));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&self.u32b(262_144));
        // if_tsresol option (code 9, length 1, padded), then end of options.
        body.extend_from_slice(&self.u16b(9));
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&self.u16b(0));
        let units = if tsresol & 0x80 == 0 {
            10u64.checked_pow(u32::from(tsresol)).unwrap_or(1_000_000)
        } else {
            1u64.checked_shl(u32::from(tsresol & 0x7f))
                .unwrap_or(1_000_000)
        };
        self.interfaces.push(units);
        self.block(1, &body)?;
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Writes an enhanced packet block on interface `if_id`.
    pub fn packet(&mut self, if_id: u32, timestamp_ns: u64, data: &[u8]) -> io::Result<()> {
        let units_per_sec = self
            .interfaces
            .get(if_id as usize)
            .copied()
            .unwrap_or(1_000_000);
        let units = (u128::from(timestamp_ns) * u128::from(units_per_sec) / 1_000_000_000) as u64;
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend_from_slice(&self.u32b(if_id));
        body.extend_from_slice(&self.u32b((units >> 32) as u32));
        body.extend_from_slice(&self.u32b(units as u32));
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Internet checksum (RFC 1071) over `parts`, folded and complemented.
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in part.iter() {
            match odd.take() {
                Some(hi) => sum += u64::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u64::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One TCP segment to synthesise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Sender.
    pub from: SocketAddr,
    /// Receiver.
    pub to: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits ([`flags`]).
    pub flags: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Segment {
    /// Splits the payload at `at` into two segments (the second carries any FIN).
    pub fn split(&self, at: usize) -> (Segment, Segment) {
        let at = at.min(self.payload.len());
        let mut a = self.clone();
        let mut b = self.clone();
        a.payload = self.payload[..at].to_vec();
        a.flags &= !flags::FIN;
        b.payload = self.payload[at..].to_vec();
        b.seq = self.seq.wrapping_add(at as u32);
        (a, b)
    }

    /// The TCP header and payload, with a valid checksum for the segment's addresses.
    pub fn tcp_bytes(&self) -> Vec<u8> {
        let mut t = Vec::with_capacity(20 + self.payload.len());
        t.extend_from_slice(&self.from.port().to_be_bytes());
        t.extend_from_slice(&self.to.port().to_be_bytes());
        t.extend_from_slice(&self.seq.to_be_bytes());
        t.extend_from_slice(&self.ack.to_be_bytes());
        t.push(0x50);
        t.push(self.flags);
        t.extend_from_slice(&65_535u16.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(&self.payload);
        let len = t.len() as u32;
        let sum = match (self.from.ip(), self.to.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut ph = Vec::with_capacity(12);
                ph.extend_from_slice(&s.octets());
                ph.extend_from_slice(&d.octets());
                ph.extend_from_slice(&[0, 6]);
                ph.extend_from_slice(&(len as u16).to_be_bytes());
                internet_checksum(&[&ph, &t])
            }
            (s, d) => {
                let mut ph = Vec::with_capacity(40);
                ph.extend_from_slice(&v6_octets(s));
                ph.extend_from_slice(&v6_octets(d));
                ph.extend_from_slice(&len.to_be_bytes());
                ph.extend_from_slice(&[0, 0, 0, 6]);
                internet_checksum(&[&ph, &t])
            }
        };
        t[16..18].copy_from_slice(&sum.to_be_bytes());
        t
    }

    /// The IP packet (IPv4 with header checksum, or IPv6) carrying this segment.
    pub fn ip_bytes(&self, ip_id: u16) -> Vec<u8> {
        let tcp = self.tcp_bytes();
        match (self.from.ip(), self.to.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                ipv4_packet(s.octets(), d.octets(), 6, ip_id, 0, false, &tcp)
            }
            (s, d) => {
                let mut p = Vec::with_capacity(40 + tcp.len());
                p.extend_from_slice(&[0x60, 0, 0, 0]);
                p.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
                p.extend_from_slice(&[6, 64]);
                p.extend_from_slice(&v6_octets(s));
                p.extend_from_slice(&v6_octets(d));
                p.extend_from_slice(&tcp);
                p
            }
        }
    }

    /// An Ethernet II frame (zero MACs) carrying this segment.
    pub fn ethernet_frame(&self, ip_id: u16) -> Vec<u8> {
        let ip = self.ip_bytes(ip_id);
        let ethertype: u16 = if self.from.is_ipv4() { 0x0800 } else { 0x86dd };
        ethernet_frame(ethertype, &ip)
    }

    /// A Linux SLL2 frame carrying this segment.
    pub fn sll2_frame(&self, ip_id: u16) -> Vec<u8> {
        let ip = self.ip_bytes(ip_id);
        let ethertype: u16 = if self.from.is_ipv4() { 0x0800 } else { 0x86dd };
        let mut f = Vec::with_capacity(20 + ip.len());
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&[0, 0]); // reserved
        f.extend_from_slice(&1u32.to_be_bytes()); // interface index
        f.extend_from_slice(&772u16.to_be_bytes()); // ARPHRD_LOOPBACK
        f.push(0); // packet type: to us
        f.push(6); // address length
        f.extend_from_slice(&[0u8; 8]);
        f.extend_from_slice(&ip);
        f
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(v) => v.octets(),
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
    }
}

/// An Ethernet II frame with zero MACs.
pub fn ethernet_frame(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&[0u8; 12]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet with a valid header checksum; `frag_offset` in bytes (multiple of 8).
pub fn ipv4_packet(
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    id: u16,
    frag_offset: u32,
    more: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(20 + payload.len());
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    let ff = ((frag_offset / 8) as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
    p.extend_from_slice(&ff.to_be_bytes());
    p.extend_from_slice(&[64, protocol, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let sum = internet_checksum(&[&p]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Splits an IPv4 packet into fragments of at most `max_payload` bytes (rounded down to 8).
pub fn fragment_ipv4(packet: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    let (Some(src), Some(dst), Some(&proto), Some(id), Some(body)) = (
        packet.get(12..16),
        packet.get(16..20),
        packet.get(9),
        packet.get(4..6),
        packet.get(20..),
    ) else {
        return vec![packet.to_vec()];
    };
    let src: [u8; 4] = src.try_into().unwrap_or([0; 4]);
    let dst: [u8; 4] = dst.try_into().unwrap_or([0; 4]);
    let id = u16::from_be_bytes([id[0], id[1]]);
    let step = (max_payload / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() {
        let end = (off + step).min(body.len());
        out.push(ipv4_packet(
            src,
            dst,
            proto,
            id,
            off as u32,
            end < body.len(),
            &body[off..end],
        ));
        off = end;
    }
    out
}

/// A TCP connection's sequence bookkeeping, producing [`Segment`]s in order.
#[derive(Debug, Clone)]
pub struct TcpSession {
    /// Client address.
    pub client: SocketAddr,
    /// Server address.
    pub server: SocketAddr,
    /// Next client sequence number.
    pub client_seq: u32,
    /// Next server sequence number.
    pub server_seq: u32,
}

impl TcpSession {
    /// A session whose SYNs will carry `client_isn` / `server_isn`.
    pub fn new(client: SocketAddr, server: SocketAddr, client_isn: u32, server_isn: u32) -> Self {
        TcpSession {
            client,
            server,
            client_seq: client_isn,
            server_seq: server_isn,
        }
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> Vec<Segment> {
        let syn = Segment {
            from: self.client,
            to: self.server,
            seq: self.client_seq,
            ack: 0,
            flags: flags::SYN,
            payload: Vec::new(),
        };
        self.client_seq = self.client_seq.wrapping_add(1);
        let syn_ack = Segment {
            from: self.server,
            to: self.client,
            seq: self.server_seq,
            ack: self.client_seq,
            flags: flags::SYN | flags::ACK,
            payload: Vec::new(),
        };
        self.server_seq = self.server_seq.wrapping_add(1);
        let ack = self.bare(true, flags::ACK);
        vec![syn, syn_ack, ack]
    }

    fn bare(&self, from_client: bool, f: u8) -> Segment {
        let (from, to, seq, ack) = if from_client {
            (self.client, self.server, self.client_seq, self.server_seq)
        } else {
            (self.server, self.client, self.server_seq, self.client_seq)
        };
        Segment {
            from,
            to,
            seq,
            ack,
            flags: f,
            payload: Vec::new(),
        }
    }

    /// Data from the client (`from_client`) or the server, advancing that side's sequence.
    pub fn data(&mut self, from_client: bool, payload: &[u8]) -> Segment {
        let mut s = self.bare(from_client, flags::ACK | flags::PSH);
        s.payload = payload.to_vec();
        let n = payload.len() as u32;
        if from_client {
            self.client_seq = self.client_seq.wrapping_add(n);
        } else {
            self.server_seq = self.server_seq.wrapping_add(n);
        }
        s
    }

    /// A FIN from one side (consumes one sequence number).
    pub fn fin(&mut self, from_client: bool) -> Segment {
        let s = self.bare(from_client, flags::FIN | flags::ACK);
        if from_client {
            self.client_seq = self.client_seq.wrapping_add(1);
        } else {
            self.server_seq = self.server_seq.wrapping_add(1);
        }
        s
    }

    /// A RST from one side.
    pub fn rst(&self, from_client: bool) -> Segment {
        self.bare(from_client, flags::RST | flags::ACK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_verify_to_zero() {
        let mut s = TcpSession::new(
            "10.0.0.1:50000".parse().unwrap(),
            "10.0.0.2:1688".parse().unwrap(),
            1,
            2,
        );
        let seg = s.data(true, b"odd-length payload!");
        let ip = seg.ip_bytes(7);
        assert_eq!(internet_checksum(&[&ip[..20]]), 0, "IPv4 header checksum");
        let h = etherparse::Ipv4HeaderSlice::from_slice(&ip).unwrap();
        let tcp = etherparse::TcpHeaderSlice::from_slice(&ip[20..]).unwrap();
        let want = tcp.calc_checksum_ipv4(&h, &ip[40..]).unwrap();
        assert_eq!(tcp.checksum(), want);
        let mut s6 = TcpSession::new(
            "[::1]:50000".parse().unwrap(),
            "[::1]:1688".parse().unwrap(),
            1,
            2,
        );
        let seg6 = s6.data(false, b"v6");
        let ip6 = seg6.ip_bytes(0);
        let h6 = etherparse::Ipv6HeaderSlice::from_slice(&ip6).unwrap();
        let tcp6 = etherparse::TcpHeaderSlice::from_slice(&ip6[40..]).unwrap();
        assert_eq!(
            tcp6.checksum(),
            tcp6.calc_checksum_ipv6(&h6, &ip6[60..]).unwrap()
        );
    }
}
