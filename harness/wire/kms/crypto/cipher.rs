//! The KMS block ciphers (spec §3.1): V4 Rijndael with a 160-bit key and 11 rounds, V5 standard
//! AES-128, V6 AES-128 with three modified round-key bytes. Key schedules are written here; the
//! round functions come from `aes::hazmat` (V5, being standard AES-128, runs on the `aes`
//! crate's whole cipher, checked against the round-function path in the tests).

use std::sync::OnceLock;

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::hazmat::{
    cipher_round, equiv_inv_cipher_round, equiv_inv_cipher_round_par, inv_mix_columns, mix_columns,
    Block8,
};
use aes::{Aes128, Block};

use super::Block16;

/// V4 key (20 bytes, Rijndael Nk = 5).
pub const V4_KEY: [u8; 20] = [
    0x05, 0x3D, 0x83, 0x07, 0xF9, 0xE5, 0xF0, 0x88, 0xEB, 0x5E, 0xA6, 0x68, 0x6C, 0xF0, 0x37, 0xC7,
    0xE4, 0xEF, 0xD2, 0xD6,
];
/// V5 key (standard AES-128).
pub const V5_KEY: [u8; 16] = [
    0xCD, 0x7E, 0x79, 0x6F, 0x2A, 0xB2, 0x5D, 0xCB, 0x55, 0xFF, 0xC8, 0xEF, 0x83, 0x64, 0xC4, 0x70,
];
/// V6 key (AES-128 schedule, then modified).
pub const V6_KEY: [u8; 16] = [
    0xA9, 0x4A, 0x41, 0x95, 0xE2, 0x01, 0x43, 0x2D, 0x9B, 0xCB, 0x46, 0x04, 0x05, 0xD8, 0x4A, 0x21,
];

/// The V6 modification: (byte index in the expanded key, XOR value).
const V6_MODIFICATION: [(usize, u8); 3] = [(64, 0x73), (96, 0x09), (128, 0xE4)];

/// Maximum number of round keys (V4: 11 rounds ⇒ 12 round keys).
const MAX_ROUND_KEYS: usize = 12;

/// Number of blocks [`KmsCipher::decrypt_blocks8`] pipelines at once (the width of the
/// `aes::hazmat` parallel round functions).
pub const PAR_BLOCKS: usize = 8;

/// A KMS block cipher with its expanded encryption and (equivalent-inverse) decryption keys.
#[derive(Clone)]
pub struct KmsCipher {
    rounds: usize,
    enc: [Block16; MAX_ROUND_KEYS],
    /// Round keys for the equivalent inverse cipher: `dec[r] = InvMixColumns(enc[r])` for 0 < r < rounds.
    dec: [Block16; MAX_ROUND_KEYS],
    /// `dec` with every round key repeated [`PAR_BLOCKS`] times, for the parallel round function.
    dec8: [Block8; MAX_ROUND_KEYS],
    /// V5 is standard AES-128: the `aes` crate's whole-cipher implementation gives the same
    /// result faster (round keys stay in registers, no per-round call).
    standard: Option<Aes128>,
}

impl std::fmt::Debug for KmsCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsCipher({} rounds)", self.rounds)
    }
}

impl KmsCipher {
    /// The V4 cipher (Rijndael-160/128, 11 rounds), used only for the V4 MAC.
    pub fn v4() -> &'static KmsCipher {
        static C: OnceLock<KmsCipher> = OnceLock::new();
        C.get_or_init(|| KmsCipher::from_expanded(&expand_key(&V4_KEY, 11), 11))
    }

    /// The V5 cipher (standard AES-128).
    pub fn v5() -> &'static KmsCipher {
        static C: OnceLock<KmsCipher> = OnceLock::new();
        C.get_or_init(|| KmsCipher {
            standard: Some(Aes128::new(&V5_KEY.into())),
            ..KmsCipher::from_expanded(&expand_key(&V5_KEY, 10), 10)
        })
    }

    /// The V6 cipher (AES-128 with the three modified round-key bytes).
    pub fn v6() -> &'static KmsCipher {
        static C: OnceLock<KmsCipher> = OnceLock::new();
        C.get_or_init(|| {
            let mut w = expand_key(&V6_KEY, 10);
            for (i, x) in V6_MODIFICATION {
                if let Some(b) = w.get_mut(i) {
                    *b ^= x;
                }
            }
            KmsCipher::from_expanded(&w, 10)
        })
    }

    /// The expanded encryption key as one byte string (16 bytes per round key), for KATs.
    pub fn expanded_key(&self) -> Vec<u8> {
        self.enc[..=self.rounds].iter().flatten().copied().collect()
    }

    fn from_expanded(bytes: &[u8], rounds: usize) -> KmsCipher {
        let mut enc = [[0u8; 16]; MAX_ROUND_KEYS];
        for (rk, chunk) in enc.iter_mut().zip(bytes.chunks_exact(16)).take(rounds + 1) {
            rk.copy_from_slice(chunk);
        }
        let mut dec = enc;
        for rk in dec.iter_mut().take(rounds).skip(1) {
            let mut b = Block::from(*rk);
            inv_mix_columns(&mut b);
            *rk = b.into();
        }
        let dec8 = core::array::from_fn(|r| Block8::from_fn(|_| Block::from(dec[r])));
        KmsCipher {
            rounds,
            enc,
            dec,
            dec8,
            standard: None,
        }
    }

    /// Encrypts one block.
    pub fn encrypt_block(&self, input: &Block16) -> Block16 {
        if let Some(aes) = &self.standard {
            let mut b = Block::from(*input);
            aes.encrypt_block(&mut b);
            return b.into();
        }
        let mut state = Block::from(super::xor16(input, &self.enc[0]));
        for rk in &self.enc[1..self.rounds] {
            cipher_round(&mut state, &Block::from(*rk));
        }
        // Final round: SubBytes + ShiftRows + AddRoundKey (undo the MixColumns of a full round).
        cipher_round(&mut state, &Block::default());
        inv_mix_columns(&mut state);
        super::xor16(&state.into(), &self.enc[self.rounds])
    }

    /// Decrypts one block (the inverse of [`KmsCipher::encrypt_block`]).
    pub fn decrypt_block(&self, input: &Block16) -> Block16 {
        if let Some(aes) = &self.standard {
            let mut b = Block::from(*input);
            aes.decrypt_block(&mut b);
            return b.into();
        }
        let mut state = Block::from(super::xor16(input, &self.enc[self.rounds]));
        for r in (1..self.rounds).rev() {
            equiv_inv_cipher_round(&mut state, &Block::from(self.dec[r]));
        }
        // Final inverse round: InvShiftRows + InvSubBytes + AddRoundKey.
        equiv_inv_cipher_round(&mut state, &Block::default());
        mix_columns(&mut state);
        super::xor16(&state.into(), &self.enc[0])
    }

    /// Encrypts `e` and decrypts `d`, two independent blocks, with their rounds interleaved so
    /// the two latency-bound chains of round calls overlap. Same results as
    /// [`KmsCipher::encrypt_block`] of `e` and [`KmsCipher::decrypt_block`] of `d`.
    pub fn encrypt_decrypt_pair(&self, e: &Block16, d: &Block16) -> (Block16, Block16) {
        if self.standard.is_some() {
            return (self.encrypt_block(e), self.decrypt_block(d));
        }
        let last = &self.enc[self.rounds];
        let mut se = Block::from(super::xor16(e, &self.enc[0]));
        let mut sd = Block::from(super::xor16(d, last));
        let enc_keys = self.enc.iter().take(self.rounds).skip(1);
        let dec_keys = self.dec.iter().take(self.rounds).skip(1).rev();
        for (ek, dk) in enc_keys.zip(dec_keys) {
            cipher_round(&mut se, &Block::from(*ek));
            equiv_inv_cipher_round(&mut sd, &Block::from(*dk));
        }
        // Final rounds, as in `encrypt_block` and `decrypt_block`.
        cipher_round(&mut se, &Block::default());
        equiv_inv_cipher_round(&mut sd, &Block::default());
        inv_mix_columns(&mut se);
        mix_columns(&mut sd);
        (
            super::xor16(&se.into(), last),
            super::xor16(&sd.into(), &self.enc[0]),
        )
    }

    /// Decrypts eight (`PAR_BLOCKS`) independent blocks in place, pipelining them through the rounds
    /// (CBC decryption of a long message is parallel). Same result as
    /// [`KmsCipher::decrypt_block`] on each block.
    pub fn decrypt_blocks8(&self, blocks: &mut [Block16; PAR_BLOCKS]) {
        if let Some(aes) = &self.standard {
            let mut bs: [Block; PAR_BLOCKS] = core::array::from_fn(|i| Block::from(blocks[i]));
            aes.decrypt_blocks(&mut bs);
            for (out, b) in blocks.iter_mut().zip(bs) {
                *out = b.into();
            }
            return;
        }
        let last = &self.enc[self.rounds];
        let mut state = Block8::from_fn(|i| Block::from(super::xor16(&blocks[i], last)));
        for r in (1..self.rounds).rev() {
            equiv_inv_cipher_round_par(&mut state, &self.dec8[r]);
        }
        // Final inverse round, as in `decrypt_block`.
        equiv_inv_cipher_round_par(&mut state, &Block8::default());
        for (out, s) in blocks.iter_mut().zip(state.iter_mut()) {
            mix_columns(s);
            *out = super::xor16(&(*s).into(), &self.enc[0]);
        }
    }
}

/// The Rijndael key expansion for `key.len() / 4` key words and `rounds` rounds (Nk ≤ 6).
fn expand_key(key: &[u8], rounds: usize) -> Vec<u8> {
    const RCON: [u8; 11] = [
        0x8D, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36,
    ];
    let sbox = sbox();
    let nk = key.len() / 4;
    let total = 4 * (rounds + 1);
    let mut w: Vec<[u8; 4]> = key
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    for i in nk..total {
        let mut t = w[i - 1];
        if i % nk == 0 {
            t = [
                sbox[usize::from(t[1])] ^ RCON[i / nk],
                sbox[usize::from(t[2])],
                sbox[usize::from(t[3])],
                sbox[usize::from(t[0])],
            ];
        }
        let prev = w[i - nk];
        w.push([
            prev[0] ^ t[0],
            prev[1] ^ t[1],
            prev[2] ^ t[2],
            prev[3] ^ t[3],
        ]);
    }
    w.into_iter().flatten().collect()
}

/// Multiplication in GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1.
fn gmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1B;
        }
        b >>= 1;
    }
    p
}

/// The AES S-box, computed from its definition (multiplicative inverse in GF(2^8) followed by
/// the affine map).
fn sbox() -> [u8; 256] {
    // Inverses from the powers of the generator 3: x = 3^k has inverse 3^(255-k) (0 maps to
    // 0). 255 multiplications instead of 254 per entry.
    let mut inverse = [0u8; 256];
    let mut powers = [0u8; 255];
    let mut p = 1u8;
    for slot in powers.iter_mut() {
        *slot = p;
        p = gmul(p, 3);
    }
    for (k, &x) in powers.iter().enumerate() {
        if let Some(inv) = inverse.get_mut(usize::from(x)) {
            *inv = powers[(255 - k) % 255];
        }
    }
    let mut table = [0u8; 256];
    for (x, out) in table.iter_mut().enumerate() {
        let inv = inverse[x];
        let s = inv
            ^ inv.rotate_left(1)
            ^ inv.rotate_left(2)
            ^ inv.rotate_left(3)
            ^ inv.rotate_left(4)
            ^ 0x63;
        *out = s;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_matches_the_definition() {
        // Every entry equals the affine map of x^254, computed the slow way.
        let s = sbox();
        for x in 0..=255u8 {
            let mut y = 1u8;
            for _ in 0..254 {
                y = gmul(y, x);
            }
            let want = y
                ^ y.rotate_left(1)
                ^ y.rotate_left(2)
                ^ y.rotate_left(3)
                ^ y.rotate_left(4)
                ^ 0x63;
            assert_eq!(s[usize::from(x)], if x == 0 { 0x63 } else { want }, "{x}");
        }
    }

    #[test]
    fn sbox_known_entries() {
        let s = sbox();
        assert_eq!(s[0x00], 0x63);
        assert_eq!(s[0x01], 0x7C);
        assert_eq!(s[0x53], 0xED);
        assert_eq!(s[0xFF], 0x16);
    }

    #[test]
    fn v5_standard_aes_matches_round_functions() {
        // The V5 cipher runs on the `aes` crate's AES-128; the round-function path with the
        // same expanded key must agree on every operation.
        let rounds_only = KmsCipher::from_expanded(&expand_key(&V5_KEY, 10), 10);
        let v5 = KmsCipher::v5();
        assert!(v5.standard.is_some() && rounds_only.standard.is_none());
        assert_eq!(v5.expanded_key(), rounds_only.expanded_key());
        let mut blocks: [Block16; PAR_BLOCKS] =
            core::array::from_fn(|i| core::array::from_fn(|j| (i * 31 + j * 7) as u8));
        for b in &blocks {
            assert_eq!(v5.encrypt_block(b), rounds_only.encrypt_block(b));
            assert_eq!(v5.decrypt_block(b), rounds_only.decrypt_block(b));
        }
        let mut want = blocks;
        rounds_only.decrypt_blocks8(&mut want);
        v5.decrypt_blocks8(&mut blocks);
        assert_eq!(blocks, want);
    }

    #[test]
    fn encrypt_decrypt_pair_matches_single_blocks() {
        let rounds_only = KmsCipher::from_expanded(&expand_key(&V5_KEY, 10), 10);
        for c in [
            KmsCipher::v4(),
            KmsCipher::v5(),
            KmsCipher::v6(),
            &rounds_only,
        ] {
            for i in 0..8u8 {
                let e: Block16 =
                    core::array::from_fn(|j| i.wrapping_mul(37) ^ (j as u8).wrapping_mul(11));
                let d: Block16 =
                    core::array::from_fn(|j| i.wrapping_add((j as u8).wrapping_mul(29)));
                let (pe, pd) = c.encrypt_decrypt_pair(&e, &d);
                assert_eq!(pe, c.encrypt_block(&e), "{c:?} {i}");
                assert_eq!(pd, c.decrypt_block(&d), "{c:?} {i}");
                assert_eq!(c.decrypt_block(&pe), e);
            }
        }
    }

    #[test]
    fn fips197_aes128_example() {
        // FIPS-197 Appendix C.1.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let c = KmsCipher::from_expanded(&expand_key(&key, 10), 10);
        let pt: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        let ct = c.encrypt_block(&pt);
        assert_eq!(
            ct,
            [
                0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
                0xc5, 0x5a
            ]
        );
        assert_eq!(c.decrypt_block(&ct), pt);
    }
}
