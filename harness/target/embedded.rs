//! The embedded reference host behind a real TCP listener on `127.0.0.1:0` (loopback only,
//! never another address): an accept thread, one thread per connection with an idle timeout,
//! a cap on concurrent connections. The protocol logic is [`crate::host`]; this module only
//! moves bytes. It is a [`Target`] with full control: fresh, resettable, clock control.
//! [`EmbeddedHost::start_on`] serves on an address the caller chose (`kmsspec serve`), with
//! an optional [`ConnectionTap`] per connection that sees the bytes both ways.

use super::{Connection, Target, TargetError, TargetFacts, TcpConnection, Timeouts};
use crate::host::{Disposition, HostClock, HostConnection, HostFlaw, HostState};
use crate::model::{ConfigError, HostConfig, Timestamp};
use crate::wire::FileTime;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How to run an embedded host.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// The model host's configuration (keys, intervals, time tolerance…).
    pub host: HostConfig,
    /// A connection with no bytes received for this long is closed (default 30 s).
    pub idle_timeout: Duration,
    /// Most connections served at once; more are accepted and closed at once (default 64).
    pub max_connections: usize,
    /// RNG seed for IVs, Randoms and association groups (default fixed, for replays).
    pub seed: u64,
    /// The one behaviour to break (mutants), `None` for the conforming host.
    pub flaw: Option<HostFlaw>,
    /// Client-side timeouts the harness uses on this host's connections. The host is
    /// in-process on loopback and answers in microseconds, so the read timeout that decides
    /// "the host stays silent" is shorter than a live target's.
    pub timeouts: Timeouts,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            host: HostConfig::default(),
            idle_timeout: Duration::from_secs(30),
            max_connections: 64,
            seed: 0x6b6d_7373_7065_6301,
            flaw: None,
            timeouts: Timeouts {
                read: Duration::from_millis(1000),
                ..Timeouts::default()
            },
        }
    }
}

impl EmbeddedConfig {
    /// The default configuration with `flaw` selected.
    pub fn with_flaw(flaw: HostFlaw) -> Self {
        Self {
            flaw: Some(flaw),
            ..Self::default()
        }
    }
}

/// Sees the bytes of one connection the embedded host serves (`kmsspec serve` logs the
/// exchanges from them).
pub trait ConnectionTap: Send {
    /// Bytes the client sent, in order.
    fn client_bytes(&mut self, bytes: &[u8]);
    /// Bytes the host answered, in order.
    fn host_bytes(&mut self, bytes: &[u8]);
    /// The connection ended (called once).
    fn closed(&mut self);
}

/// Makes the [`ConnectionTap`] of each accepted connection from its client and server
/// addresses.
pub type TapFactory =
    Arc<dyn Fn(SocketAddr, SocketAddr) -> Box<dyn ConnectionTap> + Send + Sync + 'static>;

/// What the accept and connection threads share.
#[derive(Debug)]
struct Shared {
    state: Mutex<HostState>,
    shutdown: AtomicBool,
    active: AtomicUsize,
}

impl Shared {
    /// The state, even if a thread panicked while holding it (it holds no invariant that a
    /// panic could break half-way that matters more than keeping the host up).
    fn lock(&self) -> MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running embedded host. Stops (and joins its threads) on [`EmbeddedHost::stop`] or drop.
#[derive(Debug)]
pub struct EmbeddedHost {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    config: EmbeddedConfig,
    /// The host's time when it started (whole seconds): [`Target::rewind`] stops its clock
    /// there, and siblings share it, so every hermetic case sees the same time.
    epoch: Timestamp,
    /// The port its bind_acks name as secondary address: its own, or its origin's for a
    /// sibling, which thus answers byte for byte as its origin would.
    advertised_port: u16,
}

/// Poll interval of connection threads (how fast they notice shutdown / idleness).
const POLL: Duration = Duration::from_millis(50);

impl EmbeddedHost {
    /// Binds `127.0.0.1:0` and starts serving.
    pub fn start(config: EmbeddedConfig) -> io::Result<EmbeddedHost> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0)), None)
    }

    /// Binds `listen` (the caller decides whether a non-loopback address is acceptable) and
    /// starts serving; `tap` makes an observer for each accepted connection.
    pub fn start_on(
        config: EmbeddedConfig,
        listen: SocketAddr,
        tap: Option<TapFactory>,
    ) -> io::Result<EmbeddedHost> {
        Self::launch(config, listen, tap, None)
    }

    /// Starts a host; `origin` (start instant and port) makes it a sibling of another.
    fn launch(
        config: EmbeddedConfig,
        listen: SocketAddr,
        tap: Option<TapFactory>,
        origin: Option<(Timestamp, u16)>,
    ) -> io::Result<EmbeddedHost> {
        let epoch = origin.map_or_else(|| HostClock::System { offset_secs: 0 }.now(), |o| o.0);
        let state = HostState::new(
            config.host.clone(),
            HostClock::System { offset_secs: 0 },
            config.seed,
            config.flaw,
        )
        .map_err(|e: ConfigError| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let advertised_port = origin.map_or(addr.port(), |o| o.1);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            shutdown: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        });
        let s = Arc::clone(&shared);
        let idle = config.idle_timeout;
        let max = config.max_connections.max(1);
        let accept = std::thread::Builder::new()
            .name("kmsspec-embedded-accept".into())
            .spawn(move || accept_loop(listener, s, advertised_port, idle, max, tap))?;
        Ok(EmbeddedHost {
            addr,
            shared,
            accept: Some(accept),
            config,
            epoch,
            advertised_port,
        })
    }

    /// The listening address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared host state (CMID tables, clock), for assertions in tests.
    pub fn state(&self) -> MutexGuard<'_, HostState> {
        self.shared.lock()
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &EmbeddedConfig {
        &self.config
    }

    /// Stops accepting, closes every connection and joins all threads. Idempotent.
    pub fn stop(&mut self) {
        if let Some(handle) = self.accept.take() {
            self.shared.shutdown.store(true, Ordering::SeqCst);
            // Unblock accept() (a wildcard listener is reached on loopback).
            let mut wake = self.addr;
            if wake.ip().is_unspecified() {
                wake.set_ip(match wake {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(500));
            let _ = handle.join();
        }
    }
}

impl Drop for EmbeddedHost {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    port: u16,
    idle: Duration,
    max: usize,
    tap: Option<TapFactory>,
) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        workers.retain(|h| !h.is_finished());
        let Ok(stream) = stream else { continue };
        if shared.active.load(Ordering::SeqCst) >= max {
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let s = Arc::clone(&shared);
        let conn_tap = match (&tap, stream.peer_addr(), stream.local_addr()) {
            (Some(make), Ok(peer), Ok(local)) => Some(make(peer, local)),
            _ => None,
        };
        let spawned = std::thread::Builder::new()
            .name("kmsspec-embedded-conn".into())
            .spawn(move || {
                serve(stream, &s, port, idle, conn_tap);
                s.active.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(h) => workers.push(h),
            Err(_) => {
                shared.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    for h in workers {
        let _ = h.join();
    }
}

/// Serves one connection until the peer closes, the host decides to close, the idle timeout
/// passes or the host shuts down.
fn serve(
    mut stream: TcpStream,
    shared: &Shared,
    port: u16,
    idle: Duration,
    mut tap: Option<Box<dyn ConnectionTap>>,
) {
    let _ = stream.set_nodelay(true);
    if stream
        .set_read_timeout(Some(POLL.min(idle).max(Duration::from_millis(1))))
        .is_err()
        || stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .is_err()
    {
        return;
    }
    let mut conn = HostConnection::new(port);
    let mut buf = vec![0u8; 8192];
    let mut out = Vec::with_capacity(1024);
    let mut last_activity = Instant::now();
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                last_activity = Instant::now();
                out.clear();
                let disposition = {
                    let mut state = shared.lock();
                    conn.feed(&mut state, buf.get(..n).unwrap_or(&[]), &mut out)
                };
                if let Some(t) = tap.as_mut() {
                    t.client_bytes(buf.get(..n).unwrap_or(&[]));
                    t.host_bytes(&out);
                }
                if !out.is_empty() && stream.write_all(&out).is_err() {
                    break;
                }
                if disposition == Disposition::Close {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if last_activity.elapsed() >= idle {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    if let Some(t) = tap.as_mut() {
        t.closed();
    }
}

impl Target for EmbeddedHost {
    fn name(&self) -> String {
        match self.config.flaw {
            None => format!("embedded reference host ({})", self.addr),
            Some(f) => format!("embedded mutant {} ({})", f.name(), self.addr),
        }
    }

    fn facts(&self) -> TargetFacts {
        TargetFacts {
            fresh: true,
            resettable: true,
            clock_control: true,
            host_keys: self
                .config
                .host
                .keys
                .iter()
                .map(|k| k.host_key.clone())
                .collect(),
            profile: None,
        }
    }

    fn connect(&self) -> Result<Box<dyn Connection>, TargetError> {
        Ok(Box::new(TcpConnection::connect(
            self.addr,
            self.config.timeouts,
        )?))
    }

    fn now(&self) -> FileTime {
        self.shared.lock().now().to_filetime()
    }

    fn reset(&self) -> Result<(), TargetError> {
        self.shared
            .lock()
            .reset()
            .map_err(|e| TargetError::Io(e.to_string()))
    }

    fn rewind(&self) -> Result<(), TargetError> {
        let c = &self.config;
        let state = HostState::new(c.host.clone(), HostClock::Fixed(self.epoch), c.seed, c.flaw)
            .map_err(|e| TargetError::Io(e.to_string()))?;
        *self.shared.lock() = state;
        Ok(())
    }

    fn sibling(&self) -> Result<Box<dyn Target>, TargetError> {
        let origin = Some((self.epoch, self.advertised_port));
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        EmbeddedHost::launch(self.config.clone(), loopback, None, origin)
            .map(|h| Box::new(h) as Box<dyn Target>)
            .map_err(|e| TargetError::Io(e.to_string()))
    }

    fn idle_wait(&self, asked: Duration) -> Duration {
        // The fraction of a live target's read timeout this host's read timeout is (1 s of
        // 3 s by default): an idle connection stays far below the host's own idle timeout
        // either way, and the host is known to answer others within microseconds.
        let live = Timeouts::default().read.as_secs_f64();
        let here = self.config.timeouts.read.as_secs_f64();
        asked.mul_f64((here / live).min(1.0))
    }

    fn advance_clock(&self, by: Duration) -> Result<(), TargetError> {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.shared.lock().advance_clock(secs);
        Ok(())
    }
}
