//! A bounds-checked little-endian reader over one PDU (or stub), so every refusal carries the
//! field name and its byte offset from the start of the buffer being parsed.

use crate::wire::guid::{guid_from_wire, GUID_LEN};
use crate::wire::{WireError, WireResult};
use uuid::Uuid;

/// Reads fields front to back from a slice; never panics, never reads past the end.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` starting at `pos` (offsets in errors are indices into `buf`).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// Current offset into the buffer.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Takes `n` bytes or refuses with `Truncated` naming `field`.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> WireResult<&'a [u8]> {
        let available = self.remaining();
        if n > available {
            return Err(WireError::truncated(field, self.pos, n, available));
        }
        let start = self.pos;
        self.pos += n;
        self.buf
            .get(start..start + n)
            .ok_or(WireError::truncated(field, start, n, available))
    }

    /// Takes a fixed-size array.
    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> WireResult<[u8; N]> {
        let s = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> WireResult<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> WireResult<u16> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> WireResult<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> WireResult<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A mixed-endian wire GUID.
    pub(crate) fn guid(&mut self, field: &'static str) -> WireResult<Uuid> {
        Ok(guid_from_wire(&self.array::<GUID_LEN>(field)?))
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }
}
