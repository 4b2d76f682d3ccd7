//! Capture files → packets: pcap (either byte order, µs or ns timestamps) and pcapng (several
//! sections and interfaces, each with its own link type and timestamp resolution), read in a
//! streaming fashion with a bounded buffer: pcapng blocks and the pcap file header through
//! `pcap-parser`, classic pcap records (a fixed 16-byte header each) straight from the buffer.
//!
//! [`CaptureReader::next_packet`] is a lending iterator: the packet borrows the reader's buffer,
//! so no packet bytes are copied. Damage (truncation, a corrupt block, an absurd block length)
//! ends the stream with a typed [`CaptureError`] naming the packet index and byte offset; every
//! packet before it has been delivered.

use std::io::Read;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{parse_pcap_header, PcapBlockOwned, PcapError, PcapHeader, PcapNGReader};

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

/// Classic pcap records, parsed straight from a buffer of our own: each is a 16-byte header
/// and the packet, so there is no per-record parser dispatch, and the buffer is compacted only
/// when a record straddles its end (the bytes moved are at most one record).
struct PcapRecords<'r> {
    /// The file after the magic number (a [`FillingReader`] over a [`FillingReader`], as the
    /// pcapng path reads it).
    reader: Box<dyn Read + 'r>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// The last read returned no bytes.
    exhausted: bool,
    /// File header bytes the first `next_packet` skips.
    header_unread: usize,
}

impl PcapRecords<'_> {
    /// Moves the unconsumed bytes to the front of a buffer of `capacity` bytes (at least the
    /// current size), then reads into the rest.
    fn refill(&mut self, capacity: usize) -> std::io::Result<()> {
        let (start, end) = (self.start.min(self.end), self.end.min(self.buf.len()));
        self.buf.copy_within(start..end, 0);
        self.start = 0;
        self.end = end - start;
        if capacity > self.buf.len() {
            self.buf.resize(capacity, 0);
        }
        let Some(space) = self.buf.get_mut(self.end..) else {
            return Ok(());
        };
        if space.is_empty() {
            return Ok(());
        }
        let n = self.reader.read(space)?;
        self.exhausted = n == 0;
        self.end += n;
        Ok(())
    }
}

/// What the head of the pcap buffer holds, in owned form (so the buffer borrow can end).
enum PcapStep {
    /// A whole record: packet bytes at `buf[start + 16..start + len]`.
    Record {
        len: usize,
        timestamp_ns: u64,
        orig_len: u32,
    },
    /// An incomplete record needing `need` bytes in all.
    More { need: usize },
}

/// Reads the pcap record at the head of `head` (`big`: big-endian file; `nanos`: nanosecond
/// timestamps).
#[inline]
fn pcap_step(head: &[u8], big: bool, nanos: bool) -> PcapStep {
    let Some(&h) = head.first_chunk::<16>() else {
        return PcapStep::More { need: 16 };
    };
    let [s0, s1, s2, s3, f0, f1, f2, f3, c0, c1, c2, c3, o0, o1, o2, o3] = h;
    let word = |b: [u8; 4]| {
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let len = 16usize.saturating_add(word([c0, c1, c2, c3]) as usize);
    if head.len() < len {
        return PcapStep::More { need: len };
    }
    let frac = u64::from(word([f0, f1, f2, f3]));
    let frac = if nanos { frac } else { frac * 1000 };
    PcapStep::Record {
        len,
        timestamp_ns: u64::from(word([s0, s1, s2, s3])) * 1_000_000_000 + frac,
        orig_len: word([o0, o1, o2, o3]),
    }
}

/// Where packets come from.
enum Source<'r> {
    /// Classic pcap: records parsed here.
    Pcap(PcapRecords<'r>),
    /// pcapng, through `pcap-parser`.
    PcapNg(Box<dyn PcapReaderIterator + 'r>),
}

/// Streaming capture reader over any `std::io::Read`.
pub struct CaptureReader<'r> {
    source: Source<'r>,
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
        Self::with_buffer(reader, INITIAL_BUFFER, max_block)
    }

    /// Opens an in-memory capture with a read buffer just large enough for all of it, and a
    /// block limit of its size (at least 64 KiB, as for [`CaptureReader::with_limit`]). Same
    /// packets as [`CaptureReader::new`]; a block claiming more than the input holds (so it
    /// could not be complete) stops the reader as `BlockTooLarge` instead of `Truncated`, at the
    /// same packet and offset. Exists for the fuzz targets, whose inputs are a few KiB: `new`
    /// allocates and zeroes a 256 KiB buffer per input, and grows it up to 16 MiB for a
    /// block length a mutation made huge, which cost more than the parsing.
    pub fn for_bytes(bytes: &'r [u8]) -> Result<Self, CaptureError> {
        Self::with_buffer(bytes, bytes.len(), bytes.len())
    }

    /// Opens a capture whose first buffer holds `buffer` bytes (at least 64, at most
    /// [`INITIAL_BUFFER`] or the block limit if larger); it still grows for a block that does
    /// not fit, up to `max_block`.
    fn with_buffer<R: Read + 'r>(
        reader: R,
        buffer: usize,
        max_block: usize,
    ) -> Result<Self, CaptureError> {
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
        let capacity = buffer.clamp(64, INITIAL_BUFFER.min(max_block.max(65_536)));
        let header_err = |e: PcapError<&'static [u8]>| CaptureError::BadHeader {
            reason: match e {
                PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
                    "file header is truncated".to_string()
                }
                other => header_reason(&other),
            },
        };
        let mut legacy = (0, false, false);
        let source = match format {
            CaptureFormat::Pcap => {
                let (records, header) = open_pcap(magic, reader, capacity)?;
                legacy = (
                    (header.network.0 as u32) & 0xffff,
                    header.is_nanosecond_precision(),
                    header.is_bigendian(),
                );
                Source::Pcap(records)
            }
            CaptureFormat::PcapNg => {
                let chained = FillingReader {
                    inner: std::io::Cursor::new(magic).chain(reader),
                };
                Source::PcapNg(Box::new(
                    PcapNGReader::new(capacity, chained).map_err(header_err)?,
                ))
            }
        };
        let mut this = CaptureReader {
            source,
            format,
            offset: 0,
            pending_consume: 0,
            next_index: 0,
            capacity,
            max_block: max_block.max(65_536),
            legacy_link: legacy.0,
            legacy_nanos: legacy.1,
            legacy_big: legacy.2,
            ng_big_endian: false,
            interfaces: Vec::new(),
            done: false,
        };
        if let Source::PcapNg(inner) = &this.source {
            this.ng_big_endian = magic_order_big_endian(inner.data());
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
        match &mut self.source {
            Source::Pcap(p) => p.start = p.start.saturating_add(n).min(p.end),
            Source::PcapNg(inner) => inner.consume(n),
        }
        self.offset += n as u64;
    }

    fn fail(&mut self, e: CaptureError) -> Option<Result<PacketRef<'_>, CaptureError>> {
        self.done = true;
        Some(Err(e))
    }

    /// Returns the next packet, `None` at a clean end, or the error that ends the stream.
    /// After an error every further call returns `None`.
    #[inline]
    pub fn next_packet(&mut self) -> Option<Result<PacketRef<'_>, CaptureError>> {
        // Fast path (small enough to inline into the caller's loop): classic pcap with the
        // next record whole in the buffer.
        let fast = match &self.source {
            Source::Pcap(p) if !self.done && p.header_unread == 0 => {
                let start = p.start.saturating_add(self.pending_consume).min(p.end);
                let head = p.buf.get(start..p.end).unwrap_or(&[]);
                match pcap_step(head, self.legacy_big, self.legacy_nanos) {
                    PcapStep::Record {
                        len,
                        timestamp_ns,
                        orig_len,
                    } => Some((start, len, timestamp_ns, orig_len)),
                    PcapStep::More { .. } => None,
                }
            }
            _ => None,
        };
        if let Some((start, len, timestamp_ns, orig_len)) = fast {
            self.offset += self.pending_consume as u64;
            if let Source::Pcap(p) = &mut self.source {
                p.start = start;
            }
            return self.pcap_packet(len, timestamp_ns, orig_len);
        }
        self.next_packet_slow()
    }

    /// The classic pcap record of `len` bytes at the buffer's `start` (the file offset already
    /// advanced to it) as the next packet; it is consumed on the next call.
    #[inline]
    fn pcap_packet(
        &mut self,
        len: usize,
        timestamp_ns: u64,
        orig_len: u32,
    ) -> Option<Result<PacketRef<'_>, CaptureError>> {
        let index = self.next_index;
        self.next_index += 1;
        self.pending_consume = len;
        let Source::Pcap(p) = &self.source else {
            return None;
        };
        Some(Ok(PacketRef {
            index,
            file_offset: self.offset,
            timestamp_ns,
            link_type: self.legacy_link,
            interface: 0,
            orig_len,
            data: p.buf.get(p.start + 16..p.start + len).unwrap_or(&[]),
        }))
    }

    /// [`Self::next_packet`] when the fast path does not apply: refills, pcapng, the end.
    #[inline(never)]
    fn next_packet_slow(&mut self) -> Option<Result<PacketRef<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        if self.pending_consume > 0 {
            let n = std::mem::take(&mut self.pending_consume);
            self.consume(n);
        }
        if matches!(self.source, Source::Pcap(_)) {
            return self.next_pcap();
        }
        loop {
            // Every pcapng block is at least 12 bytes (type, length, trailing length). A shorter
            // claim is refused here: pcap-parser 0.17 subtracts those 12 bytes from the claim
            // before checking it for some block types, an arithmetic overflow.
            if let Some(claimed) = self.short_ng_block() {
                return self.fail(CaptureError::Corrupt {
                    packet_index: self.next_index,
                    offset: self.offset,
                    reason: format!("block length {claimed} is under the 12-byte minimum"),
                });
            }
            let Source::PcapNg(inner) = &mut self.source else {
                return None;
            };
            // `next` does not move the buffer, so packet data can be located relative to it.
            let base = inner.data().as_ptr() as usize;
            let step = match inner.next() {
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
                    if let Err(e) = inner.refill() {
                        let message = e.to_string();
                        return self.fail(CaptureError::Io {
                            offset: self.offset,
                            message,
                        });
                    }
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    if inner.data().is_empty() {
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
                        let grown = match &mut self.source {
                            Source::PcapNg(inner) => {
                                if inner.grow(new_cap) {
                                    Some(inner.refill())
                                } else {
                                    None
                                }
                            }
                            Source::Pcap(_) => None,
                        };
                        if let Some(refilled) = grown {
                            self.capacity = new_cap;
                            if let Err(e) = refilled {
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
                    let data = match &self.source {
                        Source::PcapNg(inner) => inner.data().get(start..end).unwrap_or(&[]),
                        Source::Pcap(_) => &[],
                    };
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

    /// [`Self::next_packet`] for classic pcap.
    fn next_pcap(&mut self) -> Option<Result<PacketRef<'_>, CaptureError>> {
        let (big, nanos) = (self.legacy_big, self.legacy_nanos);
        let (len, timestamp_ns, orig_len) = loop {
            let Source::Pcap(p) = &mut self.source else {
                return None;
            };
            if p.header_unread > 0 {
                let n = std::mem::take(&mut p.header_unread);
                p.start = p.start.saturating_add(n).min(p.end);
                self.offset += n as u64;
                continue;
            }
            let head = p.buf.get(p.start..p.end).unwrap_or(&[]);
            match pcap_step(head, big, nanos) {
                PcapStep::Record {
                    len,
                    timestamp_ns,
                    orig_len,
                } => break (len, timestamp_ns, orig_len),
                PcapStep::More { need } => {
                    if p.exhausted {
                        if p.start >= p.end {
                            self.done = true;
                            return None;
                        }
                        return self.fail(CaptureError::Truncated {
                            packet_index: self.next_index,
                            offset: self.offset,
                        });
                    }
                    let mut capacity = p.buf.len();
                    if need >= capacity {
                        // The record does not fit: grow the buffer up to the block limit.
                        let claimed = need as u64;
                        if claimed > self.max_block as u64 || self.capacity >= self.max_block {
                            return self.fail(CaptureError::BlockTooLarge {
                                packet_index: self.next_index,
                                offset: self.offset,
                                claimed,
                                limit: self.max_block as u64,
                            });
                        }
                        capacity = (need + 64)
                            .max(self.capacity.saturating_mul(2))
                            .min(self.max_block + 64);
                        self.capacity = capacity;
                    }
                    if p.refill(capacity).is_err() {
                        return self.fail(CaptureError::Io {
                            offset: self.offset,
                            message: PcapError::<&[u8]>::ReadError.to_string(),
                        });
                    }
                }
            }
        };
        self.pcap_packet(len, timestamp_ns, orig_len)
    }

    /// Length claimed by the record/block at the head of the buffer (best effort).
    /// The length the next pcapng block claims, when its header is buffered and the claim is
    /// under the 12-byte minimum of any block.
    fn short_ng_block(&self) -> Option<u64> {
        let Source::PcapNg(inner) = &self.source else {
            return None;
        };
        if inner.data().len() < 8 {
            return None;
        }
        let claimed = self.claimed_length();
        (claimed < 12).then_some(claimed)
    }

    fn claimed_length(&self) -> u64 {
        let d = match &self.source {
            Source::Pcap(p) => p.buf.get(p.start..p.end).unwrap_or(&[]),
            Source::PcapNg(inner) => inner.data(),
        };
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

/// Reads a classic pcap file header (the magic is already read) and the first buffer-full.
fn open_pcap<'r, R: Read + 'r>(
    magic: [u8; 4],
    mut reader: FillingReader<R>,
    capacity: usize,
) -> Result<(PcapRecords<'r>, PcapHeader), CaptureError> {
    let mut buf = vec![0u8; capacity.max(64)];
    let mut filled = magic.len();
    if let Some(m) = buf.get_mut(..filled) {
        m.copy_from_slice(&magic);
    }
    // As a `FillingReader` would after returning the magic: stop at the end, or at an error
    // (the bytes so far are returned; a persistent error shows on the next read).
    while let Some(space) = buf.get_mut(filled..).filter(|s| !s.is_empty()) {
        match reader.read(space) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let header = match parse_pcap_header(buf.get(..filled).unwrap_or(&[])) {
        Ok((_, h)) => h,
        Err(nom::Err::Incomplete(_)) => {
            return Err(CaptureError::BadHeader {
                reason: "file header is truncated".to_string(),
            })
        }
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => {
            return Err(CaptureError::BadHeader {
                reason: header_reason(&e),
            })
        }
    };
    let records = PcapRecords {
        reader: Box::new(FillingReader { inner: reader }),
        buf,
        start: 0,
        end: filled,
        exhausted: false,
        header_unread: 24,
    };
    Ok((records, header))
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

/// Why a file header does not parse: pcap-parser's own text of a parser error lists every
/// byte of the buffer (kilobytes), so a parser error is named by its kind only.
fn header_reason(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("file header does not parse ({kind:?})")
        }
        other => other.to_string(),
    }
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
