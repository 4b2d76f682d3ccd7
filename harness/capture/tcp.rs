//! TCP header view (via `etherparse`): the fields reassembly needs.

use etherparse::TcpHeaderSlice;

/// One TCP segment's header fields and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when `ack` is set).
    pub ack_number: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// Payload bytes.
    pub payload: &'a [u8],
}

/// Why a TCP header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad TCP header: {0}")]
pub struct TcpError(pub String);

/// Parses a TCP header and returns the segment. The common case (a well-formed header) is
/// read inline; anything else goes through `etherparse` for its error.
#[inline]
pub fn parse_tcp(d: &[u8]) -> Result<TcpSegment<'_>, TcpError> {
    if let Some(&h) = d.first_chunk::<20>() {
        let header_len = usize::from(h[12] >> 4) * 4;
        if header_len >= 20 {
            if let Some(payload) = d.get(header_len..) {
                let flags = h[13];
                return Ok(TcpSegment {
                    src_port: u16::from_be_bytes([h[0], h[1]]),
                    dst_port: u16::from_be_bytes([h[2], h[3]]),
                    seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    ack_number: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                    syn: flags & 0x02 != 0,
                    ack: flags & 0x10 != 0,
                    fin: flags & 0x01 != 0,
                    rst: flags & 0x04 != 0,
                    payload,
                });
            }
        }
    }
    parse_tcp_checked(d)
}

/// [`parse_tcp`] through `etherparse` (malformed headers: its explanation is the error).
#[cold]
#[inline(never)]
fn parse_tcp_checked(d: &[u8]) -> Result<TcpSegment<'_>, TcpError> {
    let h = TcpHeaderSlice::from_slice(d).map_err(|e| TcpError(e.to_string()))?;
    let payload = d.get(h.slice().len()..).unwrap_or(&[]);
    Ok(TcpSegment {
        src_port: h.source_port(),
        dst_port: h.destination_port(),
        seq: h.sequence_number(),
        ack_number: h.acknowledgment_number(),
        syn: h.syn(),
        ack: h.ack(),
        fin: h.fin(),
        rst: h.rst(),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn inline_tcp_parse_agrees_with_etherparse(
            d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..90),
        ) {
            proptest::prop_assert_eq!(parse_tcp(&d), parse_tcp_checked(&d));
        }
    }

    #[test]
    fn parses_header_and_payload() {
        let mut d = vec![
            0x04, 0x00, 0x06, 0x98, 0, 0, 0, 5, 0, 0, 0, 9, 0x50, 0x12, 0, 0,
        ];
        d.extend_from_slice(&[0, 0, 0, 0]);
        d.extend_from_slice(b"abc");
        let s = parse_tcp(&d).expect("parses");
        assert_eq!(
            (s.src_port, s.dst_port, s.seq, s.ack_number),
            (1024, 1688, 5, 9)
        );
        assert!(s.syn && s.ack && !s.fin && !s.rst);
        assert_eq!(s.payload, b"abc");
        assert!(parse_tcp(&d[..10]).is_err());
        assert_eq!(parse_tcp_checked(&d), parse_tcp(&d));
        let mut bad = d.clone();
        bad[12] = 0x20; // data offset 2 words < 5
        assert!(parse_tcp(&bad).is_err());
    }
}
