//! `host_connection`: the embedded reference host's connection handler fed hostile bytes in
//! arbitrary chunks, then asked to serve a well-formed client on a new connection.

use crate::client::SplitMix64;
use crate::client::{bind_pdu, classify_pdu, context_element, Answer, EncodedRequest, RequestSpec};
use crate::host::{Disposition, HostClock, HostConnection, HostState};
use crate::model::{HostConfig, Timestamp};
use crate::wire::kms::{verify_parsed_failures, DecodedRequest, DecodedResponse, ProtocolVersion};
use crate::wire::rpc::{pdu_length, NdrSyntax, PfcFlags};
use std::sync::OnceLock;

/// Fixed host clock (2024-01-01): the handler must not depend on wall time.
const NOW: Timestamp = Timestamp(1_704_067_200);

/// Input: byte 0 picks the chunking (1..=64 bytes per `feed`), the rest is what a hostile peer
/// sends. Properties: the handler never panics; its output is bounded by its input (no
/// amplification beyond one reply per PDU), is a sequence of whole PDUs, and stops after it
/// says `Close`; and afterwards the same host state still answers a well-formed bind and V6
/// request on a new connection with a bind_ack and a response that passes every check.
pub fn fuzz_host_connection(data: &[u8]) {
    let Some((&chunk_byte, hostile)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk_byte % 64) + 1;
    let mut state = HostState::new(HostConfig::default(), HostClock::Fixed(NOW), 1, None)
        .expect("default host config is valid");

    let mut conn = HostConnection::new(1688);
    let mut out = Vec::new();
    let mut closed = false;
    for piece in hostile.chunks(chunk) {
        let before = out.len();
        let disposition = conn.feed(&mut state, piece, &mut out);
        if closed {
            assert_eq!(out.len(), before, "bytes sent after the handler closed");
        }
        closed |= disposition == Disposition::Close;
    }
    assert!(
        out.len() <= 4 * hostile.len() + 512,
        "{} reply bytes for {} input bytes",
        out.len(),
        hostile.len()
    );
    assert!(
        conn.buffered() <= hostile.len(),
        "buffered more than was received"
    );
    assert_whole_pdus(&out);

    // The host still serves a genuine client.
    let mut fresh = HostConnection::new(1688);
    let (wire, decoded) = genuine_client(chunk_byte);
    let mut replies = Vec::new();
    let disposition = fresh.feed(&mut state, wire, &mut replies);
    assert_eq!(
        disposition,
        Disposition::Open,
        "host closed a well-formed association"
    );
    let pdus = assert_whole_pdus(&replies);
    assert_eq!(pdus.len(), 2, "bind + request must give two replies");
    assert!(
        matches!(
            classify_pdu(pdus[0].to_vec(), NdrSyntax::Ndr32),
            Answer::BindAck { .. }
        ),
        "bind not acknowledged"
    );
    match classify_pdu(pdus[1].to_vec(), NdrSyntax::Ndr32) {
        Answer::Success { message, .. } => {
            // `verify_response` without the texts of passed checks (not the property).
            let parsed = DecodedResponse::parse(&message);
            let v = verify_parsed_failures(decoded, parsed.as_ref().map_err(|e| *e));
            assert!(
                v.all_passed(),
                "reference answer fails: {:?}",
                v.failures().next()
            );
        }
        other => panic!("well-formed request answered with {}", other.summary()),
    }
}

/// The genuine client of seed `seed`: bind + V6 request PDU bytes and the decoded request.
/// Built once per seed (encoding a request is not the property under test here).
fn genuine_client(seed: u8) -> (&'static [u8], &'static DecodedRequest) {
    static CLIENTS: [OnceLock<(Vec<u8>, DecodedRequest)>; 256] = [const { OnceLock::new() }; 256];
    let (wire, decoded) = CLIENTS[usize::from(seed)].get_or_init(|| {
        let mut rng = SplitMix64::new(u64::from(seed));
        let ctx = context_element("ndr32", 0).expect("ndr32 context");
        let mut wire = bind_pdu(2, vec![ctx], PfcFlags::SINGLE, false);
        let mut spec = RequestSpec::for_product(
            "Windows Server 2019 Datacenter",
            rng.uuid(),
            NOW.to_filetime(),
        )
        .expect("catalog product");
        spec.version = ProtocolVersion::V6;
        let request = EncodedRequest::build(&spec, &mut rng, NdrSyntax::Ndr32, 3, 0, 0)
            .expect("well-formed request builds");
        wire.extend_from_slice(&request.pdu);
        (wire, request.decoded().expect("own request decodes"))
    });
    (wire, decoded)
}

/// Splits the handler's output into PDUs; every reply must be whole and well framed.
fn assert_whole_pdus(out: &[u8]) -> Vec<&[u8]> {
    let mut pdus = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let len = match pdu_length(rest) {
            Ok(Some(n)) if n <= rest.len() => n,
            other => panic!("handler output is not whole PDUs: {other:?}"),
        };
        let (pdu, tail) = rest.split_at(len);
        pdus.push(pdu);
        rest = tail;
    }
    pdus
}
