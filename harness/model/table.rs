//! One application's CMID table on a KMS host: distinct client machine ids seen in the last 30
//! days, a capacity of twice the highest threshold asked for (never shrinking), LRU eviction.

use super::time::{Timestamp, DAY};
use std::collections::HashMap;
use uuid::Uuid;

/// How long a CMID counts after its last contact (rule CNT-EXPIRY-30D).
pub const CMID_LIFETIME_SECS: i64 = 30 * DAY;

/// What adding a CMID did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// The CMID was new and took a free slot (the count rose by one).
    Added,
    /// The CMID was live already; its 30 days began again (count unchanged).
    Refreshed,
    /// The table was full: the least recently seen CMID was replaced (count unchanged).
    Evicted(Uuid),
}

/// A per-application CMID table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmidTable {
    last_seen: HashMap<Uuid, Timestamp>,
    capacity: u32,
}

impl CmidTable {
    /// An empty table with no capacity yet (grows with the first request).
    pub fn new() -> Self {
        Self::default()
    }

    /// Cache capacity: twice the highest threshold asked for (rule CACHE-2X-NEVER-SHRINK).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Grows the capacity to `2 × required_count` (at least 1, so the requester always fits);
    /// never shrinks it.
    pub fn grow_for(&mut self, required_count: u32) {
        let want = required_count.saturating_mul(2).max(1);
        self.capacity = self.capacity.max(want);
    }

    /// Drops CMIDs whose last contact is 30 days or more before `now` (rule CNT-EXPIRY-30D);
    /// returns how many were dropped.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let before = self.last_seen.len();
        self.last_seen.retain(|_, t| is_live(*t, now));
        before - self.last_seen.len()
    }

    /// Records a contact from `cmid` at `now` (after [`Self::expire`] and [`Self::grow_for`]).
    pub fn touch(&mut self, cmid: Uuid, now: Timestamp) -> Touch {
        if let Some(t) = self.last_seen.get_mut(&cmid) {
            *t = now;
            return Touch::Refreshed;
        }
        let full = self.last_seen.len() >= self.capacity as usize;
        let evicted = if full { self.evict_oldest() } else { None };
        self.last_seen.insert(cmid, now);
        match evicted {
            Some(old) => Touch::Evicted(old),
            None => Touch::Added,
        }
    }

    fn evict_oldest(&mut self) -> Option<Uuid> {
        // Oldest contact first; ties broken by CMID so replays are deterministic.
        let oldest = self
            .last_seen
            .iter()
            .min_by_key(|(id, t)| (**t, **id))
            .map(|(id, _)| *id)?;
        self.last_seen.remove(&oldest);
        Some(oldest)
    }

    /// Distinct CMIDs live at `now` (capped by capacity).
    pub fn count(&self, now: Timestamp) -> u32 {
        let live = self
            .last_seen
            .values()
            .filter(|t| is_live(**t, now))
            .count();
        u32::try_from(live).unwrap_or(u32::MAX).min(self.capacity)
    }

    /// Whether `cmid` is live in the table at `now`.
    pub fn contains(&self, cmid: &Uuid, now: Timestamp) -> bool {
        self.last_seen.get(cmid).is_some_and(|t| is_live(*t, now))
    }

    /// Last contact of `cmid`, if held.
    pub fn last_seen(&self, cmid: &Uuid) -> Option<Timestamp> {
        self.last_seen.get(cmid).copied()
    }

    /// Number of entries held (live or not yet purged).
    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.last_seen.is_empty()
    }
}

fn is_live(last: Timestamp, now: Timestamp) -> bool {
    now.since(last) < CMID_LIFETIME_SECS
}
