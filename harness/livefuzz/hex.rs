//! Lower-case hex text for bytes in saved cases and reports (serde helpers included).

use serde::{Deserialize, Deserializer, Serializer};

/// Bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Hex text (whitespace ignored) to bytes; `Err` names the first bad position.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    let val = |c: u8, at: usize| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("bad hex digit {:?} at {at}", char::from(c))),
        }
    };
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, p)| match p {
            [h, l] => Ok(val(*h, 2 * i)? << 4 | val(*l, 2 * i + 1)?),
            _ => Err("odd number of hex digits".into()),
        })
        .collect()
}

/// `#[serde(with = "hex::bytes")]` for `Vec<u8>`.
pub mod bytes {
    use super::*;

    /// Serializes as hex text.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(v))
    }

    /// Deserializes from hex text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "hex::opt_bytes")]` for `Option<Vec<u8>>`.
pub mod opt_bytes {
    use super::*;

    /// Serializes as hex text or null.
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&encode(b)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes from hex text or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| decode(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_reports_bad_digits() {
        let b = [0u8, 0x7f, 0xff, 0x10];
        assert_eq!(super::encode(&b), "007fff10");
        assert_eq!(super::decode("00 7F ff10").unwrap(), b);
        assert!(super::decode("0g").unwrap_err().contains("at 1"));
        assert!(super::decode("abc").is_err());
    }
}
