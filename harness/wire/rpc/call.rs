//! `request`, `response` and `fault` bodies (spec §1.10, §1.11). The stub is kept as bytes;
//! [`super::stub`] decodes the KMS operation's NDR framing inside it.

use super::header::{PfcFlags, HEADER_LEN};
use crate::wire::cursor::Reader;
use crate::wire::guid::guid_to_wire;
use crate::wire::WireResult;
use std::borrow::Cow;
use uuid::Uuid;

/// `request` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Sender's hint of the total stub size.
    pub alloc_hint: u32,
    /// Presentation context the call uses.
    pub p_cont_id: u16,
    /// Operation number (KMS has only 0).
    pub opnum: u16,
    /// Object UUID, present exactly when the header carries `PFC_OBJECT_UUID`; the encoder
    /// sets or clears that flag to match.
    pub object: Option<Uuid>,
    /// Stub data.
    pub stub: Cow<'a, [u8]>,
}

impl<'a> Request<'a> {
    /// Offset of the stub from the PDU start (24, or 40 with an object UUID).
    pub fn stub_offset(&self) -> usize {
        HEADER_LEN + 8 + if self.object.is_some() { 16 } else { 0 }
    }

    pub(crate) fn parse(r: &mut Reader<'a>, flags: PfcFlags) -> WireResult<Self> {
        let alloc_hint = r.u32("rpc.request.alloc_hint")?;
        let p_cont_id = r.u16("rpc.request.p_cont_id")?;
        let opnum = r.u16("rpc.request.opnum")?;
        let object = if flags.contains(PfcFlags::OBJECT_UUID) {
            Some(r.guid("rpc.request.object")?)
        } else {
            None
        };
        Ok(Self {
            alloc_hint,
            p_cont_id,
            opnum,
            object,
            stub: Cow::Borrowed(r.rest()),
        })
    }

    /// Appends the body bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.alloc_hint.to_le_bytes());
        out.extend_from_slice(&self.p_cont_id.to_le_bytes());
        out.extend_from_slice(&self.opnum.to_le_bytes());
        if let Some(o) = &self.object {
            out.extend_from_slice(&guid_to_wire(o));
        }
        out.extend_from_slice(&self.stub);
    }

    /// The same body owning its bytes.
    pub fn into_owned(self) -> Request<'static> {
        Request {
            alloc_hint: self.alloc_hint,
            p_cont_id: self.p_cont_id,
            opnum: self.opnum,
            object: self.object,
            stub: Cow::Owned(self.stub.into_owned()),
        }
    }
}

/// `response` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// Sender's hint of the total stub size (KMS servers: the stub length).
    pub alloc_hint: u32,
    /// Echo of the request's context id.
    pub p_cont_id: u16,
    /// Number of cancels received.
    pub cancel_count: u8,
    /// Reserved byte, kept raw.
    pub reserved: u8,
    /// Stub data.
    pub stub: Cow<'a, [u8]>,
}

impl<'a> Response<'a> {
    /// Offset of the stub from the PDU start.
    pub const STUB_OFFSET: usize = HEADER_LEN + 8;

    pub(crate) fn parse(r: &mut Reader<'a>) -> WireResult<Self> {
        Ok(Self {
            alloc_hint: r.u32("rpc.response.alloc_hint")?,
            p_cont_id: r.u16("rpc.response.p_cont_id")?,
            cancel_count: r.u8("rpc.response.cancel_count")?,
            reserved: r.u8("rpc.response.reserved")?,
            stub: Cow::Borrowed(r.rest()),
        })
    }

    /// Appends the body bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.alloc_hint.to_le_bytes());
        out.extend_from_slice(&self.p_cont_id.to_le_bytes());
        out.push(self.cancel_count);
        out.push(self.reserved);
        out.extend_from_slice(&self.stub);
    }

    /// The same body owning its bytes.
    pub fn into_owned(self) -> Response<'static> {
        Response {
            alloc_hint: self.alloc_hint,
            p_cont_id: self.p_cont_id,
            cancel_count: self.cancel_count,
            reserved: self.reserved,
            stub: Cow::Owned(self.stub.into_owned()),
        }
    }
}

/// `nca_s_unk_if`: unknown interface / context (vlmcsd's fault for an unbound context id).
pub const NCA_S_UNK_IF: u32 = 0x1C01_0003;
/// `nca_proto_error`.
pub const NCA_PROTO_ERROR: u32 = 0x1C01_000B;
/// `nca_s_op_rng_error`: opnum out of range.
pub const NCA_S_OP_RNG_ERROR: u32 = 0x1C01_0002;

/// `fault` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault<'a> {
    /// Allocation hint (vlmcsd: 32).
    pub alloc_hint: u32,
    /// Context id.
    pub p_cont_id: u16,
    /// Cancel count (vlmcsd: uninitialised).
    pub cancel_count: u8,
    /// Reserved byte, kept raw (vlmcsd: uninitialised).
    pub reserved: u8,
    /// Fault status (an `nca_s_*` code).
    pub status: u32,
    /// The reserved u32 after the status, kept raw.
    pub reserved2: u32,
    /// Any bytes after that (stub data of a fault), kept raw.
    pub extra: Cow<'a, [u8]>,
}

impl<'a> Fault<'a> {
    pub(crate) fn parse(r: &mut Reader<'a>) -> WireResult<Self> {
        Ok(Self {
            alloc_hint: r.u32("rpc.fault.alloc_hint")?,
            p_cont_id: r.u16("rpc.fault.p_cont_id")?,
            cancel_count: r.u8("rpc.fault.cancel_count")?,
            reserved: r.u8("rpc.fault.reserved")?,
            status: r.u32("rpc.fault.status")?,
            reserved2: r.u32("rpc.fault.reserved2")?,
            extra: Cow::Borrowed(r.rest()),
        })
    }

    /// Appends the body bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.alloc_hint.to_le_bytes());
        out.extend_from_slice(&self.p_cont_id.to_le_bytes());
        out.push(self.cancel_count);
        out.push(self.reserved);
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&self.reserved2.to_le_bytes());
        out.extend_from_slice(&self.extra);
    }

    /// The same body owning its bytes.
    pub fn into_owned(self) -> Fault<'static> {
        Fault {
            alloc_hint: self.alloc_hint,
            p_cont_id: self.p_cont_id,
            cancel_count: self.cancel_count,
            reserved: self.reserved,
            status: self.status,
            reserved2: self.reserved2,
            extra: Cow::Owned(self.extra.into_owned()),
        }
    }
}
