//! The 16-byte common header of every connection-oriented DCE/RPC PDU (spec §1.2–§1.5).

use crate::wire::{WireError, WireResult};

/// Length of the common header.
pub const HEADER_LEN: usize = 16;

/// The only RPC major version there is for connection-oriented RPC.
pub const RPC_VERS: u8 = 5;

/// PDU types (spec §1.3). Connectionless-only types are named too so a checker can report
/// them precisely; any other value is kept in `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PduType {
    /// 0: a call.
    Request,
    /// 1: connectionless ping.
    Ping,
    /// 2: a call's reply.
    Response,
    /// 3: a call failed in the runtime.
    Fault,
    /// 4: connectionless working.
    Working,
    /// 5: connectionless nocall.
    Nocall,
    /// 6: connectionless reject.
    Reject,
    /// 7: connectionless ack.
    Ack,
    /// 8: connectionless cancel.
    ClCancel,
    /// 9: connectionless fack.
    Fack,
    /// 10: connectionless cancel ack.
    CancelAck,
    /// 11: presentation-context negotiation.
    Bind,
    /// 12: bind accepted (per-context results inside).
    BindAck,
    /// 13: bind refused as a whole.
    BindNak,
    /// 14: further context negotiation on a bound association.
    AlterContext,
    /// 15: reply to alter_context.
    AlterContextResp,
    /// 17: connection-oriented shutdown.
    Shutdown,
    /// 18: connection-oriented cancel.
    CoCancel,
    /// 19: orphaned call.
    Orphaned,
    /// Any other value, kept raw.
    Unknown(u8),
}

impl PduType {
    /// Maps the wire byte to a type (never fails; unknown values are kept).
    #[inline]
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Request,
            1 => Self::Ping,
            2 => Self::Response,
            3 => Self::Fault,
            4 => Self::Working,
            5 => Self::Nocall,
            6 => Self::Reject,
            7 => Self::Ack,
            8 => Self::ClCancel,
            9 => Self::Fack,
            10 => Self::CancelAck,
            11 => Self::Bind,
            12 => Self::BindAck,
            13 => Self::BindNak,
            14 => Self::AlterContext,
            15 => Self::AlterContextResp,
            17 => Self::Shutdown,
            18 => Self::CoCancel,
            19 => Self::Orphaned,
            other => Self::Unknown(other),
        }
    }

    /// The wire byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Request => 0,
            Self::Ping => 1,
            Self::Response => 2,
            Self::Fault => 3,
            Self::Working => 4,
            Self::Nocall => 5,
            Self::Reject => 6,
            Self::Ack => 7,
            Self::ClCancel => 8,
            Self::Fack => 9,
            Self::CancelAck => 10,
            Self::Bind => 11,
            Self::BindAck => 12,
            Self::BindNak => 13,
            Self::AlterContext => 14,
            Self::AlterContextResp => 15,
            Self::Shutdown => 17,
            Self::CoCancel => 18,
            Self::Orphaned => 19,
            Self::Unknown(v) => v,
        }
    }

    /// True for the eight types [`super::Pdu`] decodes (the ones KMS traffic uses).
    #[inline]
    pub fn is_decoded(self) -> bool {
        matches!(
            self,
            Self::Request
                | Self::Response
                | Self::Fault
                | Self::Bind
                | Self::BindAck
                | Self::BindNak
                | Self::AlterContext
                | Self::AlterContextResp
        )
    }
}

/// `pfc_flags` (spec §1.4): a bit set kept as its raw byte so unknown combinations survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PfcFlags(pub u8);

impl PfcFlags {
    /// First fragment of a call.
    pub const FIRST_FRAG: Self = Self(0x01);
    /// Last fragment of a call.
    pub const LAST_FRAG: Self = Self(0x02);
    /// A cancel was pending at the sender.
    pub const PENDING_CANCEL: Self = Self(0x04);
    /// Reserved bit 0x08.
    pub const RESERVED_08: Self = Self(0x08);
    /// Concurrent multiplexing supported ("multiplex" in the KMS emulators).
    pub const CONC_MPX: Self = Self(0x10);
    /// On fault: the call did not execute.
    pub const DID_NOT_EXECUTE: Self = Self(0x20);
    /// `maybe` call semantics.
    pub const MAYBE: Self = Self(0x40);
    /// A 16-byte object UUID follows the request header fields.
    pub const OBJECT_UUID: Self = Self(0x80);
    /// FIRST_FRAG | LAST_FRAG: a single-fragment PDU.
    pub const SINGLE: Self = Self(0x03);

    /// The raw byte.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// True if every bit of `other` is set.
    #[inline]
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags with `other`'s bits added.
    #[must_use]
    pub fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// These flags with `other`'s bits cleared.
    #[must_use]
    pub fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl std::ops::BitOr for PfcFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

/// `packed_drep` (spec §1.5): the 4 data-representation bytes, kept raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataRep(pub [u8; 4]);

impl DataRep {
    /// `10 00 00 00`: little-endian integers, ASCII, IEEE floats — what every KMS peer sends.
    pub const LITTLE_ENDIAN: Self = Self([0x10, 0, 0, 0]);

    /// True when integers are little-endian (high nibble of byte 0 is 1).
    #[inline]
    pub fn is_little_endian(self) -> bool {
        self.0[0] >> 4 == 1
    }
}

impl Default for DataRep {
    fn default() -> Self {
        Self::LITTLE_ENDIAN
    }
}

/// The common header as it appears on the wire, every field kept (nothing validated by
/// [`Header::read`]; [`Header::parse`] validates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Major version (5).
    pub rpc_vers: u8,
    /// Minor version (0; 1 is also valid DCE/RPC).
    pub rpc_vers_minor: u8,
    /// PDU type.
    pub ptype: PduType,
    /// Flags.
    pub pfc_flags: PfcFlags,
    /// Data representation label.
    pub drep: DataRep,
    /// Total PDU length including this header.
    pub frag_length: u16,
    /// Length of the authentication value (KMS uses none).
    pub auth_length: u16,
    /// Call identifier.
    pub call_id: u32,
}

impl Header {
    /// Reads the 16 header bytes without judging them, for checkers that must see a lying or
    /// odd header. Refuses only when fewer than 16 bytes are present.
    #[inline]
    pub fn read(bytes: &[u8]) -> WireResult<Self> {
        let h: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| WireError::truncated("rpc.header", 0, HEADER_LEN, bytes.len()))?;
        Ok(Self {
            rpc_vers: h[0],
            rpc_vers_minor: h[1],
            ptype: PduType::from_u8(h[2]),
            pfc_flags: PfcFlags(h[3]),
            drep: DataRep([h[4], h[5], h[6], h[7]]),
            frag_length: u16::from_le_bytes([h[8], h[9]]),
            auth_length: u16::from_le_bytes([h[10], h[11]]),
            call_id: u32::from_le_bytes([h[12], h[13], h[14], h[15]]),
        })
    }

    /// Reads and validates the header: version 5.0/5.1, little-endian drep (big-endian is
    /// refused as `Unsupported` on `rpc.header.drep`), `frag_length` ≥ 16.
    pub fn parse(bytes: &[u8]) -> WireResult<Self> {
        let h = Self::read(bytes)?;
        h.validate()?;
        Ok(h)
    }

    /// The structural checks of [`Header::parse`], usable on a header from [`Header::read`].
    #[inline]
    pub fn validate(&self) -> WireResult<()> {
        if self.rpc_vers != RPC_VERS {
            return Err(WireError::invalid(
                "rpc.header.rpc_vers",
                0,
                self.rpc_vers.into(),
            ));
        }
        if self.rpc_vers_minor > 1 {
            return Err(WireError::invalid(
                "rpc.header.rpc_vers_minor",
                1,
                self.rpc_vers_minor.into(),
            ));
        }
        if !self.drep.is_little_endian() {
            return Err(WireError::unsupported("rpc.header.drep", 4));
        }
        if usize::from(self.frag_length) < HEADER_LEN {
            return Err(WireError::invalid(
                "rpc.header.frag_length",
                8,
                self.frag_length.into(),
            ));
        }
        Ok(())
    }

    /// The 16 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = self.rpc_vers;
        out[1] = self.rpc_vers_minor;
        out[2] = self.ptype.to_u8();
        out[3] = self.pfc_flags.0;
        out[4..8].copy_from_slice(&self.drep.0);
        out[8..10].copy_from_slice(&self.frag_length.to_le_bytes());
        out[10..12].copy_from_slice(&self.auth_length.to_le_bytes());
        out[12..16].copy_from_slice(&self.call_id.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_section7_request_header() {
        let bytes = hex::decode("0500000310000000240100000200000000").unwrap();
        let h = Header::parse(&bytes).unwrap();
        assert_eq!(h.ptype, PduType::Request);
        assert_eq!(h.pfc_flags, PfcFlags::FIRST_FRAG | PfcFlags::LAST_FRAG);
        assert!(h.drep.is_little_endian());
        assert_eq!(h.frag_length, 292);
        assert_eq!(h.auth_length, 0);
        assert_eq!(h.call_id, 2);
        assert_eq!(h.encode()[..], bytes[..16]);
    }

    #[test]
    fn big_endian_drep_is_unsupported() {
        let bytes = hex::decode("05000b00000000004800000009000000").unwrap();
        let e = Header::parse(&bytes).unwrap_err();
        assert_eq!(e.field, "rpc.header.drep");
        assert_eq!(e.kind, crate::wire::WireErrorKind::Unsupported);
        // read() still shows the raw fields.
        assert_eq!(Header::read(&bytes).unwrap().drep, DataRep([0; 4]));
    }

    #[test]
    fn ptype_roundtrips_every_byte() {
        for b in 0..=255u8 {
            assert_eq!(PduType::from_u8(b).to_u8(), b);
        }
        assert_eq!(PduType::from_u8(16), PduType::Unknown(16));
    }
}
