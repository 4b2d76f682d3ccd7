//! Property tests: encode → parse is the identity for every PDU type and for the NDR32/NDR64
//! request and response stubs; arbitrary bytes never panic the parsers.

use kmsspec::wire::rpc::{
    response_pad_len, Bind, BindAck, BindNak, Common, ContextElement, ContextResult, DataRep,
    Fault, NdrSyntax, Pdu, PfcFlags, Request, RequestStub, Response, ResponseStub, ResultKind,
    RpcVersion, SyntaxId,
};
use proptest::prelude::*;
use std::borrow::Cow;
use uuid::Uuid;

fn syntax() -> impl Strategy<Value = SyntaxId> {
    (any::<u128>(), any::<u32>()).prop_map(|(u, v)| SyntaxId::new(Uuid::from_u128(u), v))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn common() -> impl Strategy<Value = Common> {
    (
        0..=1u8,
        any::<u8>(),
        0..16u8,
        any::<[u8; 3]>(),
        any::<u32>(),
    )
        .prop_map(|(minor, flags, lo, rest, call_id)| Common {
            rpc_vers_minor: minor,
            pfc_flags: PfcFlags(flags),
            drep: DataRep([0x10 | lo, rest[0], rest[1], rest[2]]),
            call_id,
        })
}

fn bind() -> impl Strategy<Value = Bind<'static>> {
    let ctx = (
        any::<u16>(),
        any::<u8>(),
        syntax(),
        proptest::collection::vec(syntax(), 0..4),
    )
        .prop_map(
            |(p_cont_id, reserved, abstract_syntax, transfer_syntaxes)| ContextElement {
                p_cont_id,
                reserved,
                abstract_syntax,
                transfer_syntaxes,
            },
        );
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<[u8; 3]>(),
        proptest::collection::vec(ctx, 0..6),
        bytes(8),
    )
        .prop_map(|(x, r, g, reserved, contexts, t)| Bind {
            max_xmit_frag: x,
            max_recv_frag: r,
            assoc_group_id: g,
            reserved,
            contexts,
            trailing: Cow::Owned(t),
        })
}

fn bind_ack() -> impl Strategy<Value = BindAck<'static>> {
    let res = (any::<u16>(), any::<u16>(), syntax()).prop_map(|(r, reason, ts)| ContextResult {
        result: ResultKind::from_u16(r),
        reason,
        transfer_syntax: ts,
    });
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        bytes(12),
        any::<[u8; 3]>(),
        any::<[u8; 3]>(),
        proptest::collection::vec(res, 0..6),
        bytes(8),
    )
        .prop_map(|(x, r, g, sec, mut pad, reserved, results, t)| {
            for b in pad.iter_mut().skip(BindAck::pad_len_for(sec.len())) {
                *b = 0;
            }
            BindAck {
                max_xmit_frag: x,
                max_recv_frag: r,
                assoc_group_id: g,
                sec_addr: Cow::Owned(sec),
                pad,
                reserved,
                results,
                trailing: Cow::Owned(t),
            }
        })
}

fn pdu() -> impl Strategy<Value = Pdu<'static>> {
    let nak = (
        any::<u16>(),
        proptest::collection::vec(any::<(u8, u8)>(), 0..5),
        bytes(6),
    )
        .prop_map(|(reject_reason, v, t)| BindNak {
            reject_reason,
            versions: v
                .into_iter()
                .map(|(major, minor)| RpcVersion { major, minor })
                .collect(),
            trailing: Cow::Owned(t),
        });
    let request = (
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        proptest::option::of(any::<u128>()),
        bytes(300),
    )
        .prop_map(|(a, p, o, obj, stub)| Request {
            alloc_hint: a,
            p_cont_id: p,
            opnum: o,
            object: obj.map(Uuid::from_u128),
            stub: Cow::Owned(stub),
        });
    let response = (
        any::<u32>(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        bytes(300),
    )
        .prop_map(|(a, p, c, r, stub)| Response {
            alloc_hint: a,
            p_cont_id: p,
            cancel_count: c,
            reserved: r,
            stub: Cow::Owned(stub),
        });
    let fault = (
        any::<u32>(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        bytes(16),
    )
        .prop_map(|(a, p, c, r, s, r2, e)| Fault {
            alloc_hint: a,
            p_cont_id: p,
            cancel_count: c,
            reserved: r,
            status: s,
            reserved2: r2,
            extra: Cow::Owned(e),
        });
    prop_oneof![
        (common(), bind()).prop_map(|(c, b)| Pdu::Bind(c, b)),
        (common(), bind()).prop_map(|(c, b)| Pdu::AlterContext(c, b)),
        (common(), bind_ack()).prop_map(|(c, b)| Pdu::BindAck(c, b)),
        (common(), bind_ack()).prop_map(|(c, b)| Pdu::AlterContextResp(c, b)),
        (common(), nak).prop_map(|(c, b)| Pdu::BindNak(c, b)),
        (common(), request).prop_map(|(mut c, r)| {
            // The flag follows the body (the encoder enforces this).
            c.pfc_flags = if r.object.is_some() {
                c.pfc_flags.with(PfcFlags::OBJECT_UUID)
            } else {
                c.pfc_flags.without(PfcFlags::OBJECT_UUID)
            };
            Pdu::Request(c, r)
        }),
        (common(), response).prop_map(|(c, r)| Pdu::Response(c, r)),
        (common(), fault).prop_map(|(c, f)| Pdu::Fault(c, f)),
    ]
}

fn ndr() -> impl Strategy<Value = NdrSyntax> {
    prop_oneof![Just(NdrSyntax::Ndr32), Just(NdrSyntax::Ndr64)]
}

proptest! {
    #[test]
    fn pdu_encode_parse_identity(p in pdu()) {
        let bytes = p.encode();
        prop_assert_eq!(bytes.len(), usize::from(u16::from_le_bytes([bytes[8], bytes[9]])));
        let back = Pdu::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn request_stub_identity(
        syntax in ndr(),
        size in any::<u32>(),
        size_pad in any::<u32>(),
        msg in bytes(300),
        trailing in bytes(8),
    ) {
        let s = RequestStub {
            declared_size: size,
            size_pad: if syntax == NdrSyntax::Ndr64 { size_pad } else { 0 },
            max_count: msg.len() as u64,
            message: &msg,
            trailing: &trailing,
        };
        let enc = s.encode(syntax);
        prop_assert_eq!(enc.len(), s.wire_len(syntax));
        let back = RequestStub::parse(&enc, syntax).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, s);
        let ok = RequestStub::new(&msg);
        prop_assert!(RequestStub::parse(&ok.encode(syntax), syntax).unwrap().validate(syntax).is_ok());
    }

    #[test]
    fn response_stub_success_identity(
        syntax in ndr(),
        size in any::<u32>(),
        size_pad in any::<u32>(),
        referent in 1..=u64::from(u32::MAX),
        msg in bytes(300),
        pad_src in any::<[u8; 3]>(),
        rv in any::<u32>(),
        trailing in bytes(8),
    ) {
        let s = ResponseStub::Success {
            response_size: size,
            size_pad: if syntax == NdrSyntax::Ndr64 { size_pad } else { 0 },
            referent_id: referent,
            max_count: msg.len() as u64,
            message: &msg,
            pad: &pad_src[..response_pad_len(msg.len())],
            return_value: rv,
            trailing: &trailing,
        };
        let enc = s.encode(syntax);
        let back = ResponseStub::parse(&enc, syntax).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, s);
        let ok = ResponseStub::success(&msg).encode(syntax);
        prop_assert_eq!(ok.len() % 4, 0);
        let parsed = ResponseStub::parse(&ok, syntax).unwrap();
        prop_assert!(parsed.validate(syntax).is_ok());
        prop_assert_eq!(parsed.message(), Some(&msg[..]));
    }

    #[test]
    fn response_stub_error_identity(
        syntax in ndr(),
        size in any::<u32>(),
        size_pad in any::<u32>(),
        hresult in any::<u32>(),
        trailing in bytes(8),
    ) {
        let s = ResponseStub::Error {
            response_size: size,
            size_pad: if syntax == NdrSyntax::Ndr64 { size_pad } else { 0 },
            hresult,
            trailing: &trailing,
        };
        let enc = s.encode(syntax);
        let back = ResponseStub::parse(&enc, syntax).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, s);
        let e = ResponseStub::error(hresult).encode(syntax);
        prop_assert_eq!(e.len(), match syntax { NdrSyntax::Ndr32 => 12, NdrSyntax::Ndr64 => 20 });
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(400), syntax in ndr()) {
        if let Ok(p) = Pdu::parse(&data) {
            prop_assert_eq!(p.encode(), data.clone());
        }
        let _ = kmsspec::wire::rpc::pdu_length(&data);
        let _ = kmsspec::wire::rpc::looks_like_pdu_start(&data);
        if let Ok(s) = RequestStub::parse(&data, syntax) {
            prop_assert_eq!(s.encode(syntax), data.clone());
        }
        if let Ok(s) = ResponseStub::parse(&data, syntax) {
            prop_assert_eq!(s.encode(syntax), data.clone());
        }
    }

    #[test]
    fn valid_header_with_random_body_never_panics(ptype in 0u8..20, flags in any::<u8>(), body in bytes(300)) {
        let mut data = vec![5, 0, ptype, flags, 0x10, 0, 0, 0];
        data.extend_from_slice(&((16 + body.len()) as u16).to_le_bytes());
        data.extend_from_slice(&[0, 0, 2, 0, 0, 0]);
        data.extend_from_slice(&body);
        if let Ok(p) = Pdu::parse(&data) {
            prop_assert_eq!(p.encode(), data);
        }
    }
}
