//! Every PDU and NDR stub in the shared test vectors decodes as the spec says and re-encodes
//! byte for byte; every error-path PDU decodes or is refused with the expected typed error.

mod common;

use common::{test_vectors, unhex};
use kmsspec::wire::rpc::{
    NdrSyntax, Pdu, PduType, RequestStub, ResponseStub, ResultKind, NCA_S_UNK_IF,
};
use kmsspec::wire::WireErrorKind;
use serde_json::Value;

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    unhex(v[key].as_str().unwrap_or_else(|| panic!("missing {key}")))
}

/// Decodes, checks the byte-exact re-encoding and every strict truncation, returns the PDU.
fn roundtrip(bytes: &[u8]) -> Pdu<'_> {
    let pdu = Pdu::parse(bytes).unwrap_or_else(|e| panic!("{e}: {}", hex::encode(bytes)));
    assert_eq!(pdu.encode(), bytes, "re-encoding differs");
    assert_eq!(pdu.clone().into_owned(), pdu);
    for cut in 0..bytes.len() {
        let e = Pdu::parse(&bytes[..cut]).expect_err("truncated PDU accepted");
        if cut >= 16 {
            assert_eq!(e.field, "rpc.header.frag_length");
        }
    }
    pdu
}

fn syntax_of(name: &str) -> NdrSyntax {
    match name {
        "NDR32" => NdrSyntax::Ndr32,
        "NDR64" => NdrSyntax::Ndr64,
        other => panic!("unknown ndr {other}"),
    }
}

#[test]
fn deterministic_messages_pdus_and_stubs() {
    let Some(v) = test_vectors() else { return };
    let msgs = v["deterministic_messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    for m in msgs {
        let req_kms = hex_field(m, "request_kms");
        let resp_kms = hex_field(m, "response_kms");
        for (key, syntax) in [
            ("ndr32_request_stub", NdrSyntax::Ndr32),
            ("ndr64_request_stub", NdrSyntax::Ndr64),
        ] {
            let stub = hex_field(m, key);
            let s = RequestStub::parse(&stub, syntax).unwrap();
            assert_eq!(s.message, &req_kms[..], "{key}");
            s.validate(syntax).unwrap();
            assert_eq!(s.encode(syntax), stub, "{key}");
            assert_eq!(RequestStub::new(&req_kms).encode(syntax), stub, "{key}");
        }
        for (key, syntax) in [
            ("ndr32_response_stub", NdrSyntax::Ndr32),
            ("ndr64_response_stub", NdrSyntax::Ndr64),
        ] {
            let stub = hex_field(m, key);
            let s = ResponseStub::parse(&stub, syntax).unwrap();
            assert_eq!(s.message(), Some(&resp_kms[..]), "{key}");
            s.validate(syntax).unwrap();
            assert_eq!(s.encode(syntax), stub, "{key}");
            assert_eq!(ResponseStub::success(&resp_kms).encode(syntax), stub);
        }
        let req = hex_field(m, "request_pdu_ndr32_ctx0_callid2");
        let pdu = roundtrip(&req);
        let Pdu::Request(c, r) = &pdu else {
            panic!("not a request")
        };
        assert_eq!((c.call_id, r.p_cont_id, r.opnum), (2, 0, 0));
        assert_eq!(r.alloc_hint as usize, r.stub.len());
        let s = RequestStub::parse(&r.stub, NdrSyntax::Ndr32).unwrap();
        assert_eq!(s.message, &req_kms[..]);

        let resp = hex_field(m, "response_pdu_ndr32_ctx0_callid2");
        let pdu = roundtrip(&resp);
        let Pdu::Response(c, r) = &pdu else {
            panic!("not a response")
        };
        assert_eq!(c.call_id, 2);
        assert_eq!(r.alloc_hint as usize, r.stub.len());
        let s = ResponseStub::parse(&r.stub, NdrSyntax::Ndr32).unwrap();
        assert_eq!(s.message(), Some(&resp_kms[..]));
        assert_eq!(s.return_value(), 0);
    }
}

#[test]
fn captured_sessions_roundtrip() {
    let Some(v) = test_vectors() else { return };
    let mut pdus = 0;
    let mut stubs = 0;
    for s in v["captured_sessions"].as_array().unwrap() {
        for e in s["exchanges"].as_array().unwrap() {
            let client = hex_field(e, "client_pdu");
            let server = hex_field(e, "server_pdu");
            let cp = roundtrip(&client);
            let sp = roundtrip(&server);
            pdus += 2;
            let cs = &e["client_summary"];
            assert_eq!(u64::from(cp.ptype().to_u8()), cs["ptype"].as_u64().unwrap());
            assert_eq!(u64::from(cp.call_id()), cs["call_id"].as_u64().unwrap());
            assert_eq!(sp.call_id(), cp.call_id(), "call id echoed");
            if let Pdu::BindAck(_, a) | Pdu::AlterContextResp(_, a) = &sp {
                let n = e["server_summary"]["results"].as_array().unwrap().len();
                assert_eq!(a.results.len(), n);
                assert_eq!(
                    hex::encode(&a.sec_addr[..]),
                    e["server_summary"]["sec_addr"].as_str().unwrap_or("")
                );
            }
            if let Some(ndr) = e["ndr"].as_str() {
                let syntax = syntax_of(ndr);
                let req = RequestStub::parse(cp.stub().unwrap(), syntax).unwrap();
                req.validate(syntax).unwrap();
                assert_eq!(req.message, &hex_field(e, "request_kms")[..]);
                let resp = ResponseStub::parse(sp.stub().unwrap(), syntax).unwrap();
                resp.validate(syntax).unwrap();
                assert_eq!(resp.message(), Some(&hex_field(e, "response_kms")[..]));
                assert_eq!(req.encode(syntax), cp.stub().unwrap());
                assert_eq!(resp.encode(syntax), sp.stub().unwrap());
                stubs += 1;
            }
        }
    }
    assert_eq!(pdus, 2 * 50, "every captured exchange checked");
    assert_eq!(stubs, 22, "22 KMS exchanges");
}

/// What a PDU of an error case must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Decodes,
    Refused(&'static str, WireErrorKind),
}

fn expectation(case: usize, description: &str) -> Expect {
    match case {
        11 => {
            assert!(description.contains("unknown PDU type 5"));
            Expect::Refused("rpc.header.ptype", WireErrorKind::Unsupported)
        }
        15 => {
            assert!(description.contains("drep"));
            Expect::Refused("rpc.header.drep", WireErrorKind::Unsupported)
        }
        _ => Expect::Decodes,
    }
}

#[test]
fn error_cases_decode_or_are_refused_typed() {
    let Some(v) = test_vectors() else { return };
    let cases = v["error_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 25);
    for (i, case) in cases.iter().enumerate() {
        let desc = case["description"].as_str().unwrap();
        let expect = expectation(i, desc);
        for ex in case["exchange"].as_array().unwrap() {
            for key in ["client_pdu", "server_pdu"] {
                let Some(h) = ex[key].as_str() else { continue };
                let bytes = unhex(h);
                match (expect, Pdu::parse(&bytes)) {
                    (Expect::Decodes, Ok(pdu)) => {
                        assert_eq!(pdu.encode(), bytes, "case {i} {key}");
                    }
                    (Expect::Refused(field, kind), Err(e)) => {
                        assert_eq!((e.field, e.kind), (field, kind), "case {i} {key}");
                    }
                    (exp, got) => panic!("case {i} ({desc}) {key}: expected {exp:?}, got {got:?}"),
                }
            }
        }
    }
}

fn last_pdus(case: &Value) -> (Vec<u8>, Option<Vec<u8>>) {
    let ex = case["exchange"].as_array().unwrap().last().unwrap();
    (
        hex_field(ex, "client_pdu"),
        ex["server_pdu"].as_str().map(unhex),
    )
}

#[test]
fn error_cases_content() {
    let Some(v) = test_vectors() else { return };
    let cases = v["error_cases"].as_array().unwrap();
    // HRESULT error stubs.
    for (i, hr) in [
        (1, 0x8007_000D),
        (2, 0x8007_000D),
        (3, 0x8007_000D),
        (4, 0x8007_000D),
        (17, 0xC004_F042),
        (18, 0xC004_F06C),
    ] {
        let (_, server) = last_pdus(&cases[i]);
        let server = server.unwrap();
        let pdu = Pdu::parse(&server).unwrap();
        let stub = ResponseStub::parse(pdu.stub().unwrap(), NdrSyntax::Ndr32).unwrap();
        assert_eq!(stub, ResponseStub::error(hr), "case {i}");
        stub.validate(NdrSyntax::Ndr32).unwrap();
    }
    // Faults.
    for i in [0, 6] {
        let (_, server) = last_pdus(&cases[i]);
        let server = server.unwrap();
        let Pdu::Fault(c, f) = Pdu::parse(&server).unwrap() else {
            panic!("case {i}: not a fault")
        };
        assert_eq!((f.status, f.alloc_hint, c.call_id), (NCA_S_UNK_IF, 32, 2));
    }
    // Truncated KMS message (100 bytes) and 9 excess bytes: sizes visible, stub well formed.
    for (i, n) in [(3, 100), (16, 269)] {
        let (client, _) = last_pdus(&cases[i]);
        let pdu = Pdu::parse(&client).unwrap();
        let s = RequestStub::parse(pdu.stub().unwrap(), NdrSyntax::Ndr32).unwrap();
        assert_eq!(
            (s.declared_size, s.max_count, s.message.len()),
            (n, u64::from(n), n as usize)
        );
    }
    // Bind results.
    for (i, result, reason) in [
        (7, ResultKind::ProviderRejection, 1),
        (8, ResultKind::ProviderRejection, 2),
        (23, ResultKind::ProviderRejection, 2),
    ] {
        let (_, server) = last_pdus(&cases[i]);
        let server = server.unwrap();
        let Pdu::BindAck(_, a) = Pdu::parse(&server).unwrap() else {
            panic!("case {i}")
        };
        assert_eq!(
            (a.results[0].result, a.results[0].reason),
            (result, reason),
            "case {i}"
        );
    }
    let (_, server) = last_pdus(&cases[12]);
    let Pdu::BindAck(_, a) = Pdu::parse(server.as_deref().unwrap()).unwrap() else {
        panic!()
    };
    assert_eq!(
        (a.results[1].result, a.results[1].reason),
        (ResultKind::NegotiateAck, 1)
    );
    // Context counts.
    for (i, n) in [(9, 7), (10, 0)] {
        let (client, _) = last_pdus(&cases[i]);
        let Pdu::Bind(_, b) = Pdu::parse(&client).unwrap() else {
            panic!()
        };
        assert_eq!(b.contexts.len(), n, "case {i}");
    }
    // Opnum 3, context id 5 echoed.
    let (client, _) = last_pdus(&cases[5]);
    let Pdu::Request(_, r) = Pdu::parse(&client).unwrap() else {
        panic!()
    };
    assert_eq!(r.opnum, 3);
    let (client, server) = last_pdus(&cases[20]);
    let Pdu::Request(_, r) = Pdu::parse(&client).unwrap() else {
        panic!()
    };
    let Pdu::Response(_, s) = Pdu::parse(server.as_deref().unwrap()).unwrap() else {
        panic!()
    };
    assert_eq!((r.p_cont_id, s.p_cont_id), (5, 5));
    // Case 15: header still readable raw for a checker.
    let (client, _) = last_pdus(&cases[15]);
    let h = kmsspec::wire::rpc::Header::read(&client).unwrap();
    assert_eq!((h.ptype, h.auth_length, h.call_id), (PduType::Bind, 8, 9));
}
