//! `kmsspec serve`: the embedded reference host (or one of its mutants) as a standalone
//! server, for people writing a KMS client and for checking kmsspec against a real client.
//! Loopback only unless `--allow-remote`; every exchange is logged in `kmsspec decode`'s text
//! form (or as decode's JSON lines); Ctrl-C (or SIGTERM) stops it cleanly.
//!
//! [`Server`] is the library side (start on an address, log to any writer, stop); [`command`]
//! adds the signal handling and the messages of the command line.

use crate::capture::json::write_record;
use crate::capture::live::LiveDecoder;
use crate::capture::records::Record;
use crate::capture::text::write_record as write_text;
use crate::cli::{EXIT_OK, EXIT_USAGE};
use crate::host::HostFlaw;
use crate::model::{Catalog, HostConfig, InstalledKey, Profile};
use crate::target::{ConnectionTap, EmbeddedConfig, EmbeddedHost, TapFactory};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The address `serve` listens on by default (the KMS port, loopback).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1688";

/// What `kmsspec serve` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeCommand {
    /// `HOST:PORT` to listen on (port 0: any free port, printed at start).
    pub listen: String,
    /// Accept a listen address that is not loopback.
    pub allow_remote: bool,
    /// The host keys (catalog CSVLK names) the host holds; empty: the reference host's
    /// default three (Windows Server 2019, Office 2019, Office 2010).
    pub host_key: Vec<String>,
    /// Host profile (`default`, or `strict`: refuse requests outside ±4 h).
    pub profile: Option<String>,
    /// Serve this mutant instead of the conforming host (a [`HostFlaw`] name).
    pub flaw: Option<String>,
    /// Log decode's JSON lines instead of its text blocks.
    pub json: bool,
}

impl Default for ServeCommand {
    /// The conforming host on `127.0.0.1:1688`, text log.
    fn default() -> Self {
        ServeCommand {
            listen: DEFAULT_LISTEN.into(),
            allow_remote: false,
            host_key: Vec::new(),
            profile: None,
            flaw: None,
            json: false,
        }
    }
}

/// A flaw by its [`HostFlaw::name`] (`fixed-count` is `FixedCount(50)`).
pub fn parse_flaw(name: &str) -> Result<HostFlaw, String> {
    HostFlaw::ALL
        .iter()
        .copied()
        .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let known: Vec<&str> = HostFlaw::ALL.iter().map(|f| f.name()).collect();
            format!("unknown flaw {name:?} (known: {})", known.join(", "))
        })
}

/// The host configuration `serve` runs: the profile's, holding `host_keys` when given.
pub fn host_config(profile: Option<&str>, host_keys: &[String]) -> Result<HostConfig, String> {
    let mut cfg = HostConfig::for_profile(profile.unwrap_or("default"))?;
    if host_keys.is_empty() {
        return Ok(cfg);
    }
    let defaults = std::mem::take(&mut cfg.keys);
    for name in host_keys {
        let key = match defaults
            .iter()
            .find(|k| k.host_key.eq_ignore_ascii_case(name))
        {
            Some(k) => k.clone(),
            None => installed_key(name, cfg.host_build)?,
        };
        if !cfg.keys.iter().any(|k| k.host_key == key.host_key) {
            cfg.keys.push(key);
        }
    }
    Ok(cfg)
}

/// A catalog host key installed on a host of `build`, with an ePID the suite accepts for it:
/// the build's platform id, the key's group, a key id in its range, LCID 1033, and the day
/// after the key's release (never before the build's own).
pub fn installed_key(name: &str, build: u32) -> Result<InstalledKey, String> {
    let cat = Catalog::get();
    let key = cat.host_key(Profile::Hierarchical, name).ok_or_else(|| {
        format!("unknown host key {name:?} (`kmsspec list` cases name the catalog's keys)")
    })?;
    let (Some(group), Some(lo), Some(hi)) = (key.group_id, key.min_key_id, key.max_key_id) else {
        return Err(format!(
            "host key {:?} has no ePID group or key-id range in the catalog",
            key.name
        ));
    };
    let platform = cat
        .platform_id(build)
        .ok_or_else(|| format!("no platform id for host build {build}"))?;
    let key_id = lo + (hi - lo) / 2;
    let build_release =
        time::Date::from_calendar_date(2018, time::Month::October, 2).map_err(|e| e.to_string())?;
    let released = key
        .release_date
        .as_deref()
        .and_then(|d| {
            time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
        })
        .unwrap_or(build_release)
        .max(build_release);
    let day = released.next_day().unwrap_or(released);
    let epid = format!(
        "{platform:05}-{group:05}-{:03}-{:06}-03-1033-{build}.0000-{:03}{:04}",
        key_id / 1_000_000,
        key_id % 1_000_000,
        day.ordinal(),
        day.year()
    );
    Ok(InstalledKey {
        host_key: key.name.clone(),
        epid: Arc::from(epid),
        hwid: [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76],
    })
}

/// The one address `listen` names, refused when it is not loopback and `allow_remote` is
/// not set.
pub fn listen_addr(listen: &str, allow_remote: bool) -> Result<SocketAddr, String> {
    let addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("cannot use listen address {listen:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("listen address {listen:?} names no address"))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "{addr} is not a loopback address; pass --allow-remote to serve other machines"
        ));
    }
    Ok(addr)
}

/// What the log writer and the per-connection taps share.
struct Log {
    out: Mutex<Box<dyn Write + Send>>,
    json: bool,
    connections: AtomicU64,
    exchanges: AtomicU64,
}

impl Log {
    fn record(&self, r: &Record) {
        if matches!(r, Record::Exchange(_)) {
            self.exchanges.fetch_add(1, Ordering::Relaxed);
        }
        let mut line = Vec::with_capacity(1024);
        if self.json {
            write_record(&mut line, r);
            line.push(b'\n');
        } else {
            let _ = write_text(&mut line, r);
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A log that cannot be written (closed pipe) must not stop the host.
        let _ = out.write_all(&line).and_then(|()| out.flush());
    }
}

/// Decodes one served connection and logs its records.
struct LogTap {
    dec: LiveDecoder,
    log: Arc<Log>,
}

impl ConnectionTap for LogTap {
    fn client_bytes(&mut self, bytes: &[u8]) {
        let log = &self.log;
        self.dec.client_bytes(bytes, &mut |r| log.record(r));
    }

    fn host_bytes(&mut self, bytes: &[u8]) {
        let log = &self.log;
        self.dec.server_bytes(bytes, &mut |r| log.record(r));
    }

    fn closed(&mut self) {
        let log = &self.log;
        self.dec.close(&mut |r| log.record(r));
    }
}

/// A running `serve` host.
pub struct Server {
    host: EmbeddedHost,
    log: Arc<Log>,
    description: String,
}

impl Server {
    /// Starts serving as `cmd` says, logging every exchange to `out`.
    pub fn start(cmd: &ServeCommand, out: Box<dyn Write + Send>) -> Result<Server, String> {
        let listen = listen_addr(&cmd.listen, cmd.allow_remote)?;
        let host = host_config(cmd.profile.as_deref(), &cmd.host_key)?;
        let flaw = cmd.flaw.as_deref().map(parse_flaw).transpose()?;
        let log = Arc::new(Log {
            out: Mutex::new(out),
            json: cmd.json,
            connections: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
        });
        let keys: Vec<String> = host.keys.iter().map(|k| k.host_key.clone()).collect();
        let tap_log = Arc::clone(&log);
        let tap: TapFactory = Arc::new(move |client, server| {
            tap_log.connections.fetch_add(1, Ordering::Relaxed);
            Box::new(LogTap {
                dec: LiveDecoder::new("serve", client, server),
                log: Arc::clone(&tap_log),
            }) as Box<dyn ConnectionTap>
        });
        let config = EmbeddedConfig {
            host,
            flaw,
            ..EmbeddedConfig::default()
        };
        let host = EmbeddedHost::start_on(config, listen, Some(tap))
            .map_err(|e| format!("cannot serve on {listen}: {e}"))?;
        let description = format!(
            "{} (profile {}; host keys: {}; flaw: {})",
            match flaw {
                None => "reference KMS host",
                Some(_) => "MUTANT KMS host",
            },
            cmd.profile.as_deref().unwrap_or("default"),
            keys.join(", "),
            flaw.map_or("none", HostFlaw::name)
        );
        Ok(Server {
            host,
            log,
            description,
        })
    }

    /// The address it listens on (with the actual port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.host.addr()
    }

    /// What is served: conforming or mutant, profile, host keys.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Connections accepted and exchanges logged so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.log.connections.load(Ordering::Relaxed),
            self.log.exchanges.load(Ordering::Relaxed),
        )
    }

    /// Stops accepting, ends every connection (their pending records are logged) and joins
    /// the threads.
    pub fn stop(mut self) -> (u64, u64) {
        self.host.stop();
        self.counts()
    }
}

/// Runs `kmsspec serve` until Ctrl-C or SIGTERM: exit 0 after a clean stop, 2 when it cannot
/// start (bad address, non-loopback without `--allow-remote`, unknown flaw, profile or host
/// key, address in use).
pub fn command(cmd: &ServeCommand) -> i32 {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = tx.send(());
    }) {
        eprintln!("kmsspec: cannot handle Ctrl-C: {e}");
        return EXIT_USAGE;
    }
    let server = match Server::start(cmd, Box::new(std::io::stdout())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmsspec: {e}");
            return EXIT_USAGE;
        }
    };
    eprintln!(
        "kmsspec serve: {} listening on {}; Ctrl-C stops",
        server.description(),
        server.addr()
    );
    // Either a signal came or the handler is gone; both mean stop.
    let _ = rx.recv();
    let (connections, exchanges) = server.stop();
    eprintln!("kmsspec serve: stopped after {connections} connection(s), {exchanges} exchange(s)");
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{sanity_exchange_with, SplitMix64};
    use crate::target::{LiveTarget, TargetFacts, Timeouts};
    use crate::wire::kms::epid::Epid;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn serves_a_client_and_logs_the_exchange_in_decode_text_form() {
        let out = Shared::default();
        let cmd = ServeCommand {
            listen: "127.0.0.1:0".into(),
            ..ServeCommand::default()
        };
        let server = Server::start(&cmd, Box::new(out.clone())).unwrap();
        let target = LiveTarget::new(
            &server.addr().to_string(),
            Timeouts::default(),
            TargetFacts::default(),
            false,
        )
        .unwrap();
        let mut rng = SplitMix64::new(9);
        sanity_exchange_with(&target, "Windows 10 Enterprise", &mut rng, &mut |_| {}).unwrap();
        let (connections, exchanges) = server.stop();
        assert_eq!((connections, exchanges), (1, 1));
        let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains(" answer ack [KMS]"), "{log}");
        assert!(log.contains("\nexchange 127.0.0.1:"), "{log}");
        assert!(log.contains("checks   "), "{log}");
        assert!(!log.contains("FAIL"), "{log}");
    }

    #[test]
    fn refuses_remote_addresses_unknown_flaws_and_keys() {
        assert!(listen_addr("192.0.2.1:1688", false)
            .unwrap_err()
            .contains("--allow-remote"));
        assert!(listen_addr("192.0.2.1:1688", true).is_ok());
        assert!(listen_addr("[::1]:1688", false).is_ok());
        assert!(listen_addr("nonsense", false).is_err());
        assert_eq!(parse_flaw("fixed-count"), Ok(HostFlaw::FixedCount(50)));
        assert!(parse_flaw("no-such-flaw")
            .unwrap_err()
            .contains("ignores-threshold"));
        assert!(host_config(None, &["No Such Key".into()]).is_err());
        assert!(host_config(Some("lenient"), &[]).is_err());
    }

    #[test]
    fn a_named_host_key_gets_an_epid_the_catalog_accepts() {
        let cfg = host_config(None, &["Windows Server 2022".into(), "office 2019".into()]).unwrap();
        let names: Vec<&str> = cfg.keys.iter().map(|k| k.host_key.as_str()).collect();
        assert_eq!(names, ["Windows Server 2022", "Office 2019"]);
        let key = &cfg.keys[0];
        let epid = Epid::parse(&key.epid).unwrap();
        let cat = Catalog::get();
        let served = cat
            .host_key(Profile::Hierarchical, "Windows Server 2022")
            .unwrap()
            .activates[0];
        assert!(
            cat.epid_consistent(Profile::Hierarchical, &epid, &served),
            "{}",
            key.epid
        );
        // The day after the key's release (2021-08-18).
        assert!(key.epid.ends_with("-2312021"), "{}", key.epid);
        assert_eq!(
            &*cfg.keys[1].epid,
            "03612-00206-684-137669-03-1033-17763.0000-2972018"
        );
    }
}
