//! pcap / pcapng reading: formats written by our own writer, and damaged files.

use kmsspec::capture::read_capture;
use kmsspec::capture::reader::{CaptureError, CaptureReader};
use kmsspec::capture::reassembly::{Direction, Event, FlowConfig};
use kmsspec::capture::writer::{PcapNgWriter, PcapWriter, TcpSession};

fn session_frames() -> Vec<Vec<u8>> {
    let mut s = TcpSession::new(
        "192.168.1.5:49152".parse().unwrap(),
        "192.168.1.1:1688".parse().unwrap(),
        1000,
        2000,
    );
    let mut segs = s.handshake();
    segs.push(s.data(true, b"request"));
    segs.push(s.data(false, b"response"));
    segs.iter()
        .enumerate()
        .map(|(i, g)| g.ethernet_frame(i as u16))
        .collect()
}

fn streams(file: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut up, mut down) = (Vec::new(), Vec::new());
    read_capture(file, FlowConfig::default(), |e| {
        if let Event::Data { dir, bytes, .. } = e {
            match dir {
                Direction::ToServer => up.extend_from_slice(bytes),
                Direction::ToClient => down.extend_from_slice(bytes),
            }
        }
    })
    .expect("reads");
    (up, down)
}

#[test]
fn pcap_both_byte_orders_and_resolutions() {
    for nanos in [false, true] {
        for big in [false, true] {
            let mut w = PcapWriter::new(Vec::new(), 1, nanos, big).unwrap();
            for (i, f) in session_frames().iter().enumerate() {
                w.packet(1_700_000_000_123_456_789 + i as u64, f).unwrap();
            }
            let file = w.into_inner();
            let mut r = CaptureReader::new(&file[..]).unwrap();
            let p = r.next_packet().unwrap().unwrap();
            let want_ts = if nanos {
                1_700_000_000_123_456_789
            } else {
                1_700_000_000_123_456_000
            };
            assert_eq!(
                (p.index, p.file_offset, p.link_type, p.timestamp_ns),
                (0, 24, 1, want_ts)
            );
            assert_eq!(
                streams(&file),
                (b"request".to_vec(), b"response".to_vec()),
                "nanos={nanos} big={big}"
            );
        }
    }
}

#[test]
fn pcapng_two_sections_two_interfaces() {
    let mut s = TcpSession::new(
        "10.1.1.1:50000".parse().unwrap(),
        "10.1.1.2:1688".parse().unwrap(),
        1,
        1,
    );
    let mut segs = s.handshake();
    segs.push(s.data(true, b"abc"));
    segs.push(s.data(false, b"def"));
    segs.push(s.data(true, b"ghi"));
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    let eth = w.interface(1, 6).unwrap();
    let sll2 = w.interface(276, 9).unwrap();
    w.packet(eth, 5_000_001_000, &segs[0].ethernet_frame(0))
        .unwrap();
    w.packet(sll2, 5_000_002_007, &segs[1].sll2_frame(0))
        .unwrap();
    w.packet(eth, 5_000_003_000, &segs[2].ethernet_frame(0))
        .unwrap();
    w.packet(sll2, 5_000_004_000, &segs[3].sll2_frame(0))
        .unwrap();
    w.section().unwrap();
    // New section: interface 0 is now SLL2 with ns timestamps.
    let i0 = w.interface(276, 9).unwrap();
    assert_eq!(i0, 0);
    w.packet(i0, 5_000_005_005, &segs[4].sll2_frame(0)).unwrap();
    w.packet(i0, 5_000_006_000, &segs[5].sll2_frame(0)).unwrap();
    let file = w.into_inner();
    let mut r = CaptureReader::new(&file[..]).unwrap();
    let mut seen = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        seen.push((p.index, p.interface, p.link_type, p.timestamp_ns));
    }
    assert_eq!(
        seen,
        vec![
            (0, 0, 1, 5_000_001_000),
            (1, 1, 276, 5_000_002_007),
            (2, 0, 1, 5_000_003_000),
            (3, 1, 276, 5_000_004_000),
            (4, 0, 276, 5_000_005_005),
            (5, 0, 276, 5_000_006_000),
        ]
    );
    assert_eq!(streams(&file), (b"abcghi".to_vec(), b"def".to_vec()));
}

fn good_pcap() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), 1, false, false).unwrap();
    for f in session_frames() {
        w.packet(0, &f).unwrap();
    }
    w.into_inner()
}

/// Offsets of each record in `good_pcap()`.
fn record_offsets(file: &[u8]) -> Vec<usize> {
    let mut r = CaptureReader::new(file).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(p.unwrap().file_offset as usize);
    }
    v
}

fn read_all(file: &[u8]) -> (usize, Option<CaptureError>) {
    let mut r = match CaptureReader::new(file) {
        Ok(r) => r,
        Err(e) => return (0, Some(e)),
    };
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(_) => n += 1,
            Err(e) => {
                assert!(r.next_packet().is_none(), "stream ends after an error");
                return (n, Some(e));
            }
        }
    }
    (n, None)
}

#[test]
fn truncated_file_reports_packet_and_offset() {
    let file = good_pcap();
    let offs = record_offsets(&file);
    assert_eq!(offs.len(), 5);
    let cut = &file[..offs[3] + 10];
    assert_eq!(
        read_all(cut),
        (
            3,
            Some(CaptureError::Truncated {
                packet_index: 3,
                offset: offs[3] as u64
            })
        )
    );
    // Cutting exactly on a record boundary is a clean end.
    assert_eq!(read_all(&file[..offs[3]]), (3, None));
    // read_capture delivers the data before the damage and returns the error.
    let mut data = 0;
    let cut = &file[..offs[4] + 10];
    let err = read_capture(cut, FlowConfig::default(), |e| {
        if let Event::Data { bytes, .. } = e {
            data += bytes.len();
        }
    })
    .unwrap_err();
    assert_eq!(data, 7);
    assert_eq!(err.summary.packets, 4);
    assert!(matches!(
        err.error,
        CaptureError::Truncated {
            packet_index: 4,
            ..
        }
    ));
}

#[test]
fn absurd_length_is_bounded_and_reported() {
    let mut file = good_pcap();
    let offs = record_offsets(&file);
    let at = offs[2] + 8;
    file[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    file.extend(std::iter::repeat_n(0u8, 300_000));
    let (n, err) = read_all(&file);
    assert_eq!(n, 2);
    assert_eq!(
        err,
        Some(CaptureError::BlockTooLarge {
            packet_index: 2,
            offset: offs[2] as u64,
            claimed: 0x7fff_fff0 + 16,
            limit: 16 * 1024 * 1024
        })
    );
}

#[test]
fn large_record_grows_the_buffer() {
    let mut w = PcapWriter::new(Vec::new(), 1, false, false).unwrap();
    let big = vec![0xabu8; 1_000_000];
    w.packet(0, &big).unwrap();
    w.packet(0, &[1, 2, 3]).unwrap();
    let file = w.into_inner();
    let mut r = CaptureReader::new(&file[..]).unwrap();
    assert_eq!(r.next_packet().unwrap().unwrap().data.len(), 1_000_000);
    assert_eq!(r.next_packet().unwrap().unwrap().data, &[1, 2, 3]);
    assert!(r.next_packet().is_none());
}

#[test]
fn corrupt_pcapng_block_is_reported() {
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    let i = w.interface(1, 6).unwrap();
    for f in session_frames() {
        w.packet(i, 0, &f).unwrap();
    }
    let mut file = w.into_inner();
    let offs = record_offsets(&file);
    // Break the trailing length copy of packet 1's block.
    let len = u32::from_le_bytes(file[offs[1] + 4..offs[1] + 8].try_into().unwrap()) as usize;
    let tail = offs[1] + len - 4;
    file[tail] ^= 0x40;
    let (n, err) = read_all(&file);
    assert_eq!(n, 1);
    match err {
        Some(CaptureError::Corrupt {
            packet_index: 1,
            offset,
            ..
        }) => assert_eq!(offset, offs[1] as u64),
        other => panic!("expected corrupt block at packet 1, got {other:?}"),
    }
    // An EPB naming an interface that does not exist.
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    w.interface(1, 6).unwrap();
    w.packet(3, 0, &[0u8; 20]).unwrap();
    let (n, err) = read_all(&w.into_inner());
    assert_eq!(n, 0);
    assert!(
        matches!(
            err,
            Some(CaptureError::Corrupt {
                packet_index: 0,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn not_a_capture() {
    for junk in [&b""[..], b"abc", b"GET / HTTP/1.1\r\n\r\n", &[0u8; 100]] {
        let (_, err) = read_all(junk);
        assert_eq!(err, Some(CaptureError::NotACapture));
        assert_eq!(err.unwrap().to_string(), "not a pcap or pcapng file");
    }
    // A pcap magic with a cut header is a header error, not a panic.
    let (_, err) = read_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
    assert!(
        matches!(err, Some(CaptureError::BadHeader { .. })),
        "{err:?}"
    );
}

#[test]
fn random_damage_never_panics_or_hangs() {
    let file = good_pcap();
    let mut state = 0x1234_5678u32;
    for _ in 0..500 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let mut f = file.clone();
        let pos = state as usize % f.len();
        f[pos] = (state >> 8) as u8;
        let cut = (state >> 3) as usize % (f.len() + 1);
        let _ = read_capture(&f[..cut], FlowConfig::default(), |_| {});
    }
}

#[test]
fn pcapng_block_shorter_than_its_framing_is_corrupt_not_a_panic() {
    // pcap-parser 0.17 subtracts the 12 framing bytes from a block's claimed length before
    // checking it for some block types (here 0x80000001): the reader must refuse first.
    for big in [false, true] {
        for (block_type, claimed) in [(0x8000_0001u32, 11u32), (0x8000_0001, 8), (6, 0), (1, 4)] {
            let mut w = PcapNgWriter::new(Vec::new(), big).unwrap();
            let i = w.interface(1, 6).unwrap();
            let frames = session_frames();
            w.packet(i, 0, &frames[0]).unwrap();
            let mut file = w.into_inner();
            let at = file.len();
            let word = |v: u32| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            file.extend(word(block_type));
            file.extend(word(claimed));
            file.extend([0u8; 24]);
            let (n, err) = read_all(&file);
            assert_eq!(n, 1, "{block_type:#x} {claimed}");
            match err {
                Some(CaptureError::Corrupt {
                    packet_index: 1,
                    offset,
                    reason,
                }) => {
                    assert_eq!(offset, at as u64);
                    assert!(reason.contains(&claimed.to_string()), "{reason}");
                }
                other => panic!("{block_type:#x} {claimed}: expected corrupt, got {other:?}"),
            }
        }
    }
}
