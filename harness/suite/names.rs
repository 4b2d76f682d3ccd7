//! Checks the names a spec uses against the real catalog and rule registry, so a case that
//! names a product, host key or rule the model does not know fails to load with its location.

use super::loader::{load_paths, LoadError, LoadedCase, NameCheck};
use crate::model::{rules, Catalog, Profile};
use std::path::{Path, PathBuf};

/// [`NameCheck`] backed by [`Catalog::get()`] (SKU names, default-profile host keys) and the
/// model's rule registry ([`rules()`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogNames;

impl NameCheck for CatalogNames {
    fn is_product(&self, name: &str) -> bool {
        Catalog::get().sku_by_name(name).is_some()
    }

    fn is_rule(&self, id: &str) -> bool {
        rules().iter().any(|r| r.id.0 == id)
    }

    fn is_host_key(&self, name: &str) -> bool {
        Catalog::get().host_key(Profile::default(), name).is_some()
    }
}

/// The folder the suite's own specs live in: `specs/` under the current directory when it
/// exists, else the crate's `specs/` (so tests and `cargo run` find it from anywhere).
pub fn default_specs_dir() -> PathBuf {
    let here = Path::new("specs");
    if here.is_dir() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")
    }
}

/// Loads the given spec files or folders (empty: [`default_specs_dir()`]) checked against the
/// catalog and rule registry.
pub fn load_default(paths: &[PathBuf]) -> Result<Vec<LoadedCase>, LoadError> {
    if paths.is_empty() {
        load_paths(&[default_specs_dir()], &CatalogNames)
    } else {
        load_paths(paths, &CatalogNames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_against_the_catalog() {
        let n = CatalogNames;
        assert!(n.is_product("windows 10 enterprise"));
        assert!(!n.is_product("Windows 99"));
        assert!(n.is_rule("THR-CLIENT-25"));
        assert!(!n.is_rule("THR-CLIENT-26"));
        assert!(n.is_host_key("Windows Server 2019"));
        assert!(!n.is_host_key("Windows Server 1999"));
    }
}
