//! KMS message targets: request decode/decrypt, response decode/verify, ePID parsing.

use super::assert_offset_within;
use crate::wire::kms::epid::{validate, validate_with};
use crate::wire::kms::request::{BASE_REQUEST_LEN, V4_REQUEST_LEN, V5V6_REQUEST_LEN};
use crate::wire::kms::response::v6_hmac;
use crate::wire::kms::verify::checks_for;
use crate::wire::kms::{
    encode_request, encode_response, verify_parsed_failures, BaseRequest, BaseResponse, CheckName,
    DecodedRequest, DecodedResponse, Epid, EpidContext, Protocol, ProtocolVersion, RequestEnvelope,
    RequestParams, ResponseBody, ResponseParams,
};
use crate::wire::FileTime;
use uuid::Uuid;

/// `kms_request`: [`DecodedRequest::parse`] (which decrypts V5/V6). Accepted ⇒ the length is
/// the format's, the typed base re-encodes to the raw base, and encoding the decoded values
/// again parses to the same request — byte-exact when the V4 MAC / V5/V6 padding was valid.
/// Refused ⇒ the error offset lies inside the input.
pub fn fuzz_kms_request(data: &[u8]) {
    let req = match DecodedRequest::parse(data) {
        Ok(r) => r,
        Err(e) => return assert_offset_within(&e, data.len(), "DecodedRequest::parse"),
    };
    let expected_len = match req.protocol {
        Protocol::V4 => V4_REQUEST_LEN,
        Protocol::V5 | Protocol::V6 => V5V6_REQUEST_LEN,
    };
    assert_eq!(
        data.len(),
        expected_len,
        "accepted request of the wrong size"
    );
    assert_eq!(req.base.to_bytes(), req.base_raw, "typed base ≠ raw base");
    assert_eq!(
        BaseRequest::parse(&req.base_raw).as_ref(),
        Ok(&req.base),
        "base decode not stable"
    );
    let _ = req.base.workstation();
    let encoded = encode_request(&req.base, &req.params()).expect("known version must encode");
    let again = DecodedRequest::parse(&encoded).expect("re-encoded request must parse");
    assert_eq!(
        again.base, req.base,
        "decode → encode → decode changed the base"
    );
    assert_eq!(again.protocol, req.protocol);
    assert_eq!(again.outer_version(), req.outer_version());
    let exact = match req.envelope {
        RequestEnvelope::V4 { .. } => req.v4_mac_valid() == Some(true),
        RequestEnvelope::Encrypted { .. } => req.check_padding().is_ok(),
    };
    if exact {
        assert_eq!(encoded, data, "valid request does not re-encode byte-exact");
    } else {
        assert_eq!(again.envelope == req.envelope, encoded == data);
    }
    assert_ne!(again.v4_mac_valid(), Some(false), "encoder wrote a bad MAC");
    assert!(again.check_padding().is_ok());
}

/// The ePID a conforming host sends in the synthesised responses.
const SAMPLE_EPID: &str = "03612-00206-556-123727-03-1033-17763.0000-2972018";

/// `kms_response`. Layout: byte 0 picks the request format (`% 3`: V4, V5, V6); then the
/// request message (252 or 260 bytes; used as is when it parses as that format, else its first
/// 236 bytes become the base and the next 16 the IV of a freshly encoded request); the rest is
/// the response message. Properties: verification ([`verify_parsed_failures`], the checks of
/// `verify_response` without the texts of passed checks) returns exactly the checks of the
/// format, in order, each once; a response that passes them all (HMAC at slot 0) re-encodes
/// byte-exact from its decoded values; and a response encoded for the request from
/// fuzz-chosen values always passes every check.
pub fn fuzz_kms_response(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let protocol = [Protocol::V4, Protocol::V5, Protocol::V6][usize::from(sel % 3)];
    let req_len = match protocol {
        Protocol::V4 => V4_REQUEST_LEN,
        _ => V5V6_REQUEST_LEN,
    };
    let (req_bytes, response) = rest.split_at(rest.len().min(req_len));
    let request = match DecodedRequest::parse(req_bytes) {
        Ok(r) if r.protocol == protocol => r,
        _ => synth_request(protocol, req_bytes),
    };

    let parsed = DecodedResponse::parse(response);
    // `verify_response` is `verify_parsed` of this parse; the failures-only variant judges the
    // same checks without formatting the texts of passed ones, which is not the property.
    let verification = verify_parsed_failures(&request, parsed.as_ref().map_err(|e| *e));
    let names: Vec<CheckName> = verification.checks.iter().map(|c| c.name).collect();
    let format = parsed.as_ref().map_or(request.protocol, |r| r.protocol);
    assert_eq!(
        names,
        checks_for(format),
        "check list incomplete or out of order"
    );
    match &parsed {
        Ok(r) => {
            assert_eq!(r.message_len, response.len());
            if verification.all_passed() && hmac_slot0(r) {
                let again = encode_response(&request, &r.base, &r.params(&request))
                    .expect("a verified response must re-encode");
                assert_eq!(
                    again, response,
                    "verified response does not re-encode exact"
                );
            }
        }
        Err(e) => {
            assert_offset_within(e, response.len(), "DecodedResponse::parse");
            assert!(!verification.all_passed(), "undecodable response passed");
        }
    }

    // A conforming response built from fuzz-chosen values must verify.
    let mut tail = [0u8; 48];
    for (d, s) in tail.iter_mut().zip(response) {
        *d = *s;
    }
    let word = |i: usize| u32::from_le_bytes([tail[i], tail[i + 1], tail[i + 2], tail[i + 3]]);
    let base = BaseResponse::new(
        request.base.version,
        SAMPLE_EPID,
        request.base.cmid,
        request.base.request_time,
        word(0),
        word(4),
        word(8),
    );
    let mut random = [0u8; 16];
    random.copy_from_slice(&tail[12..28]);
    let mut response_iv = [0u8; 16];
    response_iv.copy_from_slice(&tail[28..44]);
    if request.iv() == Some(response_iv) {
        response_iv[0] ^= 1;
    }
    let mut hwid = [0u8; 8];
    hwid.copy_from_slice(&tail[40..48]);
    let params = ResponseParams {
        outer_version: request.outer_version(),
        random,
        response_iv,
        hwid,
    };
    let good = encode_response(&request, &base, &params).expect("encode for a valid request");
    // Every check passes, except the one judging the request itself (outer ≠ inner version).
    let v = verify_parsed_failures(
        &request,
        DecodedResponse::parse(&good).as_ref().map_err(|e| *e),
    );
    let request_ok = request.outer_version() == request.base.version;
    let failures: Vec<_> = v
        .failures()
        .filter(|c| request_ok || c.name != CheckName::RequestVersionsAgree)
        .collect();
    assert!(
        failures.is_empty(),
        "conforming response fails: {failures:?}"
    );
}

/// Whether the V6 HMAC (if any) is the one of time slot 0, the slot the encoder uses.
fn hmac_slot0(r: &DecodedResponse) -> bool {
    match &r.body {
        ResponseBody::V6 {
            decrypted_iv, hmac, ..
        } => v6_hmac(decrypted_iv, &r.authenticated, r.base.response_time, 0) == *hmac,
        _ => true,
    }
}

/// A well-formed request of `protocol` whose base comes from `bytes` (zero-filled).
fn synth_request(protocol: Protocol, bytes: &[u8]) -> DecodedRequest {
    let mut raw = [0u8; BASE_REQUEST_LEN];
    for (d, s) in raw.iter_mut().zip(bytes) {
        *d = *s;
    }
    let version = match protocol {
        Protocol::V4 => ProtocolVersion::V4,
        Protocol::V5 => ProtocolVersion::V5,
        Protocol::V6 => ProtocolVersion::V6,
    };
    raw[..4].copy_from_slice(&version.to_wire());
    let base = BaseRequest::parse(&raw).expect("236 bytes are a base request");
    let mut iv = [0u8; 16];
    for (d, s) in iv
        .iter_mut()
        .zip(bytes.get(BASE_REQUEST_LEN..).unwrap_or_default())
    {
        *d = *s;
    }
    let params = RequestParams {
        outer_version: version,
        iv,
    };
    let msg = encode_request(&base, &params).expect("known version encodes");
    DecodedRequest::parse(&msg).expect("encoded request parses")
}

/// `epid`: the input as text (lossy UTF-8). [`Epid::parse`] accepted ⇒ the canonical
/// rendering of its parts re-parses to the same value, and validation starts with a passed
/// syntax check; refused ⇒ validation is exactly one failed syntax check and the error offset
/// lies inside the text. The text as a response's ePID field reads back up to its first NUL.
pub fn fuzz_epid(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let checks = validate(&text);
    match Epid::parse(&text) {
        Ok(e) => {
            let canonical = format!(
                "{:05}-{:05}-{:03}-{:06}-{:02}-{}-{:04}.0000-{:03}{:04}",
                e.platform_id,
                e.group_id,
                e.key_id / 1_000_000,
                e.key_id % 1_000_000,
                e.channel,
                e.lcid,
                e.build,
                e.day_of_year,
                e.year
            );
            assert_eq!(Epid::parse(&canonical), Ok(e), "canonical {canonical:?}");
            assert!(checks
                .first()
                .is_some_and(|c| c.name == CheckName::EpidSyntax && c.passed));
            let ctx = EpidContext {
                now: Some(FileTime(0x01DA_0000_0000_0000)),
                catalog: None,
            };
            assert!(validate_with(&text, ctx).len() >= checks.len());
        }
        Err(err) => {
            // A missing part is reported where it would start: one past a trailing text.
            assert!(
                err.offset <= text.len() + 1,
                "ePID error offset beyond text"
            );
            assert_eq!(
                checks.len(),
                1,
                "refused ePID yields more than the syntax check"
            );
            assert!(checks[0].name == CheckName::EpidSyntax && !checks[0].passed);
        }
    }
    let base = BaseResponse::new(
        ProtocolVersion::V6,
        &text,
        Uuid::nil(),
        FileTime(0),
        0,
        0,
        0,
    );
    let upto_nul = text.split('\0').next().unwrap_or_default();
    assert_eq!(base.epid(), upto_nul, "ePID field does not read back");
    assert_eq!(base.pid_size as usize, base.epid_raw.len());
}
