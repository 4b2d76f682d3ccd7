//! Prints, for the reference host and every mutant (`HostFlaw`), the verdict counts and the
//! cases that do not PASS, with the check that decided each. Two modes per host: `embedded`
//! (resettable, clock control, the default keys) and `live` (the same host reached as a live
//! `--target` with nothing declared: not fresh, no clock, no host keys).
//!
//! `cargo run --release --example flaw_matrix [embedded|live|both] [FLAW...]`
//! The isolation tests in `tests/mutants.rs` assert the same sets; this prints them.

use kmsspec::host::HostFlaw;
use kmsspec::report::{RunReport, Verdict};
use kmsspec::suite::names::load_default;
use kmsspec::suite::runner::{run_suite, RunOptions};
use kmsspec::target::embedded::{EmbeddedConfig, EmbeddedHost};
use kmsspec::target::{LiveTarget, TargetFacts, Timeouts};
use std::time::Duration;

const SLOW: &[&str] = &[
    "ROB-SILENT*",
    "ROB-PARTIAL-HEADER-1",
    "ROB-SLOW-*",
    "ROB-FRAGLEN-LONG-1",
    "REQ-CHUNK-1",
];

fn run(flaw: Option<HostFlaw>, live: bool) -> RunReport {
    let cases = load_default(&[]).expect("specs load");
    let cfg = match flaw {
        Some(f) => EmbeddedConfig::with_flaw(f),
        None => EmbeddedConfig::default(),
    };
    let host = EmbeddedHost::start(cfg).expect("embedded host starts");
    let opts = RunOptions {
        skip: SLOW.iter().map(|s| s.to_string()).collect(),
        seed: 7,
        ..RunOptions::default()
    };
    if live {
        let timeouts = Timeouts {
            read: Duration::from_millis(1000),
            ..Timeouts::default()
        };
        let target = LiveTarget::new(
            &host.addr().to_string(),
            timeouts,
            TargetFacts::default(),
            false,
        )
        .expect("loopback target");
        run_suite(&target, &cases, &opts)
    } else {
        run_suite(&host, &cases, &opts)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("both");
    let names: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let mut hosts: Vec<Option<HostFlaw>> = vec![None];
    hosts.extend(HostFlaw::ALL.iter().copied().map(Some));
    hosts.retain(|h| names.is_empty() || names.contains(&h.map_or("reference", |f| f.name())));
    let modes: &[bool] = match mode {
        "embedded" => &[false],
        "live" => &[true],
        _ => &[false, true],
    };
    for &live in modes {
        for h in &hosts {
            let r = run(*h, live);
            let s = &r.summary;
            println!(
                "## {} [{}] pass {} non-strict {} fail {} info {} skip {} exit {}",
                h.map_or("reference", |f| f.name()),
                if live { "live" } else { "embedded" },
                s.pass,
                s.non_strict,
                s.fail,
                s.info,
                s.skip,
                r.exit_code()
            );
            for c in &r.cases {
                if matches!(c.verdict, Verdict::Fail | Verdict::NonStrict) {
                    let why = c
                        .findings
                        .iter()
                        .find(|f| !f.passed && Verdict::for_missed(f.level) == c.verdict)
                        .map(|f| format!("{} {:?}", f.check, f.rule))
                        .unwrap_or_else(|| c.reason.clone().unwrap_or_default());
                    println!("   {:<10} {:<24} {}", c.verdict.as_str(), c.id, why);
                }
            }
        }
    }
}
