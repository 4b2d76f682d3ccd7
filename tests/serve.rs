//! `kmsspec serve` as a separate process: it answers a real client from another process,
//! logs the exchanges (decode text or JSON lines), stops cleanly on SIGINT, refuses a
//! non-loopback address, serves mutants that `run` catches, and `run --target` against it
//! gives the same verdicts as the embedded run wherever the live target can run a case.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kmsspec");

/// A `kmsspec serve` child process; killed if the test ends without stopping it.
struct Served {
    child: Child,
    addr: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsspec serve");
        // The log is drained all along, so a long run never blocks the host on a full pipe.
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve printed no listening line");
        let addr = first
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        Served {
            child,
            addr,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit; returns (exit code, stdout, stderr).
    fn interrupt(mut self) -> (Option<i32>, String, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "serve did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.stdout.take().unwrap().join().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        (status.code(), out, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kmsspec-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn serve_answers_a_client_in_another_process_logs_it_and_stops_on_ctrl_c() {
    let served = Served::start(&[]);
    assert!(served.addr.starts_with("127.0.0.1:"), "{}", served.addr);
    let (code, out) = run(&["--target", &served.addr, "--only", "VER-V6-1"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS       VER-V6-1"), "{out}");
    let (code, log, err) = served.interrupt();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("reference KMS host"), "{err}");
    assert!(err.contains("stopped after"), "{err}");
    // The run's sanity exchanges and the case, each bind and exchange in decode's text form.
    let exchanges: Vec<&str> = log.lines().filter(|l| l.starts_with("exchange ")).collect();
    assert!(exchanges.len() >= 3, "{log}");
    assert!(log.contains(" answer ack [KMS]"), "{log}");
    assert!(log.contains("response v6.0 hresult 0x00000000"), "{log}");
    assert!(!log.contains("FAIL "), "{log}");
    assert!(
        err.contains(&format!("{} exchange(s)", exchanges.len())),
        "{err}"
    );
}

#[test]
fn serve_logs_json_lines_with_json() {
    let served = Served::start(&["--json", "--host-key", "Windows Server 2022"]);
    let (code, out) = run(&["--target", &served.addr, "--only", "VER-V5-1"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, log, err) = served.interrupt();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("host keys: Windows Server 2022"), "{err}");
    let kinds: Vec<String> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["kind"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(kinds.iter().any(|k| k == "bind"), "{kinds:?}");
    assert!(
        kinds.iter().filter(|k| *k == "exchange").count() >= 3,
        "{kinds:?}"
    );
}

#[test]
fn serve_refuses_bad_addresses_and_flaws() {
    for (args, want) in [
        (vec!["--listen", "192.0.2.1:1688"], "--allow-remote"),
        (
            vec!["--listen", "127.0.0.1:0", "--flaw", "nope"],
            "unknown flaw",
        ),
        (
            vec!["--listen", "127.0.0.1:0", "--host-key", "nope"],
            "unknown host key",
        ),
        (
            vec!["--listen", "127.0.0.1:0", "--profile", "nope"],
            "unknown profile",
        ),
    ] {
        let out = Command::new(BIN).arg("serve").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_served_mutant_is_caught_by_run() {
    let served = Served::start(&["--flaw", "wrong-cmid-echo"]);
    let (code, out) = run(&["--target", &served.addr, "--only", "RESP-ECHO-CMID-1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL       RESP-ECHO-CMID-1"), "{out}");
    assert!(out.contains("kms.cmid_echo"), "{out}");
    let (code, _, err) = served.interrupt();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("MUTANT KMS host"), "{err}");
}

#[test]
fn a_served_fixed_count_is_caught_by_run_on_a_host_declared_fresh() {
    // With --fresh the suite probes liveness with a bind only, so the first count case meets
    // empty tables and sees the fixed count; the reference host passes the same case.
    let served = Served::start(&["--flaw", "fixed-count"]);
    let (code, out) = run(&[
        "--target",
        &served.addr,
        "--fresh",
        "--only",
        "CNT-DISTINCT-1",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL       CNT-DISTINCT-1"), "{out}");
    let _ = served.interrupt();
    let reference = Served::start(&[]);
    let (code, out) = run(&[
        "--target",
        &reference.addr,
        "--fresh",
        "--only",
        "CNT-DISTINCT-1",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 cases: 1 pass"), "{out}");
    let _ = reference.interrupt();
}

/// (id, verdict, reason, model self-check) of every case of a JSON report.
fn verdicts(path: &PathBuf) -> Vec<(String, String, String, bool)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
                c["self_check"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// The whole suite against `serve` (another process, over TCP) and against the embedded
/// host: every case the live target can run gets the embedded run's verdict; the others are
/// SKIP for a precondition only the embedded host meets (empty tables, clock control), or
/// are the model self-checks, which run only with the embedded host.
#[test]
fn run_against_serve_gives_the_embedded_verdicts() {
    let served = Served::start(&[]);
    let (embedded_json, live_json) = (tmp("embedded.json"), tmp("live.json"));
    let e = embedded_json.clone();
    let embedded = std::thread::spawn(move || run(&["--json", e.to_str().unwrap()]));
    let live = run(&[
        "--target",
        &served.addr,
        "--name",
        "serve",
        "--host-key",
        "Windows Server 2019",
        "--host-key",
        "Office 2019",
        "--host-key",
        "Office 2010",
        "--read-timeout-ms",
        "1000",
        "--json",
        live_json.to_str().unwrap(),
    ]);
    let embedded = embedded.join().unwrap();
    assert_eq!(embedded.0, Some(0), "{}", embedded.1);
    assert_eq!(live.0, Some(0), "{}", live.1);
    let (code, _, err) = served.interrupt();
    assert_eq!(code, Some(0), "{err}");

    let e = verdicts(&embedded_json);
    let l: HashMap<String, (String, String)> = verdicts(&live_json)
        .into_iter()
        .map(|(id, v, r, _)| (id, (v, r)))
        .collect();
    let mut same = 0;
    for (id, ev, _, self_check) in &e {
        let Some((lv, reason)) = l.get(id) else {
            assert!(self_check, "{id} missing from the run against serve");
            continue;
        };
        if lv == ev {
            same += usize::from(ev != "SKIP");
            continue;
        }
        assert_eq!(lv, "SKIP", "{id}: embedded {ev}, serve {lv} ({reason})");
        assert!(
            reason.contains("needs a fresh host") || reason.contains("needs clock control"),
            "{id}: skipped on serve for {reason:?}"
        );
    }
    assert!(same >= 120, "only {same} cases compared");
}
