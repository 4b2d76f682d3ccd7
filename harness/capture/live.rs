//! Decoding a live connection as `kmsspec decode` decodes a captured one. `kmsspec serve`
//! logs what it serves, and `kmsspec run` shows the decoded form of every PDU of a case, with
//! the same records (binds, exchanges with every response check, faults, errors) as a capture
//! of the same bytes would give. The bytes of each direction are handed over in order, as
//! they were written or read; [`LiveDecoder`] feeds them to the capture [`Decoder`] as the
//! reassembly events of one connection.

use std::net::SocketAddr;

use super::decode::Decoder;
use super::reassembly::{CloseReason, Direction, Event};
use super::records::Record;

/// The connection id the single live connection has inside its decoder.
const CONN: u64 = 1;

/// One live connection's decoder: client and server bytes in, decode records out.
pub struct LiveDecoder {
    dec: Decoder,
    /// Stream offset reached in each direction (to server, to client).
    offsets: [u64; 2],
    /// Number of the next chunk of bytes, used as the records' "packet" index.
    chunk: u64,
    closed: bool,
}

impl LiveDecoder {
    /// A decoder for the connection from `client` to `server`; `name` stands where a capture
    /// decoder puts the file name (records carry it).
    pub fn new(name: &str, client: SocketAddr, server: SocketAddr) -> Self {
        let mut dec = Decoder::new(name, server.port()).keep_raw(false);
        dec.event(
            Event::Opened {
                conn: CONN,
                client,
                server,
                client_guessed: false,
                packet_index: 0,
                timestamp_ns: 0,
            },
            &mut |_| {},
        );
        LiveDecoder {
            dec,
            offsets: [0; 2],
            chunk: 1,
            closed: false,
        }
    }

    /// The number the next chunk of bytes will have, counting from 1 in both directions
    /// (records name the chunk that completed a PDU as their `request_packet` /
    /// `response_packet`).
    pub fn next_chunk(&self) -> u64 {
        self.chunk
    }

    /// Bytes the client sent, in order; every record they complete goes to `emit`.
    pub fn client_bytes<F: FnMut(&Record)>(&mut self, bytes: &[u8], emit: &mut F) {
        self.data(Direction::ToServer, bytes, emit);
    }

    /// Bytes the server sent, in order; every record they complete goes to `emit`.
    pub fn server_bytes<F: FnMut(&Record)>(&mut self, bytes: &[u8], emit: &mut F) {
        self.data(Direction::ToClient, bytes, emit);
    }

    fn data<F: FnMut(&Record)>(&mut self, dir: Direction, bytes: &[u8], emit: &mut F) {
        let index = self.chunk;
        self.chunk += 1;
        if self.closed || bytes.is_empty() {
            return;
        }
        let slot = match dir {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        let offset = self.offsets[slot];
        self.offsets[slot] += bytes.len() as u64;
        self.dec.event(
            Event::Data {
                conn: CONN,
                dir,
                offset,
                bytes,
                packet_index: index,
                timestamp_ns: 0,
            },
            emit,
        );
    }

    /// The connection ended: what is still pending (a request without answer, a PDU cut
    /// short) is emitted. Idempotent.
    pub fn close<F: FnMut(&Record)>(&mut self, emit: &mut F) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.dec.event(
            Event::Closed {
                conn: CONN,
                reason: CloseReason::Fin,
                packet_index: self.chunk,
            },
            emit,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{bind_pdu, context_element, EncodedRequest, RequestSpec, SplitMix64};
    use crate::host::{HostClock, HostConnection, HostState};
    use crate::model::HostConfig;
    use crate::wire::rpc::{NdrSyntax, PfcFlags};
    use crate::wire::FileTime;

    #[test]
    fn a_live_exchange_decodes_as_a_captured_one() {
        let mut state = HostState::new(
            HostConfig::default(),
            HostClock::System { offset_secs: 0 },
            7,
            None,
        )
        .unwrap();
        let mut host = HostConnection::new(1688);
        let mut rng = SplitMix64::new(3);
        let client: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:1688".parse().unwrap();
        let mut live = LiveDecoder::new("live", client, server);
        let mut records = Vec::new();
        let mut emit = |r: &Record| records.push(r.clone());

        let bind = bind_pdu(
            1,
            vec![context_element("ndr32", 0).unwrap()],
            PfcFlags::SINGLE,
            false,
        );
        let mut out = Vec::new();
        host.feed(&mut state, &bind, &mut out);
        live.client_bytes(&bind, &mut emit);
        live.server_bytes(&out, &mut emit);

        let now = FileTime::from_utc(time::OffsetDateTime::now_utc());
        let spec =
            RequestSpec::for_product("Windows Server 2019 Datacenter", rng.uuid(), now).unwrap();
        let req = EncodedRequest::build(&spec, &mut rng, NdrSyntax::Ndr32, 2, 0, 0).unwrap();
        out.clear();
        host.feed(&mut state, &req.pdu, &mut out);
        // The request arrives in two pieces, as TCP may deliver it.
        let (a, b) = req.pdu.split_at(10);
        live.client_bytes(a, &mut emit);
        live.client_bytes(b, &mut emit);
        live.server_bytes(&out, &mut emit);
        live.close(&mut emit);
        live.close(&mut emit);

        assert!(matches!(&records[0], Record::Bind(b) if b.kms && b.answer == "ack"));
        let Record::Exchange(x) = &records[1] else {
            panic!("{records:?}")
        };
        assert_eq!(x.call_id, 2);
        assert!(x.failed.is_empty(), "{:?}", x.failed);
        assert!(x.checks.len() > 5);
        // The chunk that completed each PDU, counted from 1: bind, ack, then the second
        // request piece (4) and the answer (5).
        assert_eq!((x.request_packet, x.response_packet), (Some(4), Some(5)));
        assert_eq!(live.next_chunk(), 6);
        assert_eq!(records.len(), 2, "{records:?}");
        let text = super::super::text::record_text(&records[1]);
        assert!(text.starts_with("exchange 127.0.0.1:50000 -> 127.0.0.1:1688 call 2"));
    }
}
