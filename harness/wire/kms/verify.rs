//! Response verification as named results (spec §3.6, §4.6 item 1–2, §6.7): every check a
//! client or conformance checker applies to a response, each with what was observed and what
//! was expected. A response that cannot be decoded still yields every check by name (failed,
//! "not evaluable").

use super::bytes::hex;
use super::crypto::{sha256, xor16};
use super::epid::Epid;
use super::request::DecodedRequest;
use super::response::{request_div, v6_hmac, DecodedResponse, ResponseBody};
use super::version::Protocol;
use crate::wire::{WireErrorKind, WireResult};

/// The name of a check. `as_str()` gives a stable snake_case name for reports and suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckName {
    /// The response decodes structurally (version known, lengths fit).
    ResponseStructure,
    /// V5/V6: CBC decryption with valid PKCS#7 padding.
    DecryptionPadding,
    /// Request outer version = request inner version.
    RequestVersionsAgree,
    /// Response outer version = request outer version.
    ResponseOuterVersion,
    /// Response base version = request inner version.
    ResponseInnerVersion,
    /// Response CMID = request CMID.
    CmidEcho,
    /// Response time = request time.
    TimeEcho,
    /// PIDSize even, 4..=128, NUL-terminated, no embedded NUL.
    EpidLength,
    /// ePID text matches the ePID pattern.
    EpidSyntax,
    /// V4: MAC = V4-MAC(base response).
    V4Mac,
    /// V5/V6: SHA-256(RandomXor ⊕ DIV) = Hash.
    ResponseHash,
    /// V5: response IV = request IV.
    V5IvEcho,
    /// V6: response IV ≠ request IV (equality is the "emulator" tell).
    V6IvFresh,
    /// V6: XoredIVs = DIV.
    V6XoredIvs,
    /// V6: HMAC matches for time slot −1, 0 or +1.
    V6Hmac,
    /// Message size = 60 + P (V4) / 20 + pad16(92 + P) (V5) / 20 + pad16(132 + P) (V6), no trailing bytes.
    MessageSize,
    /// ePID license channel is 03.
    EpidLicenseChannel,
    /// ePID platform id matches the host build.
    EpidPlatformMatchesBuild,
    /// ePID build is a known KMS host build.
    EpidKnownHostBuild,
    /// ePID LCID is in the valid list.
    EpidLcidKnown,
    /// ePID day of year is 1..=365 (366 in leap years).
    EpidDayOfYear,
    /// ePID date is not after "now" (only when a time is supplied).
    EpidDateNotFuture,
    /// ePID date is not before the host build's release.
    EpidDateAfterBuildRelease,
    /// ePID group id / key id lie in a known CSVLK range (only with a catalog).
    EpidKeyRange,
}

impl CheckName {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResponseStructure => "response_structure",
            Self::DecryptionPadding => "decryption_padding",
            Self::RequestVersionsAgree => "request_versions_agree",
            Self::ResponseOuterVersion => "response_outer_version",
            Self::ResponseInnerVersion => "response_inner_version",
            Self::CmidEcho => "cmid_echo",
            Self::TimeEcho => "time_echo",
            Self::EpidLength => "epid_length",
            Self::EpidSyntax => "epid_syntax",
            Self::V4Mac => "v4_mac",
            Self::ResponseHash => "response_hash",
            Self::V5IvEcho => "v5_iv_echo",
            Self::V6IvFresh => "v6_iv_fresh",
            Self::V6XoredIvs => "v6_xored_ivs",
            Self::V6Hmac => "v6_hmac",
            Self::MessageSize => "message_size",
            Self::EpidLicenseChannel => "epid_license_channel",
            Self::EpidPlatformMatchesBuild => "epid_platform_matches_build",
            Self::EpidKnownHostBuild => "epid_known_host_build",
            Self::EpidLcidKnown => "epid_lcid_known",
            Self::EpidDayOfYear => "epid_day_of_year",
            Self::EpidDateNotFuture => "epid_date_not_future",
            Self::EpidDateAfterBuildRelease => "epid_date_after_build_release",
            Self::EpidKeyRange => "epid_key_range",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named check result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// Whether it passed.
    pub passed: bool,
    /// What the message holds.
    pub observed: String,
    /// What a conforming message holds.
    pub expected: String,
}

impl Check {
    /// A check comparing two displayable values for equality.
    pub fn equal(name: CheckName, observed: impl ToString, expected: impl ToString) -> Self {
        let (observed, expected) = (observed.to_string(), expected.to_string());
        Self {
            name,
            passed: observed == expected,
            observed,
            expected,
        }
    }
    /// A check with an explicit outcome.
    pub fn new(
        name: CheckName,
        passed: bool,
        observed: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            name,
            passed,
            observed: observed.into(),
            expected: expected.into(),
        }
    }
}

/// All checks of one verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Results in a fixed order per protocol.
    pub checks: Vec<Check>,
}

impl Verification {
    /// Whether every check passed.
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
    /// The result of `name`, if it was evaluated.
    pub fn get(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The checks reported for a protocol, in order.
pub fn checks_for(protocol: Protocol) -> &'static [CheckName] {
    use CheckName::*;
    match protocol {
        Protocol::V4 => &[
            ResponseStructure,
            RequestVersionsAgree,
            ResponseOuterVersion,
            ResponseInnerVersion,
            CmidEcho,
            TimeEcho,
            EpidLength,
            EpidSyntax,
            V4Mac,
            MessageSize,
        ],
        Protocol::V5 => &[
            ResponseStructure,
            DecryptionPadding,
            RequestVersionsAgree,
            ResponseOuterVersion,
            ResponseInnerVersion,
            CmidEcho,
            TimeEcho,
            EpidLength,
            EpidSyntax,
            ResponseHash,
            V5IvEcho,
            MessageSize,
        ],
        Protocol::V6 => &[
            ResponseStructure,
            DecryptionPadding,
            RequestVersionsAgree,
            ResponseOuterVersion,
            ResponseInnerVersion,
            CmidEcho,
            TimeEcho,
            EpidLength,
            EpidSyntax,
            ResponseHash,
            V6IvFresh,
            V6XoredIvs,
            V6Hmac,
            MessageSize,
        ],
    }
}

/// Parses `response_msg` and verifies it against `request`.
pub fn verify_response(request: &DecodedRequest, response_msg: &[u8]) -> Verification {
    verify_parsed(
        request,
        DecodedResponse::parse(response_msg)
            .as_ref()
            .map_err(|e| *e),
    )
}

/// Verifies an already-parsed response (or reports its parse error under every check name).
pub fn verify_parsed(
    request: &DecodedRequest,
    response: WireResult<&DecodedResponse>,
) -> Verification {
    verify_with(request, response, Texts::All, None)
}

/// Like [`verify_parsed`], but only failed checks carry `observed` / `expected` texts (a
/// passed check's texts are empty). Exists for the capture decoder, which reports the texts
/// of failures only: formatting them for every passed check was a large share of its time.
pub fn verify_parsed_failures(
    request: &DecodedRequest,
    response: WireResult<&DecodedResponse>,
) -> Verification {
    verify_with(request, response, Texts::FailedOnly, None)
}

/// [`verify_parsed_failures`] for a caller that already holds the response's ePID text (the
/// capture decoder makes it for its record), so it is not converted from UTF-16 a second
/// time. `epid` must be [`BaseResponse::epid`](super::BaseResponse::epid) of the response.
pub fn verify_parsed_failures_with_epid(
    request: &DecodedRequest,
    response: WireResult<&DecodedResponse>,
    epid: &str,
) -> Verification {
    verify_with(request, response, Texts::FailedOnly, Some(epid))
}

/// Which checks get their texts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Texts {
    All,
    FailedOnly,
}

/// Collects checks, formatting texts only when they are wanted.
struct Checks {
    checks: Vec<Check>,
    texts: Texts,
}

impl Checks {
    fn push(
        &mut self,
        name: CheckName,
        passed: bool,
        observed: impl FnOnce() -> String,
        expected: impl FnOnce() -> String,
    ) {
        let (observed, expected) = if passed && self.texts == Texts::FailedOnly {
            (String::new(), String::new())
        } else {
            (observed(), expected())
        };
        self.checks.push(Check {
            name,
            passed,
            observed,
            expected,
        });
    }

    /// An equality check on values whose text forms are equal exactly when they are.
    fn equal<T: PartialEq + std::fmt::Display>(
        &mut self,
        name: CheckName,
        observed: T,
        expected: T,
    ) {
        self.push(
            name,
            observed == expected,
            || observed.to_string(),
            || expected.to_string(),
        );
    }
}

fn verify_with(
    request: &DecodedRequest,
    response: WireResult<&DecodedResponse>,
    texts: Texts,
    epid_text: Option<&str>,
) -> Verification {
    let response = match response {
        Ok(r) => r,
        Err(err) => {
            let protocol = request.protocol;
            let crypto = matches!(err.kind, WireErrorKind::Crypto);
            let checks = checks_for(protocol)
                .iter()
                .map(|&name| {
                    let observed = match name {
                        CheckName::ResponseStructure if !crypto => format!("decode error: {err}"),
                        CheckName::DecryptionPadding if crypto => {
                            format!("decryption failed: {err}")
                        }
                        CheckName::ResponseStructure => {
                            "not evaluable: decryption failed".to_owned()
                        }
                        _ => format!("not evaluable: {err}"),
                    };
                    Check::new(name, false, observed, "decodable response")
                })
                .collect();
            return Verification { checks };
        }
    };
    let mut c = Checks {
        checks: Vec::with_capacity(16),
        texts,
    };
    let base = &response.base;
    let protocol = response.protocol;
    c.push(
        CheckName::ResponseStructure,
        true,
        || "decoded".into(),
        || "decodable response".into(),
    );
    if protocol != Protocol::V4 {
        let pad = match response.body {
            ResponseBody::V5 { pad_len, .. } | ResponseBody::V6 { pad_len, .. } => pad_len,
            ResponseBody::V4 { .. } => 0,
        };
        c.push(
            CheckName::DecryptionPadding,
            true,
            || format!("valid PKCS#7 padding of {pad} bytes"),
            || "valid PKCS#7 padding".into(),
        );
    }
    c.equal(
        CheckName::RequestVersionsAgree,
        request.outer_version(),
        request.base.version,
    );
    c.equal(
        CheckName::ResponseOuterVersion,
        response.outer_version,
        request.outer_version(),
    );
    c.equal(
        CheckName::ResponseInnerVersion,
        base.version,
        request.base.version,
    );
    c.equal(CheckName::CmidEcho, base.cmid, request.base.cmid);
    c.equal(
        CheckName::TimeEcho,
        base.response_time.0,
        request.base.request_time.0,
    );
    let pid_issue = base.pid_size_issue();
    c.push(
        CheckName::EpidLength,
        pid_issue.is_none(),
        || match pid_issue {
            None => format!("PIDSize {}", base.pid_size),
            Some(issue) => format!("PIDSize {}: {issue:?}", base.pid_size),
        },
        || "even, 4..=128, NUL-terminated".into(),
    );
    // The ePID text without allocating when it is ASCII (always, for a well-formed one).
    let mut epid_buf = [0u8; 64];
    let epid_owned;
    let epid = match epid_text {
        Some(text) => text,
        None => match super::bytes::utf16le_ascii(&base.epid_raw, &mut epid_buf) {
            Some(text) => text,
            None => {
                epid_owned = base.epid();
                epid_owned.as_str()
            }
        },
    };
    c.push(
        CheckName::EpidSyntax,
        Epid::parse(epid).is_ok(),
        || epid.to_owned(),
        || "PPPPP-GGGGG-KKK-KKKKKK-CC-L…-B….0000-DDDYYYY".into(),
    );
    let p = base.epid_raw.len();
    let pad16 = |x: usize| x + 16 - x % 16;
    // DIV = D_K(request IV) under the response's cipher; the decoded request already holds it
    // when the two protocols agree.
    let div = request_div(request, protocol);
    match &response.body {
        ResponseBody::V4 { mac } => {
            // Checked by the two half-chains in lockstep; the full MAC is only computed when
            // it differs (a matching MAC is its own expected value).
            let passed = super::crypto::v4_mac_matches(&response.authenticated, mac);
            c.push(
                CheckName::V4Mac,
                passed,
                || hex(mac),
                || {
                    if passed {
                        hex(mac)
                    } else {
                        hex(&super::crypto::v4_mac(&response.authenticated))
                    }
                },
            );
        }
        ResponseBody::V5 {
            iv,
            random_xor,
            hash,
            ..
        } => {
            push_hash(&mut c, div, random_xor, hash);
            let req_iv = request.iv();
            c.push(
                CheckName::V5IvEcho,
                req_iv == Some(*iv),
                || hex(iv),
                || {
                    req_iv
                        .map(|v| hex(&v))
                        .unwrap_or_else(|| "none (V4 request)".into())
                },
            );
        }
        ResponseBody::V6 {
            iv,
            decrypted_iv,
            random_xor,
            hash,
            xored_ivs,
            hmac,
            ..
        } => {
            push_hash(&mut c, div, random_xor, hash);
            let req_iv = request.iv();
            c.push(
                CheckName::V6IvFresh,
                req_iv != Some(*iv),
                || hex(iv),
                || format!("not {}", req_iv.map(|v| hex(&v)).unwrap_or_default()),
            );
            c.push(
                CheckName::V6XoredIvs,
                div == Some(*xored_ivs),
                || hex(xored_ivs),
                || {
                    div.map(|d| hex(&d))
                        .unwrap_or_else(|| "none (V4 request)".into())
                },
            );
            let hmac_at = |k| v6_hmac(decrypted_iv, &response.authenticated, base.response_time, k);
            let slot0 = hmac_at(0);
            let matched = if slot0 == *hmac {
                Some(0)
            } else {
                [-1i64, 1].into_iter().find(|&k| hmac_at(k) == *hmac)
            };
            match matched {
                Some(k) => c.push(
                    CheckName::V6Hmac,
                    true,
                    || format!("{} (slot {k:+})", hex(hmac)),
                    || "HMAC for slot -1, 0 or +1".into(),
                ),
                None => c.push(
                    CheckName::V6Hmac,
                    false,
                    || format!("{} (no slot matched)", hex(hmac)),
                    || format!("{} (slot +0) or slot -1/+1", hex(&slot0)),
                ),
            }
        }
    }
    let expected_size = match protocol {
        Protocol::V4 => 60 + p,
        Protocol::V5 => 20 + pad16(92 + p),
        Protocol::V6 => 20 + pad16(132 + p),
    };
    c.push(
        CheckName::MessageSize,
        response.trailing.is_empty()
            && response.message_len == expected_size
            && base.pid_size as usize == p,
        || {
            if response.trailing.is_empty() {
                format!("{} bytes", response.message_len)
            } else {
                format!(
                    "{} bytes ({} trailing)",
                    response.message_len,
                    response.trailing.len()
                )
            }
        },
        || format!("{expected_size} bytes"),
    );
    Verification { checks: c.checks }
}

fn push_hash(c: &mut Checks, div: Option<[u8; 16]>, random_xor: &[u8; 16], hash: &[u8; 32]) {
    match div {
        Some(div) => {
            let expected = sha256(&xor16(random_xor, &div));
            c.push(
                CheckName::ResponseHash,
                *hash == expected,
                || hex(hash),
                || hex(&expected),
            );
        }
        None => c.push(
            CheckName::ResponseHash,
            false,
            || hex(hash),
            || "not evaluable: V4 request has no IV".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::crypto::v4_mac;
    use super::super::request::{encode_request, BaseRequest, LicenseStatus, RequestParams};
    use super::super::response::{encode_response, BaseResponse, ResponseParams};
    use super::super::version::ProtocolVersion;
    use super::*;
    use crate::wire::FileTime;
    use uuid::Uuid;

    /// A V4 request and a conforming V4 response to it.
    fn v4_pair() -> (DecodedRequest, Vec<u8>) {
        let base = BaseRequest {
            version: ProtocolVersion::V4,
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
            workstation_raw: BaseRequest::workstation_field("ws").unwrap(),
        };
        let msg = encode_request(&base, &RequestParams::v4()).unwrap();
        let req = DecodedRequest::parse(&msg).unwrap();
        let rb = BaseResponse::new(
            ProtocolVersion::V4,
            "06401-00206-471-111111-03-1033-9600.0000-3622014",
            base.cmid,
            base.request_time,
            50,
            120,
            10080,
        );
        let params = ResponseParams {
            outer_version: ProtocolVersion::V4,
            random: [0; 16],
            response_iv: [0; 16],
            hwid: [0; 8],
        };
        let resp = encode_response(&req, &rb, &params).unwrap();
        (req, resp)
    }

    #[test]
    fn v4_mac_check_texts() {
        let (req, good) = v4_pair();
        let parsed = DecodedResponse::parse(&good).unwrap();
        let true_mac = v4_mac(&parsed.authenticated);
        let all = verify_parsed(&req, Ok(&parsed));
        let check = all.get(CheckName::V4Mac).unwrap();
        assert!(check.passed);
        assert_eq!(check.observed, hex(&true_mac));
        assert_eq!(check.expected, hex(&true_mac));
        let brief = verify_parsed_failures(&req, Ok(&parsed));
        assert!(brief.all_passed());
        assert_eq!(brief.get(CheckName::V4Mac).unwrap().expected, "");

        // A wrong MAC byte: failed, the received MAC observed, the right one expected.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x5a;
        let parsed = DecodedResponse::parse(&bad).unwrap();
        let ResponseBody::V4 { mac } = parsed.body else {
            panic!("V4 body expected");
        };
        for v in [
            verify_parsed(&req, Ok(&parsed)),
            verify_parsed_failures(&req, Ok(&parsed)),
        ] {
            let check = v.get(CheckName::V4Mac).unwrap();
            assert!(!check.passed);
            assert_eq!(check.observed, hex(&mac));
            assert_eq!(check.expected, hex(&true_mac));
            assert_ne!(check.observed, check.expected);
        }
    }
}
