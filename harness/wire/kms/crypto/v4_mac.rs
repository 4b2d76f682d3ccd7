//! The V4 MAC (spec §3.2): CBC-MAC with the V4 cipher, zero IV, ISO/IEC 9797-1 padding method 2.
//! Not RFC 4493 CMAC (no subkeys).

use super::{Block16, KmsCipher};

/// V4-MAC of `msg`: pad with `0x80` then zeros to a multiple of 16 (always at least one byte),
/// then CBC-encrypt with a zero IV; the MAC is the last cipher block.
pub fn v4_mac(msg: &[u8]) -> Block16 {
    let cipher = KmsCipher::v4();
    let mut state = [0u8; 16];
    let mut chunks = msg.chunks_exact(16);
    for chunk in chunks.by_ref() {
        for (s, b) in state.iter_mut().zip(chunk) {
            *s ^= b;
        }
        state = cipher.encrypt_block(&state);
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 16];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] = 0x80;
    for (s, b) in state.iter_mut().zip(&last) {
        *s ^= b;
    }
    cipher.encrypt_block(&state)
}
