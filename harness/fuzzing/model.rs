//! Structure-aware model target: an event sequence fed to [`KmsHost`] and
//! [`ActivationService`], with their invariants checked after every event.

use crate::model::{
    ActivationRequest, ActivationService, Catalog, HostConfig, KeyHandle, KmsHost, Machine,
    Outcome, Timestamp,
};
use std::collections::HashMap;
use std::sync::OnceLock;
use uuid::Uuid;

/// One step of a model run. Small indices pick catalog entries and CMIDs from a pool so that
/// sequences reach counting, repeats and budget exhaustion; `Raw` sends any request at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ModelEvent {
    /// A request for the catalog KMS id at `kms % len` from pool CMID `cmid % 64`.
    Request {
        /// Catalog KMS id index.
        kms: u8,
        /// CMID pool index.
        cmid: u8,
        /// Required client count (the client's threshold).
        required_count: u8,
        /// Client clock minus host clock, minutes.
        skew_minutes: i16,
        /// Send the application id of another product (a mismatch).
        wrong_app: bool,
        /// Protocol major (4–6 are valid).
        major: u8,
    },
    /// Any request.
    Raw(ActivationRequest),
    /// The host's clock moves forward by this many hours.
    AdvanceHours(u16),
    /// Registers a MAK for catalog KMS id `group % len` with this budget.
    AddMak {
        /// Catalog KMS id index (the key group).
        group: u8,
        /// Activations allowed.
        activations: u16,
    },
    /// Registers a CSVLK.
    AddCsvlk,
    /// Activates machines (catalog SKU index, machine id) with key `key`.
    Activate {
        /// Key handle.
        key: u8,
        /// Machines: (SKU index, machine id byte).
        machines: Vec<(u8, u8)>,
    },
    /// Raises a key's budget.
    Raise {
        /// Key handle.
        key: u8,
        /// Amount.
        by: u16,
    },
    /// Activates a KMS host with a CSVLK.
    ActivateHost {
        /// Key handle.
        key: u8,
        /// Host id byte.
        host: u8,
    },
}

fn pool_uuid(tag: u8, i: u8) -> Uuid {
    Uuid::from_u128((u128::from(tag) << 120) | (u128::from(i) + 1))
}

/// MAK bookkeeping kept beside the service: what the budget must be.
#[derive(Default)]
struct Shadow {
    /// Per MAK handle: (remaining, used).
    mak: HashMap<u32, (u64, u64)>,
    /// Per CSVLK handle: activations per host.
    csvlk: HashMap<u32, HashMap<Uuid, u32>>,
    keys: u32,
}

/// `model`: runs `events` against a fresh default [`KmsHost`] and an [`ActivationService`].
/// After every request: each application's count ≤ its cache size; cache sizes never shrink;
/// an answered request leaves its CMID live and the count ≥ 1; a CMID already live does not
/// raise the count; a new one raises it by at most one; a refusal changes nothing; the
/// activation verdict is `count ≥ N`. MAK budgets never go negative and fall by exactly one
/// per activated machine (none on a refusal); a CSVLK serves at most 6 hosts, 10 times each.
pub fn fuzz_model(events: &[ModelEvent]) {
    let cat = Catalog::get();
    let kms = cat.kms_products();
    let skus = cat.skus();
    let (apps, fresh_host) = fixtures();
    let mut host = fresh_host.clone();
    let mut service = ActivationService::new();
    let mut shadow = Shadow::default();
    let mut now = Timestamp(13_300_000_000);
    let mut caches: HashMap<Uuid, u32> = HashMap::new();

    for event in events {
        match event {
            ModelEvent::Request {
                kms: k,
                cmid,
                required_count,
                skew_minutes,
                wrong_app,
                major,
            } => {
                let Some(product) = kms.get(usize::from(*k) % kms.len().max(1)) else {
                    continue;
                };
                let mut req = ActivationRequest::genuine(
                    product.id,
                    pool_uuid(1, cmid % 64),
                    now.plus(i64::from(*skew_minutes) * 60),
                );
                req.required_count = u32::from(*required_count);
                req.protocol = (u16::from(*major % 8), 0);
                if *wrong_app {
                    if let Some(other) = apps.iter().find(|a| **a != req.app_id) {
                        req.app_id = *other;
                    }
                }
                check_request(&mut host, &req, now, apps, &mut caches);
            }
            ModelEvent::Raw(req) => check_request(&mut host, req, now, apps, &mut caches),
            ModelEvent::AdvanceHours(h) => now = now.plus(i64::from(*h) * 3600),
            ModelEvent::AddMak { group, activations } => {
                let Some(product) = kms.get(usize::from(*group) % kms.len().max(1)) else {
                    continue;
                };
                let h = service.add_mak(product.id, u64::from(*activations));
                assert_eq!(h, KeyHandle(shadow.keys), "handles are not sequential");
                shadow.mak.insert(h.0, (u64::from(*activations), 0));
                shadow.keys += 1;
            }
            ModelEvent::AddCsvlk => {
                let h = service.add_csvlk();
                assert_eq!(h, KeyHandle(shadow.keys), "handles are not sequential");
                shadow.csvlk.insert(h.0, HashMap::new());
                shadow.keys += 1;
            }
            ModelEvent::Activate { key, machines } => {
                let h = KeyHandle(u32::from(*key));
                let ms: Vec<Machine> = machines
                    .iter()
                    .map(|&(s, id)| Machine {
                        id: pool_uuid(2, id),
                        sku: skus
                            .get(usize::from(s) % skus.len().max(1))
                            .map_or(Uuid::nil(), |s| s.id),
                        is_vm: id % 2 == 1,
                        was_kms_client: id % 3 == 0,
                    })
                    .collect();
                let result = service.activate_proxy(h, &ms);
                match shadow.mak.get_mut(&h.0) {
                    Some((remaining, used)) => {
                        let n = ms.len() as u64;
                        if let Ok(r) = &result {
                            assert!(n <= *remaining, "activated beyond the budget");
                            *remaining -= n;
                            *used += n;
                            assert_eq!(r.remaining, *remaining, "budget fell by ≠ one per machine");
                            assert_eq!(r.activated, ms.len());
                        } else if n > *remaining {
                            assert!(result.is_err());
                        }
                        assert_eq!(service.mak_remaining(h), Some(*remaining), "MAK budget");
                        assert_eq!(service.mak_used(h), Some(*used), "MAK used");
                    }
                    None => assert!(result.is_err(), "activation with a non-MAK key succeeded"),
                }
            }
            ModelEvent::Raise { key, by } => {
                let h = KeyHandle(u32::from(*key));
                let result = service.raise(h, u32::from(*by));
                assert_eq!(result.is_ok(), h.0 < shadow.keys, "raise on unknown key");
                if let Some((remaining, _)) = shadow.mak.get_mut(&h.0) {
                    *remaining = remaining.saturating_add(u64::from(*by));
                    assert_eq!(service.mak_remaining(h), Some(*remaining));
                }
            }
            ModelEvent::ActivateHost { key, host: id } => {
                let h = KeyHandle(u32::from(*key));
                let host_id = pool_uuid(3, *id);
                let result = service.activate_host(h, host_id);
                match shadow.csvlk.get_mut(&h.0) {
                    Some(hosts) => {
                        if let Ok(n) = result {
                            let seen = hosts.entry(host_id).or_insert(0);
                            *seen += 1;
                            assert_eq!(n, *seen, "per-host activation count");
                            assert!(hosts.len() <= 6, "a CSVLK activated more than 6 hosts");
                        }
                    }
                    None => assert!(result.is_err(), "host activation with a non-CSVLK key"),
                }
            }
        }
    }
}

/// The catalog's application ids and a fresh default [`KmsHost`], made once: every run starts
/// from a clone of that host (building one per run looked up the catalog each time).
fn fixtures() -> &'static (Vec<Uuid>, KmsHost) {
    static FIXTURES: OnceLock<(Vec<Uuid>, KmsHost)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let apps = Catalog::get().applications().iter().map(|a| a.id).collect();
        let host = KmsHost::new(HostConfig::default()).expect("default config is valid");
        (apps, host)
    })
}

/// One request against the host with every count/cache invariant checked around it.
fn check_request(
    host: &mut KmsHost,
    req: &ActivationRequest,
    now: Timestamp,
    apps: &[Uuid],
    caches: &mut HashMap<Uuid, u32>,
) {
    let app = req.app_id;
    let before = host.count(&app, now);
    let was_live = host.table(&app).is_some_and(|t| t.contains(&req.cmid, now));
    let len_before = host.table(&app).map(|t| t.len());
    let decision = host.handle(req, now);
    let after = host.count(&app, now);
    match &decision.outcome {
        Outcome::Answer(a) => {
            assert_eq!(a.current_count, after, "answer count ≠ table count");
            assert!(after >= 1, "answered requester not counted");
            assert!(
                host.table(&app).is_some_and(|t| t.contains(&req.cmid, now)),
                "answered CMID not live in its table"
            );
            if was_live {
                assert_eq!(after, before, "a repeated CMID raised the count");
            } else {
                assert!(
                    after <= before + 1,
                    "one new CMID raised the count by more than 1"
                );
            }
            assert_eq!(a.client_activates, after >= req.required_count);
        }
        Outcome::Refuse { .. } => {
            assert_eq!(after, before, "a refused request changed the count");
            assert_eq!(host.table(&app).map(|t| t.len()), len_before);
        }
    }
    for a in apps {
        let cache = host.cache_size(a);
        assert!(host.count(a, now) <= cache, "count above cache size");
        if let Some(t) = host.table(a) {
            assert!(t.len() <= cache as usize, "table holds more than its cache");
        }
        let prev = caches.entry(*a).or_insert(0);
        assert!(cache >= *prev, "cache shrank");
        *prev = cache;
    }
}

/// `model` from raw fuzzer bytes: decodes a [`ModelEvent`] sequence with `arbitrary`.
#[cfg(feature = "arbitrary")]
pub fn fuzz_model_bytes(data: &[u8]) {
    let u = arbitrary::Unstructured::new(data);
    if let Ok(events) = <Vec<ModelEvent> as arbitrary::Arbitrary>::arbitrary_take_rest(u) {
        fuzz_model(&events);
    }
}
