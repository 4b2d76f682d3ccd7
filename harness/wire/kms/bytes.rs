//! Fixed-offset reads for the KMS parsers (KMS structures are fixed layouts, so the parsers
//! address fields by offset), on top of the wire layer's shared nom-based [`Reader`].

use uuid::Uuid;

use crate::wire::cursor::Reader;
use crate::wire::WireResult;

/// `N` bytes at `off`, or a `Truncated` error naming `field`.
pub(crate) fn take<const N: usize>(
    buf: &[u8],
    off: usize,
    field: &'static str,
) -> WireResult<[u8; N]> {
    Reader::at(buf, off).array::<N>(field)
}

/// A little-endian u32 at `off`.
pub(crate) fn u32_at(buf: &[u8], off: usize, field: &'static str) -> WireResult<u32> {
    Reader::at(buf, off).u32(field)
}

/// A little-endian u64 at `off`.
pub(crate) fn u64_at(buf: &[u8], off: usize, field: &'static str) -> WireResult<u64> {
    Reader::at(buf, off).u64(field)
}

/// A wire-form GUID at `off`.
pub(crate) fn guid_at(buf: &[u8], off: usize, field: &'static str) -> WireResult<Uuid> {
    Reader::at(buf, off).guid(field)
}

/// Lowercase hex of `bytes`, for report strings.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
