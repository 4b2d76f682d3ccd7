//! Malformed input: truncations, lying lengths, wrong version, big-endian drep and unknown
//! PDU types get the right typed error naming the right field (and never panic).

mod common;

use common::{test_vectors, unhex};
use kmsspec::wire::rpc::{pdu_length, NdrSyntax, Pdu, RequestStub, ResponseStub};
use kmsspec::wire::WireErrorKind;

fn vector_pdus() -> Vec<Vec<u8>> {
    let Some(v) = test_vectors() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in v["deterministic_messages"].as_array().unwrap() {
        for k in [
            "request_pdu_ndr32_ctx0_callid2",
            "response_pdu_ndr32_ctx0_callid2",
        ] {
            out.push(unhex(m[k].as_str().unwrap()));
        }
    }
    for s in v["captured_sessions"].as_array().unwrap() {
        for e in s["exchanges"].as_array().unwrap() {
            for k in ["client_pdu", "server_pdu"] {
                out.push(unhex(e[k].as_str().unwrap()));
            }
        }
    }
    out
}

fn set_frag(mut b: Vec<u8>, len: u16) -> Vec<u8> {
    b[8..10].copy_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn lying_frag_length() {
    let pdus = vector_pdus();
    for p in &pdus {
        let n = p.len() as u16;
        for lie in [n - 1, n + 1, 0xFFFF] {
            let e = Pdu::parse(&set_frag(p.clone(), lie)).unwrap_err();
            assert_eq!(e.field, "rpc.header.frag_length");
            assert_eq!(
                e.kind,
                WireErrorKind::LengthMismatch {
                    declared: lie.into(),
                    actual: n.into()
                }
            );
        }
        for small in [0u16, 15] {
            let b = set_frag(p.clone(), small);
            let e = Pdu::parse(&b).unwrap_err();
            assert_eq!(
                (e.field, e.kind),
                (
                    "rpc.header.frag_length",
                    WireErrorKind::InvalidValue {
                        value: small.into()
                    }
                )
            );
            assert!(pdu_length(&b).is_err());
        }
        // Shortening the PDU consistently (frag_length = cut) never panics: error or decode.
        for cut in 16..p.len() {
            let b = set_frag(p[..cut].to_vec(), cut as u16);
            if let Ok(pdu) = Pdu::parse(&b) {
                assert_eq!(pdu.encode(), b);
            }
        }
    }
}

#[test]
fn header_field_refusals() {
    for p in vector_pdus() {
        let mut b = p.clone();
        b[0] = 4;
        let e = Pdu::parse(&b).unwrap_err();
        assert_eq!((e.field, e.offset), ("rpc.header.rpc_vers", 0));
        assert_eq!(e.kind, WireErrorKind::InvalidValue { value: 4 });
        let mut b = p.clone();
        b[4] = 0x00;
        let e = Pdu::parse(&b).unwrap_err();
        assert_eq!(
            (e.field, e.offset, e.kind),
            ("rpc.header.drep", 4, WireErrorKind::Unsupported)
        );
        for t in [16u8, 20, 255] {
            let mut b = p.clone();
            b[2] = t;
            let e = Pdu::parse(&b).unwrap_err();
            assert_eq!(
                (e.field, e.kind),
                (
                    "rpc.header.ptype",
                    WireErrorKind::InvalidValue { value: t.into() }
                )
            );
        }
        let mut b = p.clone();
        b[2] = 17; // shutdown: known, not decoded
        assert_eq!(Pdu::parse(&b).unwrap_err().kind, WireErrorKind::Unsupported);
        let mut b = p.clone();
        b[10] = 8;
        assert_eq!(Pdu::parse(&b).unwrap_err().field, "rpc.header.auth_length");
    }
}

#[test]
fn truncated_stubs_are_typed_errors() {
    let Some(v) = test_vectors() else { return };
    for m in v["deterministic_messages"].as_array().unwrap() {
        for (k, syntax) in [
            ("ndr32_request_stub", NdrSyntax::Ndr32),
            ("ndr64_request_stub", NdrSyntax::Ndr64),
        ] {
            let s = unhex(m[k].as_str().unwrap());
            for cut in 0..s.len() {
                let e = RequestStub::parse(&s[..cut], syntax).unwrap_err();
                assert!(e.field.starts_with("ndr.request."), "{k} cut {cut}: {e}");
            }
        }
        for (k, syntax) in [
            ("ndr32_response_stub", NdrSyntax::Ndr32),
            ("ndr64_response_stub", NdrSyntax::Ndr64),
        ] {
            let s = unhex(m[k].as_str().unwrap());
            for cut in 0..s.len() {
                let e = ResponseStub::parse(&s[..cut], syntax).unwrap_err();
                assert!(e.field.starts_with("ndr.response."), "{k} cut {cut}: {e}");
            }
        }
    }
}
