//! Presentation syntax identifiers (interface and transfer syntaxes, spec §1.7): a GUID in
//! mixed-endian wire form followed by a u32 version (for the interface: u16 major, u16 minor).

use crate::wire::guid::{guid_from_wire, guid_to_wire, GUID_LEN};
use uuid::Uuid;

/// Wire size of a syntax identifier.
pub const SYNTAX_ID_LEN: usize = GUID_LEN + 4;

/// An abstract or transfer syntax: UUID and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyntaxId {
    /// The syntax GUID.
    pub uuid: Uuid,
    /// The version as one u32 LE (for an interface: major in the low 16 bits, minor high).
    pub version: u32,
}

impl SyntaxId {
    /// A syntax from its parts.
    pub const fn new(uuid: Uuid, version: u32) -> Self {
        Self { uuid, version }
    }

    /// An interface syntax from major/minor version.
    pub const fn interface(uuid: Uuid, major: u16, minor: u16) -> Self {
        Self {
            uuid,
            version: (major as u32) | ((minor as u32) << 16),
        }
    }

    /// The nil syntax (nil UUID, version 0) carried by rejected and negotiate_ack results.
    pub const NIL: Self = Self::new(Uuid::nil(), 0);

    /// Interface major version (low 16 bits of `version`).
    pub fn major(&self) -> u16 {
        (self.version & 0xFFFF) as u16
    }

    /// Interface minor version (high 16 bits of `version`).
    pub fn minor(&self) -> u16 {
        (self.version >> 16) as u16
    }

    /// Decodes the 20 wire bytes.
    #[inline]
    pub fn from_wire(bytes: &[u8; SYNTAX_ID_LEN]) -> Self {
        let mut g = [0u8; GUID_LEN];
        g.copy_from_slice(&bytes[..GUID_LEN]);
        let mut v = [0u8; 4];
        v.copy_from_slice(&bytes[GUID_LEN..]);
        Self {
            uuid: guid_from_wire(&g),
            version: u32::from_le_bytes(v),
        }
    }

    /// The 20 wire bytes.
    pub fn to_wire(&self) -> [u8; SYNTAX_ID_LEN] {
        let mut out = [0u8; SYNTAX_ID_LEN];
        out[..GUID_LEN].copy_from_slice(&guid_to_wire(&self.uuid));
        out[GUID_LEN..].copy_from_slice(&self.version.to_le_bytes());
        out
    }

    /// What kind of transfer syntax this is (by UUID; the version is not judged).
    pub fn kind(&self) -> TransferSyntaxKind {
        TransferSyntaxKind::of(&self.uuid)
    }
}

/// The KMS interface UUID `51c82175-844e-4750-b0d8-ec255555bc06`.
pub const KMS_INTERFACE_UUID: Uuid = Uuid::from_u128(0x51c82175_844e_4750_b0d8_ec255555bc06);
/// NDR (32-bit) transfer syntax UUID `8a885d04-1ceb-11c9-9fe8-08002b104860`.
pub const NDR32_UUID: Uuid = Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860);
/// NDR64 transfer syntax UUID `71710533-beba-4937-8319-b5dbef9ccc36`.
pub const NDR64_UUID: Uuid = Uuid::from_u128(0x71710533_beba_4937_8319_b5dbef9ccc36);

/// The KMS interface, version 1.0.
pub const KMS_INTERFACE: SyntaxId = SyntaxId::interface(KMS_INTERFACE_UUID, 1, 0);
/// NDR32 transfer syntax, version 2.
pub const NDR32: SyntaxId = SyntaxId::new(NDR32_UUID, 2);
/// NDR64 transfer syntax, version 1.
pub const NDR64: SyntaxId = SyntaxId::new(NDR64_UUID, 1);

/// First 8 wire bytes of every bind-time feature negotiation pseudo-syntax
/// (`6cb71c2c-9812-4540-…`).
pub const BTFN_WIRE_PREFIX: [u8; 8] = [0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45];

/// BTFN feature bit: security-context multiplexing.
pub const BTFN_SECURITY_CONTEXT_MULTIPLEXING: u16 = 0x0001;
/// BTFN feature bit: keep connection on orphan.
pub const BTFN_KEEP_CONNECTION_ON_ORPHAN: u16 = 0x0002;

/// The BTFN pseudo transfer syntax proposing `features` (wire bytes 8–9, u16 LE), version 1.
pub fn btfn(features: u16) -> SyntaxId {
    let mut wire = [0u8; GUID_LEN];
    wire[..8].copy_from_slice(&BTFN_WIRE_PREFIX);
    wire[8..10].copy_from_slice(&features.to_le_bytes());
    SyntaxId::new(guid_from_wire(&wire), 1)
}

/// Classification of a transfer syntax UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferSyntaxKind {
    /// NDR (32-bit).
    Ndr32,
    /// NDR64.
    Ndr64,
    /// Bind-time feature negotiation, with the proposed feature bitmask.
    Btfn {
        /// Wire bytes 8–9 as u16 LE.
        features: u16,
    },
    /// Anything else (including the nil UUID).
    Other,
}

impl TransferSyntaxKind {
    /// Classifies a transfer syntax UUID. BTFN is recognised by its 8-byte prefix alone (as
    /// the servers do); bytes 10–15 are not judged.
    pub fn of(uuid: &Uuid) -> Self {
        if *uuid == NDR32_UUID {
            return Self::Ndr32;
        }
        if *uuid == NDR64_UUID {
            return Self::Ndr64;
        }
        let wire = guid_to_wire(uuid);
        if wire[..8] == BTFN_WIRE_PREFIX {
            return Self::Btfn {
                features: u16::from_le_bytes([wire[8], wire[9]]),
            };
        }
        Self::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_match_spec_table() {
        assert_eq!(
            hex::encode(KMS_INTERFACE.to_wire()),
            "7521c8514e845047b0d8ec255555bc0601000000"
        );
        assert_eq!(
            hex::encode(NDR32.to_wire()),
            "045d888aeb1cc9119fe808002b10486002000000"
        );
        assert_eq!(
            hex::encode(NDR64.to_wire()),
            "33057171babe37498319b5dbef9ccc3601000000"
        );
        assert_eq!(
            hex::encode(btfn(3).to_wire()),
            "2c1cb76c12984045030000000000000001000000"
        );
        assert_eq!(
            btfn(3).uuid.to_string(),
            "6cb71c2c-9812-4540-0300-000000000000"
        );
    }

    #[test]
    fn classifier() {
        assert_eq!(NDR32.kind(), TransferSyntaxKind::Ndr32);
        assert_eq!(NDR64.kind(), TransferSyntaxKind::Ndr64);
        assert_eq!(btfn(1).kind(), TransferSyntaxKind::Btfn { features: 1 });
        assert_eq!(KMS_INTERFACE.kind(), TransferSyntaxKind::Other);
        assert_eq!(SyntaxId::NIL.kind(), TransferSyntaxKind::Other);
        assert_eq!((KMS_INTERFACE.major(), KMS_INTERFACE.minor()), (1, 0));
    }
}
