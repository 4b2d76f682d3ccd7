//! KMS cryptography (spec §3): the three block-cipher variants, the V4 CBC-MAC, CBC with
//! PKCS#7 for V5/V6 messages, SHA-256 and the V6 time-slot HMAC. Pure functions; the expanded
//! keys are constants computed once, and keyed V6 HMAC states are kept in a small per-thread
//! cache that only saves work (results never depend on it). A received V4 MAC is checked by
//! [`v4_mac_matches`], which runs the CBC-MAC chain forward from the start and backward from
//! the MAC in lockstep (two independent chains of round calls overlap in the CPU).

mod cbc;
mod cipher;
mod hmac_key;
mod v4_mac;

pub use cbc::{cbc_decrypt, cbc_decrypt_and_iv, cbc_encrypt, pkcs7_pad, pkcs7_unpad};
pub use cipher::{KmsCipher, V4_KEY, V5_KEY, V6_KEY};
pub use hmac_key::{
    hmac_sha256_tail, v6_hmac_key, v6_hmac_tail_cached, v6_time_slot, V6HmacKey, HMAC_C1, HMAC_C2,
    HMAC_C3,
};
pub use v4_mac::{v4_mac, v4_mac_matches};

/// One 128-bit cipher block.
pub type Block16 = [u8; 16];

/// SHA-256 of `data` (the V5/V6 response `Hash` field is SHA-256 of the server's Random).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// XOR of two blocks (RandomXor = Random ⊕ DIV and CBC chaining).
pub fn xor16(a: &Block16, b: &Block16) -> Block16 {
    let mut out = *a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}
