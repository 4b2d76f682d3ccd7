//! The wire layer's one field reader: nom's complete-input `take` cuts every field, wrapped so
//! each refusal carries the field name and its byte offset from the start of the buffer being
//! parsed (nom's own errors know neither); numbers are read from the cut bytes with
//! `from_le_bytes` (nom's generic byte-by-byte number parsers cost ≈1.5% of a whole decode).
//! nom runs with the unit error type (a refusal builds nothing until we name it) and
//! everything inlines, so a field read costs one bounds check. Shared by the DCE/RPC and KMS
//! parsers.

use crate::wire::guid::{guid_from_wire, GUID_LEN};
use crate::wire::{WireError, WireResult};
use nom::bytes::complete::take as nom_take;
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
    #[inline]
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// Current offset into the buffer.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Runs one nom parser at the current position; on failure, a `Truncated` error naming
    /// `field` (the only way nom's complete-input number and byte parsers fail), with the bytes
    /// `needed` and those available.
    #[inline]
    fn run<T>(
        &mut self,
        needed: usize,
        field: &'static str,
        parser: impl FnOnce(&'a [u8]) -> IResult<&'a [u8], T, ()>,
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
    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> WireResult<&'a [u8]> {
        self.run(n, field, nom_take(n))
    }

    /// Takes a fixed-size array.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> WireResult<[u8; N]> {
        let taken = self.take(N, field)?;
        // `take` gave exactly N bytes.
        Ok(taken.first_chunk::<N>().copied().unwrap_or([0; N]))
    }

    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> WireResult<u8> {
        self.array::<1>(field).map(|[b]| b)
    }

    /// A little-endian u16.
    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> WireResult<u16> {
        self.array(field).map(u16::from_le_bytes)
    }

    /// A little-endian u32.
    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> WireResult<u32> {
        self.array(field).map(u32::from_le_bytes)
    }

    /// A little-endian u64.
    #[inline]
    pub(crate) fn u64(&mut self, field: &'static str) -> WireResult<u64> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// A mixed-endian wire GUID.
    #[inline]
    pub(crate) fn guid(&mut self, field: &'static str) -> WireResult<Uuid> {
        Ok(guid_from_wire(&self.array::<GUID_LEN>(field)?))
    }

    /// Everything left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireErrorKind;

    #[test]
    fn reads_little_endian_fields_in_order() {
        let buf = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut r = Reader::at(&buf, 0);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 0x0302);
        assert_eq!(r.u32("c").unwrap(), 0x0706_0504);
        assert_eq!(r.u64("d").unwrap(), 0x0f0e_0d0c_0b0a_0908);
        assert_eq!((r.pos(), r.remaining()), (15, 0));
        assert!(r.rest().is_empty());
    }

    #[test]
    fn refusals_name_field_offset_needed_and_available() {
        let buf = [0u8; 6];
        let mut r = Reader::at(&buf, 3);
        let e = r.u32("x.word").unwrap_err();
        assert_eq!(e, WireError::truncated("x.word", 3, 4, 3));
        // A refusal consumes nothing.
        assert_eq!(r.pos(), 3);
        let e = r.take(7, "x.bytes").unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind),
            (
                "x.bytes",
                3,
                WireErrorKind::Truncated {
                    needed: 7,
                    available: 3
                }
            )
        );
        assert_eq!(r.take(3, "x.bytes").unwrap(), &[0, 0, 0]);
        assert_eq!(
            r.u8("x.byte").unwrap_err(),
            WireError::truncated("x.byte", 6, 1, 0)
        );
        // Past the end: nothing available, offset kept.
        let mut r = Reader::at(&buf, 9);
        assert_eq!(
            r.guid("x.guid").unwrap_err(),
            WireError::truncated("x.guid", 9, 16, 0)
        );
        assert_eq!(r.remaining(), 0);
        assert!(r.rest().is_empty());
    }
}
