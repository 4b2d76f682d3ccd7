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

/// UTF-16LE `raw` up to the first NUL unit (or its end) as text, unpaired surrogates replaced
/// by U+FFFD; the flag says whether any were. Same text as `String::from_utf16_lossy` of those
/// units, with an ASCII fast path (KMS names and ePIDs are ASCII).
pub(crate) fn utf16le_text(raw: &[u8]) -> (String, bool) {
    // The common case: ASCII units up to the NUL (or the end), copied with an exact capacity.
    let mut n = 0;
    let mut ascii = true;
    for c in raw.chunks_exact(2) {
        let u = u16::from_le_bytes([c[0], c[1]]);
        if u == 0 {
            break;
        }
        if u >= 0x80 {
            ascii = false;
            break;
        }
        n += 1;
    }
    if ascii {
        let bytes: Vec<u8> = raw
            .get(..2 * n)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| c[0])
            .collect();
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
    let mut n = 0;
    for c in raw.chunks_exact(2) {
        match (c[0], c[1]) {
            (0, 0) => break,
            (b, 0) if b.is_ascii() => {
                *buf.get_mut(n)? = b;
                n += 1;
            }
            _ => return None,
        }
    }
    std::str::from_utf8(buf.get(..n)?).ok()
}

#[cfg(test)]
mod utf16_tests {
    use super::{utf16le_ascii, utf16le_text};

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
}
