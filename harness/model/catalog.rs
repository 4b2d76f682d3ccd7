//! The product catalog the model judges with: applications, KMS counted ids (thresholds), SKUs,
//! host keys (CSVLKs) with the KMS ids they serve per [`Profile`], host builds and LCIDs.
//!
//! The data is `catalog.json`, generated from the shared `spec/kms-products.yaml` by
//! `tools/gen_model_catalog.py` and checked against it by `tests/catalog_shared.rs`.

use crate::wire::kms::epid::{Epid, EpidCatalog, KeyIdRange};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;
use uuid::Uuid;

/// The committed catalog text (JSON).
pub const CATALOG_JSON: &str = include_str!("catalog.json");

/// Application id of Windows.
pub const APP_WINDOWS: Uuid = uuid::uuid!("55c92734-d682-4d71-983e-d6ec3f16059f");
/// Application id of Office 2010.
pub const APP_OFFICE_2010: Uuid = uuid::uuid!("59a52881-a989-479d-af46-f275c6370663");
/// Application id of Office 2013 and later.
pub const APP_OFFICE_2013: Uuid = uuid::uuid!("0ff1ce15-a989-479d-af46-f275c6370663");

/// Which host-key → KMS-id hierarchy the model uses (the shared data's sources disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Profile {
    /// py-kms-SR lists (broad down-level service), matching the seed FAQ's table; later keys
    /// from py-kms-Org, Server 2022/2025 extended down-level. The default.
    #[default]
    Hierarchical,
    /// py-kms-Org lists as written (each key serves its own generation only).
    Trimmed,
}

/// A licensed application with its own activation count.
#[derive(Debug, Clone, Deserialize)]
pub struct Application {
    /// Application id.
    pub id: Uuid,
    /// Short name (Windows, Office2010, Office2013+).
    pub name: String,
    /// MinActiveClients from the data (twice the highest threshold of the application).
    pub min_active_clients: u32,
}

/// A KMS counted id: the product group a client asks to be counted in.
#[derive(Debug, Clone, Deserialize)]
pub struct KmsProduct {
    /// KMS counted id.
    pub id: Uuid,
    /// Product group name.
    pub name: String,
    /// Application the group belongs to.
    pub app_id: Uuid,
    /// Activation threshold (N) genuine clients of this group send.
    pub threshold: u32,
    /// Default protocol major version of its clients.
    pub protocol: u16,
    /// Retail group (only lab keys serve it).
    pub retail: bool,
    /// Pre-release group.
    pub preview: bool,
    /// Which data sources list it.
    pub sources: Vec<String>,
}

/// A client edition (activation id) and the KMS group (product key group) it belongs to.
#[derive(Debug, Clone, Deserialize)]
pub struct Sku {
    /// SKU (activation) id.
    pub id: Uuid,
    /// Edition name.
    pub name: String,
    /// KMS counted id of its product key group.
    pub kms_id: Uuid,
}

/// A KMS host key (CSVLK): its ePID group, key-id range and the KMS ids it serves.
#[derive(Debug, Clone, Deserialize)]
pub struct HostKey {
    /// Key name as in the data.
    pub name: String,
    /// CSVLK SKU id (absent for some pre-release keys).
    pub sku_id: Option<Uuid>,
    /// ePID group id, when known.
    pub group_id: Option<u32>,
    /// Lowest ePID key id.
    pub min_key_id: Option<u64>,
    /// Highest ePID key id.
    pub max_key_id: Option<u64>,
    /// Release date (ISO), lower bound for ePID dates.
    pub release_date: Option<String>,
    /// Microsoft internal lab key.
    pub lab: bool,
    /// Pre-release key.
    pub preview: bool,
    /// Served list extended down-level by the generator (not in any source as written).
    pub extended: bool,
    /// KMS counted ids it serves.
    pub activates: Vec<Uuid>,
}

impl HostKey {
    /// Whether this key serves the KMS counted id.
    pub fn serves(&self, kms_id: &Uuid) -> bool {
        self.activates.contains(kms_id)
    }

    /// Whether an ePID (group, key id) could come from this key.
    pub fn epid_in_range(&self, group_id: u32, key_id: u64) -> bool {
        match (self.group_id, self.min_key_id, self.max_key_id) {
            (Some(g), Some(lo), Some(hi)) => g == group_id && (lo..=hi).contains(&key_id),
            _ => false,
        }
    }
}

/// A Windows build a host may run, with its ePID platform id.
#[derive(Debug, Clone, Deserialize)]
pub struct HostBuild {
    /// Build number.
    pub build: u32,
    /// ePID platform id.
    pub platform_id: u32,
    /// Release date (ISO).
    pub release_date: Option<String>,
    /// Used in ePIDs by the data.
    pub use_for_epid: bool,
    /// May run a server OS.
    pub may_be_server: bool,
    /// Accepts NDR64.
    pub ndr64: bool,
    /// Name.
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct HostKeys {
    hierarchical: Vec<HostKey>,
    trimmed: Vec<HostKey>,
}

#[derive(Debug, Deserialize)]
struct Raw {
    applications: Vec<Application>,
    kms_ids: Vec<KmsProduct>,
    skus: Vec<Sku>,
    host_keys: HostKeys,
    host_builds: Vec<HostBuild>,
    lcids: Vec<u32>,
}

/// The indexes' hasher: the keys are the committed catalog's, so a fast hash is safe (the
/// decoder looks up two ids per exchange; SipHash showed in its profile).
type IdHasher = foldhash::fast::RandomState;

/// The parsed catalog with lookup indexes.
#[derive(Debug)]
pub struct Catalog {
    raw: Raw,
    kms_by_id: HashMap<Uuid, usize, IdHasher>,
    sku_by_id: HashMap<Uuid, usize, IdHasher>,
}

/// Why a catalog text did not load.
#[derive(Debug, thiserror::Error)]
#[error("catalog: {0}")]
pub struct CatalogError(String);

impl Catalog {
    /// Parses a catalog JSON text (the committed one, or a regenerated one under test).
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| CatalogError(e.to_string()))?;
        let kms_by_id = raw
            .kms_ids
            .iter()
            .enumerate()
            .map(|(i, k)| (k.id, i))
            .collect();
        let sku_by_id = raw
            .skus
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        Ok(Self {
            raw,
            kms_by_id,
            sku_by_id,
        })
    }

    /// The committed catalog, parsed once.
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::parse(CATALOG_JSON).unwrap_or_else(|e| panic!("committed catalog.json: {e}"))
        })
    }

    /// All applications.
    pub fn applications(&self) -> &[Application] {
        &self.raw.applications
    }

    /// The application with this id.
    pub fn application(&self, id: &Uuid) -> Option<&Application> {
        self.raw.applications.iter().find(|a| a.id == *id)
    }

    /// All KMS counted ids.
    pub fn kms_products(&self) -> &[KmsProduct] {
        &self.raw.kms_ids
    }

    /// The KMS product group with this counted id.
    pub fn kms(&self, id: &Uuid) -> Option<&KmsProduct> {
        self.kms_by_id
            .get(id)
            .and_then(|&i| self.raw.kms_ids.get(i))
    }

    /// All SKUs.
    pub fn skus(&self) -> &[Sku] {
        &self.raw.skus
    }

    /// The SKU with this activation id.
    pub fn sku(&self, id: &Uuid) -> Option<&Sku> {
        self.sku_by_id.get(id).and_then(|&i| self.raw.skus.get(i))
    }

    /// A SKU by edition name (case-insensitive), e.g. "Windows 10 Enterprise".
    pub fn sku_by_name(&self, name: &str) -> Option<&Sku> {
        self.raw
            .skus
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// A KMS product group by name (case-insensitive).
    pub fn kms_by_name(&self, name: &str) -> Option<&KmsProduct> {
        self.raw
            .kms_ids
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(name))
    }

    /// The host keys of a profile.
    pub fn host_keys(&self, profile: Profile) -> &[HostKey] {
        match profile {
            Profile::Hierarchical => &self.raw.host_keys.hierarchical,
            Profile::Trimmed => &self.raw.host_keys.trimmed,
        }
    }

    /// A host key by name (case-insensitive) in a profile.
    pub fn host_key(&self, profile: Profile, name: &str) -> Option<&HostKey> {
        self.host_keys(profile)
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(name))
    }

    /// Host builds and their platform ids.
    pub fn host_builds(&self) -> &[HostBuild] {
        &self.raw.host_builds
    }

    /// The platform id for a host build: that of the highest listed build not above it.
    pub fn platform_id(&self, build: u32) -> Option<u32> {
        self.raw
            .host_builds
            .iter()
            .filter(|b| b.build <= build)
            .max_by_key(|b| b.build)
            .map(|b| b.platform_id)
    }

    /// Valid host LCIDs.
    pub fn lcids(&self) -> &[u32] {
        &self.raw.lcids
    }

    /// Whether an ePID's parts are consistent with the catalog for a requested KMS id:
    /// platform id matches the build, LCID is valid, and (group, key id) lies in the range of a
    /// host key (of `profile`) that serves `kms_id`.
    pub fn epid_consistent(&self, profile: Profile, epid: &Epid, kms_id: &Uuid) -> bool {
        self.platform_id(epid.build) == Some(epid.platform_id)
            && self.raw.lcids.contains(&epid.lcid)
            && self
                .host_keys(profile)
                .iter()
                .any(|k| k.serves(kms_id) && k.epid_in_range(epid.group_id, u64::from(epid.key_id)))
    }

    /// The host key (of `profile`) whose ePID key range holds this ePID and which serves some
    /// product of application `app_id`: which host-key family an answer came from, judged
    /// from what the host shows rather than from an assumed configuration.
    pub fn host_key_of_epid(
        &self,
        profile: Profile,
        app_id: &Uuid,
        epid: &Epid,
    ) -> Option<&HostKey> {
        self.host_keys(profile).iter().find(|k| {
            k.epid_in_range(epid.group_id, u64::from(epid.key_id))
                && k.activates
                    .iter()
                    .any(|id| self.kms(id).is_some_and(|p| p.app_id == *app_id))
        })
    }

    /// The wire layer's ePID key-range hook bound to this catalog, for answers to `kms_id`.
    pub fn epid_ranges_for(&self, profile: Profile, kms_id: Uuid) -> EpidRanges<'_> {
        EpidRanges {
            catalog: self,
            profile,
            kms_id,
        }
    }
}

/// Answers the wire layer's [`EpidCatalog`] question ("which key-id ranges may an ePID of this
/// group id carry?") with the host keys of a profile that serve one requested KMS id.
#[derive(Debug, Clone, Copy)]
pub struct EpidRanges<'a> {
    catalog: &'a Catalog,
    profile: Profile,
    kms_id: Uuid,
}

impl EpidCatalog for EpidRanges<'_> {
    fn key_ranges(&self, group_id: u32) -> Vec<KeyIdRange> {
        self.catalog
            .host_keys(self.profile)
            .iter()
            .filter(|k| k.group_id == Some(group_id) && k.serves(&self.kms_id))
            .filter_map(|k| {
                let lo = u32::try_from(k.min_key_id?).ok()?;
                let hi = u32::try_from(k.max_key_id?).ok()?;
                Some(KeyIdRange { min: lo, max: hi })
            })
            .collect()
    }
}
