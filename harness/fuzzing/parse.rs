//! Parse-only targets: one decoder each, with the cheapest oracle that still fails on a
//! decoder bug — no panic, every error offset inside the input, and an accepted input
//! re-encoded from its decoded fields gives the input back byte for byte. They exist beside
//! the round-trip targets (which also run encoders, verifiers and the crypto of a whole
//! exchange) so that each decoder is fuzzed at hundreds of thousands of inputs a second.

use super::assert_offset_within;
use super::with_scratch;
use crate::capture::{CaptureError, CaptureReader};
use crate::wire::kms::crypto::cbc_encrypt;
use crate::wire::kms::{DecodedRequest, DecodedResponse, Protocol, RequestEnvelope, ResponseBody};
use crate::wire::rpc::Pdu;

/// `rpc_pdu_parse`: [`Pdu::parse`] alone. Accepted ⇒ [`Pdu::encode_into`] writes the input
/// back byte for byte; refused ⇒ the error offset lies inside the input.
pub fn fuzz_rpc_pdu_parse(data: &[u8]) {
    match Pdu::parse(data) {
        Ok(pdu) => with_scratch(|out| {
            pdu.encode_into(out);
            assert!(out == data, "accepted PDU does not re-encode byte-exact");
        }),
        Err(e) => assert_offset_within(&e, data.len(), "Pdu::parse"),
    }
}

/// `kms_request_parse`: [`DecodedRequest::parse`] alone (it decrypts V5/V6). Accepted ⇒ the
/// typed base re-encodes to the decoded base bytes, and the envelope rebuilt from the decoded
/// fields is the input: V4 base ‖ MAC; V5/V6 outer version ‖ IV ‖ CBC-encrypt(base ‖ pad)
/// under the format's cipher. Refused ⇒ the error offset lies inside the input.
pub fn fuzz_kms_request_parse(data: &[u8]) {
    let req = match DecodedRequest::parse(data) {
        Ok(r) => r,
        Err(e) => return assert_offset_within(&e, data.len(), "DecodedRequest::parse"),
    };
    assert!(
        req.base.to_bytes() == req.base_raw,
        "typed base does not re-encode to the decoded base bytes"
    );
    with_scratch(|out| {
        match req.envelope {
            RequestEnvelope::V4 { mac } => {
                out.extend_from_slice(&req.base_raw);
                out.extend_from_slice(&mac);
            }
            RequestEnvelope::Encrypted {
                outer_version,
                iv,
                pad,
                ..
            } => {
                out.extend_from_slice(&outer_version.to_wire());
                out.extend_from_slice(&iv);
                out.extend_from_slice(&req.base_raw);
                out.extend_from_slice(&pad);
                let encrypted = out.get_mut(20..).unwrap_or_default();
                cbc_encrypt(req.protocol.cipher(), &iv, encrypted)
                    .expect("a decrypted request is whole blocks");
            }
        }
        assert!(
            out == data,
            "accepted request does not re-encode byte-exact"
        );
    });
}

/// `kms_response_parse`: [`DecodedResponse::parse`] alone (no request, no verification).
/// Accepted ⇒ `message_len` is the input length, and the message rebuilt from the typed
/// fields is the input: base ‖ MAC ‖ trailing (V4), or outer version ‖ IV ‖ CBC-encrypt(base ‖
/// RandomXor ‖ Hash ‖ [HwId ‖ XoredIVs ‖ HMAC] ‖ trailing ‖ PKCS#7 pad) (V5/V6); the
/// `authenticated` bytes are the rebuilt plaintext's prefix the format says. Refused ⇒ the
/// error offset lies inside the input.
pub fn fuzz_kms_response_parse(data: &[u8]) {
    let resp = match DecodedResponse::parse(data) {
        Ok(r) => r,
        Err(e) => return assert_offset_within(&e, data.len(), "DecodedResponse::parse"),
    };
    assert_eq!(resp.message_len, data.len(), "message_len ≠ input length");
    with_scratch(|out| {
        // The plaintext starts after outer version ‖ IV for V5/V6.
        let start = if resp.protocol == Protocol::V4 { 0 } else { 20 };
        if start == 20 {
            out.extend_from_slice(&resp.outer_version.to_wire());
            out.extend_from_slice(&resp.iv().unwrap_or_default());
        }
        resp.base.encode_into(out);
        let auth_len = match &resp.body {
            ResponseBody::V4 { mac } => {
                let auth = out.len();
                out.extend_from_slice(mac);
                auth
            }
            ResponseBody::V5 {
                random_xor, hash, ..
            } => {
                out.extend_from_slice(random_xor);
                out.extend_from_slice(hash);
                out.len()
            }
            ResponseBody::V6 {
                random_xor,
                hash,
                hwid,
                xored_ivs,
                hmac,
                ..
            } => {
                for part in [&random_xor[..], hash, hwid, xored_ivs] {
                    out.extend_from_slice(part);
                }
                let auth = out.len();
                out.extend_from_slice(hmac);
                auth
            }
        } - start;
        out.extend_from_slice(&resp.trailing);
        assert!(
            out.get(start..start + auth_len) == Some(&resp.authenticated[..]),
            "authenticated bytes are not the decoded fields"
        );
        let pad = match resp.body {
            ResponseBody::V4 { .. } => 0,
            ResponseBody::V5 { pad_len, .. } | ResponseBody::V6 { pad_len, .. } => pad_len,
        };
        if start == 20 {
            assert!((1..=16).contains(&pad), "PKCS#7 pad length {pad}");
            out.resize(out.len() + usize::from(pad), pad);
            let iv = resp.iv().unwrap_or_default();
            let encrypted = out.get_mut(20..).unwrap_or_default();
            cbc_encrypt(resp.protocol.cipher(), &iv, encrypted)
                .expect("a decrypted response is whole blocks");
        }
        assert!(
            out == data,
            "accepted response does not re-encode byte-exact"
        );
    });
}

/// `capture_parse`: the capture file framing alone ([`CaptureReader`], no TCP reassembly).
/// Each packet lies inside the input after the previous one, carries its index in order, and
/// its bytes are the input's at the record's data position (pcap: 16 bytes in, with the
/// record's captured-length field equal to the data length; pcapng packet blocks: 28, or 12
/// for a simple packet block); a failure's offset lies inside the input; no more packets than
/// 16-byte records fit.
pub fn fuzz_capture_parse(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::for_bytes(data) else {
        return;
    };
    // Byte order of the pcap record fields (pcapng blocks are told apart by their type).
    let big = matches!(data.first_chunk::<4>(), Some([0xa1, 0xb2, ..]));
    let pcapng = data.first_chunk::<4>() == Some(&[0x0a, 0x0d, 0x0d, 0x0a]);
    let mut next_offset = 0u64;
    let mut count = 0u64;
    while let Some(next) = reader.next_packet() {
        let pkt = match next {
            Ok(p) => p,
            Err(e) => {
                let offset = match e {
                    CaptureError::Truncated { offset, .. }
                    | CaptureError::Corrupt { offset, .. }
                    | CaptureError::BlockTooLarge { offset, .. }
                    | CaptureError::Io { offset, .. } => offset,
                    CaptureError::NotACapture | CaptureError::BadHeader { .. } => 0,
                };
                assert!(
                    offset <= data.len() as u64,
                    "failure offset {offset} beyond input"
                );
                break;
            }
        };
        assert_eq!(pkt.index, count, "packet index out of order");
        assert!(
            pkt.file_offset >= next_offset,
            "packet at {} overlaps the previous one",
            pkt.file_offset
        );
        let at = usize::try_from(pkt.file_offset).unwrap_or(usize::MAX);
        let data_at = if pcapng {
            match data.get(at..).and_then(<[u8]>::first_chunk::<4>) {
                Some([3, 0, 0, 0] | [0, 0, 0, 3]) => 12,
                _ => 28,
            }
        } else {
            let declared = data
                .get(at.saturating_add(8)..)
                .and_then(<[u8]>::first_chunk::<4>)
                .map(|&w| {
                    if big {
                        u32::from_be_bytes(w)
                    } else {
                        u32::from_le_bytes(w)
                    }
                });
            assert_eq!(
                declared,
                u32::try_from(pkt.data.len()).ok(),
                "pcap record length field ≠ packet data length"
            );
            16
        };
        let start = at.saturating_add(data_at);
        assert!(
            data.get(start..start.saturating_add(pkt.data.len())) == Some(pkt.data),
            "packet {} bytes are not the input's at {start}",
            pkt.index
        );
        next_offset = (start + pkt.data.len()) as u64;
        count += 1;
    }
    assert!(
        count.saturating_mul(16) <= data.len() as u64,
        "too many packets"
    );
}
