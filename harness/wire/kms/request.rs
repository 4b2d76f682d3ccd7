//! KMS requests (spec §2.2–§2.4): the 236-byte base request, the V4 envelope (base ‖ MAC) and
//! the V5/V6 envelope (version ‖ IV ‖ AES-CBC(base ‖ 04 04 04 04)).

use uuid::Uuid;

use super::bytes::take;
use super::crypto::{cbc_decrypt_and_iv, cbc_encrypt, v4_mac, v4_mac_matches, Block16};
use super::version::{Protocol, ProtocolVersion};
use crate::wire::guid::{guid_from_wire, guid_to_wire};
use crate::wire::{FileTime, WireError, WireResult};

/// `N` bytes at `off` of a base request; the offsets used are constants inside it, so the
/// zero fallback is never taken (it only keeps the read panic-free).
#[inline]
fn field<const N: usize>(raw: &[u8; BASE_REQUEST_LEN], off: usize) -> [u8; N] {
    raw.get(off..off + N)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}

/// Size of the base request.
pub const BASE_REQUEST_LEN: usize = 236;
/// Size of a V4 request (base + MAC).
pub const V4_REQUEST_LEN: usize = 252;
/// Size of a V5/V6 request (version + IV + 240 encrypted bytes).
pub const V5V6_REQUEST_LEN: usize = 260;
/// Size of the workstation-name field (64 UTF-16 units).
pub const WORKSTATION_LEN: usize = 128;

/// Client license status (base request offset 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum LicenseStatus {
    /// 0
    Unlicensed,
    /// 1
    Licensed,
    /// 2: initial (out-of-box) grace.
    OobGrace,
    /// 3: out-of-tolerance grace.
    OotGrace,
    /// 4: non-genuine grace.
    NonGenuineGrace,
    /// 5
    Notification,
    /// 6
    ExtendedGrace,
    /// Any other value, kept so it re-encodes exactly.
    Unknown(u32),
}

impl LicenseStatus {
    /// The typed status of a raw value.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::Unlicensed,
            1 => Self::Licensed,
            2 => Self::OobGrace,
            3 => Self::OotGrace,
            4 => Self::NonGenuineGrace,
            5 => Self::Notification,
            6 => Self::ExtendedGrace,
            other => Self::Unknown(other),
        }
    }

    /// The raw wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            Self::Unlicensed => 0,
            Self::Licensed => 1,
            Self::OobGrace => 2,
            Self::OotGrace => 3,
            Self::NonGenuineGrace => 4,
            Self::Notification => 5,
            Self::ExtendedGrace => 6,
            Self::Unknown(v) => v,
        }
    }
}

/// The 236-byte base request with typed fields. Encodes back to the exact bytes it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct BaseRequest {
    /// Inner version (offset 0).
    pub version: ProtocolVersion,
    /// VM flag as sent (offset 4); see [`BaseRequest::is_vm`].
    pub is_vm_raw: u32,
    /// License status (offset 8).
    pub license_status: LicenseStatus,
    /// Minutes left in the current license status (offset 12).
    pub grace_minutes: u32,
    /// Application ID (offset 16).
    pub application_id: Uuid,
    /// SKU / Activation ID (offset 32).
    pub sku_id: Uuid,
    /// KMS counted ID (offset 48).
    pub kms_counted_id: Uuid,
    /// Client machine ID (offset 64).
    pub cmid: Uuid,
    /// Required client count N (offset 80).
    pub required_client_count: u32,
    /// Client time (offset 84).
    pub request_time: FileTime,
    /// Previous CMID (offset 92).
    pub previous_cmid: Uuid,
    /// Workstation name, raw UTF-16LE bytes (offset 108); see [`BaseRequest::workstation`].
    pub workstation_raw: [u8; WORKSTATION_LEN],
}

/// Why the workstation name is not a clean NUL-terminated UTF-16LE string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkstationIssue {
    /// No NUL unit in the 64 units.
    NoTerminator,
    /// Unpaired surrogate; the text holds U+FFFD there.
    InvalidUtf16,
    /// Non-zero bytes after the terminator (field offset of the first one).
    NonZeroAfterTerminator {
        /// Byte offset inside the 128-byte field.
        offset: usize,
    },
}

/// The workstation name as text, with any reason the decoding is not lossless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkstationName {
    /// Text up to the first NUL (lossy if `issue` is `InvalidUtf16`).
    pub text: String,
    /// `None` when the raw field is exactly `text` + NUL + zero fill.
    pub issue: Option<WorkstationIssue>,
}

impl BaseRequest {
    /// Decodes a base request from exactly its 236 bytes (offsets relative to `buf`).
    pub fn parse(buf: &[u8]) -> WireResult<Self> {
        if buf.len() < BASE_REQUEST_LEN {
            return Err(WireError::truncated(
                "kms.request.base",
                0,
                BASE_REQUEST_LEN,
                buf.len(),
            ));
        }
        if buf.len() > BASE_REQUEST_LEN {
            return Err(WireError::trailing(
                "kms.request.base",
                BASE_REQUEST_LEN,
                buf.len() - BASE_REQUEST_LEN,
            ));
        }
        let mut raw = [0u8; BASE_REQUEST_LEN];
        raw.copy_from_slice(buf);
        Ok(Self::from_bytes(&raw))
    }

    /// Decodes the 236 base-request bytes (infallible: every field is at a fixed offset inside
    /// them). Same result as [`BaseRequest::parse`] of those bytes.
    pub fn from_bytes(raw: &[u8; BASE_REQUEST_LEN]) -> Self {
        let u32_at = |off| u32::from_le_bytes(field(raw, off));
        let guid_at = |off| guid_from_wire(&field(raw, off));
        Self {
            version: ProtocolVersion::from_wire(field(raw, 0)),
            is_vm_raw: u32_at(4),
            license_status: LicenseStatus::from_u32(u32_at(8)),
            grace_minutes: u32_at(12),
            application_id: guid_at(16),
            sku_id: guid_at(32),
            kms_counted_id: guid_at(48),
            cmid: guid_at(64),
            required_client_count: u32_at(80),
            request_time: FileTime(u64::from_le_bytes(field(raw, 84))),
            previous_cmid: guid_at(92),
            workstation_raw: field(raw, 108),
        }
    }

    /// The 236-byte wire form.
    pub fn to_bytes(&self) -> [u8; BASE_REQUEST_LEN] {
        let mut b = [0u8; BASE_REQUEST_LEN];
        b[0..4].copy_from_slice(&self.version.to_wire());
        b[4..8].copy_from_slice(&self.is_vm_raw.to_le_bytes());
        b[8..12].copy_from_slice(&self.license_status.to_u32().to_le_bytes());
        b[12..16].copy_from_slice(&self.grace_minutes.to_le_bytes());
        b[16..32].copy_from_slice(&guid_to_wire(&self.application_id));
        b[32..48].copy_from_slice(&guid_to_wire(&self.sku_id));
        b[48..64].copy_from_slice(&guid_to_wire(&self.kms_counted_id));
        b[64..80].copy_from_slice(&guid_to_wire(&self.cmid));
        b[80..84].copy_from_slice(&self.required_client_count.to_le_bytes());
        b[84..92].copy_from_slice(&self.request_time.0.to_le_bytes());
        b[92..108].copy_from_slice(&guid_to_wire(&self.previous_cmid));
        b[108..236].copy_from_slice(&self.workstation_raw);
        b
    }

    /// Whether the client says it is a virtual machine (any non-zero value).
    pub fn is_vm(&self) -> bool {
        self.is_vm_raw != 0
    }

    /// The workstation name as text, with the reason if the field is not a clean string.
    pub fn workstation(&self) -> WorkstationName {
        let end = self
            .workstation_raw
            .chunks_exact(2)
            .position(|c| c == [0, 0]);
        // Same text as `String::from_utf16` (or its lossy form when invalid).
        let (text, bad) = super::bytes::utf16le_text(&self.workstation_raw);
        let issue = match end {
            None => Some(WorkstationIssue::NoTerminator),
            Some(_) if bad => Some(WorkstationIssue::InvalidUtf16),
            Some(e) => {
                let rest = self.workstation_raw.get(2 * e..).unwrap_or_default();
                // The usual all-zero fill is checked branch-free first.
                if rest.iter().fold(0u8, |a, &b| a | b) == 0 {
                    None
                } else {
                    rest.iter()
                        .position(|&b| b != 0)
                        .map(|p| WorkstationIssue::NonZeroAfterTerminator { offset: 2 * e + p })
                }
            }
        };
        WorkstationName { text, issue }
    }

    /// The raw field for `name`: UTF-16LE, NUL-terminated, zero-filled. At most 63 UTF-16
    /// units (error `InvalidValue` carrying the unit count otherwise).
    pub fn workstation_field(name: &str) -> WireResult<[u8; WORKSTATION_LEN]> {
        let mut raw = [0u8; WORKSTATION_LEN];
        for (n, u) in name.encode_utf16().enumerate() {
            if n >= WORKSTATION_LEN / 2 - 1 {
                return Err(WireError::invalid(
                    "kms.request.workstation",
                    108,
                    name.encode_utf16().count() as u64,
                ));
            }
            raw[2 * n..2 * n + 2].copy_from_slice(&u.to_le_bytes());
        }
        Ok(raw)
    }
}

/// The envelope of a request: what surrounds the base request on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEnvelope {
    /// V4: base ‖ MAC (as received; see [`DecodedRequest::v4_mac_valid`]).
    V4 {
        /// The 16-byte MAC field (offset 236).
        mac: Block16,
    },
    /// V5/V6: outer version ‖ IV ‖ ciphertext.
    Encrypted {
        /// The plaintext outer version (offset 0).
        outer_version: ProtocolVersion,
        /// The request IV (offset 4).
        iv: Block16,
        /// The 4 decrypted bytes after the base (PKCS#7 says `04 04 04 04`; servers don't check).
        pad: [u8; 4],
        /// DIV = D_K(IV) with the outer version's cipher (spec §3.3); the key quantity of the
        /// response construction.
        div: Block16,
    },
}

/// A decoded request: typed base, its raw bytes and the envelope pieces a report must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRequest {
    /// Format selected by the outer version (V4: the base version).
    pub protocol: Protocol,
    /// The typed base request.
    pub base: BaseRequest,
    /// The 236 plaintext base bytes as received (decrypted for V5/V6).
    pub base_raw: [u8; BASE_REQUEST_LEN],
    /// MAC (V4) or version/IV/pad/DIV (V5/V6).
    pub envelope: RequestEnvelope,
}

/// How to wrap a base request: the outer version (its major picks the format) and the IV
/// (ignored for V4). All randomness is an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct RequestParams {
    /// Outer version; for V4 it is not written (the base carries the only version).
    pub outer_version: ProtocolVersion,
    /// Request IV for V5/V6.
    pub iv: Block16,
}

impl RequestParams {
    /// A V4 request.
    pub fn v4() -> Self {
        Self {
            outer_version: ProtocolVersion::V4,
            iv: [0; 16],
        }
    }
    /// A V5 request with this IV.
    pub fn v5(iv: Block16) -> Self {
        Self {
            outer_version: ProtocolVersion::V5,
            iv,
        }
    }
    /// A V6 request with this IV.
    pub fn v6(iv: Block16) -> Self {
        Self {
            outer_version: ProtocolVersion::V6,
            iv,
        }
    }
}

impl DecodedRequest {
    /// Decodes a KMS request message. The version word at offset 0 selects the format;
    /// unknown majors fail with `InvalidValue` on `kms.request.version` carrying the whole
    /// version word (`major << 16 | minor`, see [`unknown_version`]); wrong sizes fail with
    /// `Truncated` / `TrailingBytes` at the offset where the message stops matching.
    pub fn parse(msg: &[u8]) -> WireResult<Self> {
        let version = ProtocolVersion::from_wire(take(msg, 0, "kms.request.version")?);
        let Some(protocol) = version.protocol() else {
            return Err(WireError::invalid(
                "kms.request.version",
                0,
                (u64::from(version.major) << 16) | u64::from(version.minor),
            ));
        };
        let expected = match protocol {
            Protocol::V4 => V4_REQUEST_LEN,
            Protocol::V5 | Protocol::V6 => V5V6_REQUEST_LEN,
        };
        if msg.len() < expected {
            return Err(WireError::truncated("kms.request", 0, expected, msg.len()));
        }
        if msg.len() > expected {
            return Err(WireError::trailing(
                "kms.request",
                expected,
                msg.len() - expected,
            ));
        }
        match protocol {
            Protocol::V4 => {
                let base_raw: [u8; BASE_REQUEST_LEN] = take(msg, 0, "kms.request.base")?;
                let mac = take(msg, BASE_REQUEST_LEN, "kms.request.mac")?;
                Ok(Self {
                    protocol,
                    base: BaseRequest::from_bytes(&base_raw),
                    base_raw,
                    envelope: RequestEnvelope::V4 { mac },
                })
            }
            Protocol::V5 | Protocol::V6 => {
                let iv: Block16 = take(msg, 4, "kms.request.iv")?;
                let mut plain: [u8; V5V6_REQUEST_LEN - 20] =
                    take(msg, 20, "kms.request.ciphertext")?;
                let cipher = protocol.cipher();
                // DIV = D_K(IV) rides along with the CBC blocks (15 blocks leave a free slot).
                let div = cbc_decrypt_and_iv(cipher, &iv, &mut plain).map_err(|e| e.shifted(20))?;
                // 240 = 236 + 4: both pieces are fixed-size parts of the decrypted array.
                let (base_raw, pad) = plain
                    .split_first_chunk::<BASE_REQUEST_LEN>()
                    .map_or(([0; BASE_REQUEST_LEN], [0; 4]), |(b, p)| {
                        (*b, p.try_into().unwrap_or([0; 4]))
                    });
                Ok(Self {
                    protocol,
                    base: BaseRequest::from_bytes(&base_raw),
                    base_raw,
                    envelope: RequestEnvelope::Encrypted {
                        outer_version: version,
                        iv,
                        pad,
                        div,
                    },
                })
            }
        }
    }

    /// The outer version (V4: the base version).
    pub fn outer_version(&self) -> ProtocolVersion {
        match self.envelope {
            RequestEnvelope::V4 { .. } => self.base.version,
            RequestEnvelope::Encrypted { outer_version, .. } => outer_version,
        }
    }

    /// The request IV (V5/V6 only).
    pub fn iv(&self) -> Option<Block16> {
        match self.envelope {
            RequestEnvelope::V4 { .. } => None,
            RequestEnvelope::Encrypted { iv, .. } => Some(iv),
        }
    }

    /// DIV = D_K(request IV) (V5/V6 only).
    pub fn div(&self) -> Option<Block16> {
        match self.envelope {
            RequestEnvelope::V4 { .. } => None,
            RequestEnvelope::Encrypted { div, .. } => Some(div),
        }
    }

    /// V4: whether the received MAC equals V4-MAC(base). `None` for V5/V6.
    pub fn v4_mac_valid(&self) -> Option<bool> {
        match self.envelope {
            RequestEnvelope::V4 { mac } => Some(v4_mac_matches(&self.base_raw, &mac)),
            RequestEnvelope::Encrypted { .. } => None,
        }
    }

    /// V5/V6: checks the 4 padding bytes are `04 04 04 04` (typed `Crypto` error at the first
    /// wrong byte's message offset). Always `Ok` for V4.
    pub fn check_padding(&self) -> WireResult<()> {
        match self.envelope {
            RequestEnvelope::V4 { .. } => Ok(()),
            RequestEnvelope::Encrypted { pad, .. } => match pad.iter().position(|&b| b != 4) {
                None => Ok(()),
                Some(p) => Err(WireError::crypto(
                    "kms.request.padding",
                    20 + BASE_REQUEST_LEN + p,
                )),
            },
        }
    }

    /// The parameters that re-encode this request byte-for-byte (for well-padded V5/V6).
    pub fn params(&self) -> RequestParams {
        RequestParams {
            outer_version: self.outer_version(),
            iv: self.iv().unwrap_or([0; 16]),
        }
    }
}

/// Decodes a KMS request message (same as [`DecodedRequest::parse`]).
pub fn parse_request(msg: &[u8]) -> WireResult<DecodedRequest> {
    DecodedRequest::parse(msg)
}

/// If `err` is the unknown-version refusal of a request or response parser, the version it
/// carried (so a host can answer e.g. major 7 with 0x8007000D).
pub fn unknown_version(err: &WireError) -> Option<ProtocolVersion> {
    match (err.field, err.kind) {
        (
            "kms.request.version" | "kms.response.version",
            crate::wire::WireErrorKind::InvalidValue { value },
        ) => Some(ProtocolVersion::new((value >> 16) as u16, value as u16)),
        _ => None,
    }
}

/// Encodes a request: V4 = base ‖ V4-MAC(base); V5/V6 = outer version ‖ IV ‖
/// AES-CBC(base ‖ 04 04 04 04). Fails only for an unknown outer major.
pub fn encode_request(base: &BaseRequest, params: &RequestParams) -> WireResult<Vec<u8>> {
    let Some(protocol) = params.outer_version.protocol() else {
        return Err(WireError::invalid(
            "kms.request.version",
            0,
            (u64::from(params.outer_version.major) << 16) | u64::from(params.outer_version.minor),
        ));
    };
    let base_raw = base.to_bytes();
    match protocol {
        Protocol::V4 => {
            let mut out = Vec::with_capacity(V4_REQUEST_LEN);
            out.extend_from_slice(&base_raw);
            out.extend_from_slice(&v4_mac(&base_raw));
            Ok(out)
        }
        Protocol::V5 | Protocol::V6 => {
            let mut out = Vec::with_capacity(V5V6_REQUEST_LEN);
            out.extend_from_slice(&params.outer_version.to_wire());
            out.extend_from_slice(&params.iv);
            out.extend_from_slice(&base_raw);
            out.extend_from_slice(&[4, 4, 4, 4]);
            cbc_encrypt(protocol.cipher(), &params.iv, &mut out[20..])?;
            Ok(out)
        }
    }
}
