//! CBC mode and PKCS#7 padding over a [`KmsCipher`] (V5/V6 messages, spec §3.3–§3.5).

use super::cipher::PAR_BLOCKS;
use super::{xor16, Block16, KmsCipher};
use crate::wire::{WireError, WireResult};

/// CBC-encrypts `data` in place. `data.len()` must be a multiple of 16 (callers pad first).
pub fn cbc_encrypt(cipher: &KmsCipher, iv: &Block16, data: &mut [u8]) -> WireResult<()> {
    if data.len() % 16 != 0 {
        return Err(WireError::crypto("kms.cbc.length", data.len()));
    }
    let mut prev = *iv;
    for chunk in data.chunks_exact_mut(16) {
        let mut b = [0u8; 16];
        b.copy_from_slice(chunk);
        prev = cipher.encrypt_block(&xor16(&b, &prev));
        chunk.copy_from_slice(&prev);
    }
    Ok(())
}

/// CBC-decrypts `data` in place. `data.len()` must be a multiple of 16.
pub fn cbc_decrypt(cipher: &KmsCipher, iv: &Block16, data: &mut [u8]) -> WireResult<()> {
    decrypt_chained(cipher, iv, data, None).map(|_| ())
}

/// CBC-decrypts `data` in place like [`cbc_decrypt`] and also returns D_K(`iv`) (the DIV of a
/// request, the R of a V6 response), computed in a spare slot of the pipelined block group
/// when the message leaves one (a 240-byte request does).
pub fn cbc_decrypt_and_iv(
    cipher: &KmsCipher,
    iv: &Block16,
    data: &mut [u8],
) -> WireResult<Block16> {
    decrypt_chained(cipher, iv, data, Some(iv))
        .map(|d| d.unwrap_or_else(|| cipher.decrypt_block(iv)))
}

/// CBC decryption, plus D_K(`extra`) when it fits in a spare slot of the last group.
fn decrypt_chained(
    cipher: &KmsCipher,
    iv: &Block16,
    data: &mut [u8],
    extra: Option<&Block16>,
) -> WireResult<Option<Block16>> {
    if data.len() % 16 != 0 {
        return Err(WireError::crypto("kms.cbc.length", data.len()));
    }
    let mut prev = *iv;
    let mut extra_out = None;
    // Groups of PAR_BLOCKS blocks go through the pipelined round function; a short tail of
    // two or more blocks (or of one, with an extra block to ride along) is padded with zero
    // blocks and goes the same way, the extra block in the first free slot.
    for group in data.chunks_mut(16 * PAR_BLOCKS) {
        let n = group.len() / 16;
        let extra_here = if n < PAR_BLOCKS { extra } else { None };
        if n == 1 && extra_here.is_none() {
            let mut c = [0u8; 16];
            c.copy_from_slice(group);
            group.copy_from_slice(&xor16(&cipher.decrypt_block(&c), &prev));
            prev = c;
            continue;
        }
        let mut cts = [[0u8; 16]; PAR_BLOCKS];
        for (ct, chunk) in cts.iter_mut().zip(group.chunks_exact(16)) {
            ct.copy_from_slice(chunk);
        }
        let mut pts = cts;
        if let (Some(x), Some(slot)) = (extra_here, pts.get_mut(n)) {
            *slot = *x;
        }
        cipher.decrypt_blocks8(&mut pts);
        if extra_here.is_some() {
            extra_out = pts.get(n).copied();
        }
        for ((chunk, pt), ct) in group.chunks_exact_mut(16).zip(&pts).zip(&cts) {
            chunk.copy_from_slice(&xor16(pt, &prev));
            prev = *ct;
        }
    }
    Ok(extra_out)
}

/// Appends PKCS#7 padding (always 1–16 bytes) to reach a multiple of 16.
pub fn pkcs7_pad(data: &mut Vec<u8>) {
    let n = 16 - data.len() % 16;
    data.resize(data.len() + n, n as u8);
}

/// Length of the PKCS#7-padded `data` without its padding. Fails (kind `Crypto`, offset of
/// the last byte in `data`) unless the last byte is 1–16 and all padding bytes equal it.
pub fn pkcs7_unpad(data: &[u8]) -> WireResult<usize> {
    let Some(&last) = data.last() else {
        return Err(WireError::crypto("kms.pkcs7_padding", 0));
    };
    let n = usize::from(last);
    if n == 0 || n > 16 || n > data.len() {
        return Err(WireError::crypto("kms.pkcs7_padding", data.len() - 1));
    }
    let start = data.len() - n;
    if let Some(pos) = data[start..].iter().position(|&b| b != last) {
        return Err(WireError::crypto("kms.pkcs7_padding", start + pos));
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_roundtrip_and_errors() {
        for len in 0..40 {
            let mut v = vec![7u8; len];
            pkcs7_pad(&mut v);
            assert_eq!(v.len() % 16, 0);
            assert!(v.len() > len && v.len() <= len + 16);
            assert_eq!(pkcs7_unpad(&v).unwrap(), len);
        }
        assert!(pkcs7_unpad(&[0u8; 16]).is_err());
        assert!(pkcs7_unpad(&[17u8; 16]).is_err());
        let mut v = vec![3u8; 16];
        v[14] = 2;
        assert_eq!(pkcs7_unpad(&v).unwrap_err().offset, 14);
    }

    #[test]
    fn parallel_decrypt_matches_block_by_block() {
        // Lengths around the PAR_BLOCKS group size, for every cipher variant.
        for cipher in [KmsCipher::v4(), KmsCipher::v5(), KmsCipher::v6()] {
            let iv: Block16 = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
            for blocks in 0..=2 * PAR_BLOCKS + 3 {
                let plain: Vec<u8> = (0..blocks * 16).map(|i| (i * 7 + blocks) as u8).collect();
                let mut data = plain.clone();
                cbc_encrypt(cipher, &iv, &mut data).unwrap();
                // Reference: one block at a time.
                let mut want = data.clone();
                let mut prev = iv;
                for chunk in want.chunks_exact_mut(16) {
                    let c: Block16 = chunk.try_into().unwrap();
                    chunk.copy_from_slice(&xor16(&cipher.decrypt_block(&c), &prev));
                    prev = c;
                }
                cbc_decrypt(cipher, &iv, &mut data).unwrap();
                assert_eq!(data, want, "{blocks} blocks");
                assert_eq!(data, plain, "{blocks} blocks");
            }
        }
        assert!(cbc_decrypt(KmsCipher::v5(), &[0; 16], &mut [0u8; 17]).is_err());
        assert!(cbc_decrypt_and_iv(KmsCipher::v5(), &[0; 16], &mut [0u8; 17]).is_err());
    }

    #[test]
    fn decrypt_and_iv_matches_separate_decryption() {
        // Every tail length: a spare slot, a full last group and no data at all.
        for cipher in [KmsCipher::v4(), KmsCipher::v5(), KmsCipher::v6()] {
            let iv: Block16 = core::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0x5a);
            for blocks in 0..=2 * PAR_BLOCKS + 3 {
                let plain: Vec<u8> = (0..blocks * 16).map(|i| (i * 11 + blocks) as u8).collect();
                let mut data = plain.clone();
                cbc_encrypt(cipher, &iv, &mut data).unwrap();
                let div = cbc_decrypt_and_iv(cipher, &iv, &mut data).unwrap();
                assert_eq!(div, cipher.decrypt_block(&iv), "{blocks} blocks");
                assert_eq!(data, plain, "{blocks} blocks");
            }
        }
    }
}
