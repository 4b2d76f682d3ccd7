//! The reference KMS host: given a request and the time, the answer a conforming host gives.
//!
//! Count semantics (rules CNT-*): per application, the host first drops CMIDs not seen for 30
//! days, grows its cache to twice the request's threshold, then records the requester's CMID
//! (refreshing it if present) and answers with the number of distinct live CMIDs, so the
//! requester's own CMID is included (the first client gets count 1, rule CNT-SELF-INCLUDED).
//! Refused requests are not recorded.

use super::catalog::{Catalog, HostKey, Profile, APP_OFFICE_2010, APP_OFFICE_2013, APP_WINDOWS};
use super::decision::{
    Alternative, Answer, CountBounds, Decision, Outcome, HR_INVALID_DATA, HR_INVALID_TIMESTAMP,
    HR_KMS_ID_MISMATCH,
};
use super::rules::{self, RuleId};
use super::table::CmidTable;
use super::time::{Timestamp, HOUR};
use std::sync::Arc;
use uuid::Uuid;

/// A KMS activation request as the model sees it (decoded by the wire layer, glued by the lead).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ActivationRequest {
    /// Protocol version (major, minor).
    pub protocol: (u16, u16),
    /// Application id.
    pub app_id: Uuid,
    /// KMS counted id (product group).
    pub kms_id: Uuid,
    /// SKU (activation) id.
    pub sku_id: Uuid,
    /// Client machine id.
    pub cmid: Uuid,
    /// Previous client machine id (zero if never changed).
    pub previous_cmid: Uuid,
    /// The client's activation threshold (N).
    pub required_count: u32,
    /// The client's clock.
    pub client_time: Timestamp,
    /// Virtual machine flag.
    pub is_vm: bool,
    /// License status (0 unlicensed … 6 extended grace).
    pub license_status: u32,
    /// Minutes left in the current status.
    pub grace_minutes: u32,
    /// Client name.
    pub workstation: String,
}

impl ActivationRequest {
    /// A v6 request from a genuine client of `kms_id` (threshold from the catalog) at `time`.
    pub fn genuine(kms_id: Uuid, cmid: Uuid, time: Timestamp) -> Self {
        let cat = Catalog::get();
        let (app_id, required_count, major) = cat
            .kms(&kms_id)
            .map(|k| (k.app_id, k.threshold, k.protocol))
            .unwrap_or((APP_WINDOWS, 25, 6));
        Self {
            protocol: (major, 0),
            app_id,
            kms_id,
            sku_id: Uuid::nil(),
            cmid,
            previous_cmid: Uuid::nil(),
            required_count,
            client_time: time,
            is_vm: false,
            license_status: 2,
            grace_minutes: 43_200,
            workstation: String::from("client.example"),
        }
    }
}

/// A host key installed on the host, with the ePID and HwId of its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledKey {
    /// Catalog host-key name (e.g. "Windows Server 2019").
    pub host_key: String,
    /// The ePID the host answers with for products served by this key.
    pub epid: Arc<str>,
    /// The HwId for V6 answers.
    pub hwid: [u8; 8],
}

/// Host configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// Which host-key hierarchy to apply.
    pub profile: Profile,
    /// Installed host keys (one per family: Windows, Office …).
    pub keys: Vec<InstalledKey>,
    /// Host OS build.
    pub host_build: u32,
    /// Whether a pre-Windows 7 host has the update to serve Windows 7 / Server 2008 R2.
    pub updated_for_win7: bool,
    /// VLActivationInterval to hand out, minutes (default 120).
    pub activation_interval: u32,
    /// VLRenewalInterval to hand out, minutes (default 10080).
    pub renewal_interval: u32,
    /// Allowed |client time − host time|, seconds (default 4 h; undocumented, INFO).
    pub time_tolerance_secs: i64,
    /// Whether a skewed request is expected to be refused (else answering is expected and
    /// refusing is allowed).
    pub strict_time: bool,
    /// Observing mode only: an asserted upper bound on the cache size, if any.
    pub max_cache: Option<u32>,
    /// Whether `keys` is what the host really holds. `false` for a host nobody declared keys
    /// for (a live target without `--host-key`, a captured host): then any catalog product
    /// may be answered or refused with 0xC004F042 (rule HIER-HOST-KEY), and `keys` only say
    /// how an answer would be counted.
    pub keys_declared: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        let key = |name: &str, epid: &str, hwid: [u8; 8]| InstalledKey {
            host_key: name.to_owned(),
            epid: Arc::from(epid),
            hwid,
        };
        let hwid = [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76];
        Self {
            profile: Profile::Hierarchical,
            keys: vec![
                key(
                    "Windows Server 2019",
                    "03612-00206-556-123727-03-1033-17763.0000-2972018",
                    hwid,
                ),
                key(
                    "Office 2019",
                    "03612-00206-684-137669-03-1033-17763.0000-2972018",
                    hwid,
                ),
                key(
                    "Office 2010",
                    "03612-00096-199-799188-03-1033-17763.0000-2972018",
                    hwid,
                ),
            ],
            host_build: 17763,
            updated_for_win7: true,
            activation_interval: 120,
            renewal_interval: 10_080,
            time_tolerance_secs: 4 * HOUR,
            strict_time: false,
            max_cache: None,
            keys_declared: true,
        }
    }
}

/// Names accepted by [`HostConfig::for_profile`] (`--profile`).
pub const PROFILE_NAMES: [&str; 2] = ["default", "strict"];

impl HostConfig {
    /// The host configuration of a named judging profile:
    /// - `default`: documented rules only; a skewed client time may be answered (INFO).
    /// - `strict`: also the undocumented limits observed in implementations: a request time
    ///   beyond the ±4 h tolerance must be refused with 0xC004F06C.
    ///
    /// The alternative host-key hierarchy ([`Profile::Trimmed`]) is not a named profile: the
    /// spec cases are written for the default hierarchy's keys, so it is a model setting only.
    pub fn for_profile(name: &str) -> Result<HostConfig, String> {
        let mut cfg = HostConfig::default();
        match name {
            "default" => {}
            "strict" => cfg.strict_time = true,
            other => {
                return Err(format!(
                    "unknown profile {other:?} (known: {})",
                    PROFILE_NAMES.join(", ")
                ))
            }
        }
        Ok(cfg)
    }
}

impl HostConfig {
    /// This configuration for a host whose keys nobody declared: the newest Windows host key
    /// and every Office host key (so the model never refuses a product some key could serve),
    /// with [`HostConfig::keys_declared`] false (so refusing any catalog product with
    /// 0xC004F042 is allowed too). The ePIDs are the template's and mean nothing.
    pub fn with_unknown_keys(mut self) -> HostConfig {
        self.rename_keys(UNKNOWN_HOST_KEYS.iter().copied());
        self.keys_declared = false;
        self
    }

    /// This configuration for a host declared to hold exactly `names` (`--host-key`), whose
    /// ePIDs and HwIds are not known in advance.
    pub fn with_declared_keys(mut self, names: &[String]) -> HostConfig {
        self.rename_keys(names.iter().map(String::as_str));
        self.keys_declared = true;
        self
    }

    /// Installs one key per name, each with the first key's ePID and HwId as placeholders.
    fn rename_keys<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        if let Some(t) = self.keys.first().cloned() {
            self.keys = names
                .map(|name| InstalledKey {
                    host_key: name.to_string(),
                    ..t.clone()
                })
                .collect();
        }
    }
}

/// The host keys assumed for a host of unknown keys: together they serve every catalog
/// product any key serves.
const UNKNOWN_HOST_KEYS: [&str; 7] = [
    "Windows Server 2025",
    "Office LTSC 2024",
    "Office LTSC 2021",
    "Office 2019",
    "Office 2016",
    "Office 2013",
    "Office 2010",
];

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The named host key is not in the catalog for the profile.
    #[error("host key {0:?} is not in the catalog for this profile")]
    UnknownHostKey(String),
}

/// Whether the model knows the host's whole history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knowledge {
    /// The host started empty under the model's eyes: counts are exact.
    Complete,
    /// The host was already in service: counts are bounded, never guessed.
    Observing,
}

/// KMS ids of Windows 7 and Server 2008 R2 (rule HOST-UPDATE-WIN7).
const WIN7_GENERATION: [Uuid; 4] = [
    uuid::uuid!("7fde5219-fbfa-484a-82c9-34d1ad53e856"),
    uuid::uuid!("0fc6ccaf-ff0e-4fae-9d08-4370785bf7ed"),
    uuid::uuid!("ca87f5b6-cd46-40c0-b06d-8ecd57a4373f"),
    uuid::uuid!("b2ca2689-a9a8-42d7-938d-cf8e9f201958"),
];

/// First Windows 7 / Server 2008 R2 build.
const WIN7_BUILD: u32 = 7600;

/// The reference KMS host state machine.
#[derive(Debug, Clone)]
pub struct KmsHost {
    config: HostConfig,
    keys: Vec<(&'static HostKey, InstalledKey)>,
    tables: [(Uuid, CmidTable); 3],
    clock: Timestamp,
    knowledge: Knowledge,
}

impl KmsHost {
    /// A host that starts empty (fresh install): exact counts.
    pub fn new(config: HostConfig) -> Result<Self, ConfigError> {
        Self::build(config, Knowledge::Complete)
    }

    /// A host already in service with an unknown table: answers carry count bounds.
    pub fn observing(config: HostConfig) -> Result<Self, ConfigError> {
        Self::build(config, Knowledge::Observing)
    }

    fn build(config: HostConfig, knowledge: Knowledge) -> Result<Self, ConfigError> {
        let cat = Catalog::get();
        let keys = config
            .keys
            .iter()
            .map(|k| {
                cat.host_key(config.profile, &k.host_key)
                    .map(|hk| (hk, k.clone()))
                    .ok_or_else(|| ConfigError::UnknownHostKey(k.host_key.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            config,
            keys,
            tables: [
                (APP_WINDOWS, CmidTable::new()),
                (APP_OFFICE_2010, CmidTable::new()),
                (APP_OFFICE_2013, CmidTable::new()),
            ],
            clock: Timestamp(i64::MIN),
            knowledge,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Whether counts are exact or bounded.
    pub fn knowledge(&self) -> Knowledge {
        self.knowledge
    }

    /// The CMID table of an application.
    pub fn table(&self, app_id: &Uuid) -> Option<&CmidTable> {
        self.tables
            .iter()
            .find(|(a, _)| a == app_id)
            .map(|(_, t)| t)
    }

    /// The (exact or lower-bound) count of an application at `now`.
    pub fn count(&self, app_id: &Uuid, now: Timestamp) -> u32 {
        self.table(app_id)
            .map_or(0, |t| t.count(now.max(self.clock)))
    }

    /// The cache size of an application.
    pub fn cache_size(&self, app_id: &Uuid) -> u32 {
        self.table(app_id).map_or(0, CmidTable::capacity)
    }

    /// Count bounds for an application at `now` in the current knowledge mode.
    pub fn count_bounds(&self, app_id: &Uuid, now: Timestamp) -> CountBounds {
        let n = self.count(app_id, now);
        match self.knowledge {
            Knowledge::Complete => CountBounds::exact(n),
            Knowledge::Observing => CountBounds {
                min: n,
                max: self
                    .config
                    .max_cache
                    .map(|m| m.max(self.cache_size(app_id))),
            },
        }
    }

    /// Judges a count a host reported for `app_id` at `now` against what is certain.
    pub fn judge_count(&self, app_id: &Uuid, observed: u32, now: Timestamp) -> super::Verdict {
        self.count_bounds(app_id, now).judge(observed)
    }

    /// The host's transition: the decision for `request` at host time `now`. Time never runs
    /// backwards for the host: an earlier `now` is taken as the latest seen.
    pub fn handle(&mut self, request: &ActivationRequest, now: Timestamp) -> Decision {
        let now = now.max(self.clock);
        self.clock = now;
        let mut rules: Vec<RuleId> = Vec::with_capacity(6);
        let mut alternatives = Vec::new();

        // VER-UNSUPPORTED
        if !matches!(request.protocol, (4..=6, 0)) {
            rules.push(rules::VER_UNSUPPORTED);
            return refuse(HR_INVALID_DATA, rules, alternatives);
        }

        // TIME-SKEW (INFO): the bound is a profile parameter.
        let skewed = request.client_time.since(now).unsigned_abs()
            > self.config.time_tolerance_secs.unsigned_abs();
        if skewed {
            rules.push(rules::TIME_SKEW);
            if self.config.strict_time {
                alternatives.push(Alternative::Answer {
                    rule: rules::TIME_SKEW,
                });
                return refuse(HR_INVALID_TIMESTAMP, rules, alternatives);
            }
            alternatives.push(Alternative::Refuse {
                hresult: HR_INVALID_TIMESTAMP,
                rule: rules::TIME_SKEW,
            });
        }

        // THR-N-LARGE (INFO): N above 1000 may be refused as invalid data.
        if request.required_count > 1000 {
            rules.push(rules::THR_N_LARGE);
            alternatives.push(Alternative::Refuse {
                hresult: HR_INVALID_DATA,
                rule: rules::THR_N_LARGE,
            });
        }

        // Product gate: HIER-HOST-KEY / HIER-UNKNOWN-KMS-ID / HOST-UPDATE-WIN7.
        let cat = Catalog::get();
        let (app_id, key_idx) = match cat.kms(&request.kms_id) {
            Some(k) => {
                rules.push(rules::HIER_HOST_KEY);
                if k.app_id != request.app_id {
                    rules.push(rules::HR_0XC004F042);
                    alternatives.push(Alternative::Answer {
                        rule: rules::HIER_UNKNOWN_KMS_ID,
                    });
                    return refuse(HR_KMS_ID_MISMATCH, rules, alternatives);
                }
                if WIN7_GENERATION.contains(&k.id)
                    && self.config.host_build < WIN7_BUILD
                    && !self.config.updated_for_win7
                {
                    rules.push(rules::HOST_UPDATE_WIN7);
                    rules.push(rules::HR_0XC004F042);
                    return refuse(HR_KMS_ID_MISMATCH, rules, alternatives);
                }
                match self.keys.iter().position(|(hk, _)| hk.serves(&k.id)) {
                    Some(i) => {
                        if !self.config.keys_declared {
                            alternatives.push(Alternative::Refuse {
                                hresult: HR_KMS_ID_MISMATCH,
                                rule: rules::HIER_HOST_KEY,
                            });
                        }
                        (k.app_id, i)
                    }
                    None => {
                        rules.push(rules::HR_0XC004F042);
                        if !self.config.keys_declared {
                            alternatives.push(Alternative::Answer {
                                rule: rules::HIER_HOST_KEY,
                            });
                        }
                        return refuse(HR_KMS_ID_MISMATCH, rules, alternatives);
                    }
                }
            }
            None => {
                rules.push(rules::HIER_UNKNOWN_KMS_ID);
                let family = self.keys.iter().position(|(hk, _)| {
                    hk.activates
                        .iter()
                        .any(|id| cat.kms(id).is_some_and(|k| k.app_id == request.app_id))
                });
                match family {
                    Some(i) => {
                        alternatives.push(Alternative::Refuse {
                            hresult: HR_KMS_ID_MISMATCH,
                            rule: rules::HIER_UNKNOWN_KMS_ID,
                        });
                        (request.app_id, i)
                    }
                    None => {
                        rules.push(rules::HR_0XC004F042);
                        return refuse(HR_KMS_ID_MISMATCH, rules, alternatives);
                    }
                }
            }
        };

        // Counting: CNT-EXPIRY-30D, CACHE-2X-NEVER-SHRINK, CNT-DISTINCT-CMID, CNT-SELF-INCLUDED.
        let Some((_, table)) = self.tables.iter_mut().find(|(a, _)| *a == app_id) else {
            rules.push(rules::HR_0XC004F042);
            return refuse(HR_KMS_ID_MISMATCH, rules, alternatives);
        };
        if table.expire(now) > 0 {
            rules.push(rules::CNT_EXPIRY_30D);
        }
        table.grow_for(request.required_count);
        rules.push(rules::CACHE_2X_NEVER_SHRINK);
        match table.touch(request.cmid, now) {
            super::table::Touch::Added => rules.push(rules::CNT_SELF_INCLUDED),
            super::table::Touch::Refreshed => rules.push(rules::CNT_RENEW_REFRESH),
            super::table::Touch::Evicted(_) => rules.push(rules::CACHE_LRU),
        }
        rules.push(rules::CNT_DISTINCT_CMID);
        let bounds = self.count_bounds(&app_id, now);
        let count = bounds.min;
        let threshold_rule = if request.required_count >= 25 {
            rules::THR_CLIENT_25
        } else {
            rules::THR_SERVER_5
        };
        rules.push(threshold_rule);
        let client_activates = count >= request.required_count;
        if !client_activates {
            rules.push(rules::HR_0XC004F038);
        }
        let (_, key) = &self.keys[key_idx];
        rules.push(rules::EPID_STABLE);
        Decision {
            outcome: Outcome::Answer(Answer {
                current_count: count,
                count_bounds: bounds,
                activation_interval: self.config.activation_interval,
                renewal_interval: self.config.renewal_interval,
                epid: Arc::clone(&key.epid),
                hwid: key.hwid,
                client_activates,
            }),
            alternatives,
            rules,
        }
    }
}

fn refuse(hresult: u32, rules: Vec<RuleId>, alternatives: Vec<Alternative>) -> Decision {
    Decision {
        outcome: Outcome::Refuse { hresult },
        alternatives,
        rules,
    }
}
