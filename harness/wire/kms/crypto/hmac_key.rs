//! The V6 response HMAC (spec §3.5): a key derived from a time slot of the response time, and
//! HMAC-SHA256 of which the last 16 bytes are carried.

use hmac::{KeyInit, Mac};

use super::Block16;

/// Slot length in FILETIME ticks (≈ 4.117 h).
pub const HMAC_C1: u64 = 0x0000_0022_8168_89BD;
/// Slot multiplier.
pub const HMAC_C2: u64 = 0x0000_0020_8CBA_B5ED;
/// Slot offset.
pub const HMAC_C3: u64 = 0x3156_CD5A_C628_477A;

/// The time slot for FILETIME `t`, shifted by `tolerance` slots (vlmcs accepts −1, 0, +1):
/// `(floor(t / C1) · C2 + C3 + tolerance · C1) mod 2^64`.
pub fn v6_time_slot(t: u64, tolerance: i64) -> u64 {
    (t / HMAC_C1)
        .wrapping_mul(HMAC_C2)
        .wrapping_add(HMAC_C3)
        .wrapping_add((tolerance as u64).wrapping_mul(HMAC_C1))
}

/// The HMAC key: bytes 16–31 of SHA-256(slot as 8 bytes LE).
pub fn v6_hmac_key(t: u64, tolerance: i64) -> Block16 {
    let digest = super::sha256(&v6_time_slot(t, tolerance).to_le_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[16..]);
    key
}

/// Bytes 16–31 of HMAC-SHA256(`key`, `parts` concatenated): the V6 HMAC field.
pub fn hmac_sha256_tail(key: &Block16, parts: &[&[u8]]) -> Block16 {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        mac.update(p);
    }
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[16..32]);
    out
}
