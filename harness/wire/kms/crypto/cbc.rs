//! CBC mode and PKCS#7 padding over a [`KmsCipher`] (V5/V6 messages, spec §3.3–§3.5).

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
    if data.len() % 16 != 0 {
        return Err(WireError::crypto("kms.cbc.length", data.len()));
    }
    let mut prev = *iv;
    for chunk in data.chunks_exact_mut(16) {
        let mut c = [0u8; 16];
        c.copy_from_slice(chunk);
        let p = xor16(&cipher.decrypt_block(&c), &prev);
        chunk.copy_from_slice(&p);
        prev = c;
    }
    Ok(())
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
}
