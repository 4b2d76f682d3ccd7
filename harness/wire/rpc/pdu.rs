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
use super::header::{DataRep, Header, PduType, PfcFlags, HEADER_LEN, RPC_VERS};
use crate::wire::cursor::Reader;
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
        // Every acceptance condition in one test on the hot path (frag_length = input length
        // ≥ 16 covers the header's own frag_length floor); a refusal is then named by
        // `refusal`, which checks them one by one in the documented order.
        let acceptable = (h.rpc_vers == RPC_VERS)
            & (h.rpc_vers_minor <= 1)
            & h.drep.is_little_endian()
            & h.ptype.is_decoded()
            & (usize::from(h.frag_length) == bytes.len())
            & (h.auth_length == 0);
        if !acceptable {
            return Err(Self::refusal(&h, bytes.len()));
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

    /// Why [`Pdu::parse`] refuses header `h` of a `len`-byte input, checked in order: the
    /// header's own validation, the PDU type, `frag_length` = `len`, `auth_length` = 0.
    #[cold]
    #[inline(never)]
    fn refusal(h: &Header, len: usize) -> WireError {
        if let Err(e) = h.validate() {
            return e;
        }
        match h.ptype {
            PduType::Unknown(v) => return WireError::invalid("rpc.header.ptype", 2, v.into()),
            t if !t.is_decoded() => return WireError::unsupported("rpc.header.ptype", 2),
            _ => {}
        }
        if usize::from(h.frag_length) != len {
            return WireError::length(
                "rpc.header.frag_length",
                8,
                h.frag_length.into(),
                len as u64,
            );
        }
        WireError::unsupported("rpc.header.auth_length", 10)
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
    // The checks of `Header::validate` as one test; it names the refusal when one fails.
    let acceptable = (h.rpc_vers == RPC_VERS)
        & (h.rpc_vers_minor <= 1)
        & h.drep.is_little_endian()
        & (usize::from(h.frag_length) >= HEADER_LEN);
    if !acceptable {
        h.validate()?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rpc::{
        NdrSyntax, RequestStub, ResponseStub, ResultKind, TransferSyntaxKind, KMS_INTERFACE,
        NCA_S_UNK_IF, NDR32, NDR64,
    };
    use crate::wire::WireErrorKind;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// §7 request PDU: the 32-byte prefix from the table, then a 260-byte KMS message.
    fn section7_request() -> Vec<u8> {
        let mut v =
            unhex("05000003 10000000 2401 0000 02000000 0c010000 0000 0000 04010000 04010000");
        v.extend_from_slice(&unhex("00000600"));
        v.extend((0..256u16).map(|i| i as u8));
        v
    }

    #[test]
    fn section7_request_pdu() {
        let bytes = section7_request();
        assert_eq!(bytes.len(), 292);
        let pdu = Pdu::parse(&bytes).unwrap();
        let Pdu::Request(c, r) = &pdu else {
            panic!("not a request: {pdu:?}")
        };
        assert_eq!(c.call_id, 2);
        assert_eq!(c.pfc_flags, PfcFlags::SINGLE);
        assert_eq!(
            (r.alloc_hint, r.p_cont_id, r.opnum, r.object),
            (268, 0, 0, None)
        );
        assert_eq!(r.stub_offset(), 24);
        let stub = RequestStub::parse(&r.stub, NdrSyntax::Ndr32).unwrap();
        assert_eq!((stub.declared_size, stub.max_count), (260, 260));
        assert_eq!(&stub.message[..4], &[0, 0, 6, 0]);
        assert_eq!(stub.message, &bytes[32..]);
        stub.validate(NdrSyntax::Ndr32).unwrap();
        assert_eq!(pdu.encode(), bytes);
        assert_eq!(pdu_length(&bytes[..16]).unwrap(), Some(292));
        assert!(looks_like_pdu_start(&bytes));
    }

    #[test]
    fn section7_response_pdu() {
        let mut bytes = unhex(
            "05000203 10000000 2c01 0000 02000000 14010000 0000 00 00 04010000 00000200 04010000",
        );
        bytes.extend_from_slice(&unhex("00000600"));
        bytes.extend(std::iter::repeat_n(0xa5, 256));
        bytes.extend_from_slice(&unhex("00000000"));
        assert_eq!(bytes.len(), 300);
        let pdu = Pdu::parse(&bytes).unwrap();
        let Pdu::Response(_, r) = &pdu else {
            panic!("not a response")
        };
        assert_eq!(r.alloc_hint, 276);
        let stub = ResponseStub::parse(&r.stub, NdrSyntax::Ndr32).unwrap();
        let ResponseStub::Success {
            response_size,
            referent_id,
            max_count,
            message,
            pad,
            return_value,
            ..
        } = stub
        else {
            panic!("error form")
        };
        assert_eq!((response_size, referent_id, max_count), (260, 0x20000, 260));
        assert_eq!(message, &bytes[36..296]);
        assert!(pad.is_empty());
        assert_eq!(return_value, 0);
        stub.validate(NdrSyntax::Ndr32).unwrap();
        assert_eq!(stub.encode(NdrSyntax::Ndr32), &bytes[24..]);
        assert_eq!(pdu.encode(), bytes);
    }

    #[test]
    fn port_1688_bind_ack_layout() {
        // §1.8: L = 5 ("1688\0"), one pad byte, results at body offset 20 (PDU offset 36).
        let bytes = unhex(
            "05000c13 10000000 6c00 0000 02000000 d016 d016 d559e643 0500 3136383800 aa 03 000000
             0200 0200 00000000000000000000000000000000 00000000
             0000 0000 33057171babe37498319b5dbef9ccc36 01000000
             0300 0300 00000000000000000000000000000000 00000000",
        );
        let pdu = Pdu::parse(&bytes).unwrap();
        let Pdu::BindAck(_, a) = &pdu else {
            panic!("not a bind_ack")
        };
        assert_eq!(a.port(), Some("1688"));
        assert_eq!(a.pad_len(), 1);
        assert_eq!(a.pad[0], 0xaa);
        assert_eq!(bytes[32], 3, "n_results at body offset A = 16");
        assert_eq!(bytes[36], 2, "results start at body offset 20");
        assert_eq!(a.assoc_group_id, 0x43e6_59d5);
        assert_eq!(a.results.len(), 3);
        assert_eq!(a.results[0].result, ResultKind::ProviderRejection);
        assert_eq!(a.results[0].reason, 2);
        assert_eq!(a.results[1].result, ResultKind::Acceptance);
        assert_eq!(a.results[1].transfer_syntax, NDR64);
        assert_eq!(a.results[2].result, ResultKind::NegotiateAck);
        assert_eq!(a.results[2].reason, 3);
        assert_eq!(pdu.encode(), bytes);
    }

    #[test]
    fn alter_context_resp_keeps_stale_pad_bytes() {
        // vlmcsd: empty sec_addr, 2 uninitialised pad bytes ("11").
        let bytes = unhex(
            "05000f03100000003800000002000000d016d016d559e643000031310100000000000000045d888aeb1cc9119fe808002b10486002000000",
        );
        let pdu = Pdu::parse(&bytes).unwrap();
        let Pdu::AlterContextResp(_, a) = &pdu else {
            panic!("not alter_context_resp")
        };
        assert!(a.sec_addr.is_empty());
        assert_eq!(&a.pad[..a.pad_len()], b"11");
        assert_eq!(a.results[0].transfer_syntax, NDR32);
        assert_eq!(pdu.encode(), bytes);
    }

    #[test]
    fn bind_with_two_transfer_syntaxes_in_one_element() {
        let mut bind = Bind::new(vec![crate::wire::rpc::ContextElement::new(
            7,
            KMS_INTERFACE,
            NDR32,
        )]);
        bind.contexts[0].transfer_syntaxes.push(NDR64);
        bind.contexts.push(crate::wire::rpc::ContextElement::new(
            8,
            KMS_INTERFACE,
            crate::wire::rpc::btfn(3),
        ));
        let pdu = Pdu::Bind(Common::new(2), bind);
        let bytes = pdu.encode();
        assert_eq!(bytes.len(), 16 + 12 + 64 + 44);
        assert_eq!(bytes[16 + 12 + 2], 2, "n_transfer_syn");
        let back = Pdu::parse(&bytes).unwrap();
        assert_eq!(back, pdu);
        let Pdu::Bind(_, b) = back else { panic!() };
        assert_eq!(b.contexts[1].p_cont_id, 8);
        assert_eq!(
            b.contexts[1].transfer_syntaxes[0].kind(),
            TransferSyntaxKind::Btfn { features: 3 }
        );
    }

    #[test]
    fn vlmcsd_fault_pdu() {
        let bytes = unhex("05000323100000002000000002000000200000000000e6430300011c00000000");
        let pdu = Pdu::parse(&bytes).unwrap();
        let Pdu::Fault(c, f) = &pdu else { panic!() };
        assert_eq!(c.pfc_flags.bits(), 0x23);
        assert!(c.pfc_flags.contains(PfcFlags::DID_NOT_EXECUTE));
        assert_eq!(f.status, NCA_S_UNK_IF);
        assert_eq!((f.cancel_count, f.reserved), (0xe6, 0x43));
        assert_eq!(pdu.encode(), bytes);
    }

    #[test]
    fn error_stub_literal() {
        let stub = unhex("00000000 00000000 0d000780");
        let s = ResponseStub::parse(&stub, NdrSyntax::Ndr32).unwrap();
        assert_eq!(s, ResponseStub::error(0x8007_000D));
        s.validate(NdrSyntax::Ndr32).unwrap();
        assert_eq!(s.encode(NdrSyntax::Ndr32), stub);
        let s64 = ResponseStub::error(0x8007_000D).encode(NdrSyntax::Ndr64);
        assert_eq!(s64, unhex("0000000000000000 0000000000000000 0d000780"));
    }

    #[test]
    fn header_refusals_name_the_field() {
        let good = section7_request();
        let mut v = good.clone();
        v[0] = 4;
        assert_eq!(Pdu::parse(&v).unwrap_err().field, "rpc.header.rpc_vers");
        let mut v = good.clone();
        v[4] = 0;
        let e = Pdu::parse(&v).unwrap_err();
        assert_eq!(
            (e.field, e.kind),
            ("rpc.header.drep", WireErrorKind::Unsupported)
        );
        assert!(pdu_length(&v).is_err());
        let mut v = good.clone();
        v[2] = 16;
        let e = Pdu::parse(&v).unwrap_err();
        assert_eq!(
            (e.field, e.kind),
            (
                "rpc.header.ptype",
                WireErrorKind::InvalidValue { value: 16 }
            )
        );
        let mut v = good.clone();
        v[10] = 8;
        assert_eq!(Pdu::parse(&v).unwrap_err().field, "rpc.header.auth_length");
        let e = Pdu::parse(&good[..200]).unwrap_err();
        assert_eq!(
            (e.field, e.kind),
            (
                "rpc.header.frag_length",
                WireErrorKind::LengthMismatch {
                    declared: 292,
                    actual: 200
                }
            )
        );
        let mut v = good.clone();
        v[8] = 15;
        v[9] = 0;
        assert_eq!(Pdu::parse(&v).unwrap_err().field, "rpc.header.frag_length");
        assert!(pdu_length(&v).is_err());
        assert_eq!(pdu_length(&good[..15]).unwrap(), None);
    }

    #[test]
    fn several_header_faults_report_the_first_in_documented_order() {
        let good = section7_request();
        // Unknown ptype, a short input and auth_length ≠ 0: the ptype is named.
        let mut v = good.clone();
        v[2] = 16;
        v[10] = 8;
        let e = Pdu::parse(&v[..100]).unwrap_err();
        assert_eq!((e.field, e.offset), ("rpc.header.ptype", 2));
        // Minor version 2 and big-endian drep: the version comes first.
        let mut v = good.clone();
        v[1] = 2;
        v[4] = 0;
        let e = Pdu::parse(&v).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind),
            (
                "rpc.header.rpc_vers_minor",
                1,
                WireErrorKind::InvalidValue { value: 2 }
            )
        );
        // Known but undecoded type (shutdown) with auth_length ≠ 0: unsupported ptype.
        let mut v = good.clone();
        v[2] = 17;
        v[10] = 8;
        let e = Pdu::parse(&v).unwrap_err();
        assert_eq!(
            (e.field, e.kind),
            ("rpc.header.ptype", WireErrorKind::Unsupported)
        );
        // frag_length mismatch and auth_length ≠ 0: the length is named.
        let mut v = good.clone();
        v[10] = 8;
        let e = Pdu::parse(&v[..291]).unwrap_err();
        assert_eq!((e.field, e.offset), ("rpc.header.frag_length", 8));
        // Fewer than 16 bytes.
        let e = Pdu::parse(&good[..15]).unwrap_err();
        assert_eq!(e, WireError::truncated("rpc.header", 0, 16, 15));
        // Minor version 1 is accepted.
        let mut v = good;
        v[1] = 1;
        assert_eq!(Pdu::parse(&v).unwrap().common().rpc_vers_minor, 1);
    }

    #[test]
    fn lying_max_count_is_refused_before_slicing() {
        let stub = unhex("04010000 ffffffff 00000600");
        let e = RequestStub::parse(&stub, NdrSyntax::Ndr32).unwrap_err();
        assert_eq!(e.field, "ndr.request.max_count");
        assert_eq!(e.offset, 4);
        assert_eq!(
            e.kind,
            WireErrorKind::LengthMismatch {
                declared: 0xffff_ffff,
                actual: 4
            }
        );
        let stub = unhex("05000000 04000000 00000600");
        let s = RequestStub::parse(&stub, NdrSyntax::Ndr32).unwrap();
        assert_eq!(
            s.validate(NdrSyntax::Ndr32).unwrap_err().field,
            "ndr.request.size"
        );
    }
}
