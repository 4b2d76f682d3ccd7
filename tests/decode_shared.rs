//! Interop: every exchange in the shared corpus of real captures (`$KMSSPEC_SHARED/captures`)
//! decodes, and the decoded ePID, count, intervals and HwId equal what each client printed
//! (the MANIFEST's "client printed" column); the malformed captures give the records the
//! MANIFEST describes. Each capture's YAML transcript is also an insta snapshot
//! (`tests/snapshots/decode_shared__shared@*.snap`).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use kmsspec::capture::decode_to_vec;
use kmsspec::capture::records::{ExchangeRecord, Record, SummaryRecord};
use kmsspec::cli::decode::yaml_document;

/// One response a client printed.
#[derive(Debug, Default, Clone)]
struct Printed {
    cmid: Option<String>,
    epid: String,
    hwid: Option<String>,
    count: u32,
    activation: u32,
    renewal: u32,
}

/// What the MANIFEST says a capture's client printed.
#[derive(Debug, Default)]
struct Expected {
    responses: Vec<Printed>,
    errors: Vec<String>,
}

fn num(s: &str) -> u32 {
    s.trim()
        .parse()
        .unwrap_or_else(|_| panic!("number in MANIFEST: {s:?}"))
}

fn parse_manifest(text: &str) -> BTreeMap<String, Expected> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split(" | ").collect();
        if cols.len() < 9 || !cols[1].starts_with('`') {
            continue;
        }
        let file = cols[1].trim_matches('`').to_owned();
        let summary = cols[8].trim_end_matches(" |").trim_end_matches('|').trim();
        let mut exp = Expected::default();
        let mut pykms = Printed::default();
        let mut pykms_seen = false;
        for part in summary.split("<br>") {
            let part = part.trim();
            if let Some((req, resp)) = part.split_once(" -> ") {
                let cmid = req.split_whitespace().nth(2).map(str::to_owned);
                let body = resp.split_once(": ").map(|x| x.1).unwrap_or("");
                let mut p = Printed {
                    cmid,
                    ..Default::default()
                };
                for kv in body.split(", ") {
                    let (k, v) = kv.split_once(' ').unwrap_or((kv, ""));
                    match k {
                        "ePID" => p.epid = v.to_owned(),
                        "HwId" => p.hwid = Some(v.to_owned()),
                        "count" => p.count = num(v),
                        "renewal" => p.renewal = num(v),
                        "activation" => p.activation = num(v),
                        _ => {}
                    }
                }
                exp.responses.push(p);
            } else if let Some(rest) = part.strip_prefix("errors: ") {
                exp.errors
                    .push(rest.split_whitespace().next().unwrap_or("").to_owned());
            } else if let Some(v) = part.strip_prefix("KMS Host HWID: ") {
                pykms.hwid = Some(v.to_owned());
            } else if let Some(v) = part.strip_prefix("KMS Host ePID: ") {
                pykms.epid = v.to_owned();
                pykms_seen = true;
            } else if let Some(v) = part.strip_prefix("KMS Host Current Client Count: ") {
                pykms.count = num(v);
            } else if let Some(v) = part.strip_prefix("KMS VL Activation Interval: ") {
                pykms.activation = num(v);
            } else if let Some(v) = part.strip_prefix("KMS VL Renewal Interval: ") {
                pykms.renewal = num(v);
            }
        }
        if pykms_seen {
            exp.responses.push(pykms);
        }
        out.insert(file, exp);
    }
    out
}

fn exchanges(recs: &[Record]) -> Vec<&ExchangeRecord> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some(x.as_ref()),
            _ => None,
        })
        .collect()
}

fn summary(recs: &[Record]) -> &SummaryRecord {
    match recs.last() {
        Some(Record::Summary(s)) => s,
        other => panic!("no summary: {other:?}"),
    }
}

fn shared_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("captures"))
        .expect("captures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    files
}

fn decode(path: &std::path::Path) -> (String, Vec<Record>) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let bytes = std::fs::read(path).expect("read");
    let recs = decode_to_vec(&bytes, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
    (name, recs)
}

#[test]
fn shared_exchanges_match_what_clients_printed() {
    let Some(dir) = common::shared_dir() else {
        return;
    };
    let manifest =
        parse_manifest(&std::fs::read_to_string(dir.join("captures/MANIFEST.md")).unwrap());
    assert!(manifest.len() >= 35, "MANIFEST rows: {}", manifest.len());
    let mut compared = 0;
    for path in shared_files(&dir) {
        let (name, recs) = decode(&path);
        let exp = manifest
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not in MANIFEST"));
        let xs = exchanges(&recs);
        let s = summary(&recs);
        let malformed = name.contains("_malformed-");
        if !malformed {
            assert_eq!(s.errors, 0, "{name}: {recs:#?}");
            assert_eq!(s.failed_checks, 0, "{name}: {recs:#?}");
            assert!(!s.damaged, "{name}");
            assert!(!xs.is_empty(), "{name}: no exchange");
            for x in &xs {
                // s17 sends protocol 7.0, which is not a KMS version: undecodable by design.
                if name.starts_with("s17_") {
                    assert!(x.request_error.is_some(), "{name}");
                } else {
                    assert!(x.request.is_some(), "{name}: {x:?}");
                    assert!(x.response_error.is_none(), "{name}: {x:?}");
                }
            }
        }
        for (i, p) in exp.responses.iter().enumerate() {
            let x = match &p.cmid {
                Some(c) => xs
                    .iter()
                    .find(|x| x.request.as_ref().is_some_and(|r| &r.cmid == c))
                    .unwrap_or_else(|| panic!("{name}: no exchange for CMID {c}")),
                None => xs.get(i).unwrap_or_else(|| panic!("{name}: exchange {i}")),
            };
            let r = x
                .response
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no response"));
            assert_eq!(r.epid.as_deref(), Some(p.epid.as_str()), "{name}: ePID");
            assert_eq!(r.current_count, Some(p.count), "{name}: count");
            assert_eq!(
                r.activation_interval,
                Some(p.activation),
                "{name}: activation"
            );
            assert_eq!(r.renewal_interval, Some(p.renewal), "{name}: renewal");
            if p.hwid.is_some() {
                assert_eq!(r.hwid.as_deref(), p.hwid.as_deref(), "{name}: HwId");
            }
            assert!(
                !x.checks.is_empty() && x.failed.is_empty(),
                "{name}: {:?}",
                x.failed
            );
            compared += 1;
        }
        for e in &exp.errors {
            if e == "0x0000071C" {
                // "No RPC response received": the request is there, unanswered.
                assert!(
                    xs.iter().any(|x| x.response.is_none()),
                    "{name}: unanswered call"
                );
            } else {
                assert!(
                    xs.iter()
                        .any(|x| x.response.as_ref().is_some_and(|r| r.hresult == e.as_str())),
                    "{name}: HRESULT {e} expected"
                );
            }
        }
    }
    assert!(compared >= 30, "responses compared: {compared}");
}

#[test]
fn shared_malformed_captures() {
    let Some(dir) = common::shared_dir() else {
        return;
    };
    let get = |prefix: &str| {
        let path = shared_files(&dir)
            .into_iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} missing"));
        decode(&path).1
    };
    let errors = |recs: &[Record]| -> Vec<String> {
        recs.iter()
            .filter_map(|r| match r {
                Record::Error(e) => Some(e.message.clone()),
                _ => None,
            })
            .collect()
    };
    // s27: HTTP on the KMS port.
    let r = get("s27_");
    let e = errors(&r);
    assert_eq!(e.len(), 1, "{r:#?}");
    assert!(e[0].contains("not a DCE/RPC PDU"), "{e:?}");
    // s28: request without bind → fault nca_unk_if.
    let r = get("s28_");
    let f = r
        .iter()
        .find_map(|r| match r {
            Record::Fault(f) => Some(f),
            _ => None,
        })
        .expect("fault");
    assert_eq!(
        (f.status.as_str(), f.status_name),
        ("0x1C010003", Some("nca_unk_if"))
    );
    assert!(f.request.is_some(), "the faulted V4 request decodes");
    // s29: truncated request then idle → the partial PDU is reported.
    let e = errors(&get("s29_"));
    assert_eq!(
        e,
        vec!["connection ended inside a PDU: 100 of 284 bytes".to_owned()]
    );
    // s30: truncated bind then FIN.
    let e = errors(&get("s30_"));
    assert_eq!(
        e,
        vec!["connection ended inside a PDU: 40 of 160 bytes".to_owned()]
    );
    // s31: 40-byte stub → the request does not decode, the host answers 0x8007000D.
    let r = get("s31_");
    let xs = exchanges(&r);
    assert_eq!(xs.len(), 1);
    assert!(xs[0].request_error.is_some());
    assert_eq!(xs[0].response.as_ref().unwrap().hresult, "0x8007000D");
}

#[test]
fn shared_transcripts() {
    let Some(dir) = common::shared_dir() else {
        return;
    };
    for path in shared_files(&dir) {
        let (name, recs) = decode(&path);
        insta::with_settings!({ snapshot_suffix => name.clone(), omit_expression => true }, {
            insta::assert_snapshot!("shared", yaml_document(&recs));
        });
    }
}
