//! TCP reassembly behaviour, asserted event by event.

use kmsspec::capture::reassembly::{CloseReason, Direction, Event, FlowConfig, FlowTable, Warning};
use kmsspec::capture::tcp::parse_tcp;
use kmsspec::capture::writer::{Segment, TcpSession};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Open(u64, bool),
    Data(u64, Direction, Vec<u8>),
    Gap(u64, Direction, u64),
    Overflow(u64),
    Conflict(u64),
    Closed(u64, CloseReason),
}

fn run(segs: &[Segment], cfg: FlowConfig) -> Vec<Ev> {
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    feed(&mut t, segs, 0, &mut out);
    t.finish(segs.len() as u64, &mut |e| record(&mut out, e));
    out
}

/// Feeds `segs` (packet indices from `first`), recording the events.
fn feed(t: &mut FlowTable, segs: &[Segment], first: u64, out: &mut Vec<Ev>) {
    for (i, s) in segs.iter().enumerate() {
        let bytes = s.tcp_bytes();
        let seg = parse_tcp(&bytes).expect("valid segment");
        let i = first + i as u64;
        t.segment(&s.from.ip(), &s.to.ip(), &seg, i, i * 1000, &mut |e| {
            record(out, e)
        });
    }
}

fn record(out: &mut Vec<Ev>, e: Event<'_>) {
    match e {
        Event::Opened {
            conn,
            client_guessed,
            ..
        } => out.push(Ev::Open(conn, client_guessed)),
        Event::Data {
            conn, dir, bytes, ..
        } => {
            // Merge adjacent data so tests do not depend on delivery granularity.
            if let Some(Ev::Data(c, d, b)) = out.last_mut() {
                if *c == conn && *d == dir {
                    b.extend_from_slice(bytes);
                    return;
                }
            }
            out.push(Ev::Data(conn, dir, bytes.to_vec()))
        }
        Event::Gap {
            conn, dir, missing, ..
        } => out.push(Ev::Gap(conn, dir, missing)),
        Event::Overflow { conn, .. } => out.push(Ev::Overflow(conn)),
        Event::Closed { conn, reason, .. } => out.push(Ev::Closed(conn, reason)),
        Event::Warning {
            warning: Warning::ConflictingOverlap { conn, .. },
            ..
        } => out.push(Ev::Conflict(conn)),
        Event::Warning { warning, .. } => panic!("unexpected warning {warning:?}"),
    }
}

fn session(isn_c: u32, isn_s: u32) -> TcpSession {
    TcpSession::new(
        "10.0.0.1:50000".parse().unwrap(),
        "10.0.0.2:1688".parse().unwrap(),
        isn_c,
        isn_s,
    )
}

use Direction::{ToClient as C, ToServer as S};

#[test]
fn in_order_with_fin_close() {
    let mut s = session(100, 900);
    let mut segs = s.handshake();
    segs.push(s.data(true, b"hello "));
    segs.push(s.data(true, b"world"));
    segs.push(s.data(false, b"reply"));
    segs.push(s.fin(true));
    segs.push(s.fin(false));
    assert_eq!(
        run(&segs, FlowConfig::default()),
        vec![
            Ev::Open(0, false),
            Ev::Data(0, S, b"hello world".to_vec()),
            Ev::Data(0, C, b"reply".to_vec()),
            Ev::Closed(0, CloseReason::Fin),
        ]
    );
}

#[test]
fn out_of_order_and_retransmission() {
    let mut s = session(1, 2);
    let mut segs = s.handshake();
    let a = s.data(true, b"AAAA");
    let b = s.data(true, b"BBBB");
    let c = s.data(true, b"CCCC");
    segs.extend([c.clone(), a.clone(), a.clone(), b, c]);
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(
        ev,
        vec![
            Ev::Open(0, false),
            Ev::Data(0, S, b"AAAABBBBCCCC".to_vec()),
            Ev::Closed(0, CloseReason::EndOfCapture)
        ]
    );
}

#[test]
fn overlap_first_data_wins_and_conflict_is_reported() {
    let mut s = session(1, 2);
    let mut segs = s.handshake();
    let a = s.data(true, b"0123");
    let b = s.data(true, b"4567");
    let c = s.data(true, b"89");
    // Buffered "4567" first, then an overlapping segment claiming "45XX89".
    let mut bad = b.clone();
    bad.payload = b"45XX89".to_vec();
    segs.extend([b, bad, a, c]);
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(
        ev,
        vec![
            Ev::Open(0, false),
            Ev::Conflict(0),
            Ev::Data(0, S, b"0123456789".to_vec()),
            Ev::Closed(0, CloseReason::EndOfCapture)
        ]
    );
}

#[test]
fn mid_connection_start_guesses_client_by_port() {
    let mut s = session(5000, 7000);
    s.handshake(); // not captured
    let segs = vec![s.data(false, b"from server"), s.data(true, b"from client")];
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(
        ev,
        vec![
            Ev::Open(0, true),
            Ev::Data(0, C, b"from server".to_vec()),
            Ev::Data(0, S, b"from client".to_vec()),
            Ev::Closed(0, CloseReason::EndOfCapture)
        ]
    );
}

#[test]
fn gap_is_reported_and_later_data_continues() {
    let mut s = session(1, 2);
    let mut segs = s.handshake();
    let a = s.data(true, b"aaa");
    let _lost = s.data(true, b"LOST!");
    let c = s.data(true, b"ccc");
    let fin = s.fin(true);
    let sfin = s.fin(false);
    segs.extend([a, c, fin, sfin]);
    // FIN with a hole before it cannot complete: the hole is declared when the capture ends.
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(
        ev,
        vec![
            Ev::Open(0, false),
            Ev::Data(0, S, b"aaa".to_vec()),
            Ev::Gap(0, S, 5),
            Ev::Data(0, S, b"ccc".to_vec()),
            Ev::Closed(0, CloseReason::EndOfCapture),
        ]
    );
}

#[test]
fn rst_flushes_and_closes() {
    let mut s = session(1, 2);
    let mut segs = s.handshake();
    let a = s.data(true, b"xy");
    let _lost = s.data(true, b"zz");
    let b = s.data(true, b"w");
    segs.extend([a, b, s.rst(false)]);
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(
        ev,
        vec![
            Ev::Open(0, false),
            Ev::Data(0, S, b"xy".to_vec()),
            Ev::Gap(0, S, 2),
            Ev::Data(0, S, b"w".to_vec()),
            Ev::Closed(0, CloseReason::Rst),
        ]
    );
}

#[test]
fn port_reuse_opens_a_new_connection() {
    let mut s1 = session(10, 20);
    let mut segs = s1.handshake();
    segs.push(s1.data(true, b"one"));
    let mut s2 = session(99_999, 20);
    segs.extend(s2.handshake());
    segs.push(s2.data(true, b"two"));
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(
        ev,
        vec![
            Ev::Open(0, false),
            Ev::Data(0, S, b"one".to_vec()),
            Ev::Closed(0, CloseReason::Reused),
            Ev::Open(1, false),
            Ev::Data(1, S, b"two".to_vec()),
            Ev::Closed(1, CloseReason::EndOfCapture),
        ]
    );
    // After a FIN close, a new SYN also starts a new connection.
    let mut s3 = session(10, 20);
    let mut segs = s3.handshake();
    segs.push(s3.data(true, b"a"));
    segs.push(s3.fin(true));
    segs.push(s3.fin(false));
    let mut s4 = session(5, 6);
    segs.extend(s4.handshake());
    segs.push(s4.data(false, b"b"));
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(ev[2], Ev::Closed(0, CloseReason::Fin));
    assert_eq!(ev[3], Ev::Open(1, false));
    assert_eq!(ev[4], Ev::Data(1, C, b"b".to_vec()));
}

#[test]
fn tombstones_keep_late_segments_out_and_are_bounded() {
    let cfg = FlowConfig {
        max_tombstones: 1,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    let mut a = session(1, 2);
    let mut segs = a.handshake();
    segs.push(a.data(true, b"a1"));
    let late = a.data(true, b"late");
    segs.push(a.rst(true));
    segs.push(late.clone());
    feed(&mut t, &segs, 0, &mut out);
    // The segment after the RST is stray: the closed 5-tuple is remembered.
    assert_eq!(
        out,
        vec![
            Ev::Open(0, false),
            Ev::Data(0, S, b"a1".to_vec()),
            Ev::Closed(0, CloseReason::Rst),
        ]
    );
    assert_eq!((t.counters().stray, t.tracked()), (1, 0));
    // Another connection's close pushes that tombstone out (limit 1) ...
    let mut b = TcpSession::new(
        "10.0.0.3:50001".parse().unwrap(),
        "10.0.0.2:1688".parse().unwrap(),
        5,
        6,
    );
    let mut segs = b.handshake();
    segs.push(b.rst(false));
    feed(&mut t, &segs, 10, &mut out);
    // ... so the same late segment now opens a connection, its client guessed by port.
    feed(&mut t, &[late], 20, &mut out);
    t.finish(30, &mut |e| record(&mut out, e));
    assert_eq!(
        out[3..],
        [
            Ev::Open(1, false),
            Ev::Closed(1, CloseReason::Rst),
            Ev::Open(2, true),
            Ev::Data(2, S, b"late".to_vec()),
            Ev::Closed(2, CloseReason::EndOfCapture),
        ]
    );
    assert_eq!(t.counters().stray, 1);
}

/// The tombstone window counts closes, and a 5-tuple closed twice in it is there twice: its
/// earlier close leaving the window ends the tombstone of its later one.
#[test]
fn a_tombstone_ends_when_its_keys_earliest_close_leaves_the_window() {
    let cfg = FlowConfig {
        max_tombstones: 2,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    let client = "10.0.0.1:50000".parse().unwrap();
    let server = "10.0.0.2:1688".parse().unwrap();
    // Close 0 and close 1: the same 5-tuple, reused by a new SYN after its RST.
    let mut first = TcpSession::new(client, server, 1, 2);
    let mut second = TcpSession::new(client, server, 100, 200);
    let mut segs = first.handshake();
    segs.push(first.rst(true));
    segs.extend(second.handshake());
    segs.push(second.rst(true));
    let late = second.data(true, b"late");
    segs.push(late.clone());
    feed(&mut t, &segs, 0, &mut out);
    // Right after close 1 the late segment is stray.
    assert_eq!(
        out,
        vec![
            Ev::Open(0, false),
            Ev::Closed(0, CloseReason::Rst),
            Ev::Open(1, false),
            Ev::Closed(1, CloseReason::Rst),
        ]
    );
    assert_eq!(t.counters().stray, 1);
    // Close 2 (another 5-tuple) pushes close 0 out of the window: that ends the tombstone
    // set by close 1 too, though close 1 is still in the window.
    let mut other = TcpSession::new("10.0.0.3:50001".parse().unwrap(), server, 5, 6);
    let mut segs = other.handshake();
    segs.push(other.rst(false));
    feed(&mut t, &segs, 10, &mut out);
    feed(&mut t, &[late], 20, &mut out);
    assert_eq!(
        out[4..],
        [
            Ev::Open(2, false),
            Ev::Closed(2, CloseReason::Rst),
            Ev::Open(3, true),
            Ev::Data(3, S, b"late".to_vec()),
        ]
    );
    assert_eq!(t.counters().stray, 1);
}

#[test]
fn connection_cap_evicts_the_least_recently_active() {
    let cfg = FlowConfig {
        max_connections: 2,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    let mut s: Vec<TcpSession> = (0..3)
        .map(|i| {
            TcpSession::new(
                format!("10.0.0.1:{}", 40_000 + i).parse().unwrap(),
                "10.0.0.2:1688".parse().unwrap(),
                100 * i,
                7,
            )
        })
        .collect();
    let mut segs = s[0].handshake();
    segs.extend(s[1].handshake());
    segs.push(s[0].data(true, b"zero"));
    segs.extend(s[2].handshake());
    segs.push(s[1].data(true, b"one"));
    feed(&mut t, &segs, 0, &mut out);
    assert_eq!(t.tracked(), 2);
    t.finish(99, &mut |e| record(&mut out, e));
    assert_eq!(
        out,
        vec![
            Ev::Open(0, false),
            Ev::Open(1, false),
            Ev::Data(0, S, b"zero".to_vec()),
            // Connection 1 was the least recently active when connection 2 needed room.
            Ev::Closed(1, CloseReason::Evicted),
            Ev::Open(2, false),
            // Its late data is stray (tombstoned), not a new connection.
            Ev::Closed(0, CloseReason::EndOfCapture),
            Ev::Closed(2, CloseReason::EndOfCapture),
        ]
    );
    assert_eq!(t.counters().stray, 1);
}

#[test]
fn interleaved_connections_stay_separate() {
    let mut a = TcpSession::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.9:1688".parse().unwrap(),
        1,
        1,
    );
    let mut b = TcpSession::new(
        "10.0.0.2:40000".parse().unwrap(),
        "10.0.0.9:1688".parse().unwrap(),
        1,
        1,
    );
    let mut segs = Vec::new();
    segs.extend(a.handshake());
    segs.extend(b.handshake());
    for i in 0..3u8 {
        segs.push(a.data(true, &[b'a', i]));
        segs.push(b.data(true, &[b'b', i]));
    }
    let ev = run(&segs, FlowConfig::default());
    let stream = |conn| -> Vec<u8> {
        ev.iter()
            .filter_map(|e| match e {
                Ev::Data(c, S, d) if *c == conn => Some(d.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    assert_eq!(stream(0), b"a\0a\x01a\x02");
    assert_eq!(stream(1), b"b\0b\x01b\x02");
}

#[test]
fn sequence_wraparound() {
    let mut s = session(u32::MAX - 5, 2);
    let mut segs = s.handshake();
    let a = s.data(true, b"0123");
    let b = s.data(true, b"4567"); // crosses 2^32
    let c = s.data(true, b"89");
    segs.extend([c, b, a]);
    let ev = run(&segs, FlowConfig::default());
    assert_eq!(ev[1], Ev::Data(0, S, b"0123456789".to_vec()));
}

#[test]
fn buffer_cap_overflow_becomes_a_gap() {
    let mut s = session(1, 2);
    let mut segs = s.handshake();
    let _lost = s.data(true, b"L");
    let chunk = vec![7u8; 16 * 1024];
    for _ in 0..5 {
        segs.push(s.data(true, &chunk));
    }
    let cfg = FlowConfig {
        max_buffered: 65_536,
        ..FlowConfig::default()
    };
    let ev = run(&segs, cfg);
    assert_eq!(ev[0], Ev::Open(0, false));
    assert_eq!(ev[1], Ev::Overflow(0));
    assert_eq!(ev[2], Ev::Gap(0, S, 1));
    assert_eq!(ev[3], Ev::Data(0, S, vec![7u8; 5 * 16 * 1024]));
}

proptest! {
    #[test]
    fn random_segmentation_order_and_duplicates_reassemble(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        cuts in proptest::collection::vec(any::<u16>(), 0..30),
        order in proptest::collection::vec(any::<u32>(), 0..80),
        isn in any::<u32>(),
    ) {
        let mut s = session(isn, 1);
        let mut segs = s.handshake();
        let whole = s.data(true, &data);
        let mut points: Vec<usize> = cuts.iter().map(|c| *c as usize % data.len()).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces = Vec::new();
        let mut rest = whole;
        let mut done = 0;
        for p in points {
            if p <= done { continue; }
            let (a, b) = rest.split(p - done);
            pieces.push(a);
            rest = b;
            done = p;
        }
        pieces.push(rest);
        // Random order with duplicates: every piece at least once.
        let mut shuffled = pieces.clone();
        for (i, o) in order.iter().enumerate() {
            let n = shuffled.len();
            if i % 3 == 0 {
                shuffled.push(pieces[*o as usize % pieces.len()].clone());
            } else {
                shuffled.swap(i % n, *o as usize % n);
            }
        }
        segs.extend(shuffled);
        let ev = run(&segs, FlowConfig::default());
        let got: Vec<u8> = ev.iter().filter_map(|e| match e { Ev::Data(_, S, d) => Some(d.clone()), _ => None }).flatten().collect();
        prop_assert_eq!(got, data);
        prop_assert!(!ev.iter().any(|e| matches!(e, Ev::Gap(..) | Ev::Conflict(_))));
    }
}
