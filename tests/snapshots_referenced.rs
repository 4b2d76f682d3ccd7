//! CI rejects unreferenced and pending snapshots: every committed `.snap` must belong to a
//! capture that exists (`captures/` for `decode_corpus`, the shared corpus for
//! `decode_shared`) or be a named snapshot its test file still asserts (`TEST__NAME.snap`),
//! and no `.snap.new` / `.pending-snap` may be left behind.

mod common;

use std::path::Path;

#[test]
fn every_snapshot_is_referenced_and_none_is_pending() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = common::shared_dir();
    let mut problems = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("tests/snapshots")).expect("tests/snapshots") {
        let name = entry
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            problems.push(format!("pending snapshot {name}"));
            continue;
        }
        let Some(stem) = name.strip_suffix(".snap") else {
            problems.push(format!("unexpected file {name}"));
            continue;
        };
        let Some((test, capture)) = stem.split_once('@') else {
            // A named snapshot: its test file must still name it.
            let source = stem
                .split_once("__")
                .map(|(test, snap)| (root.join("tests").join(format!("{test}.rs")), snap));
            match source {
                Some((file, snap))
                    if std::fs::read_to_string(&file)
                        .is_ok_and(|t| t.contains(&format!("\"{snap}\""))) =>
                {
                    checked += 1;
                }
                _ => problems.push(format!("snapshot no test asserts: {name}")),
            }
            continue;
        };
        let source = match test {
            "decode_corpus__transcript" => root.join("captures").join(capture),
            "decode_shared__shared" => match &shared {
                Some(dir) => dir.join("captures").join(capture),
                None => continue, // said by shared_dir(); CI sets KMSSPEC_SHARED
            },
            other => {
                problems.push(format!("snapshot of an unknown test {other}: {name}"));
                continue;
            }
        };
        checked += 1;
        if !source.is_file() {
            problems.push(format!("{name}: no such capture {}", source.display()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked >= 17, "only {checked} snapshots checked");
}
