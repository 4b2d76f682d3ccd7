//! GUIDs in Microsoft's mixed-endian wire form (Data1 u32 LE, Data2 u16 LE, Data3 u16 LE,
//! Data4 as-is), the form used by DCE/RPC syntaxes and every KMS id.

use uuid::Uuid;

/// Size of a GUID on the wire.
pub const GUID_LEN: usize = 16;

/// Reads a GUID from its 16 wire bytes.
pub fn guid_from_wire(bytes: &[u8; GUID_LEN]) -> Uuid {
    Uuid::from_bytes_le(*bytes)
}

/// Writes a GUID in wire form.
pub fn guid_to_wire(guid: &Uuid) -> [u8; GUID_LEN] {
    guid.to_bytes_le()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_interface_guid_wire_form_matches_spec() {
        let g: Uuid = "51c82175-844e-4750-b0d8-ec255555bc06".parse().unwrap();
        let wire = [
            0x75, 0x21, 0xc8, 0x51, 0x4e, 0x84, 0x50, 0x47, 0xb0, 0xd8, 0xec, 0x25, 0x55, 0x55,
            0xbc, 0x06,
        ];
        assert_eq!(guid_to_wire(&g), wire);
        assert_eq!(guid_from_wire(&wire), g);
    }
}
