//! Reproducers: one directory per finding, `<out>/<seed>-<case>-<class>/`, holding
//! * `session.json`: the case (actions with bytes in hex, see [`super::case`]), read back by
//!   `kmsspec fuzz --replay`;
//! * `exchange.pcap`: what both sides sent, as Ethernet/IPv4/TCP on loopback addresses
//!   (client 127.0.0.1:40000+n, host 127.0.0.1:1688), synthesized with
//!   [`crate::capture::writer`];
//! * `finding.json`: the findings of the case;
//! * `replay.sh`: the one-line command that replays it.

use super::case::FuzzCase;
use super::exec::{Event, Exchange};
use super::oracle::FuzzFinding;
use crate::capture::writer::{PcapWriter, TcpSession};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Ethernet link type in pcap headers.
const LINKTYPE_ETHERNET: u32 = 1;
/// Largest TCP payload per synthesized segment.
const MSS: usize = 1460;

/// The directory name of a finding.
pub fn dir_name(case: &FuzzCase, finding: &FuzzFinding) -> String {
    format!("{}-{}-{}", case.seed, case.index, finding.class.slug())
}

/// Writes the reproducer of `case` under `out`; returns its directory.
pub fn save_finding(
    out: &Path,
    case: &FuzzCase,
    findings: &[FuzzFinding],
    exchange: &Exchange,
    target_arg: Option<&str>,
) -> io::Result<PathBuf> {
    let first = findings
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no finding to save"))?;
    let dir = out.join(dir_name(case, first));
    std::fs::create_dir_all(&dir)?;
    let session = dir.join("session.json");
    std::fs::write(&session, case.to_json())?;
    std::fs::write(
        dir.join("finding.json"),
        serde_json::to_string_pretty(findings).unwrap_or_default(),
    )?;
    std::fs::write(dir.join("exchange.pcap"), pcap_bytes(exchange)?)?;
    std::fs::write(dir.join("replay.sh"), replay_line(&session, target_arg))?;
    Ok(dir)
}

/// `kmsspec fuzz --replay FILE [--target T]`, as a shell script line.
pub fn replay_line(session: &Path, target_arg: Option<&str>) -> String {
    let mut line = format!(
        "#!/bin/sh\nkmsspec fuzz --replay '{}'",
        session.display().to_string().replace('\'', "'\\''")
    );
    if let Some(t) = target_arg {
        line.push_str(&format!(" --target '{}'", t.replace('\'', "'\\''")));
    }
    line.push_str(" \"$@\"\n");
    line
}

/// The exchange as a classic pcap (one TCP connection per case connection, 1 ms apart).
pub fn pcap_bytes(exchange: &Exchange) -> io::Result<Vec<u8>> {
    let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, false, false)?;
    let server = SocketAddr::from(([127, 0, 0, 1], 1688));
    let mut t_us: u64 = 1_700_000_000_000_000;
    let mut ip_id: u16 = 1;
    for (n, events) in exchange.connections.iter().enumerate() {
        let port = 40_000u16.wrapping_add(n as u16);
        let client = SocketAddr::from(([127, 0, 0, 1], port));
        let isn = 0x1000_0000u32.wrapping_add((n as u32) << 16);
        let mut s = TcpSession::new(client, server, isn, isn ^ 0x5555_0000);
        let mut segs = s.handshake();
        for e in events {
            match e {
                Event::Client(b) | Event::Host(b) => {
                    let from_client = matches!(e, Event::Client(_));
                    for piece in b.chunks(MSS) {
                        segs.push(s.data(from_client, piece));
                    }
                }
                Event::HostClosed => segs.push(s.fin(false)),
                Event::HostReset => segs.push(s.rst(false)),
                Event::ClientClosed => segs.push(s.fin(true)),
            }
        }
        for seg in segs {
            t_us += 100;
            w.packet(t_us * 1000, &seg.ethernet_frame(ip_id))?;
            ip_id = ip_id.wrapping_add(1);
        }
        t_us += 1000;
    }
    Ok(w.into_inner())
}
