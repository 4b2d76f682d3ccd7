//! The one error type of the wire layer: every refusal names the field, the byte offset
//! (from the start of the buffer handed to the parser) and why.

use std::fmt;

/// Why a field could not be decoded. Kept small and `Copy` so errors are cheap on hot paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The input ended before the field: `needed` bytes from the field's offset, `available` present.
    Truncated {
        /// Bytes the field needs from its offset.
        needed: usize,
        /// Bytes present from that offset.
        available: usize,
    },
    /// Bytes were left over after a structure that must consume its whole input.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A length field disagrees with the bytes actually present or with another length.
    LengthMismatch {
        /// The length the field declares.
        declared: u64,
        /// The length actually present (or implied by another field).
        actual: u64,
    },
    /// A field holds a value the protocol does not allow here.
    InvalidValue {
        /// The value found.
        value: u64,
    },
    /// A well-formed construct kmsspec deliberately does not decode (e.g. big-endian drep).
    Unsupported,
    /// A cryptographic check failed (bad PKCS#7 padding, wrong block multiple).
    Crypto,
    /// Text that must be UTF-16 / ASCII is not.
    BadText,
}

/// A decoding (or encoding) refusal with its location. `offset` is relative to the start of
/// the buffer given to the public parse function that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    /// Name of the field or structure, e.g. `"rpc.header.frag_length"`.
    pub field: &'static str,
    /// Byte offset of the field in the parsed buffer.
    pub offset: usize,
    /// What is wrong.
    pub kind: WireErrorKind,
}

impl WireError {
    /// A field that needed `needed` bytes at `offset` but only `available` were present.
    pub fn truncated(field: &'static str, offset: usize, needed: usize, available: usize) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::Truncated { needed, available },
        }
    }
    /// `count` unexpected bytes after a complete structure ending at `offset`.
    pub fn trailing(field: &'static str, offset: usize, count: usize) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::TrailingBytes { count },
        }
    }
    /// A declared length that does not match what is there.
    pub fn length(field: &'static str, offset: usize, declared: u64, actual: u64) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::LengthMismatch { declared, actual },
        }
    }
    /// A value outside what the protocol allows.
    pub fn invalid(field: &'static str, offset: usize, value: u64) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::InvalidValue { value },
        }
    }
    /// A construct deliberately not decoded.
    pub fn unsupported(field: &'static str, offset: usize) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::Unsupported,
        }
    }
    /// A cryptographic failure (padding, block size).
    pub fn crypto(field: &'static str, offset: usize) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::Crypto,
        }
    }
    /// Undecodable text.
    pub fn bad_text(field: &'static str, offset: usize) -> Self {
        Self {
            field,
            offset,
            kind: WireErrorKind::BadText,
        }
    }
    /// The same error moved by `base` bytes, for a parser that decoded a sub-slice.
    #[must_use]
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}: ", self.field, self.offset)?;
        match self.kind {
            WireErrorKind::Truncated { needed, available } => {
                write!(f, "truncated (needs {needed} bytes, {available} present)")
            }
            WireErrorKind::TrailingBytes { count } => {
                write!(f, "{count} unexpected trailing bytes")
            }
            WireErrorKind::LengthMismatch { declared, actual } => {
                write!(f, "length mismatch (declared {declared}, actual {actual})")
            }
            WireErrorKind::InvalidValue { value } => write!(f, "invalid value {value:#x}"),
            WireErrorKind::Unsupported => write!(f, "not supported"),
            WireErrorKind::Crypto => write!(f, "cryptographic check failed"),
            WireErrorKind::BadText => write!(f, "invalid text encoding"),
        }
    }
}

impl std::error::Error for WireError {}

/// Result alias for the wire layer.
pub type WireResult<T> = Result<T, WireError>;
