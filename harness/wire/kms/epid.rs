//! The host's extended PID (spec §4): `PPPPP-GGGGG-KKK-KKKKKK-CC-LLLL-BBBB.0000-DDDYYYY`.
//! Parsing into parts and validation as named checks (syntax, channel, platform id vs build,
//! known build, LCID, date plausibility, and — with a product catalog — key-id range).

use super::verify::{Check, CheckName};
use crate::wire::FileTime;

/// A syntactically valid ePID split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epid {
    /// KMS host platform id (PPPPP).
    pub platform_id: u32,
    /// CSVLK group id (GGGGG).
    pub group_id: u32,
    /// Key id (KKK-KKKKKK joined: KKK·10⁶ + KKKKKK).
    pub key_id: u32,
    /// License channel (CC); 3 = volume.
    pub channel: u32,
    /// Host LCID (decimal, 1–5 digits).
    pub lcid: u32,
    /// Host OS build (4–5 digits).
    pub build: u32,
    /// Activation day of year (DDD; 1-based for vlmcsd/Windows, 0-based for py-kms).
    pub day_of_year: u16,
    /// Activation year (YYYY).
    pub year: u16,
}

/// Why a string is not an ePID (character offset of the offending part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpidSyntaxError {
    /// Which part (`"platform_id"`, `"group_id"`, …, `"shape"`).
    pub part: &'static str,
    /// Character offset where the part starts.
    pub offset: usize,
}

/// A known KMS host build (spec §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostBuild {
    /// OS build number.
    pub build: u32,
    /// Platform id in ePIDs of hosts running it.
    pub platform_id: u32,
    /// Release date (year, day of year 1-based): the earliest plausible activation date.
    pub release: (u16, u16),
}

/// Builds and platform ids from the data files (spec §4.4); release as (year, 1-based day).
pub const HOST_BUILDS: [HostBuild; 8] = [
    HostBuild {
        build: 6002,
        platform_id: 55041,
        release: (2009, 146),
    },
    HostBuild {
        build: 7601,
        platform_id: 55041,
        release: (2011, 53),
    },
    HostBuild {
        build: 9200,
        platform_id: 5426,
        release: (2012, 300),
    },
    HostBuild {
        build: 9600,
        platform_id: 6401,
        release: (2013, 291),
    },
    HostBuild {
        build: 14393,
        platform_id: 3612,
        release: (2016, 215),
    },
    HostBuild {
        build: 17763,
        platform_id: 3612,
        release: (2018, 275),
    },
    HostBuild {
        build: 20348,
        platform_id: 3612,
        release: (2021, 230),
    },
    HostBuild {
        build: 26100,
        platform_id: 3612,
        release: (2024, 306),
    },
];

/// The 158 valid LCIDs (identical in vlmcsd and py-kms).
pub const VALID_LCIDS: [u16; 158] = [
    1025, 1026, 1027, 1028, 1029, 1030, 1031, 1032, 1033, 1034, 1035, 1036, 1037, 1038, 1039, 1040,
    1041, 1042, 1043, 1044, 1045, 1046, 1048, 1049, 1050, 1051, 1052, 1053, 1054, 1056, 1057, 1058,
    1059, 1060, 1061, 1062, 1063, 1065, 1066, 1067, 1068, 1069, 1071, 1074, 1076, 1077, 1078, 1079,
    1080, 1081, 1082, 1083, 1086, 1087, 1088, 1089, 1091, 1092, 1093, 1094, 1095, 1097, 1098, 1099,
    1100, 1102, 1103, 1104, 1106, 1110, 1111, 1114, 1125, 1131, 1153, 2049, 2052, 2055, 2057, 2058,
    2060, 2064, 2067, 2068, 2070, 2074, 2077, 2092, 2107, 2110, 2115, 2155, 3073, 3076, 3079, 3081,
    3082, 3084, 3098, 3131, 3179, 4097, 4100, 4103, 4105, 4106, 4108, 4122, 4155, 5121, 5124, 5127,
    5129, 5130, 5132, 5146, 5179, 6145, 6153, 6154, 6156, 6170, 6203, 7169, 7177, 7178, 7194, 7227,
    8193, 8201, 8202, 8251, 9217, 9225, 9226, 9275, 10241, 10249, 10250, 11265, 11273, 11274,
    12289, 12297, 12298, 13313, 13321, 13322, 14337, 14346, 15361, 15370, 16385, 16394, 17418,
    18442, 19466, 20490,
];

/// An inclusive key-id range of one CSVLK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIdRange {
    /// Smallest key id.
    pub min: u32,
    /// Largest key id.
    pub max: u32,
}

/// Product knowledge the ePID check needs (supplied by the product catalog).
pub trait EpidCatalog {
    /// Key-id ranges of the CSVLKs with this group id that the checker accepts (e.g. those
    /// activating the requested KMS counted ID); empty if none.
    fn key_ranges(&self, group_id: u32) -> Vec<KeyIdRange>;
}

/// Optional context for [`validate_with`].
#[derive(Clone, Copy, Default)]
pub struct EpidContext<'a> {
    /// Current time; enables the "date not in the future" check.
    pub now: Option<FileTime>,
    /// Product catalog; enables the key-range check.
    pub catalog: Option<&'a dyn EpidCatalog>,
}

/// The value of `s` when it is `min..=max` ASCII digits (`None` also on u32 overflow, which the
/// at most 7-digit ePID parts never reach).
fn digits(s: &[u8], min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &b| {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u32::from(d))
    })
}

/// The pieces of `text` between `-` separators, like `text.split('-')` but scanning bytes
/// (cheaper for these short strings than the general char searcher).
struct DashParts<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for DashParts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let r = self.rest?;
        match r.bytes().position(|b| b == b'-') {
            Some(i) => {
                self.rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                self.rest = None;
                Some(r)
            }
        }
    }
}

/// Byte length of the fixed-width ePID head `PPPPP-GGGGG-KKK-KKKKKK-CC-`.
const HEAD_LEN: usize = 26;
/// Number of parts in that head.
const HEAD_PARTS: usize = 5;

/// The five values of the fixed-width head when the first [`HEAD_LEN`] bytes of `text` are
/// exactly `ddddd-ddddd-ddd-dddddd-dd-` (ASCII digits `d`): the same values the general part
/// loop reads from them.
fn fixed_head(text: &[u8]) -> Option<[u32; HEAD_PARTS]> {
    let head: &[u8; HEAD_LEN] = text.get(..HEAD_LEN)?.try_into().ok()?;
    // (start, digit count) of each part; a dash follows each one.
    const LAYOUT: [(usize, usize); HEAD_PARTS] = [(0, 5), (6, 5), (12, 3), (16, 6), (23, 2)];
    let mut ok = true;
    let mut out = [0u32; HEAD_PARTS];
    for (value, &(start, n)) in out.iter_mut().zip(&LAYOUT) {
        let mut v = 0u32;
        for &b in head.iter().skip(start).take(n) {
            let d = b.wrapping_sub(b'0');
            ok &= d <= 9;
            v = v.wrapping_mul(10).wrapping_add(u32::from(d));
        }
        ok &= head.get(start + n) == Some(&b'-');
        *value = v;
    }
    ok.then_some(out)
}

/// LCID, build and date of a well-formed tail `L{1,5}-B{4,5}.0000-DDDYYYY` (what follows the
/// fixed head), read from its fixed end backwards; `None` for anything else (the general part
/// loop then finds the error). The same values the loop reads: every part is all digits, so
/// there is no other way to split it at its dashes.
fn fixed_tail(t: &[u8]) -> Option<[u32; 3]> {
    let (rest, date) = t.split_last_chunk::<8>()?;
    let (rest, build_suffix) = rest.split_last_chunk::<5>()?;
    if date[0] != b'-' || build_suffix != b".0000" {
        return None;
    }
    // The build's digits run back to a dash; the LCID is everything before it. The digit
    // counts are the part loop's: LCID 1–5, build 4–5 (before `.0000`), date 7.
    let dash = rest.iter().rposition(|&b| b == b'-')?;
    let (lcid, build) = (rest.get(..dash)?, rest.get(dash + 1..)?);
    Some([
        digits(lcid, 1, 5)?,
        digits(build, 4, 5)?,
        digits(&date[1..], 7, 7)?,
    ])
}

fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl Epid {
    /// Parses `text` against `^\d{5}-\d{5}-\d{3}-\d{6}-\d{2}-\d{1,5}-\d{4,5}\.0000-\d{3}\d{4}$`.
    pub fn parse(text: &str) -> Result<Epid, EpidSyntaxError> {
        const PARTS: [(&str, usize, usize); 8] = [
            ("platform_id", 5, 5),
            ("group_id", 5, 5),
            ("key_id_high", 3, 3),
            ("key_id_low", 6, 6),
            ("channel", 2, 2),
            ("lcid", 1, 5),
            ("build", 9, 10),
            ("date", 7, 7),
        ];
        let mut values = [0u32; 8];
        // The fixed-width head `PPPPP-GGGGG-KKK-KKKKKK-CC-` of a well-formed ePID is checked
        // and converted in one pass; when it matches, the general loop starts at the LCID
        // with the same offset it would have reached (any other text takes the general path,
        // which finds the error).
        let (first, mut offset) = match fixed_head(text.as_bytes()) {
            Some(head) => {
                // The usual tail `L…-BBBBB.0000-DDDYYYY` too: the whole ePID without the loop.
                if let Some([lcid, build, date]) =
                    text.as_bytes().get(HEAD_LEN..).and_then(fixed_tail)
                {
                    return Ok(Epid {
                        platform_id: head[0],
                        group_id: head[1],
                        key_id: head[2] * 1_000_000 + head[3],
                        channel: head[4],
                        lcid,
                        build,
                        day_of_year: (date / 10_000) as u16,
                        year: (date % 10_000) as u16,
                    });
                }
                values[..HEAD_PARTS].copy_from_slice(&head);
                (HEAD_PARTS, HEAD_LEN)
            }
            None => (0, 0),
        };
        let mut split = DashParts {
            rest: text.get(offset..),
        };
        for (i, (name, min, max)) in PARTS.iter().enumerate().skip(first) {
            let err = EpidSyntaxError { part: name, offset };
            let part = split.next().ok_or(err)?;
            values[i] = if *name == "build" {
                let b = part.strip_suffix(".0000").ok_or(err)?;
                digits(b.as_bytes(), min - 5, max - 5).ok_or(err)?
            } else {
                digits(part.as_bytes(), *min, *max).ok_or(err)?
            };
            offset += part.len() + 1;
        }
        if split.next().is_some() {
            return Err(EpidSyntaxError {
                part: "shape",
                offset: offset.saturating_sub(1),
            });
        }
        Ok(Epid {
            platform_id: values[0],
            group_id: values[1],
            key_id: values[2] * 1_000_000 + values[3],
            channel: values[4],
            lcid: values[5],
            build: values[6],
            day_of_year: (values[7] / 10_000) as u16,
            year: (values[7] % 10_000) as u16,
        })
    }

    /// The known host build entry for this ePID's build.
    pub fn host_build(&self) -> Option<&'static HostBuild> {
        HOST_BUILDS.iter().find(|h| h.build == self.build)
    }

    /// Platform id expected for `build`: that of the largest known build ≤ `build`, except
    /// that builds ≥ 10240 (Windows 10 and later) map to 3612.
    pub fn expected_platform_id(build: u32) -> Option<u32> {
        if build >= 10240 {
            return Some(3612);
        }
        HOST_BUILDS
            .iter()
            .rev()
            .find(|h| h.build <= build)
            .map(|h| h.platform_id)
    }
}

/// Validates an ePID string without context (no future-date or key-range check).
pub fn validate(text: &str) -> Vec<Check> {
    validate_with(text, EpidContext::default())
}

/// Validates an ePID string: syntax, then (if it parses) channel, platform vs build, known
/// build, LCID, day of year, release-date bound, and with `ctx` the future-date and key-range
/// checks. A string that does not parse yields only the failed `epid_syntax` check.
pub fn validate_with(text: &str, ctx: EpidContext<'_>) -> Vec<Check> {
    let epid = match Epid::parse(text) {
        Ok(e) => e,
        Err(e) => {
            return vec![Check::new(
                CheckName::EpidSyntax,
                false,
                // ePIDs are ASCII: anything else is shown as \u{…}, so a homoglyph or an
                // invisible character in a hostile ePID is visible in the report (Debug
                // formatting would print printable non-ASCII characters as they are).
                format!(
                    "\"{}\": bad {} at char {}",
                    text.escape_default(),
                    e.part,
                    e.offset
                ),
                "PPPPP-GGGGG-KKK-KKKKKK-CC-L…-B….0000-DDDYYYY",
            )];
        }
    };
    let mut checks = vec![Check::new(
        CheckName::EpidSyntax,
        true,
        text,
        "ePID pattern",
    )];
    checks.push(Check::equal(CheckName::EpidLicenseChannel, epid.channel, 3));
    checks.push(match Epid::expected_platform_id(epid.build) {
        Some(p) => Check::equal(CheckName::EpidPlatformMatchesBuild, epid.platform_id, p),
        None => Check::new(
            CheckName::EpidPlatformMatchesBuild,
            false,
            epid.platform_id.to_string(),
            format!("no platform id known for build {}", epid.build),
        ),
    });
    checks.push(Check::new(
        CheckName::EpidKnownHostBuild,
        epid.host_build().is_some(),
        epid.build.to_string(),
        known_builds_text(),
    ));
    checks.push(Check::new(
        CheckName::EpidLcidKnown,
        u16::try_from(epid.lcid).is_ok_and(|l| VALID_LCIDS.contains(&l)),
        epid.lcid.to_string(),
        "an LCID of the valid list",
    ));
    let days = if is_leap(epid.year) { 366 } else { 365 };
    checks.push(Check::new(
        CheckName::EpidDayOfYear,
        (1..=days).contains(&epid.day_of_year),
        format!("day {} of {}", epid.day_of_year, epid.year),
        format!("1..={days}"),
    ));
    if let Some(h) = epid.host_build() {
        checks.push(Check::new(
            CheckName::EpidDateAfterBuildRelease,
            (epid.year, epid.day_of_year) >= h.release,
            format!("{}-{:03}", epid.year, epid.day_of_year),
            format!(
                "≥ {}-{:03} (build {} release)",
                h.release.0, h.release.1, h.build
            ),
        ));
    }
    if let Some(now) = ctx.now.and_then(FileTime::to_utc) {
        let today = (now.year() as u16, now.ordinal());
        checks.push(Check::new(
            CheckName::EpidDateNotFuture,
            (epid.year, epid.day_of_year) <= today,
            format!("{}-{:03}", epid.year, epid.day_of_year),
            format!("≤ {}-{:03}", today.0, today.1),
        ));
    }
    if let Some(cat) = ctx.catalog {
        let ranges = cat.key_ranges(epid.group_id);
        let ok = ranges
            .iter()
            .any(|r| (r.min..=r.max).contains(&epid.key_id));
        let shown: Vec<String> = ranges
            .iter()
            .map(|r| format!("{}-{}", r.min, r.max))
            .collect();
        checks.push(Check::new(
            CheckName::EpidKeyRange,
            ok,
            format!("group {} key id {}", epid.group_id, epid.key_id),
            if shown.is_empty() {
                format!("a known group (group {} has no range)", epid.group_id)
            } else {
                format!("key id in {}", shown.join(" or "))
            },
        ));
    }
    checks
}

/// The expected text of the known-host-build check, "one of " and the [`HOST_BUILDS`]: made
/// once, not per validated ePID.
fn known_builds_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let builds: Vec<String> = HOST_BUILDS.iter().map(|h| h.build.to_string()).collect();
        format!("one of {}", builds.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused ePID is shown ASCII-only: a Cyrillic `З` posing as a digit 3, a NUL or a
    /// zero-width space cannot hide in the failing check's text.
    #[test]
    fn refused_epid_text_escapes_non_ascii() {
        let checks = validate("0З612-\u{200b}\0\"x");
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].passed);
        let observed = &checks[0].observed;
        assert!(observed.is_ascii(), "{observed}");
        assert!(
            observed.starts_with(r#""0\u{417}612-\u{200b}\u{0}\"x": bad "#),
            "{observed}"
        );
    }

    /// The parser as first written (`split('-')` and `str::parse`), as the reference.
    fn reference(text: &str) -> Result<Epid, EpidSyntaxError> {
        fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
            if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        const PARTS: [(&str, usize, usize); 8] = [
            ("platform_id", 5, 5),
            ("group_id", 5, 5),
            ("key_id_high", 3, 3),
            ("key_id_low", 6, 6),
            ("channel", 2, 2),
            ("lcid", 1, 5),
            ("build", 9, 10),
            ("date", 7, 7),
        ];
        let mut values = [0u32; 8];
        let mut offset = 0usize;
        let mut split = text.split('-');
        for (i, (name, min, max)) in PARTS.iter().enumerate() {
            let err = EpidSyntaxError { part: name, offset };
            let part = split.next().ok_or(err)?;
            values[i] = if *name == "build" {
                let b = part.strip_suffix(".0000").ok_or(err)?;
                digits(b, min - 5, max - 5).ok_or(err)?
            } else {
                digits(part, *min, *max).ok_or(err)?
            };
            offset += part.len() + 1;
        }
        if split.next().is_some() {
            return Err(EpidSyntaxError {
                part: "shape",
                offset: offset.saturating_sub(1),
            });
        }
        Ok(Epid {
            platform_id: values[0],
            group_id: values[1],
            key_id: values[2] * 1_000_000 + values[3],
            channel: values[4],
            lcid: values[5],
            build: values[6],
            day_of_year: (values[7] / 10_000) as u16,
            year: (values[7] % 10_000) as u16,
        })
    }

    #[test]
    fn parse_matches_reference_on_mutations() {
        let seeds = [
            "06401-00206-471-111111-03-1033-9600.0000-3622014",
            "03612-00206-566-781232-03-1-26100.0000-0012025",
            "55041-00168-305-190596-03-99999-7601.0000-0532011",
            "",
            "-",
            "a-b",
            "06401-00206-471-111111-03-1033-9600.0000-3622014-",
        ];
        let alphabet = ['0', '9', '-', '.', 'a', 'é', ' ', '\u{0}'];
        let mut n = 0;
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            let mut cases = vec![seed.to_owned()];
            for i in 0..=chars.len() {
                for &c in &alphabet {
                    let mut ins = chars.clone();
                    ins.insert(i, c);
                    cases.push(ins.iter().collect());
                    if i < chars.len() {
                        let mut rep = chars.clone();
                        rep[i] = c;
                        cases.push(rep.iter().collect());
                    }
                }
                if i < chars.len() {
                    let mut del = chars.clone();
                    del.remove(i);
                    cases.push(del.iter().collect());
                }
            }
            for case in cases {
                assert_eq!(Epid::parse(&case), reference(&case), "{case:?}");
                n += usize::from(Epid::parse(&case).is_ok());
            }
        }
        // Some mutations stay valid (a digit replaced by a digit), so both paths are covered.
        assert!(n > 10, "{n}");
        assert_eq!(
            Epid::parse("06401-00206-471-111111-03-1033-9600.0000-3622014"),
            Ok(Epid {
                platform_id: 6401,
                group_id: 206,
                key_id: 471_111_111,
                channel: 3,
                lcid: 1033,
                build: 9600,
                day_of_year: 362,
                year: 2014,
            })
        );
    }
}
