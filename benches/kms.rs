//! KMS message layer throughput: decode + verify of a V4, V5 and V6 exchange (request parse,
//! response parse, verification with failure texts only, as the capture decoder does), and
//! encode of a V6 request + response (one "exchange" per iteration).

use kmsspec::wire::kms::*;
use kmsspec::wire::FileTime;
use uuid::Uuid;

fn main() {
    divan::main();
}

fn v6_pair() -> (Vec<u8>, Vec<u8>, BaseRequest, BaseResponse) {
    pair(ProtocolVersion::V6, RequestParams::v6([1; 16]), params())
}

/// A conforming request + response message pair of `version`.
fn pair(
    version: ProtocolVersion,
    req_params: RequestParams,
    resp_params: ResponseParams,
) -> (Vec<u8>, Vec<u8>, BaseRequest, BaseResponse) {
    let base = BaseRequest {
        version,
        is_vm_raw: 0,
        license_status: LicenseStatus::OobGrace,
        grace_minutes: 43200,
        application_id: Uuid::from_u128(0x55c9_2734_d682_4d71_983e_d6ec_3f16_059f),
        sku_id: Uuid::from_u128(2),
        kms_counted_id: Uuid::from_u128(3),
        cmid: Uuid::from_u128(4),
        required_client_count: 25,
        request_time: FileTime(133_485_408_000_000_000),
        previous_cmid: Uuid::nil(),
        workstation_raw: BaseRequest::workstation_field("kms-test.example").unwrap(),
    };
    let req_msg = encode_request(&base, &req_params).unwrap();
    let req = DecodedRequest::parse(&req_msg).unwrap();
    let rb = BaseResponse::new(
        version,
        "06401-00206-471-111111-03-1033-9600.0000-3622014",
        base.cmid,
        base.request_time,
        50,
        120,
        10080,
    );
    let resp_msg = encode_response(&req, &rb, &resp_params).unwrap();
    (req_msg, resp_msg, base, rb)
}

fn params() -> ResponseParams {
    ResponseParams {
        outer_version: ProtocolVersion::V6,
        random: [0xf0; 16],
        response_iv: [0xa0; 16],
        hwid: [0x36; 8],
    }
}

#[divan::bench]
fn v6_decode_and_verify(bencher: divan::Bencher) {
    let (req_msg, resp_msg, _, _) = v6_pair();
    bencher.bench(|| {
        let req = DecodedRequest::parse(divan::black_box(&req_msg)).unwrap();
        let v = verify_response(&req, divan::black_box(&resp_msg));
        assert!(v.all_passed());
        v
    });
}

/// Request parse, response parse and [`verify_parsed_failures`]: the capture decoder's
/// per-exchange KMS work.
fn decode_pair_failures(bencher: divan::Bencher, req_msg: &[u8], resp_msg: &[u8]) {
    let req = DecodedRequest::parse(req_msg).unwrap();
    let resp = DecodedResponse::parse(resp_msg);
    assert!(verify_parsed_failures(&req, resp.as_ref().map_err(|e| *e)).all_passed());
    bencher.bench(|| {
        let req = DecodedRequest::parse(divan::black_box(req_msg)).unwrap();
        let resp = DecodedResponse::parse(divan::black_box(resp_msg));
        let v = verify_parsed_failures(&req, resp.as_ref().map_err(|e| *e));
        // Dropped inside the timing, as the decoder does (and no retained outputs).
        v.all_passed()
    });
}

#[divan::bench]
fn v4_decode_and_verify_failures(bencher: divan::Bencher) {
    let params = ResponseParams {
        outer_version: ProtocolVersion::V4,
        ..params()
    };
    let (req_msg, resp_msg, _, _) = pair(ProtocolVersion::V4, RequestParams::v4(), params);
    decode_pair_failures(bencher, &req_msg, &resp_msg);
}

#[divan::bench]
fn v5_decode_and_verify_failures(bencher: divan::Bencher) {
    let params = ResponseParams {
        outer_version: ProtocolVersion::V5,
        ..params()
    };
    let (req_msg, resp_msg, _, _) = pair(ProtocolVersion::V5, RequestParams::v5([2; 16]), params);
    decode_pair_failures(bencher, &req_msg, &resp_msg);
}

#[divan::bench]
fn v6_decode_and_verify_failures(bencher: divan::Bencher) {
    let (req_msg, resp_msg, _, _) = v6_pair();
    decode_pair_failures(bencher, &req_msg, &resp_msg);
}

#[divan::bench]
fn v6_encode_request_and_response(bencher: divan::Bencher) {
    let (req_msg, _, base, rb) = v6_pair();
    let req = DecodedRequest::parse(&req_msg).unwrap();
    bencher.bench(|| {
        let a = encode_request(divan::black_box(&base), &RequestParams::v6([1; 16])).unwrap();
        let b = encode_response(&req, divan::black_box(&rb), &params()).unwrap();
        (a, b)
    });
}
