//! The V6 response HMAC (spec §3.5): a key derived from a time slot of the response time, and
//! HMAC-SHA256 of which the last 16 bytes are carried.
//!
//! The key depends only on the slot (≈ 4.1 h wide), so consecutive exchanges of a capture or a
//! host mostly share it: [`V6HmacKey`] holds the keyed HMAC state (key hash and both pad blocks
//! already compressed), and [`v6_hmac_tail_cached`] keeps a few recent ones per thread so the
//! per-message cost is just the message blocks. The cache never changes a result.

use std::cell::RefCell;

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

/// The HMAC key of a slot value: bytes 16–31 of SHA-256(slot as 8 bytes LE).
fn slot_key(slot: u64) -> Block16 {
    let digest = super::sha256(&slot.to_le_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[16..]);
    key
}

/// The HMAC key: bytes 16–31 of SHA-256(slot as 8 bytes LE).
pub fn v6_hmac_key(t: u64, tolerance: i64) -> Block16 {
    slot_key(v6_time_slot(t, tolerance))
}

/// A fresh HMAC-SHA256 keyed with `key`.
fn keyed(key: &Block16) -> hmac::Hmac<sha2::Sha256> {
    <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// Bytes 16–31 of a finished HMAC-SHA256.
fn tail_of(mac: hmac::Hmac<sha2::Sha256>) -> Block16 {
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[16..32]);
    out
}

/// Bytes 16–31 of HMAC-SHA256(`key`, `parts` concatenated): the V6 HMAC field.
pub fn hmac_sha256_tail(key: &Block16, parts: &[&[u8]]) -> Block16 {
    let mut mac = keyed(key);
    for p in parts {
        mac.update(p);
    }
    tail_of(mac)
}

/// The HMAC-SHA256 state keyed for one V6 time slot: computing it costs the key hash and both
/// pad blocks, so a caller that MACs many messages of one slot keeps it (cache-free API; see
/// [`v6_hmac_tail_cached`] for the cached one).
#[derive(Clone)]
pub struct V6HmacKey {
    slot: u64,
    mac: hmac::Hmac<sha2::Sha256>,
}

impl std::fmt::Debug for V6HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V6HmacKey(slot {:#018x})", self.slot)
    }
}

impl V6HmacKey {
    /// The key state for FILETIME `t` shifted by `tolerance` slots (see [`v6_time_slot`]).
    pub fn new(t: u64, tolerance: i64) -> Self {
        Self::for_slot(v6_time_slot(t, tolerance))
    }

    /// The key state for a slot value as returned by [`v6_time_slot`].
    pub fn for_slot(slot: u64) -> Self {
        Self {
            slot,
            mac: keyed(&slot_key(slot)),
        }
    }

    /// The slot value this key belongs to.
    pub fn slot(&self) -> u64 {
        self.slot
    }

    /// Bytes 16–31 of the HMAC of `parts` concatenated (same as [`hmac_sha256_tail`] with
    /// this slot's key).
    pub fn tail(&self, parts: &[&[u8]]) -> Block16 {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        tail_of(mac)
    }
}

/// Number of slot keys kept per thread (a capture interleaving a few hosts' clocks, plus the
/// ±1 tolerance slots).
const CACHE_ENTRIES: usize = 8;

/// The recently used slot keys of one thread, replaced round-robin.
#[derive(Default)]
struct KeyCache {
    entries: [Option<V6HmacKey>; CACHE_ENTRIES],
    next: usize,
}

thread_local! {
    static KEY_CACHE: RefCell<KeyCache> = RefCell::default();
}

/// Bytes 16–31 of the HMAC of `parts` concatenated, keyed for slot value `slot` (as returned by
/// [`v6_time_slot`]), with the key state taken from (or added to) a small per-thread cache.
/// Same result as `V6HmacKey::for_slot(slot).tail(parts)`, which it falls back to when the
/// cache is unusable (thread teardown).
pub fn v6_hmac_tail_cached(slot: u64, parts: &[&[u8]]) -> Block16 {
    let cached = KEY_CACHE.try_with(|cache| {
        let mut cache = cache.try_borrow_mut().ok()?;
        let hit = cache
            .entries
            .iter()
            .position(|e| e.as_ref().is_some_and(|k| k.slot == slot));
        let i = match hit {
            Some(i) => i,
            None => {
                let i = cache.next % CACHE_ENTRIES;
                cache.next = (i + 1) % CACHE_ENTRIES;
                *cache.entries.get_mut(i)? = Some(V6HmacKey::for_slot(slot));
                i
            }
        };
        Some(cache.entries.get(i)?.as_ref()?.tail(parts))
    });
    match cached {
        Ok(Some(tail)) => tail,
        _ => V6HmacKey::for_slot(slot).tail(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_key_state_matches_plain_hmac() {
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 13) as u8).collect();
        for (t, tol) in [(133_485_408_000_000_000u64, 0i64), (0, -1), (u64::MAX, 1)] {
            let want = hmac_sha256_tail(&v6_hmac_key(t, tol), &[&msg[..16], &msg[16..]]);
            let key = V6HmacKey::new(t, tol);
            assert_eq!(key.slot(), v6_time_slot(t, tol));
            assert_eq!(key.tail(&[&msg[..16], &msg[16..]]), want);
            assert_eq!(key.tail(&[&msg]), want);
            assert_eq!(v6_hmac_tail_cached(key.slot(), &[&msg]), want);
        }
    }

    #[test]
    fn cache_survives_eviction() {
        // More distinct slots than entries, twice over: every answer stays the plain one.
        for round in 0..2 {
            for s in 0..(3 * CACHE_ENTRIES as u64) {
                let slot = s.wrapping_mul(HMAC_C1) ^ round;
                let want = hmac_sha256_tail(&slot_key(slot), &[b"m"]);
                assert_eq!(v6_hmac_tail_cached(slot, &[b"m"]), want, "{slot}");
            }
        }
    }
}
