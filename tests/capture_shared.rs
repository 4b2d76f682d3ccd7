//! Every capture in the shared corpus reads cleanly and reassembles into the connections its
//! MANIFEST describes.

mod common;

use std::collections::BTreeMap;

use kmsspec::capture::read_capture;
use kmsspec::capture::reassembly::{Direction, Event, FlowConfig};

/// Captures whose server never sent data (per MANIFEST.md): s27 (HTTP garbage → RST) and
/// s30 (truncated bind, then FIN with no reply).
const CLIENT_ONLY: &[&str] = &["s27_", "s30_"];

#[test]
fn shared_captures_reassemble() {
    let Some(dir) = common::shared_dir() else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir.join("captures"))
        .expect("captures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 35,
        "expected the 35 shared captures, found {}",
        files.len()
    );
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).expect("read capture");
        // Per connection: bytes to server, bytes to client.
        let mut conns: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        let mut gaps = 0;
        let mut guessed = false;
        let summary = read_capture(&bytes[..], FlowConfig::default(), |e| match e {
            Event::Opened {
                conn,
                client_guessed,
                server,
                ..
            } => {
                guessed |= client_guessed;
                assert!(
                    server.port() == 1688 || server.port() == 17388,
                    "{name}: server {server}"
                );
                conns.insert(conn, (0, 0));
            }
            Event::Data {
                conn, dir, bytes, ..
            } => {
                let c = conns.get_mut(&conn).expect("data for an opened connection");
                match dir {
                    Direction::ToServer => c.0 += bytes.len(),
                    Direction::ToClient => c.1 += bytes.len(),
                }
            }
            Event::Gap { .. } => gaps += 1,
            Event::Warning { warning, .. } => panic!("{name}: unexpected warning {warning:?}"),
            _ => {}
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(gaps, 0, "{name}: no gaps expected in loopback captures");
        assert!(!guessed, "{name}: every capture has its SYN");
        let want_conns = if name.starts_with("s13_") { 3 } else { 1 };
        assert_eq!(conns.len(), want_conns, "{name}: connections");
        assert_eq!(summary.flows.connections, want_conns as u64);
        for (conn, (up, down)) in &conns {
            assert!(*up > 0, "{name}: conn {conn} has no client data");
            if CLIENT_ONLY.iter().any(|p| name.starts_with(p)) {
                assert_eq!(*down, 0, "{name}: server should have sent nothing");
            } else {
                assert!(*down > 0, "{name}: conn {conn} has no server data");
            }
        }
        if name.starts_with("s32_") {
            // IPv6 capture.
            assert!(summary.packets > 0);
        }
    }
}
