//! Bad input never panics or hangs the decoder: every corpus file, bit-flipped and truncated
//! at many places, decodes to `Err` (not a capture) or to records ending with a summary; and a
//! DCE/RPC stream of random bytes on the KMS port yields only error/summary records.

use kmsspec::capture::corpus::{flow_packets, write_pcap, Message, Packetize};
use kmsspec::capture::decode_to_vec;
use kmsspec::capture::link::linktype;
use kmsspec::capture::records::Record;
use kmsspec::rng::SplitMix64 as Rng;

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    kmsspec::capture::corpus::corpus()
        .expect("corpus")
        .into_iter()
        .map(|(n, b)| (n.to_owned(), b))
        .collect()
}

fn check(name: &str, bytes: &[u8]) {
    if let Ok(recs) = decode_to_vec(bytes, name) {
        assert!(
            matches!(recs.last(), Some(Record::Summary(_))),
            "{name}: no summary"
        );
        let summaries = recs
            .iter()
            .filter(|r| matches!(r, Record::Summary(_)))
            .count();
        assert_eq!(summaries, 1, "{name}");
    }
}

#[test]
fn mutated_corpus_never_panics() {
    let mut rng = Rng::new(0xDEC0DE);
    for (name, file) in corpus_files() {
        for round in 0..150 {
            let mut m = file.clone();
            let flips = 1 + (rng.next_u64() % 8) as usize;
            for _ in 0..flips {
                let i = (rng.next_u64() % m.len() as u64) as usize;
                m[i] ^= 1 << (rng.next_u64() % 8);
            }
            if round % 3 == 0 {
                let cut = (rng.next_u64() % m.len() as u64) as usize;
                m.truncate(cut);
            }
            check(&format!("{name}#{round}"), &m);
        }
    }
}

#[test]
fn random_bytes_on_the_kms_port_are_errors_not_exchanges() {
    let mut rng = Rng::new(7);
    for round in 0..50 {
        let mut msgs = Vec::new();
        for k in 0..4 {
            let len = 1 + (rng.next_u64() % 700) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if round % 2 == 0 {
                // A plausible header start, so the framer waits for/len-checks garbage.
                bytes.splice(0..0, [5, 0, 0, 3, 0x10, 0, 0, 0]);
            }
            msgs.push(Message {
                from_client: k % 2 == 0,
                bytes,
            });
        }
        let segs = flow_packets(
            "10.1.1.1:50000".parse().unwrap(),
            "10.1.1.2:1688".parse().unwrap(),
            &msgs,
            Packetize {
                mss: 1 + (rng.next_u64() % 300) as usize,
                ..Packetize::default()
            },
        );
        let file = write_pcap(&segs, linktype::ETHERNET, false, 0).unwrap();
        let recs = decode_to_vec(&file, "random").expect("valid pcap");
        for r in &recs {
            if let Record::Exchange(x) = r {
                assert!(
                    x.request.is_none(),
                    "random bytes decoded as a KMS request: {x:?}"
                );
            }
        }
        assert!(matches!(recs.last(), Some(Record::Summary(_))));
    }
}
