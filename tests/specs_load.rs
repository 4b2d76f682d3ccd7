//! The shipped YAML suite: it loads against the real catalog and rule registry, covers every
//! model rule and family, its raw bytes are valid hex, and `kmsspec list` prints it.

use assert_cmd::Command;
use kmsspec::model::{rules, Catalog};
use kmsspec::report::Level;
use kmsspec::suite::case::{Mutation, Step};
use kmsspec::suite::loader::LoadedCase;
use kmsspec::suite::names::load_default;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

fn suite() -> Vec<LoadedCase> {
    load_default(&[]).unwrap_or_else(|e| panic!("specs/ does not load: {e}"))
}

/// Every step of a case, repeats flattened.
fn all_steps(steps: &[Step]) -> Vec<&Step> {
    let mut out = Vec::new();
    for s in steps {
        out.push(s);
        if let Step::Repeat(r) = s {
            out.extend(all_steps(&r.steps));
        }
    }
    out
}

fn unhex(text: &str) -> Result<Vec<u8>, hex::FromHexError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact)
}

#[test]
fn the_suite_has_at_least_85_cases_with_unique_ids_under_their_family() {
    let cases = suite();
    assert!(cases.len() >= 85, "only {} cases", cases.len());
    let mut seen = HashSet::new();
    for c in &cases {
        let id = &c.case.id.value;
        assert!(seen.insert(id.clone()), "duplicate id {id}");
        assert!(
            id.starts_with(&format!("{}-", c.family)),
            "{id} does not start with its family {}",
            c.family
        );
        assert!(!c.case.source.trim().is_empty(), "{id} has no source");
        assert!(!c.case.rule.trim().is_empty(), "{id} has no rule");
    }
}

#[test]
fn every_model_rule_is_cited_by_some_case() {
    let cases = suite();
    let cited: HashSet<&str> = cases
        .iter()
        .flat_map(|c| c.case.rules.iter().map(|r| r.value.as_str()))
        .collect();
    let missing: Vec<&str> = rules()
        .iter()
        .map(|r| r.id.0)
        .filter(|id| !cited.contains(id))
        .collect();
    assert!(missing.is_empty(), "model rules no case cites: {missing:?}");
}

#[test]
fn every_family_has_a_must_case() {
    let cases = suite();
    let mut musts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        let n = musts.entry(c.family.as_str()).or_default();
        if c.case.level == Level::Must {
            *n += 1;
        }
    }
    assert!(musts.len() >= 10, "families: {musts:?}");
    let without: Vec<_> = musts.iter().filter(|(_, n)| **n == 0).collect();
    assert!(
        without.is_empty(),
        "families without a MUST case: {without:?}"
    );
}

#[test]
fn raw_and_mutation_bytes_are_valid_hex() {
    let check_mutation = |id: &str, m: &Mutation| {
        for h in [&m.set, &m.xor, &m.extend].into_iter().flatten() {
            let bytes = unhex(h).unwrap_or_else(|e| panic!("{id}: bad mutation hex {h:?}: {e}"));
            assert!(!bytes.is_empty(), "{id}: empty mutation hex");
        }
    };
    let mut raws = 0;
    for c in suite() {
        let id = c.case.id.value.as_str();
        for step in all_steps(&c.case.steps) {
            match step {
                Step::Raw(r) => {
                    let bytes = unhex(&r.hex).unwrap_or_else(|e| panic!("{id}: bad raw hex: {e}"));
                    assert!(!bytes.is_empty(), "{id}: empty raw step");
                    raws += 1;
                }
                Step::Request(r) => r.mutate.iter().for_each(|m| check_mutation(id, m)),
                _ => {}
            }
        }
    }
    assert!(raws >= 10, "only {raws} raw steps");
}

#[test]
fn raw_rpc_pdus_declare_their_true_length() {
    // A raw step that starts with an RPC v5 header and is not meant to lie about its length
    // carries exactly frag_length bytes per PDU (pipelined PDUs are walked one by one).
    let lying = [
        "ROB-FRAGLEN-TINY-1",
        "ROB-FRAGLEN-HUGE-1",
        "ROB-PARTIAL-HEADER-1",
    ];
    let mut checked = 0;
    for c in suite() {
        let id = c.case.id.value.as_str();
        if lying.contains(&id) {
            continue;
        }
        for step in all_steps(&c.case.steps) {
            let Step::Raw(r) = step else { continue };
            let bytes = unhex(&r.hex).unwrap_or_default();
            let mut rest = bytes.as_slice();
            while let [4 | 5, _, _, _, _, _, _, _, lo, hi, ..] = rest {
                let len = usize::from(u16::from_le_bytes([*lo, *hi]));
                assert!(
                    len >= 16 && len <= rest.len(),
                    "{id}: frag_length {len} vs {} bytes",
                    rest.len()
                );
                rest = &rest[len..];
                checked += 1;
            }
            if bytes.first().is_some_and(|b| *b == 4 || *b == 5) {
                assert!(rest.is_empty(), "{id}: {} trailing bytes", rest.len());
            }
        }
    }
    assert!(checked >= 10, "only {checked} PDUs checked");
}

#[test]
fn preconditions_match_the_steps_that_need_them() {
    let cat = Catalog::get();
    for c in suite() {
        let id = c.case.id.value.as_str();
        let steps = all_steps(&c.case.steps);
        let advances = steps.iter().any(|s| matches!(s, Step::AdvanceClock(_)));
        assert_eq!(
            advances, c.case.requires.clock_control,
            "{id}: advance_clock and requires.clock_control disagree"
        );
        for s in &steps {
            let Step::Service(svc) = s else { continue };
            assert!(
                c.case.requires.activation_service,
                "{id}: service step without requires.activation_service"
            );
            if let Some(p) = &svc.product {
                let known = match svc.op.as_str() {
                    "add_mak" => cat.kms_by_name(p).is_some(),
                    _ => cat.sku_by_name(p).is_some(),
                };
                assert!(known, "{id}: {} names unknown product {p:?}", svc.op);
            }
            assert!(
                svc.expect == "ok" || svc.expect == "refused" || svc.expect.starts_with("0x"),
                "{id}: service expect {:?}",
                svc.expect
            );
        }
    }
}

#[test]
fn kmsspec_list_prints_every_case() {
    let ids: Vec<String> = suite().into_iter().map(|c| c.case.id.value).collect();
    let out = Command::cargo_bin("kmsspec")
        .expect("binary")
        .arg("list")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for id in &ids {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(id.as_str())),
            "{id} missing from kmsspec list"
        );
    }
    assert!(
        text.contains(&format!("{} cases", ids.len())),
        "no total line"
    );
}

#[test]
fn kmsspec_list_on_a_malformed_spec_exits_2_with_its_location() {
    let dir = std::env::temp_dir().join(format!("kmsspec-specs-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file: PathBuf = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "family: T\ntitle: t\ncases:\n  - id: T-ONE-1\n    title: t\n    rule: r\n    source: s\n    levle: MUST\n    steps: [ { sanity: {} } ]\n",
    )
    .expect("write spec");
    let out = Command::cargo_bin("kmsspec")
        .expect("binary")
        .arg("list")
        .arg(&dir)
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:8:5:", file.display());
    assert!(err.contains(&expected), "stderr {err:?} lacks {expected}");
    assert!(err.contains("levle"), "{err}");
}
