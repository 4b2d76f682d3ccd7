//! The project's own corpus (`captures/`): it regenerates byte-for-byte from the generator,
//! each file decodes to what `captures/MANIFEST.md` says, and each file's YAML transcript is an
//! insta snapshot (`tests/snapshots/decode_corpus__transcript@*.snap`).

use std::path::{Path, PathBuf};

use kmsspec::capture::decode_to_vec;
use kmsspec::capture::records::{Record, SummaryRecord};
use kmsspec::cli::decode::yaml_document;

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

fn decode_file(path: &Path) -> Result<Vec<Record>, String> {
    let bytes = std::fs::read(path).expect("read capture");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    decode_to_vec(&bytes, &name).map_err(|e| e.to_string())
}

fn summary(records: &[Record]) -> &SummaryRecord {
    match records.last() {
        Some(Record::Summary(s)) => s,
        other => panic!("last record is not a summary: {other:?}"),
    }
}

#[test]
fn corpus_regenerates_byte_identical() {
    let tmp = std::env::temp_dir().join(format!("kmsspec-corpus-{}", std::process::id()));
    let names = kmsspec::capture::corpus::write_corpus(&tmp).expect("generate");
    let mut committed: Vec<String> = std::fs::read_dir(captures_dir())
        .expect("captures/")
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "MANIFEST.md")
        .collect();
    committed.sort();
    let mut generated: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    generated.sort();
    assert_eq!(
        committed, generated,
        "captures/ holds exactly the generated files"
    );
    for n in &names {
        let a = std::fs::read(tmp.join(n)).unwrap();
        let b = std::fs::read(captures_dir().join(n)).unwrap();
        assert!(
            a == b,
            "{n} differs from a fresh generation: rerun `cargo run --example gen_captures`"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// (file prefix, exchanges, answered, faults, failed checks, errors, damaged, kms flows).
type Expectation = (&'static str, u64, u64, u64, u64, u64, bool, u64);

const EXPECT: &[Expectation] = &[
    ("c01_", 3, 3, 0, 0, 0, false, 1),
    ("c02_", 3, 3, 0, 0, 0, false, 1),
    ("c03_", 3, 3, 0, 0, 0, false, 1),
    ("c04_", 2, 2, 0, 0, 0, false, 1),
    ("c05_", 3, 3, 0, 0, 0, false, 1),
    ("c06_", 3, 3, 0, 0, 0, false, 1),
    ("c07_", 1, 1, 0, 0, 0, false, 1),
    ("c08_", 2, 2, 0, 0, 0, false, 2),
    ("c09_", 1, 1, 0, 0, 0, false, 1),
    ("c10_", 1, 1, 0, 0, 0, false, 1),
    ("c11_", 0, 0, 1, 0, 0, false, 1),
    ("c12_", 1, 1, 0, 0, 0, false, 1),
    ("c13_", 1, 1, 0, 1, 0, false, 1),
    ("c14_", 3, 3, 0, 0, 0, false, 1),
    ("d01_", 3, 3, 0, 0, 1, true, 1),
    ("d02_", 2, 2, 0, 0, 1, true, 1),
];

#[test]
fn corpus_decodes_as_the_manifest_says() {
    let mut seen = 0;
    for entry in std::fs::read_dir(captures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "MANIFEST.md" {
            continue;
        }
        seen += 1;
        if name.starts_with("d03_") {
            assert_eq!(
                decode_file(&path),
                Err("not a pcap or pcapng file".to_owned())
            );
            continue;
        }
        let recs = decode_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = summary(&recs);
        let &(_, ex, ans, faults, failed, errors, damaged, kms) = EXPECT
            .iter()
            .find(|e| name.starts_with(e.0))
            .unwrap_or_else(|| panic!("{name}: no expectation"));
        assert_eq!(
            (
                s.exchanges,
                s.answered,
                s.faults,
                s.failed_checks,
                s.errors,
                s.damaged,
                s.kms_flows
            ),
            (ex, ans, faults, failed, errors, damaged, kms),
            "{name}: {s:?}"
        );
        assert_eq!(s.undecodable, 0, "{name}");
        for r in &recs {
            if let Record::Exchange(x) = r {
                // Every answered exchange with a request passed every check except c13's.
                if x.request.is_some() && x.response.as_ref().is_some_and(|r| r.epid.is_some()) {
                    let want_fail = name.starts_with("c13_");
                    assert_eq!(!x.failed.is_empty(), want_fail, "{name}: {:?}", x.failed);
                    if want_fail {
                        assert_eq!(x.failed[0].name, "cmid_echo");
                    }
                }
            }
        }
        if name.starts_with("c04_") {
            let x = recs.iter().find_map(|r| match r {
                Record::Exchange(x) => Some(x),
                _ => None,
            });
            let x = x.expect("exchange");
            assert_eq!((x.fragments, x.ndr), (3, Some("ndr64")));
        }
        if name.starts_with("c12_") {
            let x = recs.iter().find_map(|r| match r {
                Record::Exchange(x) => x.response.clone(),
                _ => None,
            });
            assert_eq!(x.expect("response").hresult, "0xC004F042");
        }
        if name.starts_with("c14_") {
            assert_eq!(s.gaps, 1, "{name}");
            let calls: Vec<(u32, bool)> = recs
                .iter()
                .filter_map(|r| match r {
                    Record::Exchange(x) => Some((x.call_id, x.request.is_some())),
                    _ => None,
                })
                .collect();
            assert_eq!(calls, [(2, true), (4, true), (3, false)], "{name}");
        }
        if name.starts_with("c06_") {
            assert!(
                recs.iter().all(|r| !matches!(r, Record::Bind(_))),
                "no bind captured"
            );
        }
        if name.starts_with("d01_") || name.starts_with("d02_") {
            let err = recs.iter().find_map(|r| match r {
                Record::Error(e) if e.layer == "capture" => Some(e),
                _ => None,
            });
            let err = err.expect("capture error record");
            assert!(err.packet.is_some() && err.file_offset.is_some(), "{err:?}");
        }
    }
    assert_eq!(seen, EXPECT.len() + 1);
}

#[test]
fn corpus_transcripts() {
    insta::glob!("../captures", "*.pcap*", |path| {
        let text = match decode_file(path) {
            Ok(recs) => yaml_document(&recs),
            Err(e) => format!("not decodable: {e}\n"),
        };
        insta::assert_snapshot!("transcript", text);
    });
}
