//! The KMS protocol version word (spec §2.1): minor u16 LE then major u16 LE.

use std::fmt;

/// A KMS protocol version as carried on the wire (any value round-trips).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ProtocolVersion {
    /// Major version (4, 5 or 6 for known protocols).
    pub major: u16,
    /// Minor version (0 for every known client).
    pub minor: u16,
}

/// The three message formats; selected by the (outer) major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Protocol {
    /// V4: plaintext base + V4 MAC.
    V4,
    /// V5: AES-128-CBC, response IV = request IV, SHA-256 hash.
    V5,
    /// V6: modified AES-128-CBC, fresh response IV, HwId, XoredIVs and time-slot HMAC.
    V6,
}

impl ProtocolVersion {
    /// Version 4.0.
    pub const V4: Self = Self::new(4, 0);
    /// Version 5.0.
    pub const V5: Self = Self::new(5, 0);
    /// Version 6.0.
    pub const V6: Self = Self::new(6, 0);

    /// A version from its parts.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// Reads the 4-byte wire form.
    pub fn from_wire(b: [u8; 4]) -> Self {
        Self {
            minor: u16::from_le_bytes([b[0], b[1]]),
            major: u16::from_le_bytes([b[2], b[3]]),
        }
    }

    /// The 4-byte wire form.
    pub fn to_wire(self) -> [u8; 4] {
        let mi = self.minor.to_le_bytes();
        let ma = self.major.to_le_bytes();
        [mi[0], mi[1], ma[0], ma[1]]
    }

    /// The message format this major selects, or `None` for an unknown major.
    pub fn protocol(self) -> Option<Protocol> {
        match self.major {
            4 => Some(Protocol::V4),
            5 => Some(Protocol::V5),
            6 => Some(Protocol::V6),
            _ => None,
        }
    }
}

impl Protocol {
    /// The major version number of this format.
    pub fn major(self) -> u16 {
        match self {
            Protocol::V4 => 4,
            Protocol::V5 => 5,
            Protocol::V6 => 6,
        }
    }

    /// The block cipher of this format's CBC layer (V4: the MAC cipher).
    pub fn cipher(self) -> &'static super::crypto::KmsCipher {
        match self {
            Protocol::V4 => super::crypto::KmsCipher::v4(),
            Protocol::V5 => super::crypto::KmsCipher::v5(),
            Protocol::V6 => super::crypto::KmsCipher::v6(),
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
