//! Parse/encode cost of the V6 request and response PDUs (spec §7 vector) and their stubs.

use divan::{black_box, Bencher};
use kmsspec::wire::rpc::{NdrSyntax, Pdu, RequestStub, ResponseStub};

fn main() {
    divan::main();
}

fn vectors() -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::var("KMSSPEC_SHARED").unwrap_or_else(|_| "../shared".into());
    let text = std::fs::read_to_string(format!("{dir}/spec/kms-test-vectors.json"))
        .expect("set KMSSPEC_SHARED to the shared corpus");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let m = &v["deterministic_messages"][2];
    let h = |k: &str| hex::decode(m[k].as_str().expect(k)).expect("hex");
    (
        h("request_pdu_ndr32_ctx0_callid2"),
        h("response_pdu_ndr32_ctx0_callid2"),
    )
}

#[divan::bench]
fn parse_v6_request(b: Bencher) {
    let (req, _) = vectors();
    b.bench(|| {
        let pdu = Pdu::parse(black_box(&req)).expect("parse");
        let stub = RequestStub::parse(pdu.stub().expect("stub"), NdrSyntax::Ndr32).expect("stub");
        black_box(stub.message.len())
    });
}

#[divan::bench]
fn parse_v6_response(b: Bencher) {
    let (_, resp) = vectors();
    b.bench(|| {
        let pdu = Pdu::parse(black_box(&resp)).expect("parse");
        let stub = ResponseStub::parse(pdu.stub().expect("stub"), NdrSyntax::Ndr32).expect("stub");
        black_box(stub.return_value())
    });
}

#[divan::bench]
fn encode_v6_request(b: Bencher) {
    let (req, _) = vectors();
    let pdu = Pdu::parse(&req).expect("parse").into_owned();
    let mut out = Vec::with_capacity(512);
    b.bench_local(|| {
        out.clear();
        black_box(&pdu).encode_into(&mut out);
        black_box(out.len())
    });
}

#[divan::bench]
fn encode_v6_response(b: Bencher) {
    let (_, resp) = vectors();
    let pdu = Pdu::parse(&resp).expect("parse").into_owned();
    let mut out = Vec::with_capacity(512);
    b.bench_local(|| {
        out.clear();
        black_box(&pdu).encode_into(&mut out);
        black_box(out.len())
    });
}

#[divan::bench]
fn encode_v6_response_with_stub(b: Bencher) {
    let (_, resp) = vectors();
    let pdu = Pdu::parse(&resp).expect("parse");
    let msg = ResponseStub::parse(pdu.stub().expect("stub"), NdrSyntax::Ndr32)
        .expect("stub")
        .message()
        .expect("success")
        .to_vec();
    let mut stub = Vec::with_capacity(512);
    b.bench_local(|| {
        stub.clear();
        ResponseStub::success(black_box(&msg)).encode_into(NdrSyntax::Ndr32, &mut stub);
        black_box(stub.len())
    });
}

/// A Windows-style bind (NDR32, NDR64 and BTFN contexts) and the bind_ack answering it.
fn bind_and_ack() -> (Vec<u8>, Vec<u8>) {
    use kmsspec::wire::rpc::{
        btfn, Bind, BindAck, Common, ContextElement, ContextResult, ResultKind, KMS_INTERFACE,
        NDR32, NDR64,
    };
    use std::borrow::Cow;
    let bind = Pdu::Bind(
        Common::new(2),
        Bind::new(vec![
            ContextElement::new(0, KMS_INTERFACE, NDR32),
            ContextElement::new(1, KMS_INTERFACE, NDR64),
            ContextElement::new(2, KMS_INTERFACE, btfn(3)),
        ]),
    );
    let result = |result, reason, transfer_syntax| ContextResult {
        result,
        reason,
        transfer_syntax,
    };
    let ack = Pdu::BindAck(
        Common::new(2),
        BindAck {
            max_xmit_frag: 5840,
            max_recv_frag: 5840,
            assoc_group_id: 0x1234,
            sec_addr: Cow::Borrowed(b"1688\0"),
            pad: [0; 3],
            reserved: [0; 3],
            results: vec![
                result(ResultKind::ProviderRejection, 2, NDR32),
                result(ResultKind::Acceptance, 0, NDR64),
                result(ResultKind::NegotiateAck, 3, NDR32),
            ],
            trailing: Cow::Borrowed(&[]),
        },
    );
    (bind.encode(), ack.encode())
}

// A fixed sample size: with divan's automatic one the first, allocator-cold sample picks a
// single iteration per sample and the timer's 20 ns precision dominates.
#[divan::bench(sample_size = 1000)]
fn parse_bind(b: Bencher) {
    let (bind, _) = bind_and_ack();
    b.bench(|| {
        let pdu = Pdu::parse(black_box(&bind)).expect("parse");
        black_box(pdu.call_id())
    });
}

#[divan::bench(sample_size = 1000)]
fn parse_bind_ack(b: Bencher) {
    let (_, ack) = bind_and_ack();
    b.bench(|| {
        let pdu = Pdu::parse(black_box(&ack)).expect("parse");
        black_box(pdu.call_id())
    });
}
