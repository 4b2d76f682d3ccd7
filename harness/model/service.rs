//! The Microsoft activation service side: MAK budgets (independent and proxy activation, key
//! groups) and CSVLK host budgets (six hosts, ten activations each).

use super::catalog::Catalog;
use super::decision::{HR_CSVLK_LIMIT, HR_MAK_LIMIT};
use std::collections::HashMap;
use uuid::Uuid;

/// Hosts one CSVLK may activate (rule CSVLK-6x10).
pub const CSVLK_MAX_HOSTS: usize = 6;
/// Activations per host of one CSVLK (rule CSVLK-6x10).
pub const CSVLK_MAX_PER_HOST: u32 = 10;

/// A handle to a key registered with the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct KeyHandle(pub u32);

/// Why the service refused an activation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No such key.
    #[error("unknown key {0:?}")]
    UnknownKey(KeyHandle),
    /// The key's product key group does not cover the edition (rule MAK-GROUP-ONLY).
    #[error("edition {sku} is not in the key's product key group")]
    WrongKeyGroup {
        /// The SKU asked for.
        sku: Uuid,
    },
    /// The SKU is not in the catalog.
    #[error("unknown edition {0}")]
    UnknownSku(Uuid),
    /// MAK budget exhausted (0xC004C020, rule MAK-BUDGET).
    #[error("MAK activation limit exceeded")]
    MakLimit,
    /// CSVLK over six hosts or ten activations on a host (0xC004C008, rule CSVLK-6x10).
    #[error("KMS host key activation limit exceeded")]
    CsvlkLimit,
    /// The key is of the other kind (MAK vs CSVLK).
    #[error("wrong key kind for this operation")]
    WrongKind,
}

impl ServiceError {
    /// The documented HRESULT, where Microsoft gives one.
    pub fn hresult(&self) -> Option<u32> {
        match self {
            Self::MakLimit => Some(HR_MAK_LIMIT),
            Self::CsvlkLimit => Some(HR_CSVLK_LIMIT),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Mak {
        group: Uuid,
        remaining: u64,
        used: u64,
    },
    Csvlk {
        limit_hosts: usize,
        per_host: u32,
        hosts: HashMap<Uuid, u32>,
    },
}

/// One machine in an activation: its id and the edition installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Machine {
    /// Machine id.
    pub id: Uuid,
    /// Edition (SKU id).
    pub sku: Uuid,
    /// Virtual machine (counts the same, rule MAK-BUDGET).
    pub is_vm: bool,
    /// Configured for KMS before (a MAK still activates it, rule MAK-AFTER-KMS).
    pub was_kms_client: bool,
}

/// The activation service with its key budgets. Deterministic; no clock needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationService {
    keys: Vec<Key>,
}

impl ActivationService {
    /// An empty service.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a MAK for the product key group `group` (a KMS counted id, e.g. Server 2008 R2
    /// C) with `activations` allowed.
    pub fn add_mak(&mut self, group: Uuid, activations: u64) -> KeyHandle {
        self.push(Key::Mak {
            group,
            remaining: activations,
            used: 0,
        })
    }

    /// Registers a CSVLK with the default 6 × 10 budget.
    pub fn add_csvlk(&mut self) -> KeyHandle {
        self.push(Key::Csvlk {
            limit_hosts: CSVLK_MAX_HOSTS,
            per_host: CSVLK_MAX_PER_HOST,
            hosts: HashMap::new(),
        })
    }

    fn push(&mut self, key: Key) -> KeyHandle {
        let handle = KeyHandle(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
        self.keys.push(key);
        handle
    }

    fn key_mut(&mut self, h: KeyHandle) -> Result<&mut Key, ServiceError> {
        self.keys
            .get_mut(h.0 as usize)
            .ok_or(ServiceError::UnknownKey(h))
    }

    /// Activations left on a MAK.
    pub fn mak_remaining(&self, h: KeyHandle) -> Option<u64> {
        match self.keys.get(h.0 as usize)? {
            Key::Mak { remaining, .. } => Some(*remaining),
            Key::Csvlk { .. } => None,
        }
    }

    /// Activations used on a MAK.
    pub fn mak_used(&self, h: KeyHandle) -> Option<u64> {
        match self.keys.get(h.0 as usize)? {
            Key::Mak { used, .. } => Some(*used),
            Key::Csvlk { .. } => None,
        }
    }

    /// Raises a MAK's budget (after a call to Microsoft), or a CSVLK's per-host limit.
    pub fn raise(&mut self, h: KeyHandle, by: u32) -> Result<(), ServiceError> {
        match self.key_mut(h)? {
            Key::Mak { remaining, .. } => *remaining = remaining.saturating_add(u64::from(by)),
            Key::Csvlk { per_host, .. } => *per_host = per_host.saturating_add(by),
        }
        Ok(())
    }

    /// Independent activation of one machine (online or phone). Uses one activation whether
    /// physical, virtual or a reactivation.
    pub fn activate_mak(&mut self, h: KeyHandle, machine: &Machine) -> Result<u64, ServiceError> {
        self.activate_proxy(h, std::slice::from_ref(machine))
            .map(|v| v.remaining)
    }

    /// Proxy activation (VAMT): one request carrying many machines; all-or-nothing, each
    /// machine uses one activation of the same budget.
    pub fn activate_proxy(
        &mut self,
        h: KeyHandle,
        machines: &[Machine],
    ) -> Result<ProxyReceipt, ServiceError> {
        let cat = Catalog::get();
        let Key::Mak {
            group,
            remaining,
            used,
        } = self.key_mut(h)?
        else {
            return Err(ServiceError::WrongKind);
        };
        for m in machines {
            let sku = cat.sku(&m.sku).ok_or(ServiceError::UnknownSku(m.sku))?;
            if sku.kms_id != *group {
                return Err(ServiceError::WrongKeyGroup { sku: m.sku });
            }
        }
        let n = machines.len() as u64;
        if n > *remaining {
            return Err(ServiceError::MakLimit);
        }
        *remaining -= n;
        *used += n;
        Ok(ProxyReceipt {
            activated: machines.len(),
            remaining: *remaining,
        })
    }

    /// Activates a KMS host with a CSVLK: at most six distinct hosts, each at most ten times.
    pub fn activate_host(&mut self, h: KeyHandle, host_id: Uuid) -> Result<u32, ServiceError> {
        let Key::Csvlk {
            limit_hosts,
            per_host,
            hosts,
        } = self.key_mut(h)?
        else {
            return Err(ServiceError::WrongKind);
        };
        if !hosts.contains_key(&host_id) && hosts.len() >= *limit_hosts {
            return Err(ServiceError::CsvlkLimit);
        }
        let n = hosts.entry(host_id).or_insert(0);
        if *n >= *per_host {
            return Err(ServiceError::CsvlkLimit);
        }
        *n += 1;
        Ok(*n)
    }
}

/// Result of a proxy activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyReceipt {
    /// Machines activated.
    pub activated: usize,
    /// Activations left on the MAK.
    pub remaining: u64,
}
