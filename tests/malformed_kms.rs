//! Malformed KMS messages get the right typed error (field, offset, kind), never a panic.

use kmsspec::wire::kms::crypto::{cbc_encrypt, KmsCipher};
use kmsspec::wire::kms::*;
use kmsspec::wire::{FileTime, WireErrorKind};
use uuid::Uuid;

fn base(version: ProtocolVersion) -> BaseRequest {
    BaseRequest {
        version,
        is_vm_raw: 0,
        license_status: LicenseStatus::OobGrace,
        grace_minutes: 43200,
        application_id: Uuid::from_u128(1),
        sku_id: Uuid::from_u128(2),
        kms_counted_id: Uuid::from_u128(3),
        cmid: Uuid::from_u128(4),
        required_client_count: 25,
        request_time: FileTime(133_485_408_000_000_000),
        previous_cmid: Uuid::nil(),
        workstation_raw: BaseRequest::workstation_field("host").unwrap(),
    }
}

const EPID: &str = "03612-00206-556-123727-03-1033-17763.0000-2972018";

fn exchange(p: RequestParams) -> (DecodedRequest, BaseResponse, ResponseParams) {
    let req = DecodedRequest::parse(&encode_request(&base(p.outer_version), &p).unwrap()).unwrap();
    let rb = BaseResponse::new(
        p.outer_version,
        EPID,
        req.base.cmid,
        req.base.request_time,
        50,
        120,
        10080,
    );
    let rp = ResponseParams {
        outer_version: p.outer_version,
        random: [7; 16],
        response_iv: [9; 16],
        hwid: [1; 8],
    };
    (req, rb, rp)
}

fn all_params() -> [RequestParams; 3] {
    [
        RequestParams::v4(),
        RequestParams::v5([3; 16]),
        RequestParams::v6([3; 16]),
    ]
}

#[test]
fn truncated_requests_at_every_length() {
    for p in all_params() {
        let msg = encode_request(&base(p.outer_version), &p).unwrap();
        for len in 0..msg.len() {
            let err = DecodedRequest::parse(&msg[..len]).unwrap_err();
            assert!(
                matches!(err.kind, WireErrorKind::Truncated { .. }),
                "{len}: {err}"
            );
            let want = if len < 4 { 4 } else { msg.len() };
            assert_eq!(
                err.kind,
                WireErrorKind::Truncated {
                    needed: want,
                    available: len
                },
                "{err}"
            );
        }
        let mut long = msg.clone();
        long.push(0);
        let err = DecodedRequest::parse(&long).unwrap_err();
        assert_eq!(
            (err.offset, err.kind),
            (msg.len(), WireErrorKind::TrailingBytes { count: 1 })
        );
    }
}

#[test]
fn short_v6_request_252_to_259_bytes() {
    let p = RequestParams::v6([3; 16]);
    let msg = encode_request(&base(p.outer_version), &p).unwrap();
    for len in 252..260 {
        let err = DecodedRequest::parse(&msg[..len]).unwrap_err();
        assert_eq!((err.field, err.offset), ("kms.request", 0));
        assert_eq!(
            err.kind,
            WireErrorKind::Truncated {
                needed: 260,
                available: len
            }
        );
    }
}

#[test]
fn truncated_responses_at_every_length_fail_verification() {
    for p in all_params() {
        let (req, rb, rp) = exchange(p);
        let msg = encode_response(&req, &rb, &rp).unwrap();
        assert!(verify_response(&req, &msg).all_passed());
        for len in 0..msg.len() {
            assert!(
                DecodedResponse::parse(&msg[..len]).is_err(),
                "{:?} len {len}",
                p.outer_version
            );
            let v = verify_response(&req, &msg[..len]);
            assert_eq!(v.checks.len(), verify::checks_for(req.protocol).len());
            assert!(v.checks.iter().all(|c| !c.passed));
        }
    }
}

#[test]
fn wrong_versions() {
    for major in [0u16, 1, 3, 7, 0xffff] {
        let mut msg =
            encode_request(&base(ProtocolVersion::V6), &RequestParams::v6([0; 16])).unwrap();
        msg[2..4].copy_from_slice(&major.to_le_bytes());
        let err = DecodedRequest::parse(&msg).unwrap_err();
        assert_eq!(unknown_version(&err), Some(ProtocolVersion::new(major, 0)));
        assert_eq!((err.field, err.offset), ("kms.request.version", 0));
        assert_eq!(
            unknown_version(&DecodedResponse::parse(&msg).unwrap_err()),
            Some(ProtocolVersion::new(major, 0))
        );
        assert!(encode_request(
            &base(ProtocolVersion::V6),
            &RequestParams {
                outer_version: ProtocolVersion::new(major, 0),
                iv: [0; 16]
            }
        )
        .is_err());
    }
    // Inner version differing from the outer one decodes, and verification names it.
    let p = RequestParams::v6([5; 16]);
    let req =
        DecodedRequest::parse(&encode_request(&base(ProtocolVersion::new(6, 1)), &p).unwrap())
            .unwrap();
    assert_eq!(req.base.version, ProtocolVersion::new(6, 1));
    let (_, rb, rp) = exchange(p);
    let v = verify_response(&req, &encode_response(&req, &rb, &rp).unwrap());
    let failed: Vec<_> = v.failures().map(|c| c.name).collect();
    assert_eq!(
        failed,
        [
            CheckName::RequestVersionsAgree,
            CheckName::ResponseInnerVersion
        ]
    );
    // A V5/V6 response cannot answer a V4 request.
    let (v4req, rb4, _) = exchange(RequestParams::v4());
    let rp6 = ResponseParams {
        outer_version: ProtocolVersion::V6,
        random: [0; 16],
        response_iv: [1; 16],
        hwid: [0; 8],
    };
    assert!(encode_response(&v4req, &rb4, &rp6).is_err());
}

#[test]
fn lying_pid_size() {
    for p in all_params() {
        let (req, mut rb, rp) = exchange(p);
        for lie in [rb.pid_size + 200, u32::MAX, 1000] {
            rb.pid_size = lie;
            let msg = encode_response(&req, &rb, &rp).unwrap();
            let err = DecodedResponse::parse(&msg).unwrap_err();
            let base_off = if req.protocol == Protocol::V4 { 0 } else { 20 };
            assert_eq!(
                (err.field, err.offset),
                ("kms.response.pid_size", base_off + 4),
                "{err}"
            );
            assert!(
                matches!(err.kind, WireErrorKind::LengthMismatch { declared, .. } if declared == u64::from(lie))
            );
            let v = verify_response(&req, &msg);
            assert!(!v.get(CheckName::ResponseStructure).unwrap().passed);
        }
        // A PIDSize smaller than the ePID shifts every later field: decodes, fails checks.
        let (req, mut rb, rp) = exchange(p);
        rb.pid_size -= 2;
        let v = verify_response(&req, &encode_response(&req, &rb, &rp).unwrap());
        assert!(!v.all_passed());
    }
}

#[test]
fn odd_and_unterminated_pid_fail_epid_length() {
    let (req, mut rb, rp) = exchange(RequestParams::v5([3; 16]));
    rb.epid_raw.pop();
    rb.pid_size = rb.epid_raw.len() as u32;
    let msg = encode_response(&req, &rb, &rp).unwrap();
    let dec = DecodedResponse::parse(&msg).unwrap();
    assert_eq!(dec.base.pid_size_issue(), Some(PidSizeIssue::Odd));
    let v = verify_response(&req, &msg);
    assert!(!v.get(CheckName::EpidLength).unwrap().passed);
    let (req, mut rb, rp) = exchange(RequestParams::v6([3; 16]));
    rb.epid_raw.truncate(rb.epid_raw.len() - 2);
    rb.pid_size = rb.epid_raw.len() as u32;
    let v = verify_response(&req, &encode_response(&req, &rb, &rp).unwrap());
    let c = v.get(CheckName::EpidLength).unwrap();
    assert!(!c.passed && c.observed.contains("NotTerminated"), "{c:?}");
}

#[test]
fn bad_padding() {
    for p in [RequestParams::v5([3; 16]), RequestParams::v6([3; 16])] {
        let (req, rb, rp) = exchange(p);
        let msg = encode_response(&req, &rb, &rp).unwrap();
        let cipher = req.protocol.cipher();
        let iv: [u8; 16] = msg[4..20].try_into().unwrap();
        // Decrypt, corrupt the pad, re-encrypt.
        let mut plain = msg[20..].to_vec();
        kmsspec::wire::kms::crypto::cbc_decrypt(cipher, &iv, &mut plain).unwrap();
        for (bad_last, corrupt_inner) in [(0u8, false), (17, false), (0xff, false), (0, true)] {
            let mut pl = plain.clone();
            let n = pl.len();
            if corrupt_inner {
                let pad = pl[n - 1] as usize;
                assert!(pad >= 2);
                pl[n - 2] ^= 0x40;
            } else {
                pl[n - 1] = bad_last;
            }
            cbc_encrypt(cipher, &iv, &mut pl).unwrap();
            let mut bad = msg[..20].to_vec();
            bad.extend_from_slice(&pl);
            let err = DecodedResponse::parse(&bad).unwrap_err();
            assert_eq!(
                (err.field, err.kind),
                ("kms.pkcs7_padding", WireErrorKind::Crypto)
            );
            let want = if corrupt_inner {
                20 + n - 2
            } else {
                20 + n - 1
            };
            assert_eq!(err.offset, want);
            let v = verify_response(&req, &bad);
            let d = v.get(CheckName::DecryptionPadding).unwrap();
            assert!(!d.passed && d.observed.starts_with("decryption failed"));
            assert!(v
                .get(CheckName::CmidEcho)
                .unwrap()
                .observed
                .starts_with("not evaluable"));
        }
        // Ciphertext not a multiple of 16.
        let err = DecodedResponse::parse(&msg[..msg.len() - 3]).unwrap_err();
        assert_eq!(err.kind, WireErrorKind::Crypto);
        // Request padding is reported, not fatal.
        let mut rq = encode_request(&base(p.outer_version), &p).unwrap();
        let mut pl = rq[20..].to_vec();
        kmsspec::wire::kms::crypto::cbc_decrypt(cipher, &p.iv, &mut pl).unwrap();
        pl[238] = 9;
        cbc_encrypt(cipher, &p.iv, &mut pl).unwrap();
        rq.truncate(20);
        rq.extend_from_slice(&pl);
        let dec = DecodedRequest::parse(&rq).unwrap();
        let err = dec.check_padding().unwrap_err();
        assert_eq!((err.offset, err.kind), (20 + 238, WireErrorKind::Crypto));
    }
    let _ = KmsCipher::v5();
}

#[test]
fn workstation_name_issues() {
    let mut b = base(ProtocolVersion::V4);
    assert_eq!(b.workstation().text, "host");
    assert_eq!(b.workstation().issue, None);
    b.workstation_raw[100] = 1;
    assert_eq!(
        b.workstation().issue,
        Some(WorkstationIssue::NonZeroAfterTerminator { offset: 100 })
    );
    b.workstation_raw = [0x41; 128];
    assert_eq!(b.workstation().issue, Some(WorkstationIssue::NoTerminator));
    b.workstation_raw = [0; 128];
    b.workstation_raw[0..2].copy_from_slice(&0xD800u16.to_le_bytes());
    assert_eq!(b.workstation().issue, Some(WorkstationIssue::InvalidUtf16));
    assert!(BaseRequest::workstation_field(&"x".repeat(63)).is_ok());
    let err = BaseRequest::workstation_field(&"x".repeat(64)).unwrap_err();
    assert_eq!(err.kind, WireErrorKind::InvalidValue { value: 64 });
}

#[test]
fn failures_only_verification_agrees_with_the_full_one() {
    for p in [
        RequestParams::v4(),
        RequestParams::v5([3; 16]),
        RequestParams::v6([3; 16]),
    ] {
        let (req, mut rb, rp) = exchange(p);
        let good = encode_response(&req, &rb, &rp).unwrap();
        rb.pid_size -= 2;
        let mut messages = vec![good.clone(), encode_response(&req, &rb, &rp).unwrap()];
        for at in (0..good.len()).step_by(7) {
            let mut m = good.clone();
            m[at] ^= 0x21;
            messages.push(m);
        }
        let mut failures = 0;
        for m in &messages {
            let full = verify_response(&req, m);
            let parsed = DecodedResponse::parse(m);
            let brief = verify_parsed_failures(&req, parsed.as_ref().map_err(|e| *e));
            if let Ok(r) = &parsed {
                // The decoder's path: the ePID text handed in, not converted again.
                let with_epid = verify_parsed_failures_with_epid(&req, Ok(r), &r.base.epid());
                assert_eq!(with_epid, brief);
            }
            assert_eq!(full.checks.len(), brief.checks.len());
            for (f, b) in full.checks.iter().zip(&brief.checks) {
                assert_eq!((f.name, f.passed), (b.name, b.passed));
                if f.passed {
                    assert!(b.observed.is_empty() && b.expected.is_empty());
                } else {
                    failures += 1;
                    assert_eq!(f, b);
                }
            }
        }
        assert!(failures > messages.len(), "mutations must fail checks");
    }
}
