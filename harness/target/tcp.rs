//! A live candidate over TCP: connect, read and write timeouts, bounded connect retries, a
//! bound on bytes read per answer, and a loopback-only guard unless remote probing is allowed.

use super::{Connection, Received, Target, TargetError, TargetFacts};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// DCE/RPC common header size.
const HEADER_LEN: usize = 16;

/// Timeouts and bounds for live I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Per connect attempt.
    pub connect: Duration,
    /// Waiting for an answer.
    pub read: Duration,
    /// Writing a request.
    pub write: Duration,
    /// Connect attempts before giving up (≥ 1).
    pub connect_attempts: u32,
    /// Largest answer PDU accepted (bytes).
    pub max_answer: usize,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(3),
            write: Duration::from_secs(2),
            connect_attempts: 3,
            max_answer: 64 * 1024,
        }
    }
}

/// A live host at an address.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    addr: SocketAddr,
    timeouts: Timeouts,
    facts: TargetFacts,
}

impl LiveTarget {
    /// Resolves `host:port`. Non-loopback addresses are refused unless `allow_remote`.
    pub fn new(
        spec: &str,
        timeouts: Timeouts,
        facts: TargetFacts,
        allow_remote: bool,
    ) -> Result<Self, TargetError> {
        let addr = spec
            .to_socket_addrs()
            .map_err(|e| TargetError::Connect {
                addr: spec.to_string(),
                reason: e.to_string(),
            })?
            .next()
            .ok_or_else(|| TargetError::Connect {
                addr: spec.to_string(),
                reason: "no address".into(),
            })?;
        if !addr.ip().is_loopback() && !allow_remote {
            return Err(TargetError::NotLoopback(addr.to_string()));
        }
        Ok(LiveTarget {
            addr,
            timeouts,
            facts,
        })
    }

    /// The resolved address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Target for LiveTarget {
    fn name(&self) -> String {
        self.addr.to_string()
    }
    fn facts(&self) -> TargetFacts {
        self.facts.clone()
    }
    fn connect(&self) -> Result<Box<dyn Connection>, TargetError> {
        Ok(Box::new(TcpConnection::connect(self.addr, self.timeouts)?))
    }
}

/// One TCP connection with timeouts.
#[derive(Debug)]
pub struct TcpConnection {
    stream: TcpStream,
    timeouts: Timeouts,
}

impl TcpConnection {
    /// Connects with bounded retries (short linear back-off between attempts).
    pub fn connect(addr: SocketAddr, timeouts: Timeouts) -> Result<Self, TargetError> {
        let mut last = String::new();
        for attempt in 0..timeouts.connect_attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
            }
            match TcpStream::connect_timeout(&addr, timeouts.connect) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    stream.set_read_timeout(Some(timeouts.read)).map_err(io)?;
                    stream.set_write_timeout(Some(timeouts.write)).map_err(io)?;
                    return Ok(TcpConnection { stream, timeouts });
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(TargetError::Connect {
            addr: addr.to_string(),
            reason: last,
        })
    }

    /// Reads until `buf` is full. `Ok(n < len)` means the peer closed after `n` bytes.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, TargetError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(&e)),
            }
        }
        Ok(filled)
    }
}

fn io(e: std::io::Error) -> TargetError {
    TargetError::Io(e.to_string())
}

fn read_error(e: &std::io::Error) -> TargetError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TargetError::Timeout { phase: "read" },
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            TargetError::Closed
        }
        _ => TargetError::Io(e.to_string()),
    }
}

fn write_error(e: &std::io::Error) -> TargetError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TargetError::Timeout { phase: "write" },
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            TargetError::Closed
        }
        _ => TargetError::Io(e.to_string()),
    }
}

/// Reads one PDU from a byte source with a `read_full`-like function: the header, a sanity
/// check on it, then exactly `frag_length − 16` more bytes, never more than `max` in all.
fn read_pdu(conn: &mut TcpConnection) -> Result<Received, TargetError> {
    let mut header = [0u8; HEADER_LEN];
    let got = match conn.read_full(&mut header) {
        Ok(n) => n,
        Err(TargetError::Timeout { .. }) => return Ok(Received::Silence),
        Err(TargetError::Closed) => return Ok(Received::Reset),
        Err(e) => return Err(e),
    };
    if got == 0 {
        return Ok(Received::Closed);
    }
    if got < HEADER_LEN || header[0] != 5 || header[1] != 0 {
        return Ok(Received::Garbage(header[..got].to_vec()));
    }
    let frag_length = usize::from(u16::from_le_bytes([header[8], header[9]]));
    if frag_length < HEADER_LEN {
        return Ok(Received::Garbage(header.to_vec()));
    }
    if frag_length > conn.timeouts.max_answer {
        return Err(TargetError::TooLarge {
            declared: frag_length,
            limit: conn.timeouts.max_answer,
        });
    }
    let mut pdu = vec![0u8; frag_length];
    pdu[..HEADER_LEN].copy_from_slice(&header);
    let body = match conn.read_full(&mut pdu[HEADER_LEN..]) {
        Ok(n) => n,
        Err(TargetError::Timeout { .. }) | Err(TargetError::Closed) => 0,
        Err(e) => return Err(e),
    };
    if body < frag_length - HEADER_LEN {
        pdu.truncate(HEADER_LEN + body);
        return Ok(Received::Garbage(pdu));
    }
    Ok(Received::Pdu(pdu))
}

impl Connection for TcpConnection {
    fn send(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        self.stream.write_all(bytes).map_err(|e| write_error(&e))
    }

    fn send_chunked(
        &mut self,
        bytes: &[u8],
        chunk: usize,
        pause: Duration,
    ) -> Result<(), TargetError> {
        for (i, piece) in bytes.chunks(chunk.max(1)).enumerate() {
            if i > 0 && !pause.is_zero() {
                std::thread::sleep(pause);
            }
            self.send(piece)?;
        }
        Ok(())
    }

    fn recv(&mut self) -> Result<Received, TargetError> {
        read_pdu(self)
    }

    fn recv_within(&mut self, timeout: Duration) -> Result<Received, TargetError> {
        let t = timeout.max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(t)).map_err(io)?;
        let r = read_pdu(self);
        self.stream
            .set_read_timeout(Some(self.timeouts.read))
            .map_err(io)?;
        r
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        Some((
            self.stream.local_addr().ok()?,
            self.stream.peer_addr().ok()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn quick() -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(500),
            read: Duration::from_millis(300),
            write: Duration::from_millis(300),
            connect_attempts: 2,
            max_answer: 1024,
        }
    }

    #[test]
    fn refuses_non_loopback_unless_allowed() {
        let e = LiveTarget::new("192.0.2.1:1688", quick(), TargetFacts::default(), false);
        assert!(matches!(e, Err(TargetError::NotLoopback(_))), "{e:?}");
        assert!(LiveTarget::new("127.0.0.1:1688", quick(), TargetFacts::default(), false).is_ok());
    }

    #[test]
    fn reads_one_pdu_then_reports_close_silence_and_garbage() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // 1: a 20-byte PDU in two writes, then close.
            let (mut s, _) = listener.accept().unwrap();
            let mut pdu = vec![
                5, 0, 2, 3, 0x10, 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 9, 9, 9, 9,
            ];
            s.write_all(&pdu[..7]).unwrap();
            s.write_all(&pdu[7..]).unwrap();
            drop(s);
            // 2: silence.
            let (s2, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(150));
            drop(s2);
            // 3: garbage.
            let (mut s3, _) = listener.accept().unwrap();
            s3.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
            // 4: oversized announcement.
            let (mut s4, _) = listener.accept().unwrap();
            pdu[8] = 0xff;
            pdu[9] = 0xff;
            s4.write_all(&pdu).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        });
        let t = LiveTarget::new(&addr.to_string(), quick(), TargetFacts::default(), false).unwrap();
        let mut c = t.connect().unwrap();
        match c.recv().unwrap() {
            Received::Pdu(p) => assert_eq!(p.len(), 20),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.recv().unwrap(), Received::Closed);
        let mut c2 = t.connect().unwrap();
        assert_eq!(
            c2.recv_within(Duration::from_millis(100)).unwrap(),
            Received::Silence
        );
        let mut c3 = t.connect().unwrap();
        assert!(matches!(c3.recv().unwrap(), Received::Garbage(g) if g.starts_with(b"HTTP")));
        let mut c4 = t.connect().unwrap();
        assert!(matches!(
            c4.recv(),
            Err(TargetError::TooLarge {
                declared: 65535,
                limit: 1024
            })
        ));
        server.join().unwrap();
    }

    #[test]
    fn connect_to_a_closed_port_fails_after_bounded_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let start = std::time::Instant::now();
        let r = TcpConnection::connect(addr, quick());
        assert!(matches!(r, Err(TargetError::Connect { .. })), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}
