//! Property tests: encode → parse round trips for V4/V5/V6 requests and responses, and any
//! single-bit corruption of a V5/V6 response is caught by a named check.

use kmsspec::wire::kms::*;
use kmsspec::wire::FileTime;
use proptest::prelude::*;
use uuid::Uuid;

fn arb_uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

prop_compose! {
    fn arb_base_request()(
        minor in any::<u16>(), is_vm_raw in any::<u32>(), status in any::<u32>(),
        grace_minutes in any::<u32>(), application_id in arb_uuid(), sku_id in arb_uuid(),
        kms_counted_id in arb_uuid(), cmid in arb_uuid(), n in any::<u32>(), t in any::<u64>(),
        previous_cmid in arb_uuid(), ws in prop::collection::vec(any::<u8>(), 128),
    ) -> BaseRequest {
        BaseRequest {
            version: ProtocolVersion::new(4, minor),
            is_vm_raw,
            license_status: LicenseStatus::from_u32(status),
            grace_minutes,
            application_id,
            sku_id,
            kms_counted_id,
            cmid,
            required_client_count: n,
            request_time: FileTime(t),
            previous_cmid,
            workstation_raw: ws.try_into().unwrap(),
        }
    }
}

fn arb_params() -> impl Strategy<Value = RequestParams> {
    (4u16..=6, any::<u16>(), any::<[u8; 16]>()).prop_map(|(major, minor, iv)| {
        if major == 4 {
            RequestParams::v4()
        } else {
            RequestParams {
                outer_version: ProtocolVersion::new(major, minor),
                iv,
            }
        }
    })
}

/// A well-formed request of any format whose inner version equals the outer one.
fn arb_request() -> impl Strategy<Value = (BaseRequest, RequestParams)> {
    (arb_base_request(), arb_params()).prop_map(|(mut b, p)| {
        b.version = p.outer_version;
        (b, p)
    })
}

prop_compose! {
    fn arb_epid()(p in 0u32..100_000, g in 0u32..100_000, k in 0u32..1_000_000_000,
                  build in 1000u32..99_999, day in 1u32..366, year in 2000u32..2100) -> String {
        format!("{p:05}-{g:05}-{:03}-{:06}-03-1033-{build}.0000-{day:03}{year}", k / 1_000_000, k % 1_000_000)
    }
}

fn base_response_for(
    req: &BaseRequest,
    epid: &str,
    count: u32,
    act: u32,
    renew: u32,
) -> BaseResponse {
    BaseResponse::new(
        req.version,
        epid,
        req.cmid,
        req.request_time,
        count,
        act,
        renew,
    )
}

proptest! {
    #[test]
    fn request_roundtrip((base, params) in arb_request()) {
        let msg = encode_request(&base, &params).unwrap();
        let dec = DecodedRequest::parse(&msg).unwrap();
        prop_assert_eq!(&dec.base, &base);
        prop_assert_eq!(dec.params(), params);
        prop_assert!(dec.check_padding().is_ok());
        prop_assert_ne!(dec.v4_mac_valid(), Some(false));
        prop_assert_eq!(encode_request(&dec.base, &dec.params()).unwrap(), msg);
    }

    #[test]
    fn response_roundtrip(
        (base, params) in arb_request(),
        epid_units in prop::collection::vec(1u16..0xD800, 0..60),
        count in any::<u32>(), act in any::<u32>(), renew in any::<u32>(),
        random in any::<[u8; 16]>(), response_iv in any::<[u8; 16]>(), hwid in any::<[u8; 8]>(),
    ) {
        let req = DecodedRequest::parse(&encode_request(&base, &params).unwrap()).unwrap();
        let epid = String::from_utf16(&epid_units).unwrap();
        let rb = base_response_for(&req.base, &epid, count, act, renew);
        let rp = ResponseParams { outer_version: params.outer_version, random, response_iv, hwid };
        let msg = encode_response(&req, &rb, &rp).unwrap();
        let dec = DecodedResponse::parse(&msg).unwrap();
        prop_assert_eq!(&dec.base, &rb);
        prop_assert_eq!(dec.base.epid(), epid);
        let back = dec.params(&req);
        prop_assert_eq!(back.outer_version, rp.outer_version);
        if req.protocol != Protocol::V4 {
            prop_assert_eq!(back.random, random);
        }
        if req.protocol == Protocol::V6 {
            prop_assert_eq!((back.response_iv, back.hwid), (response_iv, hwid));
        }
        prop_assert_eq!(encode_response(&req, &dec.base, &back).unwrap(), msg);
    }

    #[test]
    fn conforming_response_verifies(
        (base, params) in arb_request(), epid in arb_epid(),
        random in any::<[u8; 16]>(), response_iv in any::<[u8; 16]>(), hwid in any::<[u8; 8]>(),
    ) {
        let req = DecodedRequest::parse(&encode_request(&base, &params).unwrap()).unwrap();
        prop_assume!(req.iv() != Some(response_iv));
        let rb = base_response_for(&req.base, &epid, 50, 120, 10080);
        let rp = ResponseParams { outer_version: params.outer_version, random, response_iv, hwid };
        let v = verify_response(&req, &encode_response(&req, &rb, &rp).unwrap());
        prop_assert!(v.all_passed(), "{:?}", v.failures().collect::<Vec<_>>());
    }

    #[test]
    fn flipped_bit_in_v5_v6_response_is_caught(
        (base, params) in arb_request(), epid in arb_epid(),
        random in any::<[u8; 16]>(), response_iv in any::<[u8; 16]>(), hwid in any::<[u8; 8]>(),
        pos in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        prop_assume!(params.outer_version.major != 4);
        let req = DecodedRequest::parse(&encode_request(&base, &params).unwrap()).unwrap();
        prop_assume!(req.iv() != Some(response_iv));
        let rb = base_response_for(&req.base, &epid, 50, 120, 10080);
        let rp = ResponseParams { outer_version: params.outer_version, random, response_iv, hwid };
        let mut msg = encode_response(&req, &rb, &rp).unwrap();
        let i = pos.index(msg.len());
        msg[i] ^= 1 << bit;
        let v = verify_response(&req, &msg);
        prop_assert!(!v.all_passed(), "flip at byte {} bit {} not caught", i, bit);
    }

    #[test]
    fn arbitrary_bytes_never_panic(msg in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = DecodedRequest::parse(&msg);
        let _ = DecodedResponse::parse(&msg);
    }
}
