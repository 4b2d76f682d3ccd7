//! KMS responses (spec §2.5–§2.8): the variable-size base response and the V4 (base ‖ MAC),
//! V5 (version ‖ IV ‖ CBC(base ‖ RandomXor ‖ Hash ‖ pad)) and V6 (… ‖ HwId ‖ XoredIVs ‖ HMAC)
//! envelopes. Decoding needs no request; encoding takes the request (for its IV/DIV) and every
//! random value as input.

use uuid::Uuid;

use super::bytes::{guid_at, take, u32_at, u64_at};
use super::crypto::{
    cbc_decrypt, cbc_decrypt_and_iv, cbc_encrypt, pkcs7_pad, pkcs7_unpad, sha256, v4_mac,
    v6_hmac_tail_cached, v6_time_slot, xor16, Block16,
};
use super::request::DecodedRequest;
use super::version::{Protocol, ProtocolVersion};
use crate::wire::guid::guid_to_wire;
use crate::wire::{FileTime, WireError, WireResult};

/// Fixed part of the base response (everything but the ePID).
pub const BASE_RESPONSE_FIXED_LEN: usize = 44;
/// Largest PIDSize vlmcsd accepts (64 UTF-16 units including NUL).
pub const MAX_PID_SIZE: u32 = 128;

/// The base response with typed fields; the ePID is kept raw so encoding is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseResponse {
    /// Version (copied from the request's inner version).
    pub version: ProtocolVersion,
    /// PIDSize as sent: byte length of the ePID field including the NUL unit.
    pub pid_size: u32,
    /// The `pid_size` ePID bytes (UTF-16LE, normally NUL-terminated).
    pub epid_raw: Vec<u8>,
    /// CMID echo.
    pub cmid: Uuid,
    /// Time echo (must equal the request time).
    pub response_time: FileTime,
    /// Current client count reported by the host.
    pub current_count: u32,
    /// Activation (retry) interval, minutes.
    pub activation_interval: u32,
    /// Renewal interval, minutes.
    pub renewal_interval: u32,
}

/// Why a PIDSize / ePID field breaks the wire rules of spec §4.6 item 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidSizeIssue {
    /// PIDSize is odd.
    Odd,
    /// PIDSize < 4 or > 128.
    OutOfBounds,
    /// The last UTF-16 unit is not NUL.
    NotTerminated,
    /// A NUL unit before the last one (index in units).
    EmbeddedNul(usize),
}

impl BaseResponse {
    /// A base response carrying `epid` (UTF-16LE + NUL; PIDSize derived).
    pub fn new(
        version: ProtocolVersion,
        epid: &str,
        cmid: Uuid,
        response_time: FileTime,
        current_count: u32,
        activation_interval: u32,
        renewal_interval: u32,
    ) -> Self {
        // UTF-16 has at most as many units as UTF-8 has bytes: one allocation, no iterator
        // adapter per unit.
        let mut epid_raw: Vec<u8> = Vec::with_capacity(2 * epid.len() + 2);
        for unit in epid.encode_utf16() {
            epid_raw.extend_from_slice(&unit.to_le_bytes());
        }
        epid_raw.extend_from_slice(&[0, 0]);
        Self {
            version,
            pid_size: epid_raw.len() as u32,
            epid_raw,
            cmid,
            response_time,
            current_count,
            activation_interval,
            renewal_interval,
        }
    }

    /// Decodes a base response at the start of `buf`; returns it and its length (44 + P).
    /// A PIDSize larger than the bytes present is a `LengthMismatch` at offset 4.
    pub fn parse_prefix(buf: &[u8]) -> WireResult<(Self, usize)> {
        let version = ProtocolVersion::from_wire(take(buf, 0, "kms.response.base.version")?);
        let pid_size = u32_at(buf, 4, "kms.response.pid_size")?;
        let room = buf.len().saturating_sub(BASE_RESPONSE_FIXED_LEN);
        let p = usize::try_from(pid_size).unwrap_or(usize::MAX);
        if p > room {
            return Err(WireError::length(
                "kms.response.pid_size",
                4,
                u64::from(pid_size),
                room as u64,
            ));
        }
        let epid_raw = buf.get(8..8 + p).map(<[u8]>::to_vec).unwrap_or_default();
        let o = 8 + p;
        let base = Self {
            version,
            pid_size,
            epid_raw,
            cmid: guid_at(buf, o, "kms.response.cmid")?,
            response_time: FileTime(u64_at(buf, o + 16, "kms.response.response_time")?),
            current_count: u32_at(buf, o + 24, "kms.response.current_count")?,
            activation_interval: u32_at(buf, o + 28, "kms.response.activation_interval")?,
            renewal_interval: u32_at(buf, o + 32, "kms.response.renewal_interval")?,
        };
        Ok((base, o + 36))
    }

    /// Length of the wire form (44 + P).
    pub fn wire_len(&self) -> usize {
        BASE_RESPONSE_FIXED_LEN + self.epid_raw.len()
    }

    /// Appends the wire form to `out`. PIDSize is written as stored (so a lying PIDSize can be
    /// produced on purpose); the ePID bytes are written as stored.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_wire());
        out.extend_from_slice(&self.pid_size.to_le_bytes());
        out.extend_from_slice(&self.epid_raw);
        out.extend_from_slice(&guid_to_wire(&self.cmid));
        out.extend_from_slice(&self.response_time.0.to_le_bytes());
        out.extend_from_slice(&self.current_count.to_le_bytes());
        out.extend_from_slice(&self.activation_interval.to_le_bytes());
        out.extend_from_slice(&self.renewal_interval.to_le_bytes());
    }

    /// The ePID text up to the first NUL unit (lossy for invalid UTF-16; an odd trailing
    /// byte is ignored).
    pub fn epid(&self) -> String {
        // Same text as `String::from_utf16_lossy`, without the intermediate unit vector.
        super::bytes::utf16le_text(&self.epid_raw).0
    }

    /// The first rule of spec §4.6 item 1 this PIDSize / ePID breaks, if any.
    pub fn pid_size_issue(&self) -> Option<PidSizeIssue> {
        if self.pid_size % 2 != 0 {
            return Some(PidSizeIssue::Odd);
        }
        if !(4..=MAX_PID_SIZE).contains(&self.pid_size) {
            return Some(PidSizeIssue::OutOfBounds);
        }
        let even = self.epid_raw.len() & !1;
        match self
            .epid_raw
            .get(..even)
            .and_then(|u| u.split_last_chunk::<2>())
        {
            Some((body, [0, 0])) => {
                super::bytes::first_nul_unit(body).map(PidSizeIssue::EmbeddedNul)
            }
            _ => Some(PidSizeIssue::NotTerminated),
        }
    }
}

/// What follows the base response, per format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// V4: the MAC after the base.
    V4 {
        /// MAC field as received.
        mac: Block16,
    },
    /// V5: encrypted with the request IV.
    V5 {
        /// Response IV (offset 4).
        iv: Block16,
        /// Random ⊕ DIV.
        random_xor: Block16,
        /// SHA-256(Random).
        hash: [u8; 32],
        /// PKCS#7 pad length (1–16).
        pad_len: u8,
    },
    /// V6: encrypted with a fresh IV.
    V6 {
        /// Response IV (offset 4).
        iv: Block16,
        /// R = D_K6(response IV), the first HMAC input.
        decrypted_iv: Block16,
        /// Random ⊕ DIV.
        random_xor: Block16,
        /// SHA-256(Random).
        hash: [u8; 32],
        /// Host hardware id.
        hwid: [u8; 8],
        /// Must equal DIV.
        xored_ivs: Block16,
        /// Bytes 16–31 of the HMAC.
        hmac: Block16,
        /// PKCS#7 pad length (1–16).
        pad_len: u8,
    },
}

/// A decoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedResponse {
    /// Format selected by the outer version.
    pub protocol: Protocol,
    /// Outer version (V4: the base version).
    pub outer_version: ProtocolVersion,
    /// The typed base response.
    pub base: BaseResponse,
    /// MAC or the V5/V6 fields.
    pub body: ResponseBody,
    /// Plaintext from the base up to the MAC (V4) / the HMAC field (V6) / the end of the
    /// Hash (V5): exactly what the MAC, HMAC and size checks cover.
    pub authenticated: Vec<u8>,
    /// Bytes after the last defined field (inside the plaintext for V5/V6, after the MAC for
    /// V4); empty for a well-formed response.
    pub trailing: Vec<u8>,
    /// Total message length.
    pub message_len: usize,
}

/// The random values (and format) that, with the request and base, re-create a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ResponseParams {
    /// Outer version; its major picks the format.
    pub outer_version: ProtocolVersion,
    /// The host's Random (V5/V6): RandomXor = Random ⊕ DIV, Hash = SHA-256(Random).
    pub random: Block16,
    /// V6 response IV (must differ from the request IV for a conforming host). Ignored by V4/V5.
    pub response_iv: Block16,
    /// V6 HwId. Ignored by V4/V5.
    pub hwid: [u8; 8],
}

fn version_value(v: ProtocolVersion) -> u64 {
    (u64::from(v.major) << 16) | u64::from(v.minor)
}

impl DecodedResponse {
    /// Decodes a response message. Errors: unknown major (`InvalidValue` on
    /// `kms.response.version`), truncation, a PIDSize that does not fit, a ciphertext that
    /// is not a non-empty multiple of 16 or bad PKCS#7 padding (`Crypto`), all with message
    /// offsets.
    pub fn parse(msg: &[u8]) -> WireResult<Self> {
        let outer_version = ProtocolVersion::from_wire(take(msg, 0, "kms.response.version")?);
        let Some(protocol) = outer_version.protocol() else {
            return Err(WireError::invalid(
                "kms.response.version",
                0,
                version_value(outer_version),
            ));
        };
        if protocol == Protocol::V4 {
            let (base, end) = BaseResponse::parse_prefix(msg)?;
            let mac = take(msg, end, "kms.response.mac")?;
            return Ok(Self {
                protocol,
                outer_version,
                authenticated: msg[..end].to_vec(),
                trailing: msg[end + 16..].to_vec(),
                base,
                body: ResponseBody::V4 { mac },
                message_len: msg.len(),
            });
        }
        let iv: Block16 = take(msg, 4, "kms.response.iv")?;
        let cipher_text = msg.get(20..).unwrap_or_default();
        if cipher_text.is_empty() {
            return Err(WireError::truncated("kms.response.ciphertext", 20, 16, 0));
        }
        if cipher_text.len() % 16 != 0 {
            return Err(WireError::crypto(
                "kms.response.ciphertext",
                20 + cipher_text.len() / 16 * 16,
            ));
        }
        let mut plain = cipher_text.to_vec();
        let cipher = protocol.cipher();
        // V6 needs R = D_K(response IV): it rides along with the CBC blocks.
        let decrypted_iv = if protocol == Protocol::V6 {
            Some(cbc_decrypt_and_iv(cipher, &iv, &mut plain).map_err(|e| e.shifted(20))?)
        } else {
            cbc_decrypt(cipher, &iv, &mut plain).map_err(|e| e.shifted(20))?;
            None
        };
        let len = pkcs7_unpad(&plain).map_err(|e| e.shifted(20))?;
        let pad_len = (plain.len() - len) as u8;
        plain.truncate(len);
        let (base, end) = BaseResponse::parse_prefix(&plain).map_err(|e| e.shifted(20))?;
        let sh = |e: WireError| e.shifted(20);
        let random_xor = take(&plain, end, "kms.response.random_xor").map_err(sh)?;
        let hash = take(&plain, end + 16, "kms.response.hash").map_err(sh)?;
        let (body, auth_end, tail) = if protocol == Protocol::V5 {
            (
                ResponseBody::V5 {
                    iv,
                    random_xor,
                    hash,
                    pad_len,
                },
                end + 48,
                end + 48,
            )
        } else {
            let hwid = take(&plain, end + 48, "kms.response.hwid").map_err(sh)?;
            let xored_ivs = take(&plain, end + 56, "kms.response.xored_ivs").map_err(sh)?;
            let hmac = take(&plain, end + 72, "kms.response.hmac").map_err(sh)?;
            let body = ResponseBody::V6 {
                iv,
                decrypted_iv: decrypted_iv.unwrap_or_else(|| cipher.decrypt_block(&iv)),
                random_xor,
                hash,
                hwid,
                xored_ivs,
                hmac,
                pad_len,
            };
            (body, end + 72, end + 88)
        };
        // The plaintext buffer becomes `authenticated` (no second copy).
        let trailing = plain[tail..].to_vec();
        let mut authenticated = plain;
        authenticated.truncate(auth_end);
        Ok(Self {
            protocol,
            outer_version,
            authenticated,
            trailing,
            base,
            body,
            message_len: msg.len(),
        })
    }

    /// The response IV (V5/V6).
    pub fn iv(&self) -> Option<Block16> {
        match self.body {
            ResponseBody::V4 { .. } => None,
            ResponseBody::V5 { iv, .. } | ResponseBody::V6 { iv, .. } => Some(iv),
        }
    }

    /// The host's Random recovered with the request's IV: RandomXor ⊕ D_K(request IV), with
    /// this response's cipher. `None` for V4 or a V4 request.
    pub fn random(&self, request: &DecodedRequest) -> Option<Block16> {
        let div = request_div(request, self.protocol)?;
        match &self.body {
            ResponseBody::V4 { .. } => None,
            ResponseBody::V5 { random_xor, .. } | ResponseBody::V6 { random_xor, .. } => {
                Some(xor16(random_xor, &div))
            }
        }
    }

    /// The parameters that re-encode this response byte-for-byte with
    /// [`encode_response`] (when it has no trailing bytes and valid derived fields).
    pub fn params(&self, request: &DecodedRequest) -> ResponseParams {
        let (response_iv, hwid) = match &self.body {
            ResponseBody::V6 { iv, hwid, .. } => (*iv, *hwid),
            _ => ([0; 16], [0; 8]),
        };
        ResponseParams {
            outer_version: self.outer_version,
            random: self.random(request).unwrap_or([0; 16]),
            response_iv,
            hwid,
        }
    }
}

/// DIV = D_K(request IV) under `protocol`'s cipher: the one the decoded request already holds
/// when its protocol is the same, else computed. `None` for a V4 request (no IV).
pub(crate) fn request_div(request: &DecodedRequest, protocol: Protocol) -> Option<Block16> {
    if request.protocol == protocol {
        request.div()
    } else {
        request.iv().map(|v| protocol.cipher().decrypt_block(&v))
    }
}

/// Decodes a KMS response message (same as [`DecodedResponse::parse`]).
pub fn parse_response(msg: &[u8]) -> WireResult<DecodedResponse> {
    DecodedResponse::parse(msg)
}

/// The V6 HMAC field for `authenticated_plaintext` (base ‖ RandomXor ‖ Hash ‖ HwId ‖
/// XoredIVs), decrypted response IV `r` and time-slot `tolerance`. The keyed HMAC state of
/// the slot comes from a small per-thread cache ([`v6_hmac_tail_cached`]).
pub fn v6_hmac(
    r: &Block16,
    authenticated_plaintext: &[u8],
    time: FileTime,
    tolerance: i64,
) -> Block16 {
    v6_hmac_tail_cached(
        v6_time_slot(time.0, tolerance),
        &[r, authenticated_plaintext],
    )
}

/// Encodes a response to `request` from the base and the random values. V4: base ‖ MAC;
/// V5: outer ‖ request IV ‖ CBC(base ‖ Random⊕DIV ‖ SHA-256(Random) ‖ pad); V6: outer ‖
/// response IV ‖ CBC(… ‖ HwId ‖ DIV ‖ HMAC ‖ pad) with the HMAC keyed from the base's
/// response time (slot 0). Fails for an unknown major or a V5/V6 response to a V4 request.
pub fn encode_response(
    request: &DecodedRequest,
    base: &BaseResponse,
    params: &ResponseParams,
) -> WireResult<Vec<u8>> {
    let Some(protocol) = params.outer_version.protocol() else {
        return Err(WireError::invalid(
            "kms.response.version",
            0,
            version_value(params.outer_version),
        ));
    };
    let mut plain = Vec::with_capacity(base.wire_len() + 104);
    base.encode_into(&mut plain);
    if protocol == Protocol::V4 {
        let mac = v4_mac(&plain);
        plain.extend_from_slice(&mac);
        return Ok(plain);
    }
    let Some(request_iv) = request.iv() else {
        return Err(WireError::invalid(
            "kms.request.version",
            0,
            version_value(request.outer_version()),
        ));
    };
    let cipher = protocol.cipher();
    let div = request_div(request, protocol).unwrap_or_else(|| cipher.decrypt_block(&request_iv));
    plain.extend_from_slice(&xor16(&params.random, &div));
    plain.extend_from_slice(&sha256(&params.random));
    let iv = if protocol == Protocol::V5 {
        request_iv
    } else {
        plain.extend_from_slice(&params.hwid);
        plain.extend_from_slice(&div);
        let r = cipher.decrypt_block(&params.response_iv);
        let mac = v6_hmac(&r, &plain, base.response_time, 0);
        plain.extend_from_slice(&mac);
        params.response_iv
    };
    pkcs7_pad(&mut plain);
    cbc_encrypt(cipher, &iv, &mut plain)?;
    let mut out = Vec::with_capacity(20 + plain.len());
    out.extend_from_slice(&params.outer_version.to_wire());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&plain);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit-by-unit form of [`BaseResponse::pid_size_issue`], as the reference.
    fn reference(b: &BaseResponse) -> Option<PidSizeIssue> {
        if b.pid_size % 2 != 0 {
            return Some(PidSizeIssue::Odd);
        }
        if !(4..=MAX_PID_SIZE).contains(&b.pid_size) {
            return Some(PidSizeIssue::OutOfBounds);
        }
        let mut units = b
            .epid_raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        if units.next_back() != Some(0) {
            return Some(PidSizeIssue::NotTerminated);
        }
        units.position(|u| u == 0).map(PidSizeIssue::EmbeddedNul)
    }

    #[test]
    fn pid_size_issue_matches_reference() {
        let mut b = BaseResponse::new(
            ProtocolVersion::V6,
            "03612-00206-566-781232-03-1033-26100.0000-0012025",
            Uuid::nil(),
            FileTime(0),
            0,
            0,
            0,
        );
        let good = b.epid_raw.clone();
        let mut seen = std::collections::HashSet::new();
        for len in 0..good.len() + 3 {
            for zero_at in (0..len).map(Some).chain([None]) {
                let mut raw: Vec<u8> = good.iter().copied().cycle().take(len).collect();
                if let Some(i) = zero_at {
                    raw[i] = 0;
                    if let Some(x) = raw.get_mut(i ^ 1) {
                        *x = 0;
                    }
                }
                for pid_size in [len as u32, 4, 98, 7, 200] {
                    b.epid_raw = raw.clone();
                    b.pid_size = pid_size;
                    let want = reference(&b);
                    assert_eq!(b.pid_size_issue(), want, "{raw:?} {pid_size}");
                    seen.insert(format!("{want:?}").chars().take(7).collect::<String>());
                }
            }
        }
        // Every kind of answer was exercised.
        assert_eq!(seen.len(), 5, "{seen:?}");
    }
}
