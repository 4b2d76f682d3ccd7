//! Byte-level mutations of an encoded request (`mutate:` in a request step), applied layer by
//! layer from the inside out — `plain` (re-encrypted, so MACs and padding stay valid), `kms`,
//! `stub`, `pdu` — with the enclosing lengths fixed up unless `keep_lengths`.

use super::case::Mutation;
use crate::client::{request_pdu, request_stub, seal, EncodedRequest};
use crate::wire::kms::ProtocolVersion;
use crate::wire::rpc::PfcFlags;

/// The layers of a request after mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutated {
    /// The KMS message sent.
    pub kms: Vec<u8>,
    /// The NDR stub sent.
    pub stub: Vec<u8>,
    /// The PDU bytes (single fragment).
    pub pdu: Vec<u8>,
    /// Whether any mutation touched the request.
    pub changed: bool,
}

/// Decodes hex text (whitespace and `:` allowed).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("hex {text:?} has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).map_err(|_| format!("bad hex in {text:?}"))?;
            u8::from_str_radix(s, 16).map_err(|_| format!("bad hex {s:?} in {text:?}"))
        })
        .collect()
}

/// Applies one mutation to a buffer.
pub fn apply_one(buf: &mut Vec<u8>, m: &Mutation) -> Result<(), String> {
    let len = buf.len() as i64;
    let at = if m.offset < 0 {
        len + m.offset
    } else {
        m.offset
    };
    if at < 0 || at > len {
        return Err(format!(
            "offset {} outside the {}-byte {} scope",
            m.offset, len, m.scope
        ));
    }
    let at = at as usize;
    if let Some(set) = &m.set {
        let bytes = parse_hex(set)?;
        let end = at + bytes.len();
        if end > buf.len() {
            buf.resize(end, 0);
        }
        if let Some(dst) = buf.get_mut(at..end) {
            dst.copy_from_slice(&bytes);
        }
    }
    if let Some(x) = &m.xor {
        let mask = parse_hex(x)?;
        for (i, b) in mask.iter().enumerate() {
            match buf.get_mut(at + i) {
                Some(v) => *v ^= b,
                None => return Err(format!("xor past the end of the {} scope", m.scope)),
            }
        }
    }
    if let Some(t) = m.truncate {
        buf.truncate(t);
    }
    if let Some(e) = &m.extend {
        buf.extend_from_slice(&parse_hex(e)?);
    }
    Ok(())
}

/// Applies `muts` to `enc` (whose plaintext was sealed with `version`).
pub fn apply(
    enc: &EncodedRequest,
    version: ProtocolVersion,
    muts: &[Mutation],
) -> Result<Mutated, String> {
    for m in muts {
        if !matches!(m.scope.as_str(), "plain" | "kms" | "stub" | "pdu") {
            return Err(format!("unknown mutation scope {:?}", m.scope));
        }
    }
    let keep = muts.iter().any(|m| m.keep_lengths);
    let of = |scope: &'static str| muts.iter().filter(move |m| m.scope == scope);
    let mut kms = if of("plain").next().is_some() {
        let mut plain = enc.plain.clone();
        for m in of("plain") {
            apply_one(&mut plain, m)?;
        }
        seal(&plain, version, &enc.iv)
    } else {
        enc.kms.clone()
    };
    for m in of("kms") {
        apply_one(&mut kms, m)?;
    }
    let mut stub = if kms != enc.kms {
        request_stub(&kms, enc.ndr, keep.then_some(enc.kms.len() as u32))
    } else {
        enc.stub.clone()
    };
    for m in of("stub") {
        apply_one(&mut stub, m)?;
    }
    let mut pdu = if stub != enc.stub {
        request_pdu(
            enc.call_id,
            enc.p_cont_id,
            enc.opnum,
            &stub,
            PfcFlags::SINGLE,
            keep.then_some(enc.stub.len() as u32),
            keep.then_some(enc.pdu.len() as u16),
        )
    } else {
        enc.pdu.clone()
    };
    let before = pdu.len();
    for m in of("pdu") {
        apply_one(&mut pdu, m)?;
    }
    if pdu.len() != before && !keep {
        let fl = (pdu.len().min(usize::from(u16::MAX)) as u16).to_le_bytes();
        if let Some(slot) = pdu.get_mut(8..10) {
            slot.copy_from_slice(&fl);
        }
    }
    let changed = pdu != enc.pdu;
    Ok(Mutated {
        kms,
        stub,
        pdu,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{RequestSpec, SplitMix64};
    use crate::wire::rpc::{NdrSyntax, Pdu};
    use crate::wire::FileTime;

    fn m(scope: &str) -> Mutation {
        Mutation {
            scope: scope.into(),
            offset: 0,
            set: None,
            xor: None,
            truncate: None,
            extend: None,
            keep_lengths: false,
        }
    }

    fn enc() -> (EncodedRequest, ProtocolVersion) {
        let mut rng = SplitMix64::new(3);
        let spec = RequestSpec::for_product("Windows 10 Enterprise", rng.uuid(), FileTime(1 << 56))
            .unwrap();
        (
            EncodedRequest::build(&spec, &mut rng, NdrSyntax::Ndr32, 2, 0, 0).unwrap(),
            spec.version,
        )
    }

    #[test]
    fn kms_truncation_fixes_lengths_unless_kept() {
        let (e, v) = enc();
        let mut t = m("kms");
        t.truncate = Some(100);
        let out = apply(&e, v, std::slice::from_ref(&t)).unwrap();
        assert_eq!(out.kms.len(), 100);
        assert!(Pdu::parse(&out.pdu).is_ok(), "lengths fixed up");
        t.keep_lengths = true;
        let out = apply(&e, v, &[t]).unwrap();
        assert!(Pdu::parse(&out.pdu).is_err(), "frag_length now lies");
    }

    #[test]
    fn plain_mutation_keeps_the_message_decodable() {
        let (e, v) = enc();
        let mut x = m("plain");
        x.offset = 12; // inside the application id
        x.xor = Some("ff".into());
        let out = apply(&e, v, &[x]).unwrap();
        assert!(out.changed);
        let d = crate::wire::kms::DecodedRequest::parse(&out.kms).unwrap();
        assert_ne!(d.base_raw.to_vec(), e.plain[..236].to_vec());
        assert!(parse_hex("zz").is_err());
        assert_eq!(parse_hex("01 02:0a").unwrap(), vec![1, 2, 10]);
    }
}
