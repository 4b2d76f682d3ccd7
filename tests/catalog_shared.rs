//! The committed model catalog agrees with the shared `spec/kms-products.yaml`: regenerating it
//! with `tools/gen_model_catalog.py` gives the same data, and key facts match the YAML directly.
//! Set `KMSSPEC_REGENERATE=1` to rewrite `harness/model/catalog.json`.

mod common;

use kmsspec::model::{Catalog, Profile};
use std::process::Command;

#[test]
fn committed_catalog_matches_shared_yaml() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/tools/gen_model_catalog.py"))
        .arg(&shared)
        .output()
        .expect("run python3 tools/gen_model_catalog.py");
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = String::from_utf8(out.stdout).expect("utf-8");
    if std::env::var_os("KMSSPEC_REGENERATE").is_some() {
        std::fs::write(format!("{root}/harness/model/catalog.json"), &fresh).expect("write");
    }
    let a: serde_json::Value = serde_json::from_str(&fresh).expect("fresh json");
    let b: serde_json::Value =
        serde_json::from_str(kmsspec::model::catalog::CATALOG_JSON).expect("committed json");
    assert!(
        a == b,
        "harness/model/catalog.json is stale: rerun with KMSSPEC_REGENERATE=1"
    );

    // Direct spot checks against the YAML text, independent of the generator.
    let yaml = std::fs::read_to_string(shared.join("spec/kms-products.yaml")).expect("yaml");
    let cat = Catalog::get();
    for k in cat.kms_products() {
        if !k.sources.iter().any(|s| s == "third_party") {
            assert!(
                yaml.contains(&format!("id: {}", k.id)),
                "{} not in YAML",
                k.id
            );
        }
    }
    assert_eq!(
        cat.kms_products()
            .iter()
            .filter(|k| k.sources.iter().any(|s| s != "third_party"))
            .count(),
        45
    );
    assert!(cat.skus().len() >= 331);
    let w7 = cat
        .host_key(Profile::Hierarchical, "Windows 7")
        .expect("Windows 7 key");
    assert_eq!(
        (w7.group_id, w7.min_key_id, w7.max_key_id),
        (Some(172), Some(37_000_000), Some(49_749_999))
    );
    assert_eq!(cat.platform_id(17763), Some(3612));
    assert_eq!(cat.platform_id(7601), Some(55041));
    assert_eq!(cat.lcids().len(), 158);
}
