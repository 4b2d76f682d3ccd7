//! Link layer: finds the network-layer packet inside a captured frame for the link types
//! KMS captures come in (Ethernet with 802.1Q/QinQ tags, Linux SLL and SLL2, BSD NULL/LOOP,
//! RAW, bare IPv4/IPv6). Hand-written: each header is a few fixed fields, and SLL2 and
//! NULL/LOOP are not covered by `etherparse`.

/// LINKTYPE_* numbers from the tcpdump.org registry.
pub mod linktype {
    /// BSD loopback: 4-byte address family in the writer's host byte order.
    pub const NULL: u32 = 0;
    /// IEEE 802.3 Ethernet.
    pub const ETHERNET: u32 = 1;
    /// Raw IP (DLT_RAW as numbered on most BSDs).
    pub const RAW_12: u32 = 12;
    /// Raw IP (DLT_RAW as numbered on OpenBSD).
    pub const RAW_14: u32 = 14;
    /// Raw IP, the portable number.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1.
    pub const LINUX_SLL: u32 = 113;
    /// Bare IPv4.
    pub const IPV4: u32 = 228;
    /// Bare IPv6.
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: u32 = 276;
}

/// EtherTypes the link layer recognises.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ tag.
    pub const QINQ_OLD: u16 = 0x9100;
}

/// Most VLAN tags followed before a frame is called malformed.
const MAX_VLAN_TAGS: usize = 8;

/// The network-layer content of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    /// An IPv4 packet (header onwards).
    Ipv4(&'a [u8]),
    /// An IPv6 packet (header onwards).
    Ipv6(&'a [u8]),
    /// Something that is not IP (ARP, LLDP, …): counted and skipped.
    Other {
        /// EtherType / protocol / address family that was found.
        protocol: u32,
    },
}

/// Why a frame's link layer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The frame is shorter than its link header.
    #[error("{layer} header truncated: needs {needed} bytes at offset {offset}, frame has {have}")]
    Truncated {
        /// Which header.
        layer: &'static str,
        /// Offset of the header in the frame.
        offset: usize,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes the frame has.
        have: usize,
    },
    /// More stacked VLAN tags than anything real uses.
    #[error("more than {MAX_VLAN_TAGS} stacked VLAN tags")]
    TooManyVlanTags,
    /// The link type is not one kmsspec decodes.
    #[error("unsupported link type {0}")]
    Unsupported(u32),
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

fn need(layer: &'static str, d: &[u8], offset: usize, needed: usize) -> Result<(), LinkError> {
    if d.len() < offset + needed {
        return Err(LinkError::Truncated {
            layer,
            offset,
            needed,
            have: d.len(),
        });
    }
    Ok(())
}

#[inline]
fn by_ethertype(ethertype: u16, rest: &[u8]) -> Network<'_> {
    match ethertype {
        ethertype::IPV4 => Network::Ipv4(rest),
        ethertype::IPV6 => Network::Ipv6(rest),
        other => Network::Other {
            protocol: u32::from(other),
        },
    }
}

/// Decides IPv4 vs IPv6 from the version nibble (for raw IP link types).
fn by_version(d: &[u8]) -> Network<'_> {
    match d.first().map(|b| b >> 4) {
        Some(4) => Network::Ipv4(d),
        Some(6) => Network::Ipv6(d),
        v => Network::Other {
            protocol: u32::from(v.unwrap_or(0)),
        },
    }
}

/// Ethernet II header, then any 802.1Q / 802.1ad / 0x9100 tags.
#[inline]
pub fn ethernet(frame: &[u8]) -> Result<Network<'_>, LinkError> {
    need("Ethernet", frame, 0, 14)?;
    let mut at = 12;
    let mut ethertype = be16(frame, at).unwrap_or(0);
    let mut tags = 0;
    while matches!(
        ethertype,
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(LinkError::TooManyVlanTags);
        }
        need("VLAN tag", frame, at + 2, 4)?;
        at += 4;
        ethertype = be16(frame, at).unwrap_or(0);
    }
    let rest = frame.get(at + 2..).unwrap_or(&[]);
    Ok(by_ethertype(ethertype, rest))
}

/// Linux cooked capture v1: 16-byte header, protocol (EtherType) at offset 14.
pub fn linux_sll(frame: &[u8]) -> Result<Network<'_>, LinkError> {
    need("Linux SLL", frame, 0, 16)?;
    let proto = be16(frame, 14).unwrap_or(0);
    Ok(by_ethertype(proto, frame.get(16..).unwrap_or(&[])))
}

/// Linux cooked capture v2: 20-byte header, protocol (EtherType) at offset 0.
pub fn linux_sll2(frame: &[u8]) -> Result<Network<'_>, LinkError> {
    need("Linux SLL2", frame, 0, 20)?;
    let proto = be16(frame, 0).unwrap_or(0);
    Ok(by_ethertype(proto, frame.get(20..).unwrap_or(&[])))
}

/// BSD NULL / OpenBSD LOOP: a 4-byte address family in either byte order (writers disagree).
/// AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
pub fn null_loop(frame: &[u8]) -> Result<Network<'_>, LinkError> {
    need("NULL/LOOP", frame, 0, 4)?;
    let raw = [
        frame.first().copied().unwrap_or(0),
        frame.get(1).copied().unwrap_or(0),
        frame.get(2).copied().unwrap_or(0),
        frame.get(3).copied().unwrap_or(0),
    ];
    let le = u32::from_le_bytes(raw);
    // Families are small numbers: whichever byte order gives one is the right order.
    let family = if le <= 0xffff {
        le
    } else {
        u32::from_be_bytes(raw)
    };
    let rest = frame.get(4..).unwrap_or(&[]);
    Ok(match family {
        2 => Network::Ipv4(rest),
        24 | 28 | 30 => Network::Ipv6(rest),
        other => Network::Other { protocol: other },
    })
}

/// The network-layer packet of `frame` captured with link type `link_type`.
#[inline]
pub fn network_layer(link_type: u32, frame: &[u8]) -> Result<Network<'_>, LinkError> {
    match link_type {
        linktype::ETHERNET => ethernet(frame),
        linktype::LINUX_SLL => linux_sll(frame),
        linktype::LINUX_SLL2 => linux_sll2(frame),
        linktype::NULL | linktype::LOOP => null_loop(frame),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 => Ok(by_version(frame)),
        linktype::IPV4 => Ok(Network::Ipv4(frame)),
        linktype::IPV6 => Ok(Network::Ipv6(frame)),
        other => Err(LinkError::Unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP4: &[u8] = &[0x45, 0, 0, 20];
    const IP6: &[u8] = &[0x60, 0, 0, 0];

    fn eth(ethertype: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xaa; 12];
        f.extend_from_slice(ethertype);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_plain_vlan_and_qinq() {
        assert_eq!(
            network_layer(1, &eth(&[0x08, 0x00], IP4)),
            Ok(Network::Ipv4(IP4))
        );
        assert_eq!(
            network_layer(1, &eth(&[0x86, 0xdd], IP6)),
            Ok(Network::Ipv6(IP6))
        );
        let vlan = eth(&[0x81, 0x00, 0x00, 0x2a, 0x08, 0x00], IP4);
        assert_eq!(network_layer(1, &vlan), Ok(Network::Ipv4(IP4)));
        let qinq = eth(
            &[0x88, 0xa8, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02, 0x86, 0xdd],
            IP6,
        );
        assert_eq!(network_layer(1, &qinq), Ok(Network::Ipv6(IP6)));
        let old = eth(&[0x91, 0x00, 0x00, 0x01, 0x08, 0x00], IP4);
        assert_eq!(network_layer(1, &old), Ok(Network::Ipv4(IP4)));
        assert_eq!(
            network_layer(1, &eth(&[0x08, 0x06], &[1, 2])),
            Ok(Network::Other { protocol: 0x0806 })
        );
    }

    #[test]
    fn ethernet_truncations_are_errors() {
        assert!(matches!(
            network_layer(1, &[0; 13]),
            Err(LinkError::Truncated { needed: 14, .. })
        ));
        let cut_tag = eth(&[0x81, 0x00, 0x00], &[]);
        assert!(matches!(
            network_layer(1, &cut_tag),
            Err(LinkError::Truncated {
                layer: "VLAN tag",
                ..
            })
        ));
        let mut many = vec![0u8; 12];
        for _ in 0..9 {
            many.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        many.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(network_layer(1, &many), Err(LinkError::TooManyVlanTags));
    }

    #[test]
    fn linux_sll_v1_and_v2() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(IP4);
        assert_eq!(network_layer(113, &sll), Ok(Network::Ipv4(IP4)));
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(IP6);
        assert_eq!(network_layer(276, &sll2), Ok(Network::Ipv6(IP6)));
        assert!(network_layer(276, &[0x08, 0x00, 0, 0]).is_err());
        assert!(network_layer(113, &[0u8; 15]).is_err());
    }

    #[test]
    fn null_and_loop_in_both_byte_orders() {
        for (family, want_v6) in [(2u32, false), (24, true), (28, true), (30, true)] {
            for bytes in [family.to_le_bytes(), family.to_be_bytes()] {
                let mut f = bytes.to_vec();
                let ip = if want_v6 { IP6 } else { IP4 };
                f.extend_from_slice(ip);
                let want = if want_v6 {
                    Network::Ipv6(ip)
                } else {
                    Network::Ipv4(ip)
                };
                assert_eq!(network_layer(0, &f), Ok(want));
                assert_eq!(network_layer(108, &f), Ok(want));
            }
        }
        assert_eq!(
            network_layer(0, &[7, 0, 0, 0]),
            Ok(Network::Other { protocol: 7 })
        );
        assert!(network_layer(0, &[2, 0]).is_err());
    }

    #[test]
    fn raw_and_bare_ip() {
        for lt in [12, 14, 101] {
            assert_eq!(network_layer(lt, IP4), Ok(Network::Ipv4(IP4)));
            assert_eq!(network_layer(lt, IP6), Ok(Network::Ipv6(IP6)));
        }
        assert_eq!(network_layer(228, IP4), Ok(Network::Ipv4(IP4)));
        assert_eq!(network_layer(229, IP6), Ok(Network::Ipv6(IP6)));
        assert_eq!(
            network_layer(101, &[0x20]),
            Ok(Network::Other { protocol: 2 })
        );
        assert_eq!(network_layer(9999, IP4), Err(LinkError::Unsupported(9999)));
    }
}
