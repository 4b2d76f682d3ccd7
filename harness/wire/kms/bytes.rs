//! Bounds-checked fixed-size reads shared by the KMS parsers.

use uuid::Uuid;

use crate::wire::guid::guid_from_wire;
use crate::wire::{WireError, WireResult};

/// `N` bytes at `off`, or a `Truncated` error naming `field`.
pub(crate) fn take<const N: usize>(
    buf: &[u8],
    off: usize,
    field: &'static str,
) -> WireResult<[u8; N]> {
    buf.get(off..off.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| WireError::truncated(field, off, N, buf.len().saturating_sub(off)))
}

/// A little-endian u32 at `off`.
pub(crate) fn u32_at(buf: &[u8], off: usize, field: &'static str) -> WireResult<u32> {
    take::<4>(buf, off, field).map(u32::from_le_bytes)
}

/// A little-endian u64 at `off`.
pub(crate) fn u64_at(buf: &[u8], off: usize, field: &'static str) -> WireResult<u64> {
    take::<8>(buf, off, field).map(u64::from_le_bytes)
}

/// A wire-form GUID at `off`.
pub(crate) fn guid_at(buf: &[u8], off: usize, field: &'static str) -> WireResult<Uuid> {
    take::<16>(buf, off, field).map(|b| guid_from_wire(&b))
}

/// Lowercase hex of `bytes`, for report strings.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
