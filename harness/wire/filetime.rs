//! Windows FILETIME (u64 count of 100 ns ticks since 1601-01-01 UTC) and its mapping to UTC.

use time::OffsetDateTime;

/// Ticks between 1601-01-01 and the Unix epoch.
pub const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
/// FILETIME ticks per second.
pub const TICKS_PER_SECOND: u64 = 10_000_000;

/// A FILETIME as carried on the wire. Kept raw so any u64 round-trips; conversion to UTC may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FileTime(pub u64);

impl FileTime {
    /// The FILETIME of a UTC instant (clamped to the representable range).
    pub fn from_utc(t: OffsetDateTime) -> Self {
        let nanos = t.unix_timestamp_nanos() + i128::from(UNIX_EPOCH_TICKS) * 100;
        let ticks = (nanos / 100).clamp(0, i128::from(u64::MAX));
        Self(ticks as u64)
    }

    /// The UTC instant, or `None` if it is beyond what `time` represents.
    pub fn to_utc(self) -> Option<OffsetDateTime> {
        let nanos = (i128::from(self.0) - i128::from(UNIX_EPOCH_TICKS)) * 100;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }

    /// Seconds since the Unix epoch (may be negative for pre-1970 values).
    pub fn unix_seconds(self) -> i64 {
        (i128::from(self.0) - i128::from(UNIX_EPOCH_TICKS)).div_euclid(i128::from(TICKS_PER_SECOND))
            as i64
    }

    /// The FILETIME for whole Unix seconds.
    pub fn from_unix_seconds(secs: i64) -> Self {
        let ticks = i128::from(secs) * i128::from(TICKS_PER_SECOND) + i128::from(UNIX_EPOCH_TICKS);
        Self(ticks.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// RFC 3339 text in UTC, or the raw tick count when out of range.
    pub fn to_rfc3339(self) -> String {
        self.to_utc()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| format!("filetime:{}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_2024_new_year() {
        let ft = FileTime(133_485_408_000_000_000);
        assert_eq!(ft.to_rfc3339(), "2024-01-01T00:00:00Z");
        assert_eq!(FileTime::from_utc(ft.to_utc().unwrap()), ft);
        assert_eq!(FileTime::from_unix_seconds(ft.unix_seconds()), ft);
    }

    #[test]
    fn extremes_do_not_panic() {
        for v in [0, 1, u64::MAX, u64::MAX / 2] {
            let _ = FileTime(v).to_rfc3339();
            let _ = FileTime(v).unix_seconds();
        }
    }
}
