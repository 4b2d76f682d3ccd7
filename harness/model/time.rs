//! Model time: whole seconds since the Unix epoch, passed in by the caller (never read from a
//! clock), so every run replays identically.

use crate::wire::FileTime;

/// Seconds in one minute.
pub const MINUTE: i64 = 60;
/// Seconds in one hour.
pub const HOUR: i64 = 3600;
/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// An instant in model time (Unix seconds, UTC). The one time type of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The instant of a wire FILETIME (truncated to whole seconds).
    pub fn from_filetime(ft: FileTime) -> Self {
        Self(ft.unix_seconds())
    }

    /// The wire FILETIME of this instant.
    pub fn to_filetime(self) -> FileTime {
        FileTime::from_unix_seconds(self.0)
    }

    /// This instant moved by `secs` seconds (saturating).
    pub fn plus(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Seconds from `earlier` to `self` (saturating; negative if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}
