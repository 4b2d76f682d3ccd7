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

/// 16-bit lanes of a 128-bit word, for the 8-units-at-a-time ASCII scan.
const LANES_NOT_7BIT: u128 = 0xFF80_FF80_FF80_FF80_FF80_FF80_FF80_FF80;
const LANES_7FFF: u128 = 0x7FFF_7FFF_7FFF_7FFF_7FFF_7FFF_7FFF_7FFF;
const LANES_TOP: u128 = 0x8000_8000_8000_8000_8000_8000_8000_8000;

/// Eight UTF-16LE units as one little-endian word.
fn word(chunk: &[u8]) -> Option<u128> {
    chunk.try_into().ok().map(u128::from_le_bytes)
}

/// The number of leading units of UTF-16LE `raw` in 1..=0x7F (non-NUL ASCII), and whether
/// the run ends at a NUL unit or the end of `raw` (`true`) rather than at a non-ASCII unit.
fn ascii_run(raw: &[u8]) -> (usize, bool) {
    let mut n = 0;
    for chunk in raw.chunks_exact(16) {
        let Some(x) = word(chunk) else { break };
        // All lanes ≤ 0x7F, then lane + 0x7FFF sets the lane's top bit exactly when it is
        // non-zero (no carry leaves a lane).
        if x & LANES_NOT_7BIT != 0 || x.wrapping_add(LANES_7FFF) & LANES_TOP != LANES_TOP {
            break;
        }
        n += 8;
    }
    for c in raw.get(2 * n..).unwrap_or_default().chunks_exact(2) {
        match u16::from_le_bytes([c[0], c[1]]) {
            0 => return (n, true),
            1..=0x7F => n += 1,
            _ => return (n, false),
        }
    }
    (n, true)
}

/// Index of the first NUL unit of UTF-16LE `raw` (an odd trailing byte is ignored), found
/// eight units at a time.
pub(crate) fn first_nul_unit(raw: &[u8]) -> Option<usize> {
    let mut n = 0;
    for chunk in raw.chunks_exact(16) {
        let Some(x) = word(chunk) else { break };
        // A lane's low 15 bits plus 0x7FFF set its top bit exactly when they are non-zero
        // (no carry leaves a lane); with the lane's own top bit, that marks non-zero lanes.
        if ((x & LANES_7FFF).wrapping_add(LANES_7FFF) | x) & LANES_TOP != LANES_TOP {
            break;
        }
        n += 8;
    }
    raw.get(2 * n..)
        .unwrap_or_default()
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .map(|p| n + p)
}

/// The low bytes of the UTF-16LE units in `raw`, appended to `out` (8 at a time).
fn push_low_bytes(raw: &[u8], out: &mut Vec<u8>) {
    let mut chunks = raw.chunks_exact(16);
    for chunk in chunks.by_ref() {
        let Some(x) = word(chunk) else { break };
        out.extend_from_slice(&low_bytes8(x));
    }
    out.extend(chunks.remainder().chunks_exact(2).map(|c| c[0]));
}

/// The low bytes of the eight 16-bit lanes of `x`, in order.
fn low_bytes8(x: u128) -> [u8; 8] {
    // Pack the even bytes: 16-bit lanes → pairs in 32-bit lanes → quads in 64-bit lanes.
    let y = x & 0x00FF_00FF_00FF_00FF_00FF_00FF_00FF_00FF;
    let y = (y | (y >> 8)) & 0x0000_FFFF_0000_FFFF_0000_FFFF_0000_FFFF;
    let y = (y | (y >> 16)) & 0x0000_0000_FFFF_FFFF_0000_0000_FFFF_FFFF;
    ((y | (y >> 32)) as u64).to_le_bytes()
}

/// UTF-16LE `raw` up to the first NUL unit (or its end) as text, unpaired surrogates replaced
/// by U+FFFD; the flag says whether any were. Same text as `String::from_utf16_lossy` of those
/// units, with an ASCII fast path (KMS names and ePIDs are ASCII).
pub(crate) fn utf16le_text(raw: &[u8]) -> (String, bool) {
    // The common case: ASCII units up to the NUL (or the end), copied with an exact capacity.
    let (n, ascii) = ascii_run(raw);
    if ascii {
        let mut bytes = Vec::with_capacity(n);
        push_low_bytes(raw.get(..2 * n).unwrap_or_default(), &mut bytes);
        if let Ok(text) = String::from_utf8(bytes) {
            return (text, false);
        }
    }
    let units = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    let mut bad = false;
    let mut text = String::with_capacity(raw.len() / 2);
    text.extend(char::decode_utf16(units).map(|c| {
        c.unwrap_or_else(|_| {
            bad = true;
            char::REPLACEMENT_CHARACTER
        })
    }));
    (text, bad)
}

/// The text [`utf16le_text`] gives for `raw`, written into `buf` without allocating, when
/// it is all ASCII and fits; `None` otherwise.
pub(crate) fn utf16le_ascii<'b>(raw: &[u8], buf: &'b mut [u8]) -> Option<&'b str> {
    let (n, ascii) = ascii_run(raw);
    if !ascii {
        return None;
    }
    let out = buf.get_mut(..n)?;
    let mut outs = out.chunks_exact_mut(8);
    for (o, chunk) in outs.by_ref().zip(raw.chunks_exact(16)) {
        if let Some(x) = word(chunk) {
            o.copy_from_slice(&low_bytes8(x));
        }
    }
    // The units after the whole words copied (not `chunks_exact`'s remainder: `raw` can be
    // longer than the `n` units).
    let tail = raw.get(n / 8 * 16..).unwrap_or_default();
    for (o, c) in outs.into_remainder().iter_mut().zip(tail.chunks_exact(2)) {
        *o = c[0];
    }
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
mod utf16_tests {
    use super::{first_nul_unit, utf16le_ascii, utf16le_text};

    #[test]
    fn first_nul_unit_matches_unit_by_unit() {
        // A NUL at every position of runs around the word size, in lanes next to 0x8000, 0x0001
        // and 0x0100 units (borrow/carry neighbours), and odd trailing bytes.
        for len in 0..40usize {
            for fill in [0x0001u16, 0x0100, 0x8000, 0xFFFF, 0x0041] {
                for nul in (0..=len).map(Some).chain([None]) {
                    let mut units = vec![fill; len];
                    if let Some(i) = nul.filter(|&i| i < len) {
                        units[i] = 0;
                    }
                    let mut raw: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
                    let want = raw.chunks_exact(2).position(|c| c == [0, 0]);
                    assert_eq!(first_nul_unit(&raw), want, "{len} {fill:x} {nul:?}");
                    raw.push(0);
                    assert_eq!(first_nul_unit(&raw), want, "{len} {fill:x} {nul:?} odd");
                }
            }
        }
    }

    fn le(units: &[u16]) -> Vec<u8> {
        units.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    #[test]
    fn matches_from_utf16_lossy() {
        let cases: [&[u16]; 7] = [
            &[],
            &[0x61, 0x62, 0, 0x63],
            &[0x61, 0x7f, 0x80, 0x62],
            &[0xD800, 0x61],
            &[0x61, 0xD83D, 0xDE00, 0],
            &[0xDC00],
            &[0, 0x61],
        ];
        for units in cases {
            let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
            let want = String::from_utf16_lossy(&units[..end]);
            let bad = String::from_utf16(&units[..end]).is_err();
            assert_eq!(utf16le_text(&le(units)), (want, bad), "{units:x?}");
        }
        for units in cases {
            let raw = le(units);
            let mut buf = [0u8; 8];
            let (text, _) = utf16le_text(&raw);
            let want = text.is_ascii().then_some(text.as_str());
            assert_eq!(utf16le_ascii(&raw, &mut buf), want, "{units:x?}");
        }
        assert_eq!(utf16le_ascii(&le(&[0x41; 9]), &mut [0u8; 8]), None);
        assert_eq!(
            utf16le_ascii(&le(&[0x41; 8]), &mut [0u8; 8]),
            Some("AAAAAAAA")
        );
        // An odd trailing byte is ignored.
        assert_eq!(utf16le_text(&[0x41, 0, 0x42]).0, "A");
    }

    #[test]
    fn word_at_a_time_scan_matches_unit_by_unit() {
        // Runs of every length around the 8-unit word size, ended by a NUL, a non-ASCII unit
        // (in both bytes), a surrogate or the end, with junk after the end.
        let enders: [Option<u16>; 5] = [None, Some(0), Some(0x80), Some(0x0100), Some(0xD800)];
        for len in 0..40usize {
            for ender in enders {
                let mut units: Vec<u16> = (0..len).map(|i| 0x20 + (i as u16 * 7) % 0x5F).collect();
                units.extend(ender);
                units.extend([0x41, 0x7F, 1]);
                let raw = le(&units);
                let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
                let want = String::from_utf16_lossy(&units[..end]);
                let bad = String::from_utf16(&units[..end]).is_err();
                assert_eq!(utf16le_text(&raw), (want.clone(), bad), "{units:x?}");
                let mut buf = [0u8; 64];
                let ascii = want.is_ascii() && want.len() <= 64;
                assert_eq!(
                    utf16le_ascii(&raw, &mut buf),
                    ascii.then_some(want.as_str()),
                    "{units:x?}"
                );
            }
        }
    }
}
