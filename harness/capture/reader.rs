//! Capture files → packets: pcap (either byte order, µs or ns timestamps) and pcapng (several
//! sections and interfaces, each with its own link type and timestamp resolution), read in a
//! streaming fashion through `pcap-parser` with a bounded buffer.
//!
//! [`CaptureReader::next_packet`] is a lending iterator: the packet borrows the reader's buffer,
//! so no packet bytes are copied. Damage (truncation, a corrupt block, an absurd block length)
//! ends the stream with a typed [`CaptureError`] naming the packet index and byte offset; every
//! packet before it has been delivered.

use std::io::Read;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

/// Initial size of the read buffer (grown on demand for large blocks, up to the block limit).
pub const INITIAL_BUFFER: usize = 256 * 1024;
/// Default limit on one block/record: larger claims are treated as damage, never allocated.
pub const DEFAULT_MAX_BLOCK: usize = 16 * 1024 * 1024;
/// Limit on interfaces per pcapng section (each costs a few bytes of state).
const MAX_INTERFACES: usize = 65_536;

/// Why a capture could not be read (further). Every variant that concerns a place in the file
/// names the index of the packet that would have come next and the byte offset of its block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The input does not start with a pcap or pcapng magic number (or is empty).
    #[error("not a pcap or pcapng file")]
    NotACapture,
    /// The file header itself is cut short or malformed.
    #[error("bad capture file header: {reason}")]
    BadHeader {
        /// What was wrong.
        reason: String,
    },
    /// The file ends inside a record/block.
    #[error("capture truncated: packet {packet_index} at byte {offset} is cut short")]
    Truncated {
        /// Index of the packet being read.
        packet_index: u64,
        /// Byte offset of the incomplete record/block.
        offset: u64,
    },
    /// A record/block could not be parsed.
    #[error("corrupt block at byte {offset} (before packet {packet_index}): {reason}")]
    Corrupt {
        /// Index of the packet being read.
        packet_index: u64,
        /// Byte offset of the corrupt record/block.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A record/block claims a length over the configured limit.
    #[error(
        "block at byte {offset} (before packet {packet_index}) claims {claimed} bytes, over the {limit}-byte limit"
    )]
    BlockTooLarge {
        /// Index of the packet being read.
        packet_index: u64,
        /// Byte offset of the record/block.
        offset: u64,
        /// Length the block claims (0 when it could not be read).
        claimed: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The underlying reader failed.
    #[error("I/O error at byte {offset}: {message}")]
    Io {
        /// Bytes consumed before the failure.
        offset: u64,
        /// The I/O error text.
        message: String,
    },
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct PacketRef<'a> {
    /// 0-based packet number in the file (counting packet records/blocks only).
    pub index: u64,
    /// Byte offset of the packet's record/block in the file.
    pub file_offset: u64,
    /// Capture time, nanoseconds since the Unix epoch (saturating).
    pub timestamp_ns: u64,
    /// Link-layer header type (LINKTYPE_* number) of the packet's interface.
    pub link_type: u32,
    /// pcapng interface id (0 for pcap).
    pub interface: u32,
    /// Length of the packet on the wire (may exceed `data.len()` when snapped).
    pub orig_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

/// Which container format a capture is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// A pcapng interface: what its packets need to be decoded.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_sec: i64,
}

/// Adapter making every `read` fill the buffer (or reach EOF), so short reads from pipes never
/// look like truncation to `pcap-parser`, and retrying on `Interrupted`.
struct FillingReader<R> {
    inner: R,
}

impl<R: Read> Read for FillingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(space) = buf.get_mut(filled..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if filled > 0 {
                        break;
                    }
                    return Err(e);
                }
            }
        }
        Ok(filled)
    }
}

/// Streaming capture reader over any `std::io::Read`.
pub struct CaptureReader<'r> {
    inner: Box<dyn PcapReaderIterator + 'r>,
    format: CaptureFormat,
    /// Bytes consumed so far (= file offset of the next block).
    offset: u64,
    /// Bytes of the last returned packet's block still to consume.
    pending_consume: usize,
    next_index: u64,
    capacity: usize,
    max_block: usize,
    /// pcap: link type and whether fractions are nanoseconds.
    legacy_link: u32,
    legacy_nanos: bool,
    legacy_big: bool,
    /// pcapng: current section's byte order and interfaces.
    ng_big_endian: bool,
    interfaces: Vec<Interface>,
    done: bool,
}

/// What one parsed block turned out to be, in owned form (so the buffer borrow can end).
enum Step {
    Skip(usize),
    Packet {
        len: usize,
        start: usize,
        end: usize,
        timestamp_ns: u64,
        link_type: u32,
        interface: u32,
        orig_len: u32,
    },
    Fail(CaptureError),
}

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl<'r> CaptureReader<'r> {
    /// Opens a capture with the default block limit ([`DEFAULT_MAX_BLOCK`]).
    pub fn new<R: Read + 'r>(reader: R) -> Result<Self, CaptureError> {
        Self::with_limit(reader, DEFAULT_MAX_BLOCK)
    }

    /// Opens a capture; blocks claiming more than `max_block` bytes are reported as damage.
    pub fn with_limit<R: Read + 'r>(reader: R, max_block: usize) -> Result<Self, CaptureError> {
        let mut reader = FillingReader { inner: reader };
        let mut magic = [0u8; 4];
        let got = reader.read(&mut magic).map_err(|e| CaptureError::Io {
            offset: 0,
            message: e.to_string(),
        })?;
        if got < 4 {
            return Err(CaptureError::NotACapture);
        }
        let format = match magic {
            PCAPNG_MAGIC => CaptureFormat::PcapNg,
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => CaptureFormat::Pcap,
            _ => return Err(CaptureError::NotACapture),
        };
        let chained = FillingReader {
            inner: std::io::Cursor::new(magic).chain(reader),
        };
        let capacity = INITIAL_BUFFER.min(max_block.max(65_536));
        let header_err = |e: PcapError<&'static [u8]>| CaptureError::BadHeader {
            reason: match e {
                PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
                    "file header is truncated".to_string()
                }
                other => other.to_string(),
            },
        };
        let mut this = CaptureReader {
            inner: match format {
                CaptureFormat::Pcap => {
                    Box::new(LegacyPcapReader::new(capacity, chained).map_err(header_err)?)
                }
                CaptureFormat::PcapNg => {
                    Box::new(PcapNGReader::new(capacity, chained).map_err(header_err)?)
                }
            },
            format,
            offset: 0,
            pending_consume: 0,
            next_index: 0,
            capacity,
            max_block: max_block.max(65_536),
            legacy_link: 0,
            legacy_nanos: false,
            legacy_big: false,
            ng_big_endian: false,
            interfaces: Vec::new(),
            done: false,
        };
        if format == CaptureFormat::PcapNg {
            this.ng_big_endian = magic_order_big_endian(this.inner.data());
        }
        Ok(this)
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Byte offset of the next unread block (total consumed so far).
    pub fn offset(&self) -> u64 {
        self.offset + self.pending_consume as u64
    }

    /// Number of packets returned so far.
    pub fn packets_read(&self) -> u64 {
        self.next_index
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.offset += n as u64;
    }

    fn fail(&mut self, e: CaptureError) -> Option<Result<PacketRef<'_>, CaptureError>> {
        self.done = true;
        Some(Err(e))
    }

    /// Returns the next packet, `None` at a clean end, or the error that ends the stream.
    /// After an error every further call returns `None`.
    pub fn next_packet(&mut self) -> Option<Result<PacketRef<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        if self.pending_consume > 0 {
            let n = std::mem::take(&mut self.pending_consume);
            self.consume(n);
        }
        loop {
            // `next` does not move the buffer, so packet data can be located relative to it.
            let base = self.inner.data().as_ptr() as usize;
            let step = match self.inner.next() {
                Ok((len, block)) => classify(
                    len,
                    block,
                    base,
                    &mut ClassifyState {
                        legacy_link: &mut self.legacy_link,
                        legacy_nanos: &mut self.legacy_nanos,
                        legacy_big: &mut self.legacy_big,
                        ng_big_endian: &mut self.ng_big_endian,
                        interfaces: &mut self.interfaces,
                        packet_index: self.next_index,
                        offset: self.offset,
                    },
                ),
                Err(PcapError::Eof) => {
                    self.done = true;
                    return None;
                }
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.inner.refill() {
                        let message = e.to_string();
                        return self.fail(CaptureError::Io {
                            offset: self.offset,
                            message,
                        });
                    }
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    if self.inner.data().is_empty() {
                        self.done = true;
                        return None;
                    }
                    Step::Fail(CaptureError::Truncated {
                        packet_index: self.next_index,
                        offset: self.offset,
                    })
                }
                Err(PcapError::BufferTooSmall) => {
                    let claimed = self.claimed_length();
                    if claimed <= self.max_block as u64 && self.capacity < self.max_block {
                        let new_cap = (claimed as usize + 64)
                            .max(self.capacity.saturating_mul(2))
                            .min(self.max_block + 64);
                        if self.inner.grow(new_cap) {
                            self.capacity = new_cap;
                            if let Err(e) = self.inner.refill() {
                                let message = e.to_string();
                                return self.fail(CaptureError::Io {
                                    offset: self.offset,
                                    message,
                                });
                            }
                            continue;
                        }
                    }
                    Step::Fail(CaptureError::BlockTooLarge {
                        packet_index: self.next_index,
                        offset: self.offset,
                        claimed,
                        limit: self.max_block as u64,
                    })
                }
                Err(PcapError::ReadError) => Step::Fail(CaptureError::Io {
                    offset: self.offset,
                    message: "read failed".to_string(),
                }),
                Err(e) => Step::Fail(CaptureError::Corrupt {
                    packet_index: self.next_index,
                    offset: self.offset,
                    reason: corrupt_reason(&e),
                }),
            };
            match step {
                Step::Skip(len) => {
                    if len == 0 {
                        return self.fail(CaptureError::Corrupt {
                            packet_index: self.next_index,
                            offset: self.offset,
                            reason: "zero-length block".to_string(),
                        });
                    }
                    self.consume(len);
                }
                Step::Fail(e) => return self.fail(e),
                Step::Packet {
                    len,
                    start,
                    end,
                    timestamp_ns,
                    link_type,
                    interface,
                    orig_len,
                } => {
                    let index = self.next_index;
                    self.next_index += 1;
                    self.pending_consume = len;
                    let file_offset = self.offset;
                    let data = self.inner.data().get(start..end).unwrap_or(&[]);
                    return Some(Ok(PacketRef {
                        index,
                        file_offset,
                        timestamp_ns,
                        link_type,
                        interface,
                        orig_len,
                        data,
                    }));
                }
            }
        }
    }

    /// Length claimed by the record/block at the head of the buffer (best effort).
    fn claimed_length(&self) -> u64 {
        let d = self.inner.data();
        match self.format {
            CaptureFormat::Pcap => {
                let Some(b) = d.get(8..12).and_then(|s| <[u8; 4]>::try_from(s).ok()) else {
                    return 0;
                };
                let big = self.legacy_big;
                u64::from(if big {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }) + 16
            }
            CaptureFormat::PcapNg => {
                let Some(b) = d.get(4..8).and_then(|s| <[u8; 4]>::try_from(s).ok()) else {
                    return 0;
                };
                // A section header block carries its own byte order.
                let big = if d.get(0..4) == Some(&PCAPNG_MAGIC[..]) {
                    magic_order_big_endian(d)
                } else {
                    self.ng_big_endian
                };
                u64::from(if big {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                })
            }
        }
    }
}

/// Reader state that block classification updates.
struct ClassifyState<'s> {
    legacy_link: &'s mut u32,
    legacy_nanos: &'s mut bool,
    legacy_big: &'s mut bool,
    ng_big_endian: &'s mut bool,
    interfaces: &'s mut Vec<Interface>,
    packet_index: u64,
    offset: u64,
}

/// Byte order of a pcapng section header block from its byte-order magic (offset 8).
fn magic_order_big_endian(d: &[u8]) -> bool {
    d.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d][..])
}

fn corrupt_reason(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("block does not parse ({kind:?})")
        }
        other => other.to_string(),
    }
}

/// Nanoseconds for `units` at `units_per_sec`, plus `offset_sec` seconds, saturating.
fn to_ns(units: u64, units_per_sec: u64, offset_sec: i64) -> u64 {
    let per = u128::from(units_per_sec.max(1));
    let ns = u128::from(units) * 1_000_000_000 / per;
    let ns = ns as i128 + i128::from(offset_sec) * 1_000_000_000;
    ns.clamp(0, i128::from(u64::MAX)) as u64
}

/// Units per second for a pcapng `if_tsresol` value (None when out of range).
fn resolution(tsresol: u8) -> Option<u64> {
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(u32::from(tsresol))
    } else {
        1u64.checked_shl(u32::from(tsresol & 0x7f))
    }
}

fn classify(
    len: usize,
    block: PcapBlockOwned<'_>,
    base: usize,
    st: &mut ClassifyState<'_>,
) -> Step {
    let locate = |data: &[u8]| {
        let start = (data.as_ptr() as usize).wrapping_sub(base);
        (start, start.saturating_add(data.len()))
    };
    let corrupt = |reason: String| {
        Step::Fail(CaptureError::Corrupt {
            packet_index: st.packet_index,
            offset: st.offset,
            reason,
        })
    };
    match block {
        PcapBlockOwned::LegacyHeader(h) => {
            *st.legacy_link = (h.network.0 as u32) & 0xffff;
            *st.legacy_nanos = h.is_nanosecond_precision();
            *st.legacy_big = h.is_bigendian();
            Step::Skip(len)
        }
        PcapBlockOwned::Legacy(b) => {
            let (start, end) = locate(b.data);
            let frac = if *st.legacy_nanos {
                u64::from(b.ts_usec)
            } else {
                u64::from(b.ts_usec) * 1000
            };
            Step::Packet {
                len,
                start,
                end,
                timestamp_ns: u64::from(b.ts_sec) * 1_000_000_000 + frac,
                link_type: *st.legacy_link,
                interface: 0,
                orig_len: b.origlen,
            }
        }
        PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
            *st.ng_big_endian = shb.big_endian();
            st.interfaces.clear();
            Step::Skip(len)
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
            if st.interfaces.len() >= MAX_INTERFACES {
                return corrupt(format!(
                    "more than {MAX_INTERFACES} interfaces in a section"
                ));
            }
            let Some(units_per_sec) = resolution(idb.if_tsresol) else {
                return corrupt(format!("invalid if_tsresol {:#x}", idb.if_tsresol));
            };
            st.interfaces.push(Interface {
                link_type: u32::from(idb.linktype.0 as u16),
                units_per_sec,
                offset_sec: idb.if_tsoffset,
            });
            Step::Skip(len)
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let Some(iface) = st.interfaces.get(epb.if_id as usize).copied() else {
                return corrupt(format!(
                    "packet names interface {} but the section describes {}",
                    epb.if_id,
                    st.interfaces.len()
                ));
            };
            let caplen = (epb.caplen as usize).min(epb.data.len());
            let data = epb.data.get(..caplen).unwrap_or(epb.data);
            let (start, end) = locate(data);
            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            Step::Packet {
                len,
                start,
                end,
                timestamp_ns: to_ns(units, iface.units_per_sec, iface.offset_sec),
                link_type: iface.link_type,
                interface: epb.if_id,
                orig_len: epb.origlen,
            }
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
            let Some(iface) = st.interfaces.first().copied() else {
                return corrupt("simple packet block before any interface".to_string());
            };
            let caplen = (spb.origlen as usize).min(spb.data.len());
            let data = spb.data.get(..caplen).unwrap_or(spb.data);
            let (start, end) = locate(data);
            Step::Packet {
                len,
                start,
                end,
                timestamp_ns: 0,
                link_type: iface.link_type,
                interface: 0,
                orig_len: spb.origlen,
            }
        }
        // Statistics, name resolution, custom and unknown blocks carry no packets.
        PcapBlockOwned::NG(_) => Step::Skip(len),
    }
}
