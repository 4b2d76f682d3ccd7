//! The harness's one deterministic RNG (splitmix64) for IVs, Randoms, CMIDs and fuzz cases:
//! seeded, so runs replay identically, and no dependency. Not cryptographic — the client, the
//! reference host and the fuzzers need values that differ, not values nobody can predict.

use uuid::Uuid;

/// splitmix64: one 64-bit state, good enough for test values (never for secrets).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills a buffer.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// 16 random bytes (an IV).
    pub fn block16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b
    }

    /// A random (version 4) UUID, as Windows CMIDs are.
    pub fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.block16()).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values_and_v4_uuids() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let u = a.uuid();
        assert_eq!(u.get_version_num(), 4);
        assert_ne!(a.block16(), [0; 16]);
    }
}
