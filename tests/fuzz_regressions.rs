//! Replays the fuzz targets' properties under `cargo test`: every `kmsspec::fuzzing` function
//! over every seed (synthetic samples, `captures/`, `specs/`, and the shared corpus when
//! present), over every crash reproducer committed under `tests/fuzz-regressions/<target>/`,
//! and named tests for each crash the fuzzers found.

mod common;

use kmsspec::capture::{CaptureError, CaptureReader};
use kmsspec::fuzzing::seeds::SeedSet;
use kmsspec::fuzzing::{self, ModelEvent, BYTE_TARGETS};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seeds() -> SeedSet {
    let mut s = SeedSet::new();
    s.add_synthetic();
    s.add_capture_dir(&root().join("captures"))
        .expect("captures/");
    s.add_spec_dir(&root().join("specs")).expect("specs/");
    if let Some(shared) = common::shared_dir() {
        s.add_capture_dir(&shared.join("captures"))
            .expect("shared captures");
        if let Some(v) = common::test_vectors() {
            s.add_vectors(&v);
        }
    }
    s
}

#[test]
fn every_target_holds_on_every_seed() {
    let seeds = seeds();
    for (name, f) in BYTE_TARGETS {
        let n = seeds.count(name);
        assert!(n > 0, "no seeds for {name}");
        for s in seeds.get(name) {
            f(s);
        }
    }
}

#[test]
fn seeds_reach_the_success_paths() {
    let seeds = seeds();
    // Each family of seeds holds inputs the parsers accept (else the corpus is useless).
    assert!(seeds
        .get("rpc_pdu")
        .any(|s| kmsspec::wire::rpc::Pdu::parse(s).is_ok()));
    assert!(seeds
        .get("kms_request")
        .any(|s| kmsspec::wire::kms::DecodedRequest::parse(s).is_ok()));
    assert!(seeds
        .get("epid")
        .any(|s| kmsspec::wire::kms::Epid::parse(&String::from_utf8_lossy(s)).is_ok()));
    // The parse-only targets start from inputs their decoder accepts, in every format.
    for (target, accepted) in [
        ("rpc_pdu_parse", pdu_accepted as fn(&[u8]) -> bool),
        ("kms_request_parse", request_accepted),
        ("kms_response_parse", response_accepted),
    ] {
        assert!(
            seeds.get(target).any(accepted),
            "{target}: no accepted seed"
        );
    }
    for v in [4, 5, 6] {
        assert!(
            seeds
                .get("kms_response_parse")
                .filter_map(|s| kmsspec::wire::kms::DecodedResponse::parse(s).ok())
                .any(|r| r.outer_version.major == v),
            "kms_response_parse: no accepted V{v} response"
        );
    }
    assert!(
        seeds.get("capture_parse").any(|s| {
            kmsspec::capture::CaptureReader::new(s)
                .is_ok_and(|mut r| matches!(r.next_packet(), Some(Ok(_))))
        }),
        "capture_parse: no seed with a packet"
    );
}

fn pdu_accepted(s: &[u8]) -> bool {
    kmsspec::wire::rpc::Pdu::parse(s).is_ok()
}

fn request_accepted(s: &[u8]) -> bool {
    kmsspec::wire::kms::DecodedRequest::parse(s).is_ok()
}

fn response_accepted(s: &[u8]) -> bool {
    kmsspec::wire::kms::DecodedResponse::parse(s).is_ok()
}

/// `fuzz/targets` (read by CI, ClusterFuzzLite and the speed script), the shims in
/// `fuzz/fuzz_targets/`, the `[[bin]]`s of `fuzz/Cargo.toml` and [`BYTE_TARGETS`] plus the
/// structure-aware `model` must name the same targets, or one of them silently skips a target.
#[test]
fn fuzz_target_lists_agree() {
    use std::collections::BTreeSet;
    let fuzz = root().join("fuzz");
    let listed: BTreeSet<String> = std::fs::read_to_string(fuzz.join("targets"))
        .expect("fuzz/targets")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            assert_eq!(fields.len(), 3, "name:max_len:ci_seconds, got {l:?}");
            assert!(fields[1].parse::<u32>().is_ok_and(|n| n > 0), "{l:?}");
            assert!(fields[2].parse::<u32>().is_ok_and(|n| n > 0), "{l:?}");
            fields[0].to_owned()
        })
        .collect();
    let shims: BTreeSet<String> = std::fs::read_dir(fuzz.join("fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    let bins: BTreeSet<String> = std::fs::read_to_string(fuzz.join("Cargo.toml"))
        .expect("fuzz/Cargo.toml")
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| {
            let line = b.lines().find(|l| l.starts_with("name = "))?;
            Some(
                line.trim_start_matches("name = ")
                    .trim_matches('"')
                    .to_owned(),
            )
        })
        .collect();
    let mut functions: BTreeSet<String> =
        BYTE_TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    functions.insert("model".to_owned());
    assert_eq!(listed, shims, "fuzz/targets vs fuzz/fuzz_targets/*.rs");
    assert_eq!(listed, bins, "fuzz/targets vs [[bin]]s of fuzz/Cargo.toml");
    assert_eq!(listed, functions, "fuzz/targets vs BYTE_TARGETS + model");
}

#[test]
fn committed_crash_reproducers_replay_clean() {
    let dir = root().join("tests/fuzz-regressions");
    for (name, f) in BYTE_TARGETS {
        let Ok(rd) = std::fs::read_dir(dir.join(name)) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            let data = std::fs::read(e.path()).expect("read reproducer");
            f(&data);
        }
    }
}

#[test]
fn model_invariants_on_a_busy_sequence() {
    let mut events = vec![ModelEvent::AddMak {
        group: 0,
        activations: 3,
    }];
    for i in 0..80u8 {
        events.push(ModelEvent::Request {
            kms: i % 5,
            cmid: i % 30,
            required_count: 25,
            skew_minutes: 0,
            wrong_app: i % 17 == 0,
            major: 6,
        });
        if i % 20 == 0 {
            events.push(ModelEvent::AdvanceHours(24 * 10));
        }
        events.push(ModelEvent::Activate {
            key: 0,
            machines: vec![(i, i)],
        });
    }
    events.push(ModelEvent::AddCsvlk);
    for h in 0..20u8 {
        events.push(ModelEvent::ActivateHost {
            key: 1,
            host: h % 8,
        });
    }
    fuzzing::fuzz_model(&events);
}

fn reproducer(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        root()
            .join("tests/fuzz-regressions")
            .join(target)
            .join(name),
    )
    .expect("committed reproducer")
}

/// Found by `rpc_pdu`: a valid response stub may use any non-zero referent id; the property
/// first demanded the servers' 0x00020000 (a harness bug, not a library one).
#[test]
fn rpc_pdu_response_stub_with_other_referent_id() {
    fuzzing::fuzz_rpc_pdu(&reproducer("rpc_pdu", "nonstandard-referent-id"));
}

/// Found by `kms_response`: for a request whose outer and inner versions disagree, the
/// request-side check fails even for a conforming response (a harness bug, not a library one).
#[test]
fn kms_response_request_versions_disagree() {
    let data = reproducer("kms_response", "request-versions-disagree");
    fuzzing::fuzz_kms_response(&data);
}

/// Everything a capture reader yields: packets (index, offset, time, link, interface,
/// original length, bytes) and the error that stopped it, if any.
type Reading = (
    Vec<(u64, u64, u64, u32, u32, u32, Vec<u8>)>,
    Option<CaptureError>,
);

fn read_all(opened: Result<CaptureReader<'_>, CaptureError>) -> Reading {
    let mut r = match opened {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut packets = Vec::new();
    while let Some(next) = r.next_packet() {
        match next {
            Ok(p) => packets.push((
                p.index,
                p.file_offset,
                p.timestamp_ns,
                p.link_type,
                p.interface,
                p.orig_len,
                p.data.to_vec(),
            )),
            Err(e) => return (packets, Some(e)),
        }
    }
    (packets, None)
}

/// The capture fuzz targets open their input with `CaptureReader::for_bytes` (a buffer and a
/// block limit the input's size): it must read every capture seed, truncated or damaged, as
/// `CaptureReader::new` does — the same packets and the same stop, except that a block
/// claiming more than the input is `BlockTooLarge` where `new` (16 MiB limit) says
/// `Truncated`, at the same packet and offset.
#[test]
fn for_bytes_reads_like_new() {
    let seeds = seeds();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for s in seeds.get("capture") {
        inputs.push(s.to_vec());
        for cut in [s.len() / 3, s.len() / 2, s.len().saturating_sub(1)] {
            inputs.push(s[..cut].to_vec());
        }
        // A first pcap record (or an early pcapng block) claiming 1 MiB.
        let mut huge = s.to_vec();
        if let Some(len) = huge.get_mut(32..36) {
            len.copy_from_slice(&[0, 0, 0x10, 0]);
            inputs.push(huge);
        }
        for at in [8, 20, 30, 40, 60] {
            let mut damaged = s.to_vec();
            if let Some(b) = damaged.get_mut(at) {
                *b ^= 0xff;
                inputs.push(damaged);
            }
        }
    }
    assert!(
        inputs.len() > 50,
        "too few capture inputs: {}",
        inputs.len()
    );
    let (mut with_packets, mut over_limit) = (0, 0);
    for input in &inputs {
        let mut small = read_all(CaptureReader::for_bytes(input));
        let usual = read_all(CaptureReader::new(&input[..]));
        with_packets += usize::from(!usual.0.is_empty());
        if let Some(CaptureError::BlockTooLarge {
            packet_index,
            offset,
            claimed,
            ..
        }) = small.1
        {
            assert!(claimed > input.len() as u64, "limit below the input size");
            small.1 = Some(CaptureError::Truncated {
                packet_index,
                offset,
            });
            over_limit += 1;
        }
        assert_eq!(
            small,
            usual,
            "for_bytes and new differ on a {}-byte input",
            input.len()
        );
    }
    assert!(with_packets > 10, "only {with_packets} inputs had packets");
    assert!(over_limit > 0, "no input claimed a block beyond its end");
}

/// Found profiling `capture_parse`: a pcapng section header that does not parse was reported
/// with every byte of the buffer in the reason (a `Vec<u8>` debug list, kilobytes long, built
/// for each such input). The reason names the parser's complaint, not the bytes.
#[test]
fn broken_section_header_reason_is_short() {
    // Section header block claiming 1 byte (pcap-parser refuses it: `Verify`), then 4 KiB.
    let mut file = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 1, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
    ];
    file.extend_from_slice(&[0xff; 8]);
    file.extend_from_slice(&[0xAB; 4096]);
    for opened in [
        CaptureReader::new(&file[..]).err(),
        CaptureReader::for_bytes(&file).err(),
    ] {
        let Some(CaptureError::BadHeader { reason }) = opened else {
            panic!("a broken section header must be BadHeader: {opened:?}");
        };
        assert!(
            reason.len() < 100,
            "{}-byte reason: {reason:.120}",
            reason.len()
        );
    }
}
