//! The direct JSON writer (`capture::json`) writes exactly the bytes serde_json writes for
//! every record of the project's corpus, the shared real captures (when present) and records
//! with awkward strings.

mod common;

use std::path::Path;
use std::sync::Arc;

use kmsspec::capture::decode_to_vec;
use kmsspec::capture::json::{write_record, JsonWriter};
use kmsspec::capture::records::{ErrorRecord, Flow, Record};

fn assert_same(r: &Record) {
    let mut fast = Vec::new();
    write_record(&mut fast, r);
    let serde = serde_json::to_vec(r).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&serde)
    );
}

/// One `JsonWriter` over a whole capture's records (its remembered connection texts in use)
/// writes the same lines as serde_json.
fn assert_same_stream(records: &[Record]) {
    let mut writer = JsonWriter::default();
    let (mut fast, mut serde) = (Vec::new(), Vec::new());
    for r in records {
        writer.write(&mut fast, r);
        fast.push(b'\n');
        serde.extend(serde_json::to_vec(r).unwrap());
        serde.push(b'\n');
    }
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&serde)
    );
}

fn check_dir(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("captures dir") {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.contains(".pcap") || name.ends_with(".cap")) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(records) = decode_to_vec(&bytes, &name) {
            for r in &records {
                assert_same(r);
                n += 1;
            }
            assert_same_stream(&records);
        }
    }
    n
}

#[test]
fn corpus_records_serialise_like_serde_json() {
    let n = check_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"));
    assert!(n > 50, "only {n} records");
}

#[test]
fn shared_records_serialise_like_serde_json() {
    let Some(dir) = common::shared_dir() else {
        return;
    };
    let n = check_dir(&dir.join("captures"));
    assert!(n > 50, "only {n} records");
}

#[test]
fn awkward_strings_serialise_like_serde_json() {
    let r = Record::Error(ErrorRecord {
        capture: Arc::from("we\"ird\\name\u{1}\t\n é😀"),
        flow: Some(Flow {
            client: Arc::from("[::1]:5"),
            server: Arc::from("10.0.0.1:1688"),
        }),
        layer: "rpc",
        packet: Some(u64::MAX),
        file_offset: None,
        stream_offset: Some(0),
        direction: None,
        message: "\u{0}\u{8}\u{c}\r\u{1f}\u{7f}".into(),
    });
    assert_same(&r);
}

#[test]
fn a_writer_never_reuses_another_connections_texts() {
    let flow = |c: &str| Flow {
        client: Arc::from(c),
        server: Arc::from("10.0.0.1:1688"),
    };
    let gap = |capture: &Arc<str>, f: &Flow| {
        Record::Gap(kmsspec::capture::records::GapRecord {
            capture: capture.clone(),
            flow: f.clone(),
            direction: "to_server",
            offset: 1,
            missing: 2,
            packet: 3,
        })
    };
    let (cap_a, cap_b): (Arc<str>, Arc<str>) = (Arc::from("a.pcap"), Arc::from("b.pcap"));
    let (one, two) = (flow("10.0.0.2:1"), flow("10.0.0.2:2"));
    // Equal texts in distinct allocations, interleaved connections, a new capture name.
    let records = [
        gap(&cap_a, &one),
        gap(&cap_a, &one),
        gap(&cap_a, &two),
        gap(&cap_a, &one),
        gap(&cap_b, &one),
        gap(&cap_a, &flow("10.0.0.2:1")),
    ];
    assert_same_stream(&records);
}

#[test]
fn every_kind_of_context_serialises_like_serde_json() {
    use kmsspec::capture::records::{BindRecord, ContextRecord};
    use kmsspec::wire::rpc::{
        btfn, NdrSyntax, ResultKind, SyntaxId, KMS_INTERFACE_UUID, NDR32, NDR64,
    };
    let other_if = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let results = [
        None,
        Some(ResultKind::Acceptance),
        Some(ResultKind::UserRejection),
        Some(ResultKind::ProviderRejection),
        Some(ResultKind::NegotiateAck),
        Some(ResultKind::Unknown(9)),
    ];
    let mut contexts = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        for (interface, version) in [
            (KMS_INTERFACE_UUID, (1, 0)),
            (KMS_INTERFACE_UUID, (2, 1)),
            (other_if, (1, 0)),
        ] {
            for syntax in [None, Some(NdrSyntax::Ndr32), Some(NdrSyntax::Ndr64)] {
                contexts.push(ContextRecord {
                    id: contexts.len() as u16,
                    interface,
                    interface_version: version,
                    proposed: vec![NDR32, NDR64, btfn(3), btfn(1), SyntaxId::new(other_if, 7)]
                        .into_iter()
                        .take(i % 6)
                        .collect(),
                    result,
                    reason: i as u16 * 1000,
                    syntax,
                });
            }
        }
    }
    let r = Record::Bind(BindRecord {
        capture: Arc::from("c.pcap"),
        flow: Flow {
            client: Arc::from("10.0.0.2:1"),
            server: Arc::from("10.0.0.1:1688"),
        },
        call_id: 7,
        pdu: "alter_context",
        answer: "nak",
        reject_reason: Some(4),
        kms: false,
        contexts,
    });
    assert_same(&r);
}
