//! DCE/RPC targets: one PDU, and a PDU stream delivered in arbitrary TCP-sized chunks.

use super::{assert_offset_within, with_scratch};
use crate::wire::rpc::{pdu_length, NdrSyntax, Pdu, RequestStub, ResponseStub};

const SYNTAXES: [NdrSyntax; 2] = [NdrSyntax::Ndr32, NdrSyntax::Ndr64];

/// `rpc_pdu`: [`Pdu::parse`] on the input. Accepted ⇒ `encode` gives the input back byte for
/// byte, re-parses equal, and [`pdu_length`] frames exactly the input. Refused ⇒ the error
/// offset lies inside the input. The stub (or the raw input) is also run through the NDR32 and
/// NDR64 request/response stub codecs, which must re-encode byte-exact.
pub fn fuzz_rpc_pdu(data: &[u8]) {
    match Pdu::parse(data) {
        Ok(pdu) => {
            with_scratch(|encoded| {
                pdu.encode_into(encoded);
                assert!(
                    encoded == data,
                    "accepted PDU does not re-encode byte-exact"
                );
                let again = Pdu::parse(encoded).expect("re-encoded PDU must parse");
                assert_eq!(again, pdu, "decode → encode → decode not stable");
            });
            assert_eq!(
                pdu_length(data).ok().flatten(),
                Some(data.len()),
                "pdu_length disagrees with an accepted PDU"
            );
            if let Some(stub) = pdu.stub() {
                check_stubs(stub);
            }
        }
        Err(e) => assert_offset_within(&e, data.len(), "Pdu::parse"),
    }
    check_stubs(data);
}

/// Both stub codecs in both syntaxes: accepted ⇒ exact re-encoding, consistent lengths.
fn check_stubs(stub: &[u8]) {
    for syntax in SYNTAXES {
        match RequestStub::parse(stub, syntax) {
            Ok(s) => {
                with_scratch(|out| {
                    s.encode_into(syntax, out);
                    assert!(out == stub, "{syntax:?} request stub re-encode");
                });
                assert_eq!(s.wire_len(syntax), stub.len(), "request stub wire_len");
                assert_eq!(s.max_count, s.message.len() as u64, "max_count ≠ message");
                if s.validate(syntax).is_ok() {
                    assert!(s.trailing.is_empty(), "validated stub has trailing bytes");
                    assert_eq!(u64::from(s.declared_size), s.max_count);
                }
            }
            Err(e) => assert_offset_within(&e, stub.len(), "RequestStub::parse"),
        }
        match ResponseStub::parse(stub, syntax) {
            Ok(s) => {
                with_scratch(|out| {
                    s.encode_into(syntax, out);
                    assert!(out == stub, "{syntax:?} response stub re-encode");
                });
                if let ResponseStub::Success {
                    max_count, message, ..
                } = s
                {
                    assert_eq!(max_count, message.len() as u64, "max_count ≠ message");
                }
                if s.validate(syntax).is_ok() {
                    // Canonical apart from the referent id (any non-zero one is valid).
                    let rebuilt = match s.message() {
                        Some(m) => {
                            let mut c = ResponseStub::success(m);
                            if let (
                                ResponseStub::Success { referent_id: r, .. },
                                ResponseStub::Success { referent_id, .. },
                            ) = (&mut c, s)
                            {
                                *r = referent_id;
                            }
                            c
                        }
                        None => ResponseStub::error(s.return_value()),
                    };
                    assert_eq!(rebuilt, s, "validated stub is not the canonical one");
                }
            }
            Err(e) => assert_offset_within(&e, stub.len(), "ResponseStub::parse"),
        }
    }
}

/// What a receiver made of a byte stream: each framed PDU (offset, length, whether it
/// parsed), and how the stream ended.
#[derive(Debug, PartialEq, Eq)]
struct Framing {
    /// (offset, length) of every framed PDU.
    pdus: Vec<(usize, usize)>,
    /// Offset of a header `pdu_length` refused (the receiver stops there), if any.
    refused_at: Option<usize>,
    /// Bytes buffered at the end that do not make a whole PDU (0 after a refusal: the
    /// receiver stops reading).
    leftover: usize,
}

/// A receiver as a host runs it: after each chunk arrives, frame every whole PDU buffered;
/// the framed bytes leave the buffer. `received` yields the stream length after each chunk.
/// What such a receiver holds is always `stream[consumed..received]`, so the buffer is that
/// window of the stream rather than a copy (copying it per chunk was most of this target's
/// time and is `HostConnection::feed`'s business, fuzzed by `host_connection`); framing
/// records offsets and lengths, and whether a PDU parses is asked once, by the caller.
fn frame(stream: &[u8], received: impl Iterator<Item = usize>) -> Framing {
    let mut consumed = 0usize;
    let mut out = Framing {
        pdus: Vec::new(),
        refused_at: None,
        leftover: 0,
    };
    let mut end = 0usize;
    for received in received {
        end = received.min(stream.len());
        while let Some(pending) = stream.get(consumed..end) {
            match pdu_length(pending) {
                Ok(None) => break,
                Ok(Some(n)) if n <= pending.len() => {
                    assert!(n >= 16, "pdu_length framed {n} < 16 bytes");
                    out.pdus.push((consumed, n));
                    consumed += n;
                }
                Ok(Some(_)) => break,
                Err(e) => {
                    assert_offset_within(&e, pending.len(), "pdu_length");
                    out.refused_at = Some(consumed);
                    return out;
                }
            }
        }
    }
    out.leftover = end.saturating_sub(consumed);
    out
}

/// `pdu_stream`: the first 4 bytes choose chunk sizes (1–64 bytes, cycled), the rest is the
/// stream a TCP peer sends. Framing it chunk by chunk must give exactly what framing it whole
/// gives (same PDUs, same refusal point, same leftover); the framed PDUs are contiguous and
/// their lengths plus the leftover add up to the stream; every framed PDU's bytes are the
/// stream's at its offset (so it parses as it does alone), and one that parses re-encodes
/// byte-exact. Each PDU is parsed once, not once per framing.
pub fn fuzz_pdu_stream(data: &[u8]) {
    let (sizes, stream) = data.split_at(data.len().min(4));
    let mut next_size = sizes.iter().map(|&b| usize::from(b % 64) + 1).cycle();
    let mut received = 0usize;
    let chunk_ends = std::iter::from_fn(|| {
        if received >= stream.len() {
            return None;
        }
        received = (received + next_size.next().unwrap_or(1)).min(stream.len());
        Some(received)
    });
    let chunked = frame(stream, chunk_ends);
    let whole = frame(stream, std::iter::once(stream.len()));
    assert_eq!(
        chunked, whole,
        "framing depends on how the stream was chunked"
    );

    let mut at = 0usize;
    for &(offset, len) in &whole.pdus {
        assert_eq!(offset, at, "framed PDUs are not contiguous");
        let pdu = stream.get(at..at + len).unwrap_or_default();
        at += len;
        if let Ok(p) = Pdu::parse(pdu) {
            with_scratch(|encoded| {
                p.encode_into(encoded);
                assert!(encoded == pdu, "framed PDU does not re-encode byte-exact");
            });
        }
    }
    match whole.refused_at {
        Some(r) => assert_eq!(r, at, "refusal not at the end of the last framed PDU"),
        None => {
            assert_eq!(at + whole.leftover, stream.len(), "lengths do not add up");
            if let Ok(Some(n)) = pdu_length(stream.get(at..).unwrap_or_default()) {
                assert!(n > whole.leftover, "a whole PDU was left unframed");
            }
        }
    }
}
