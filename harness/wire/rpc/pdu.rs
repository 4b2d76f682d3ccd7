//! One whole connection-oriented PDU: header + typed body, plus stream-framing helpers.
//!
//! Policy choices (documented because they decide what is refused):
//! * `auth_length` ≠ 0 is refused (`Unsupported` on `rpc.header.auth_length`): KMS uses no
//!   authentication, and vlmcsd echoes a non-zero `auth_length` with no trailer behind it,
//!   so carving a trailer off the end would misread the body. Use [`Header::read`] to see
//!   such a header.
//! * Big-endian `drep` is refused (`Unsupported` on `rpc.header.drep`), never misread.
//! * PDU types outside the eight KMS uses: unknown values are `InvalidValue` on
//!   `rpc.header.ptype`; known but undecoded ones (shutdown, co_cancel, connectionless
//!   types…) are `Unsupported` on `rpc.header.ptype`.

use super::bind::Bind;
use super::bind_ack::{BindAck, BindNak};
use super::call::{Fault, Request, Response};
use super::cursor::Reader;
use super::header::{DataRep, Header, PduType, PfcFlags, HEADER_LEN, RPC_VERS};
use crate::wire::{WireError, WireResult};

/// The header fields a PDU carries besides its type and lengths (which the encoder computes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Common {
    /// Minor version (0 or 1; the major is always 5).
    pub rpc_vers_minor: u8,
    /// Flags (for a request, `OBJECT_UUID` is set/cleared by the encoder to match the body).
    pub pfc_flags: PfcFlags,
    /// Data representation (always little-endian here).
    pub drep: DataRep,
    /// Call id.
    pub call_id: u32,
}

impl Common {
    /// Version 5.0, FIRST|LAST, little-endian drep, the given call id.
    pub fn new(call_id: u32) -> Self {
        Self {
            rpc_vers_minor: 0,
            pfc_flags: PfcFlags::SINGLE,
            drep: DataRep::LITTLE_ENDIAN,
            call_id,
        }
    }
}

/// A decoded PDU. Borrows its variable-length parts from the input; [`Pdu::into_owned`]
/// detaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu<'a> {
    /// 11: bind.
    Bind(Common, Bind<'a>),
    /// 12: bind_ack.
    BindAck(Common, BindAck<'a>),
    /// 13: bind_nak.
    BindNak(Common, BindNak<'a>),
    /// 14: alter_context.
    AlterContext(Common, Bind<'a>),
    /// 15: alter_context_resp.
    AlterContextResp(Common, BindAck<'a>),
    /// 0: request.
    Request(Common, Request<'a>),
    /// 2: response.
    Response(Common, Response<'a>),
    /// 3: fault.
    Fault(Common, Fault<'a>),
}

impl<'a> Pdu<'a> {
    /// Decodes exactly one PDU: `bytes.len()` must equal `frag_length` (else
    /// `LengthMismatch` on `rpc.header.frag_length`). Error offsets count from `bytes[0]`.
    pub fn parse(bytes: &'a [u8]) -> WireResult<Self> {
        let h = Header::read(bytes)?;
        h.validate()?;
        match h.ptype {
            PduType::Unknown(v) => return Err(WireError::invalid("rpc.header.ptype", 2, v.into())),
            t if !t.is_decoded() => return Err(WireError::unsupported("rpc.header.ptype", 2)),
            _ => {}
        }
        if usize::from(h.frag_length) != bytes.len() {
            return Err(WireError::length(
                "rpc.header.frag_length",
                8,
                h.frag_length.into(),
                bytes.len() as u64,
            ));
        }
        if h.auth_length != 0 {
            return Err(WireError::unsupported("rpc.header.auth_length", 10));
        }
        let c = Common {
            rpc_vers_minor: h.rpc_vers_minor,
            pfc_flags: h.pfc_flags,
            drep: h.drep,
            call_id: h.call_id,
        };
        let mut r = Reader::at(bytes, HEADER_LEN);
        Ok(match h.ptype {
            PduType::Bind => Self::Bind(c, Bind::parse(&mut r)?),
            PduType::AlterContext => Self::AlterContext(c, Bind::parse(&mut r)?),
            PduType::BindAck => Self::BindAck(c, BindAck::parse(&mut r)?),
            PduType::AlterContextResp => Self::AlterContextResp(c, BindAck::parse(&mut r)?),
            PduType::BindNak => Self::BindNak(c, BindNak::parse(&mut r)?),
            PduType::Request => Self::Request(c, Request::parse(&mut r, h.pfc_flags)?),
            PduType::Response => Self::Response(c, Response::parse(&mut r)?),
            PduType::Fault => Self::Fault(c, Fault::parse(&mut r)?),
            _ => return Err(WireError::unsupported("rpc.header.ptype", 2)),
        })
    }

    /// The PDU type.
    pub fn ptype(&self) -> PduType {
        match self {
            Self::Bind(..) => PduType::Bind,
            Self::BindAck(..) => PduType::BindAck,
            Self::BindNak(..) => PduType::BindNak,
            Self::AlterContext(..) => PduType::AlterContext,
            Self::AlterContextResp(..) => PduType::AlterContextResp,
            Self::Request(..) => PduType::Request,
            Self::Response(..) => PduType::Response,
            Self::Fault(..) => PduType::Fault,
        }
    }

    /// The common header fields.
    pub fn common(&self) -> &Common {
        match self {
            Self::Bind(c, _)
            | Self::BindAck(c, _)
            | Self::BindNak(c, _)
            | Self::AlterContext(c, _)
            | Self::AlterContextResp(c, _)
            | Self::Request(c, _)
            | Self::Response(c, _)
            | Self::Fault(c, _) => c,
        }
    }

    /// Mutable access to the common header fields.
    pub fn common_mut(&mut self) -> &mut Common {
        match self {
            Self::Bind(c, _)
            | Self::BindAck(c, _)
            | Self::BindNak(c, _)
            | Self::AlterContext(c, _)
            | Self::AlterContextResp(c, _)
            | Self::Request(c, _)
            | Self::Response(c, _)
            | Self::Fault(c, _) => c,
        }
    }

    /// Call id (shortcut).
    pub fn call_id(&self) -> u32 {
        self.common().call_id
    }

    /// Stub bytes of a request or response, `None` for other types.
    pub fn stub(&self) -> Option<&[u8]> {
        match self {
            Self::Request(_, r) => Some(&r.stub),
            Self::Response(_, r) => Some(&r.stub),
            _ => None,
        }
    }

    /// Encodes to a fresh buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        self.encode_into(&mut out);
        out
    }

    /// Appends the PDU to `out`, computing `frag_length` (saturated at 65535 for oversize
    /// bodies) and writing `auth_length` 0.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let c = self.common();
        let mut flags = c.pfc_flags;
        if let Self::Request(_, r) = self {
            flags = if r.object.is_some() {
                flags.with(PfcFlags::OBJECT_UUID)
            } else {
                flags.without(PfcFlags::OBJECT_UUID)
            };
        }
        let header = Header {
            rpc_vers: RPC_VERS,
            rpc_vers_minor: c.rpc_vers_minor,
            ptype: self.ptype(),
            pfc_flags: flags,
            drep: c.drep,
            frag_length: 0,
            auth_length: 0,
            call_id: c.call_id,
        };
        out.extend_from_slice(&header.encode());
        match self {
            Self::Bind(_, b) | Self::AlterContext(_, b) => b.encode_into(out),
            Self::BindAck(_, b) | Self::AlterContextResp(_, b) => b.encode_into(out),
            Self::BindNak(_, b) => b.encode_into(out),
            Self::Request(_, b) => b.encode_into(out),
            Self::Response(_, b) => b.encode_into(out),
            Self::Fault(_, b) => b.encode_into(out),
        }
        let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
        if let Some(f) = out.get_mut(start + 8..start + 10) {
            f.copy_from_slice(&len.to_le_bytes());
        }
    }

    /// The same PDU owning all its bytes.
    pub fn into_owned(self) -> Pdu<'static> {
        match self {
            Self::Bind(c, b) => Pdu::Bind(c, b.into_owned()),
            Self::BindAck(c, b) => Pdu::BindAck(c, b.into_owned()),
            Self::BindNak(c, b) => Pdu::BindNak(c, b.into_owned()),
            Self::AlterContext(c, b) => Pdu::AlterContext(c, b.into_owned()),
            Self::AlterContextResp(c, b) => Pdu::AlterContextResp(c, b.into_owned()),
            Self::Request(c, b) => Pdu::Request(c, b.into_owned()),
            Self::Response(c, b) => Pdu::Response(c, b.into_owned()),
            Self::Fault(c, b) => Pdu::Fault(c, b.into_owned()),
        }
    }
}

/// Stream framing: `Ok(None)` while fewer than 16 bytes are buffered, then `Ok(Some(n))`
/// with the PDU's `frag_length`; `Err` when the header cannot start a PDU (bad version,
/// big-endian drep, `frag_length` < 16).
pub fn pdu_length(buf: &[u8]) -> WireResult<Option<usize>> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let h = Header::read(buf)?;
    h.validate()?;
    Ok(Some(usize::from(h.frag_length)))
}

/// Largest `frag_length` [`looks_like_pdu_start`] considers sane (the usual max frag size).
pub const MAX_SANE_FRAG_LENGTH: usize = 5840;

/// Heuristic for resynchronising a byte stream after a gap: version 5.0, a PDU type
/// [`Pdu`] decodes, little-endian drep, 16 ≤ `frag_length` ≤ [`MAX_SANE_FRAG_LENGTH`] and
/// an `auth_length` that fits inside it.
pub fn looks_like_pdu_start(buf: &[u8]) -> bool {
    let Ok(h) = Header::read(buf) else {
        return false;
    };
    let frag = usize::from(h.frag_length);
    h.rpc_vers == RPC_VERS
        && h.rpc_vers_minor == 0
        && h.ptype.is_decoded()
        && h.drep.is_little_endian()
        && (HEADER_LEN..=MAX_SANE_FRAG_LENGTH).contains(&frag)
        && usize::from(h.auth_length) <= frag - HEADER_LEN
}
