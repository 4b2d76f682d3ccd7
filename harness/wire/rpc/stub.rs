//! NDR framing of the one KMS operation, `RequestActivation` (opnum 0, spec §1.7, §1.10): a
//! conformant byte array in, a size + unique pointer to a conformant byte array + an int32
//! return value out. Every size field is kept raw so a checker can see a lying one; the
//! strict `validate()` methods turn disagreements into typed errors. The conformant
//! `max_count` decides how many bytes the message has and is checked against the bytes
//! present before slicing (nothing is allocated from it).

use crate::wire::cursor::Reader;
use crate::wire::{WireError, WireResult};

/// Which NDR transfer syntax frames the stub (decided by the presentation context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdrSyntax {
    /// NDR (32-bit): 4-byte sizes and pointers.
    Ndr32,
    /// NDR64: 8-byte sizes and pointers (the int32 size is followed by 4 pad bytes).
    Ndr64,
}

impl NdrSyntax {
    /// Bytes before the message in a request stub (8 or 16).
    pub fn request_prefix_len(self) -> usize {
        match self {
            Self::Ndr32 => 8,
            Self::Ndr64 => 16,
        }
    }

    /// Bytes before the message in a success response stub (12 or 24).
    pub fn response_prefix_len(self) -> usize {
        match self {
            Self::Ndr32 => 12,
            Self::Ndr64 => 24,
        }
    }
}

/// Referent id the KMS servers use for the unique pointer to the response data.
pub const UNIQUE_REFERENT_ID: u64 = 0x0002_0000;

const ZERO_PAD: [u8; 3] = [0; 3];

/// Pad after a message of `len` bytes so the return value is 4-aligned in the stub (both
/// prefixes are multiples of 4).
pub fn response_pad_len(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Reads the size word: u32, plus (NDR64) the 4 pad bytes after it.
fn read_size(
    r: &mut Reader<'_>,
    syntax: NdrSyntax,
    field: &'static str,
    pad_field: &'static str,
) -> WireResult<(u32, u32)> {
    let size = r.u32(field)?;
    let pad = match syntax {
        NdrSyntax::Ndr32 => 0,
        NdrSyntax::Ndr64 => r.u32(pad_field)?,
    };
    Ok((size, pad))
}

/// Reads a u32 (NDR32) or u64 (NDR64) word.
fn read_word(r: &mut Reader<'_>, syntax: NdrSyntax, field: &'static str) -> WireResult<u64> {
    match syntax {
        NdrSyntax::Ndr32 => r.u32(field).map(u64::from),
        NdrSyntax::Ndr64 => r.u64(field),
    }
}

fn write_size(out: &mut Vec<u8>, syntax: NdrSyntax, size: u32, pad: u32) {
    out.extend_from_slice(&size.to_le_bytes());
    if syntax == NdrSyntax::Ndr64 {
        out.extend_from_slice(&pad.to_le_bytes());
    }
}

/// Writes a word; NDR32 keeps the low 32 bits.
fn write_word(out: &mut Vec<u8>, syntax: NdrSyntax, v: u64) {
    match syntax {
        NdrSyntax::Ndr32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
        NdrSyntax::Ndr64 => out.extend_from_slice(&v.to_le_bytes()),
    }
}

/// Reads a conformant byte array of `max_count` elements, refusing a count beyond the input.
fn read_array<'a>(
    r: &mut Reader<'a>,
    max_count: u64,
    count_offset: usize,
    field: &'static str,
) -> WireResult<&'a [u8]> {
    let available = r.remaining();
    match usize::try_from(max_count) {
        Ok(n) if n <= available => r.take(n, field),
        _ => Err(WireError::length(
            field,
            count_offset,
            max_count,
            available as u64,
        )),
    }
}

/// The request stub: `requestSize`, conformant `max_count`, the KMS request message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestStub<'a> {
    /// `requestSize` as sent (int32 read as u32).
    pub declared_size: u32,
    /// NDR64 only: the 4 bytes after `requestSize` (should be 0; always 0 for NDR32).
    pub size_pad: u32,
    /// Conformant array length; decides the message length.
    pub max_count: u64,
    /// The KMS request message.
    pub message: &'a [u8],
    /// Bytes after the message (none in a well-formed stub).
    pub trailing: &'a [u8],
}

impl<'a> RequestStub<'a> {
    /// A well-formed stub for `message` (sizes equal to its length).
    pub fn new(message: &'a [u8]) -> Self {
        Self {
            declared_size: message.len() as u32,
            size_pad: 0,
            max_count: message.len() as u64,
            message,
            trailing: &[],
        }
    }

    /// Decodes a request stub. Error offsets count from the stub start.
    pub fn parse(stub: &'a [u8], syntax: NdrSyntax) -> WireResult<Self> {
        let mut r = Reader::at(stub, 0);
        let (declared_size, size_pad) =
            read_size(&mut r, syntax, "ndr.request.size", "ndr.request.size_pad")?;
        let count_at = r.pos();
        let max_count = read_word(&mut r, syntax, "ndr.request.max_count")?;
        let message = read_array(&mut r, max_count, count_at, "ndr.request.max_count")?;
        Ok(Self {
            declared_size,
            size_pad,
            max_count,
            message,
            trailing: r.rest(),
        })
    }

    /// Strict checks: size = max_count, NDR64 size pad 0, no trailing bytes.
    pub fn validate(&self, syntax: NdrSyntax) -> WireResult<()> {
        if self.size_pad != 0 {
            return Err(WireError::invalid(
                "ndr.request.size_pad",
                4,
                self.size_pad.into(),
            ));
        }
        if u64::from(self.declared_size) != self.max_count {
            return Err(WireError::length(
                "ndr.request.size",
                0,
                self.declared_size.into(),
                self.max_count,
            ));
        }
        if !self.trailing.is_empty() {
            return Err(WireError::trailing(
                "ndr.request",
                syntax.request_prefix_len() + self.message.len(),
                self.trailing.len(),
            ));
        }
        Ok(())
    }

    /// Encoded length.
    pub fn wire_len(&self, syntax: NdrSyntax) -> usize {
        syntax.request_prefix_len() + self.message.len() + self.trailing.len()
    }

    /// Appends the stub bytes (fields as stored, even when inconsistent).
    pub fn encode_into(&self, syntax: NdrSyntax, out: &mut Vec<u8>) {
        write_size(out, syntax, self.declared_size, self.size_pad);
        write_word(out, syntax, self.max_count);
        out.extend_from_slice(self.message);
        out.extend_from_slice(self.trailing);
    }

    /// Encodes to a fresh buffer.
    pub fn encode(&self, syntax: NdrSyntax) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len(syntax));
        self.encode_into(syntax, &mut out);
        out
    }
}

/// The response stub, in success form (non-null pointer) or error form (null pointer and
/// an HRESULT return value). The form is chosen by the referent id (0 ⇒ error form), as the
/// reference client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStub<'a> {
    /// The KMS response message and return value (0 when well-formed).
    Success {
        /// `responseSize` as sent.
        response_size: u32,
        /// NDR64 only: the 4 bytes after `responseSize` (0 for NDR32).
        size_pad: u32,
        /// Unique-pointer referent id (non-zero; servers use 0x00020000).
        referent_id: u64,
        /// Conformant array length; decides the message length.
        max_count: u64,
        /// The KMS response message.
        message: &'a [u8],
        /// Alignment pad after the message ([`response_pad_len`] bytes), kept raw.
        pad: &'a [u8],
        /// The RPC return value.
        return_value: u32,
        /// Bytes after the return value (none when well-formed).
        trailing: &'a [u8],
    },
    /// No data; the HRESULT explains why.
    Error {
        /// `responseSize` as sent (0 when well-formed).
        response_size: u32,
        /// NDR64 only: the 4 bytes after `responseSize`.
        size_pad: u32,
        /// The return value (an HRESULT such as 0x8007000D).
        hresult: u32,
        /// Bytes after the return value (none when well-formed).
        trailing: &'a [u8],
    },
}

impl<'a> ResponseStub<'a> {
    /// A well-formed success stub for `message`.
    pub fn success(message: &'a [u8]) -> Self {
        Self::Success {
            response_size: message.len() as u32,
            size_pad: 0,
            referent_id: UNIQUE_REFERENT_ID,
            max_count: message.len() as u64,
            message,
            pad: &ZERO_PAD[..response_pad_len(message.len())],
            return_value: 0,
            trailing: &[],
        }
    }

    /// A well-formed error stub.
    pub fn error(hresult: u32) -> Self {
        Self::Error {
            response_size: 0,
            size_pad: 0,
            hresult,
            trailing: &[],
        }
    }

    /// The KMS message of a success stub.
    pub fn message(&self) -> Option<&'a [u8]> {
        match self {
            Self::Success { message, .. } => Some(message),
            Self::Error { .. } => None,
        }
    }

    /// The return value: 0 (or whatever was sent) on success, the HRESULT on error.
    pub fn return_value(&self) -> u32 {
        match self {
            Self::Success { return_value, .. } => *return_value,
            Self::Error { hresult, .. } => *hresult,
        }
    }

    /// Decodes a response stub. Error offsets count from the stub start.
    pub fn parse(stub: &'a [u8], syntax: NdrSyntax) -> WireResult<Self> {
        let mut r = Reader::at(stub, 0);
        let (response_size, size_pad) =
            read_size(&mut r, syntax, "ndr.response.size", "ndr.response.size_pad")?;
        let referent_id = read_word(&mut r, syntax, "ndr.response.referent_id")?;
        if referent_id == 0 {
            let hresult = r.u32("ndr.response.return_value")?;
            return Ok(Self::Error {
                response_size,
                size_pad,
                hresult,
                trailing: r.rest(),
            });
        }
        let count_at = r.pos();
        let max_count = read_word(&mut r, syntax, "ndr.response.max_count")?;
        let message = read_array(&mut r, max_count, count_at, "ndr.response.max_count")?;
        let pad = r.take(response_pad_len(message.len()), "ndr.response.pad")?;
        let return_value = r.u32("ndr.response.return_value")?;
        Ok(Self::Success {
            response_size,
            size_pad,
            referent_id,
            max_count,
            message,
            pad,
            return_value,
            trailing: r.rest(),
        })
    }

    /// Strict checks (spec §8): size = max_count, zero pads, return value 0 on success;
    /// size 0 and a non-zero HRESULT on error; no trailing bytes.
    pub fn validate(&self, syntax: NdrSyntax) -> WireResult<()> {
        let (size, size_pad, trailing) = match self {
            Self::Success {
                response_size,
                size_pad,
                trailing,
                ..
            }
            | Self::Error {
                response_size,
                size_pad,
                trailing,
                ..
            } => (*response_size, *size_pad, *trailing),
        };
        if size_pad != 0 {
            return Err(WireError::invalid(
                "ndr.response.size_pad",
                4,
                size_pad.into(),
            ));
        }
        let word = match syntax {
            NdrSyntax::Ndr32 => 4,
            NdrSyntax::Ndr64 => 8,
        };
        let end = match self {
            Self::Success {
                max_count,
                message,
                pad,
                return_value,
                ..
            } => {
                if u64::from(size) != *max_count {
                    return Err(WireError::length(
                        "ndr.response.size",
                        0,
                        size.into(),
                        *max_count,
                    ));
                }
                let pad_at = syntax.response_prefix_len() + message.len();
                if let Some(i) = pad.iter().position(|&b| b != 0) {
                    let v = pad.get(i).copied().unwrap_or(0);
                    return Err(WireError::invalid("ndr.response.pad", pad_at + i, v.into()));
                }
                let rv_at = pad_at + pad.len();
                if *return_value != 0 {
                    return Err(WireError::invalid(
                        "ndr.response.return_value",
                        rv_at,
                        (*return_value).into(),
                    ));
                }
                rv_at + 4
            }
            Self::Error { hresult, .. } => {
                if size != 0 {
                    return Err(WireError::invalid("ndr.response.size", 0, size.into()));
                }
                if *hresult == 0 {
                    return Err(WireError::invalid("ndr.response.return_value", 2 * word, 0));
                }
                2 * word + 4
            }
        };
        if !trailing.is_empty() {
            return Err(WireError::trailing("ndr.response", end, trailing.len()));
        }
        Ok(())
    }

    /// Appends the stub bytes (fields as stored; a success stub writes `pad` as given).
    pub fn encode_into(&self, syntax: NdrSyntax, out: &mut Vec<u8>) {
        match self {
            Self::Success {
                response_size,
                size_pad,
                referent_id,
                max_count,
                message,
                pad,
                return_value,
                trailing,
            } => {
                write_size(out, syntax, *response_size, *size_pad);
                write_word(out, syntax, *referent_id);
                write_word(out, syntax, *max_count);
                out.extend_from_slice(message);
                out.extend_from_slice(pad);
                out.extend_from_slice(&return_value.to_le_bytes());
                out.extend_from_slice(trailing);
            }
            Self::Error {
                response_size,
                size_pad,
                hresult,
                trailing,
            } => {
                write_size(out, syntax, *response_size, *size_pad);
                write_word(out, syntax, 0);
                out.extend_from_slice(&hresult.to_le_bytes());
                out.extend_from_slice(trailing);
            }
        }
    }

    /// Encodes to a fresh buffer.
    pub fn encode(&self, syntax: NdrSyntax) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        self.encode_into(syntax, &mut out);
        out
    }
}
