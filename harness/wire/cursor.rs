//! The wire layer's one field reader: nom's little-endian number and byte parsers, wrapped so
//! every refusal carries the field name and its byte offset from the start of the buffer being
//! parsed (nom's own errors know neither). Shared by the DCE/RPC and KMS parsers.

use crate::wire::guid::{guid_from_wire, GUID_LEN};
use crate::wire::{WireError, WireResult};
use nom::bytes::complete::take as nom_take;
use nom::number::complete::{le_u16, le_u32, le_u64, le_u8};
use nom::IResult;
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

    /// Runs one nom parser at the current position; on failure, a `Truncated` error naming
    /// `field` (the only way nom's complete-input number and byte parsers fail).
    fn run<T>(
        &mut self,
        needed: usize,
        field: &'static str,
        parser: impl FnOnce(&'a [u8]) -> IResult<&'a [u8], T>,
    ) -> WireResult<T> {
        let input = self.buf.get(self.pos..).unwrap_or(&[]);
        let available = input.len();
        match parser(input) {
            Ok((rest, value)) => {
                self.pos += available - rest.len();
                Ok(value)
            }
            Err(_) => Err(WireError::truncated(field, self.pos, needed, available)),
        }
    }

    /// Takes `n` bytes or refuses with `Truncated` naming `field`.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> WireResult<&'a [u8]> {
        self.run(n, field, |i| {
            nom_take::<usize, &[u8], nom::error::Error<&[u8]>>(n)(i)
        })
    }

    /// Takes a fixed-size array.
    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> WireResult<[u8; N]> {
        let s = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, field: &'static str) -> WireResult<u8> {
        self.run(1, field, le_u8)
    }

    /// A little-endian u16.
    pub(crate) fn u16(&mut self, field: &'static str) -> WireResult<u16> {
        self.run(2, field, le_u16)
    }

    /// A little-endian u32.
    pub(crate) fn u32(&mut self, field: &'static str) -> WireResult<u32> {
        self.run(4, field, le_u32)
    }

    /// A little-endian u64.
    pub(crate) fn u64(&mut self, field: &'static str) -> WireResult<u64> {
        self.run(8, field, le_u64)
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
