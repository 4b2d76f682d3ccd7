//! KMS message layer against every relevant entry of `kms-test-vectors.json`.

mod common;

use common::{test_vectors, unhex};
use kmsspec::wire::kms::crypto::{v4_mac, v6_hmac_key, v6_time_slot, KmsCipher};
use kmsspec::wire::kms::epid::{validate, validate_with, EpidCatalog, EpidContext, KeyIdRange};
use kmsspec::wire::kms::*;
use kmsspec::wire::{FileTime, WireErrorKind};
use serde_json::Value;
use uuid::Uuid;

fn h(v: &Value) -> Vec<u8> {
    unhex(v.as_str().expect("hex string"))
}

fn arr16(v: &Value) -> [u8; 16] {
    h(v).try_into().expect("16 bytes")
}

/// The KMS message inside an RPC request/response PDU (spec §1.10): 24-byte header+body
/// prefix, then the NDR32 (8/12) or NDR64 (16/24) stub prefix; the size field gives the length.
fn kms_from_pdu(pdu: &[u8], ndr64: bool) -> Vec<u8> {
    let ptype = pdu[2];
    let mut off = 24;
    if ptype == 0 && pdu[3] & 0x80 != 0 {
        off += 16;
    }
    let size = u32::from_le_bytes(pdu[off..off + 4].try_into().unwrap()) as usize;
    let prefix = match (ptype, ndr64) {
        (0, false) => 8,
        (0, true) => 16,
        (_, false) => 12,
        (_, true) => 24,
    };
    let start = off + prefix;
    pdu[start..(start + size).min(pdu.len())].to_vec()
}

fn check_request_fields(base: &BaseRequest, f: &Value) {
    assert_eq!(base.version.minor as u64, f["minor"].as_u64().unwrap());
    assert_eq!(base.version.major as u64, f["major"].as_u64().unwrap());
    assert_eq!(base.is_vm_raw as u64, f["is_vm"].as_u64().unwrap());
    assert_eq!(
        base.license_status.to_u32() as u64,
        f["license_status"].as_u64().unwrap()
    );
    assert_eq!(base.grace_minutes as u64, f["grace_time"].as_u64().unwrap());
    let g = |k: &str| f[k].as_str().unwrap().parse::<Uuid>().unwrap();
    assert_eq!(base.application_id, g("app_id"));
    assert_eq!(base.sku_id, g("sku_id"));
    assert_eq!(base.kms_counted_id, g("kms_id"));
    assert_eq!(base.cmid, g("cmid"));
    assert_eq!(base.previous_cmid, g("prev_cmid"));
    assert_eq!(
        base.required_client_count as u64,
        f["n_policy"].as_u64().unwrap()
    );
    assert_eq!(base.request_time.0, f["request_time"].as_u64().unwrap());
    let ws = base.workstation();
    assert_eq!(ws.text, f["workstation"].as_str().unwrap());
    assert_eq!(ws.issue, None);
}

fn check_response_fields(base: &BaseResponse, f: &Value) {
    assert_eq!(base.version.minor as u64, f["minor"].as_u64().unwrap());
    assert_eq!(base.version.major as u64, f["major"].as_u64().unwrap());
    assert_eq!(base.epid(), f["epid"].as_str().unwrap());
    if let Some(p) = f.get("pid_size") {
        assert_eq!(base.pid_size as u64, p.as_u64().unwrap());
    }
    assert_eq!(
        base.cmid,
        f["cmid"].as_str().unwrap().parse::<Uuid>().unwrap()
    );
    assert_eq!(base.response_time.0, f["response_time"].as_u64().unwrap());
    assert_eq!(
        base.current_count as u64,
        f["current_count"].as_u64().unwrap()
    );
    assert_eq!(
        base.activation_interval as u64,
        f["activation_interval"].as_u64().unwrap()
    );
    assert_eq!(
        base.renewal_interval as u64,
        f["renewal_interval"].as_u64().unwrap()
    );
}

fn assert_all_pass(v: &Verification, what: &str) {
    assert!(v.checks.len() >= 10, "{what}: too few checks");
    for c in &v.checks {
        assert!(
            c.passed,
            "{what}: check {} failed: observed {} expected {}",
            c.name, c.observed, c.expected
        );
    }
}

/// Full round trip of one exchange: decode, verify, re-encode byte-for-byte.
fn exchange_roundtrip(
    req_msg: &[u8],
    resp_msg: &[u8],
    what: &str,
) -> (DecodedRequest, DecodedResponse) {
    let req = DecodedRequest::parse(req_msg).unwrap_or_else(|e| panic!("{what}: request: {e}"));
    req.check_padding().unwrap();
    if let Some(ok) = req.v4_mac_valid() {
        assert!(ok, "{what}: v4 request MAC");
    }
    assert_eq!(
        encode_request(&req.base, &req.params()).unwrap(),
        req_msg,
        "{what}: request re-encode"
    );
    let resp = DecodedResponse::parse(resp_msg).unwrap_or_else(|e| panic!("{what}: response: {e}"));
    assert_all_pass(&verify_response(&req, resp_msg), what);
    let again = encode_response(&req, &resp.base, &resp.params(&req)).unwrap();
    assert_eq!(again, resp_msg, "{what}: response re-encode");
    (req, resp)
}

#[test]
fn cipher_keys_and_block_kats() {
    let Some(v) = test_vectors() else { return };
    let c = &v["crypto"];
    assert_eq!(h(&c["keys"]["v4_rijndael160"]), crypto::V4_KEY);
    assert_eq!(h(&c["keys"]["v5_aes128"]), crypto::V5_KEY);
    assert_eq!(h(&c["keys"]["v6_aes128_modified"]), crypto::V6_KEY);
    let ek = &c["expanded_keys"];
    assert_eq!(
        KmsCipher::v4().expanded_key(),
        h(&ek["v4_192_bytes_11_rounds"])
    );
    assert_eq!(
        KmsCipher::v5().expanded_key(),
        h(&ek["v5_176_bytes_standard_aes128"])
    );
    assert_eq!(
        KmsCipher::v6().expanded_key(),
        h(&ek["v6_176_bytes_after_modification"])
    );
    let blocks = c["block"].as_array().unwrap();
    assert_eq!(blocks.len(), 8);
    for b in blocks {
        let cipher = match b["cipher"].as_str().unwrap() {
            "v4" => KmsCipher::v4(),
            "v5" => KmsCipher::v5(),
            _ => KmsCipher::v6(),
        };
        let (pt, ct) = (arr16(&b["plaintext"]), arr16(&b["ciphertext"]));
        assert_eq!(cipher.encrypt_block(&pt), ct, "{b}");
        assert_eq!(cipher.decrypt_block(&ct), pt, "{b}");
    }
}

#[test]
fn v4_mac_and_hmac_key_kats() {
    let Some(v) = test_vectors() else { return };
    for m in v["crypto"]["v4_mac"].as_array().unwrap() {
        assert_eq!(v4_mac(&h(&m["message"])).to_vec(), h(&m["mac"]), "{m}");
    }
    let keys = v["crypto"]["v6_hmac_key"].as_array().unwrap();
    assert_eq!(keys.len(), 15);
    for k in keys {
        let t = k["filetime"].as_u64().unwrap();
        let tol = k["tolerance"].as_i64().unwrap();
        let slot = u64::from_str_radix(k["time_slot_u64_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(v6_time_slot(t, tol), slot, "{k}");
        assert_eq!(v6_hmac_key(t, tol).to_vec(), h(&k["hmac_key"]), "{k}");
    }
}

#[test]
fn deterministic_messages_decode_verify_reencode() {
    let Some(v) = test_vectors() else { return };
    let msgs = v["deterministic_messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    for m in msgs {
        let what = m["protocol"].as_str().unwrap();
        let (req_msg, resp_msg) = (h(&m["request_kms"]), h(&m["response_kms"]));
        let (req, resp) = exchange_roundtrip(&req_msg, &resp_msg, what);
        check_request_fields(&req.base, &m["request_base_fields"]);
        assert_eq!(req.base_raw.to_vec(), h(&m["request_base_236"]));
        check_response_fields(&resp.base, &m["response_base_fields"]);
        assert_eq!(
            &resp.authenticated[..resp.base.wire_len()],
            &h(&m["response_base"])[..]
        );
        // Both NDR stubs and the NDR32 PDUs carry the same message.
        assert_eq!(
            kms_from_pdu(&h(&m["request_pdu_ndr32_ctx0_callid2"]), false),
            req_msg
        );
        assert_eq!(
            kms_from_pdu(&h(&m["response_pdu_ndr32_ctx0_callid2"]), false),
            resp_msg
        );
        match what {
            "4.0" => {
                assert_eq!(
                    req.envelope,
                    RequestEnvelope::V4 {
                        mac: arr16(&m["request_mac"])
                    }
                );
                assert_eq!(
                    resp.body,
                    ResponseBody::V4 {
                        mac: arr16(&m["response_mac"])
                    }
                );
            }
            _ => {
                assert_eq!(req.iv(), Some(arr16(&m["request_iv_wire"])));
                assert_eq!(req.div(), Some(arr16(&m["decrypted_request_iv_DIV"])));
                assert_eq!(resp.iv(), Some(arr16(&m["response_iv_wire"])));
                assert_eq!(resp.random(&req), Some(arr16(&m["server_random_16"])));
                let params = resp.params(&req);
                assert_eq!(params.random, arr16(&m["server_random_16"]));
                if let ResponseBody::V6 {
                    hwid,
                    xored_ivs,
                    hmac,
                    decrypted_iv,
                    ..
                } = resp.body
                {
                    assert_eq!(hwid.to_vec(), h(&m["hwid"]));
                    assert_eq!(xored_ivs, arr16(&m["xored_ivs_field"]));
                    assert_eq!(hmac, arr16(&m["hmac_field_last16"]));
                    assert_eq!(
                        decrypted_iv,
                        arr16(&m["response_iv_decrypted_D_K(iv_wire)"])
                    );
                    let hv = verify_response(&req, &resp_msg);
                    assert!(hv
                        .get(CheckName::V6Hmac)
                        .unwrap()
                        .observed
                        .contains("slot +0"));
                }
            }
        }
        // Encoding from typed fields alone reproduces the messages.
        let base = BaseResponse::new(
            resp.base.version,
            &resp.base.epid(),
            resp.base.cmid,
            resp.base.response_time,
            resp.base.current_count,
            resp.base.activation_interval,
            resp.base.renewal_interval,
        );
        assert_eq!(
            encode_response(&req, &base, &resp.params(&req)).unwrap(),
            resp_msg
        );
        let mut fresh = req.base.clone();
        fresh.workstation_raw = BaseRequest::workstation_field("kms-test.example").unwrap();
        assert_eq!(encode_request(&fresh, &req.params()).unwrap(), req_msg);
    }
}

#[test]
fn captured_sessions_decode_verify_reencode() {
    let Some(v) = test_vectors() else { return };
    let mut n = 0;
    for s in v["captured_sessions"].as_array().unwrap() {
        for (i, e) in s["exchanges"].as_array().unwrap().iter().enumerate() {
            let Some(req_hex) = e.get("request_kms") else {
                continue;
            };
            let what = format!("{} session {} exchange {i}", s["server"], s["session"]);
            let ndr64 = e["ndr"] == "NDR64";
            let (req_msg, resp_msg) = (h(req_hex), h(&e["response_kms"]));
            assert_eq!(kms_from_pdu(&h(&e["client_pdu"]), ndr64), req_msg, "{what}");
            assert_eq!(
                kms_from_pdu(&h(&e["server_pdu"]), ndr64),
                resp_msg,
                "{what}"
            );
            let (req, resp) = exchange_roundtrip(&req_msg, &resp_msg, &what);
            let dr = &e["decoded_request"];
            check_request_fields(&req.base, &dr["base"]);
            if let Some(iv) = dr.get("iv") {
                assert_eq!(req.iv(), Some(arr16(iv)));
                assert_eq!(req.div(), Some(arr16(&dr["decrypted_iv"])));
            }
            let dresp = &e["decoded_response"];
            check_response_fields(&resp.base, &dresp["base"]);
            if let ResponseBody::V6 {
                hwid, decrypted_iv, ..
            } = resp.body
            {
                assert_eq!(hex(&hwid), dresp["hwid"].as_str().unwrap().to_lowercase());
                assert_eq!(decrypted_iv, arr16(&dresp["decrypted_response_iv"]));
                assert_eq!(resp.random(&req), Some(arr16(&dresp["random"])));
            }
            n += 1;
        }
    }
    assert_eq!(n, 22, "22 KMS exchanges in the captures");
}

#[test]
fn error_cases_with_kms_messages() {
    let Some(v) = test_vectors() else { return };
    let cases = v["error_cases"].as_array().unwrap();
    let mut seen = 0;
    for (i, c) in cases.iter().enumerate() {
        let desc = c["description"].as_str().unwrap();
        for x in c["exchange"].as_array().unwrap() {
            let pdu = h(&x["client_pdu"]);
            if pdu[2] != 0 {
                continue;
            }
            seen += 1;
            let msg = kms_from_pdu(&pdu, false);
            let parsed = DecodedRequest::parse(&msg);
            if desc.contains("version 7.0") {
                let err = parsed.unwrap_err();
                assert_eq!(
                    unknown_version(&err),
                    Some(ProtocolVersion::new(7, 0)),
                    "case {i}"
                );
            } else if desc.contains("version 6.1") {
                assert_eq!(
                    parsed.unwrap().outer_version(),
                    ProtocolVersion::new(6, 1),
                    "case {i}"
                );
            } else if desc.contains("truncated KMS message") {
                let err = parsed.unwrap_err();
                assert_eq!(
                    err.kind,
                    WireErrorKind::Truncated {
                        needed: 260,
                        available: 100
                    },
                    "case {i}"
                );
            } else if desc.contains("9 excess bytes") {
                let err = parsed.unwrap_err();
                assert_eq!(
                    (err.offset, err.kind),
                    (260, WireErrorKind::TrailingBytes { count: 9 }),
                    "case {i}"
                );
            } else {
                let req = parsed.unwrap_or_else(|e| panic!("case {i} {desc}: {e}"));
                if desc.contains("N policy 1001") {
                    assert_eq!(req.base.required_client_count, 1001);
                }
                // A normal answer verifies against the request.
                let srv = h(&x["server_pdu"]);
                if srv.len() > 40 && srv[2] == 2 {
                    let resp = kms_from_pdu(&srv, false);
                    if resp.len() > 20 {
                        assert_all_pass(&verify_response(&req, &resp), &format!("case {i}"));
                    }
                }
            }
        }
    }
    assert!(seen >= 10, "error cases with request PDUs: {seen}");
}

struct Group206;
impl EpidCatalog for Group206 {
    fn key_ranges(&self, group_id: u32) -> Vec<KeyIdRange> {
        if group_id == 206 {
            vec![KeyIdRange {
                min: 551_000_000,
                max: 570_999_999,
            }]
        } else {
            vec![]
        }
    }
}

#[test]
fn epid_examples() {
    let Some(v) = test_vectors() else { return };
    let ex = &v["epid_examples"];
    let now = Some(FileTime(134_402_981_240_000_000));
    for e in ex["valid_format"].as_array().unwrap() {
        let checks = validate_with(e.as_str().unwrap(), EpidContext { now, catalog: None });
        assert!(checks.len() >= 7);
        for c in &checks {
            assert!(c.passed, "{e}: {} {} vs {}", c.name, c.observed, c.expected);
        }
    }
    let expected = [
        CheckName::EpidDayOfYear,
        CheckName::EpidPlatformMatchesBuild,
        CheckName::EpidLicenseChannel,
        CheckName::EpidLcidKnown,
        CheckName::EpidDayOfYear,
        CheckName::EpidDateAfterBuildRelease,
        CheckName::EpidKeyRange,
    ];
    let bad = ex["suspicious_or_invalid"].as_array().unwrap();
    assert_eq!(bad.len(), expected.len());
    for (b, name) in bad.iter().zip(expected) {
        let text = b["epid"].as_str().unwrap();
        let checks = validate_with(
            text,
            EpidContext {
                now,
                catalog: Some(&Group206),
            },
        );
        let failed: Vec<CheckName> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        // The named check fails; day 000 also puts the date before the build's release.
        assert!(failed.contains(&name), "{text}: {failed:?} ({})", b["why"]);
        assert!(failed.len() <= 2, "{text}: {failed:?}");
    }
    assert!(!validate("03612-00206-556-123727-03-1033-17763.000-2972018")[0].passed);
}
