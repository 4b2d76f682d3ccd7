//! Read + reassemble throughput on a ~50 MB in-memory pcap of many interleaved connections.

use divan::counter::BytesCount;
use kmsspec::capture::read_capture;
use kmsspec::capture::reassembly::{Event, FlowConfig};
use kmsspec::capture::writer::{PcapWriter, TcpSession};

fn main() {
    divan::main();
}

/// ~50 MB: 64 interleaved connections, 1400-byte segments both ways.
fn big_capture() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::with_capacity(52 << 20), 1, false, false).expect("header");
    let mut sessions: Vec<TcpSession> = (0..64u16)
        .map(|i| {
            let client = format!("10.0.{}.{}:{}", i / 200, i % 200 + 1, 40_000 + i)
                .parse()
                .expect("addr");
            TcpSession::new(
                client,
                "10.9.9.9:1688".parse().expect("addr"),
                u32::from(i) * 7919,
                5,
            )
        })
        .collect();
    let payload = vec![0x5au8; 1400];
    let mut ts = 0u64;
    for s in sessions.iter_mut() {
        for seg in s.handshake() {
            w.packet(ts, &seg.ethernet_frame(0)).expect("write");
            ts += 1000;
        }
    }
    let mut n = 0u32;
    while n < 35_000 {
        for s in sessions.iter_mut() {
            let seg = s.data(n % 2 == 0, &payload);
            w.packet(ts, &seg.ethernet_frame(n as u16)).expect("write");
            ts += 1000;
            n += 1;
        }
    }
    w.into_inner()
}

#[divan::bench(sample_count = 10)]
fn read_and_reassemble(bencher: divan::Bencher) {
    let file = big_capture();
    bencher.counter(BytesCount::new(file.len())).bench(|| {
        let mut delivered = 0usize;
        read_capture(&file[..], FlowConfig::default(), |e| {
            if let Event::Data { bytes, .. } = e {
                delivered += bytes.len();
            }
        })
        .expect("reads");
        divan::black_box(delivered)
    });
}
