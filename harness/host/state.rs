//! The state shared by every connection of one host: the model [`KmsHost`] (CMID tables), the
//! host clock, the deterministic RNG, the association-group counter and the selected flaw.
//! It turns one KMS request message into one KMS outcome; the RPC framing around it is
//! [`super::HostConnection`]'s job.

use super::convert::activation_request;
use super::flaw::{encode_v6_with_slot, HostFlaw, WRONG_HMAC_SLOT};
use crate::model::catalog::APP_WINDOWS;
use crate::model::decision::HR_INVALID_DATA;
use crate::model::{ActivationRequest, ConfigError, HostConfig, KmsHost, Outcome, Timestamp};
use crate::rng::SplitMix64;
use crate::wire::kms::{
    encode_response, unknown_version, BaseResponse, DecodedRequest, Protocol, ResponseParams,
};
use crate::wire::{FileTime, WireErrorKind};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Bound on CMIDs remembered per application by [`HostFlaw::NeverExpiresCmids`].
const MAX_REMEMBERED: usize = 1 << 16;

/// The host's clock: wall clock plus an offset, or a fixed instant (in-process tests, benches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostClock {
    /// Real UTC now plus `offset_secs` (moved by `advance`).
    System {
        /// Seconds added to the wall clock.
        offset_secs: i64,
    },
    /// A fixed instant (moved only by `advance`).
    Fixed(Timestamp),
}

impl HostClock {
    /// The current host time.
    pub fn now(&self) -> Timestamp {
        match *self {
            HostClock::System { offset_secs } => {
                Timestamp(time::OffsetDateTime::now_utc().unix_timestamp()).plus(offset_secs)
            }
            HostClock::Fixed(t) => t,
        }
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&mut self, secs: i64) {
        match self {
            HostClock::System { offset_secs } => *offset_secs = offset_secs.saturating_add(secs),
            HostClock::Fixed(t) => *t = t.plus(secs),
        }
    }
}

/// What the host does with one KMS request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsReply {
    /// A success stub carrying this KMS response message.
    Message(Vec<u8>),
    /// An error stub carrying this HRESULT (spec §1.10, §6.4).
    Error(u32),
    /// Close the connection without a reply (flaws only).
    Close,
    /// Never answer and ignore everything after (flaws only).
    Hang,
}

/// Everything one host shares across its connections.
#[derive(Debug)]
pub struct HostState {
    config: HostConfig,
    model: KmsHost,
    clock: HostClock,
    rng: SplitMix64,
    next_assoc_group: u32,
    flaw: Option<HostFlaw>,
    epid_serial: u32,
    remembered: HashMap<Uuid, HashSet<Uuid>>,
}

impl HostState {
    /// A fresh host (empty tables) with this configuration, clock, RNG seed and flaw.
    pub fn new(
        config: HostConfig,
        clock: HostClock,
        seed: u64,
        flaw: Option<HostFlaw>,
    ) -> Result<Self, ConfigError> {
        let model = KmsHost::new(config.clone())?;
        let mut rng = SplitMix64::new(seed);
        // Association groups start at a seeded non-zero value (like a real runtime's random
        // start) so two hosts in one test do not hand out the same ids.
        let next_assoc_group = (rng.next_u64() as u32) | 1;
        Ok(Self {
            config,
            model,
            clock,
            rng,
            next_assoc_group,
            flaw,
            epid_serial: 0,
            remembered: HashMap::new(),
        })
    }

    /// Forgets every client (fresh model, same configuration); the clock and RNG keep going.
    pub fn reset(&mut self) -> Result<(), ConfigError> {
        self.model = KmsHost::new(self.config.clone())?;
        self.epid_serial = 0;
        self.remembered.clear();
        Ok(())
    }

    /// The model (CMID tables, for assertions).
    pub fn model(&self) -> &KmsHost {
        &self.model
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// The selected flaw, if any.
    pub fn flaw(&self) -> Option<HostFlaw> {
        self.flaw
    }

    /// The host's current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves the host clock forward by `secs` seconds.
    pub fn advance_clock(&mut self, secs: i64) {
        self.clock.advance(secs);
    }

    /// A new association group id: unique per association, never 0 (spec §1.13).
    pub fn new_assoc_group(&mut self) -> u32 {
        let id = self.next_assoc_group;
        self.next_assoc_group = self.next_assoc_group.wrapping_add(1).max(1);
        id
    }

    /// Answers one KMS request message (spec §2, §3, §6). Every refusal of the message itself
    /// is HRESULT 0x8007000D (ERROR_INVALID_DATA), as vlmcsd does (§6.4): unknown version,
    /// wrong length, bad V5/V6 padding, bad V4 MAC. Otherwise the model decides.
    pub fn answer(&mut self, message: &[u8]) -> KmsReply {
        let req = match DecodedRequest::parse(message) {
            Ok(r) => r,
            Err(e) => {
                if unknown_version(&e).is_some()
                    && self.flaw == Some(HostFlaw::DropsOnUnknownVersion)
                {
                    return KmsReply::Close;
                }
                if matches!(e.kind, WireErrorKind::Truncated { .. })
                    && self.flaw == Some(HostFlaw::HangsOnTruncatedRequest)
                {
                    return KmsReply::Hang;
                }
                return KmsReply::Error(HR_INVALID_DATA);
            }
        };
        if req.v4_mac_valid() == Some(false) || req.check_padding().is_err() {
            return KmsReply::Error(HR_INVALID_DATA);
        }
        let mut model_req = activation_request(&req);
        self.apply_request_flaw(&mut model_req);
        let now = self.clock.now();
        let mut decision = self.model.handle(&model_req, now);
        if self.flaw == Some(HostFlaw::IgnoresHierarchy) {
            if let Outcome::Refuse { .. } = decision.outcome {
                // Pretend the product is unknown (answered for its application family), and
                // failing that, a Windows client.
                model_req.kms_id = Uuid::nil();
                decision = self.model.handle(&model_req, now);
                if let Outcome::Refuse { .. } = decision.outcome {
                    model_req.app_id = APP_WINDOWS;
                    decision = self.model.handle(&model_req, now);
                }
            }
        }
        let answer = match decision.outcome {
            Outcome::Answer(a) => a,
            Outcome::Refuse { hresult } => return KmsReply::Error(hresult),
        };
        let mut count = answer.current_count;
        let mut cmid = req.base.cmid;
        let mut time = req.base.request_time;
        let mut epid = answer.epid.to_string();
        let mut activation_interval = answer.activation_interval;
        match self.flaw {
            Some(HostFlaw::FixedCount(n)) => count = n,
            Some(HostFlaw::IgnoresThreshold) => count = count.max(req.base.required_client_count),
            Some(HostFlaw::FixedCountTwiceN) => {
                count = req.base.required_client_count.saturating_mul(2)
            }
            Some(HostFlaw::RandomEpidPerRequest) => {
                epid = random_epid(&epid, self.rng.next_u64());
            }
            Some(HostFlaw::NeverExpiresCmids) => {
                count = count.max(self.remember(&model_req));
            }
            Some(HostFlaw::WrongCmidEcho) => {
                let mut b = *cmid.as_bytes();
                b[0] ^= 0xFF;
                cmid = Uuid::from_bytes(b);
            }
            Some(HostFlaw::WrongTimeEcho) => time = FileTime(time.0.wrapping_add(36_000_000_000)),
            Some(HostFlaw::ChangesEpidEveryRequest) => {
                self.epid_serial = self.epid_serial.wrapping_add(1);
                epid = vary_epid(&epid, self.epid_serial);
            }
            Some(HostFlaw::BadEpidSyntax) => epid = String::from("kmsspec-not-an-epid"),
            Some(HostFlaw::IntervalsOutOfRange) => activation_interval = 5,
            _ => {}
        }
        let base = BaseResponse::new(
            req.base.version,
            &epid,
            cmid,
            time,
            count,
            activation_interval,
            answer.renewal_interval,
        );
        let request_iv = req.iv().unwrap_or([0; 16]);
        let mut response_iv = self.rng.block16();
        while response_iv == request_iv {
            response_iv = self.rng.block16();
        }
        if self.flaw == Some(HostFlaw::V5IvRuleInV6) {
            response_iv = request_iv;
        }
        let params = ResponseParams {
            outer_version: req.outer_version(),
            random: self.rng.block16(),
            response_iv,
            hwid: answer.hwid,
        };
        let encoded = if self.flaw == Some(HostFlaw::HmacWrongSlot) && req.protocol == Protocol::V6
        {
            encode_v6_with_slot(&req, &base, &params, WRONG_HMAC_SLOT)
        } else {
            encode_response(&req, &base, &params)
        };
        match encoded {
            Ok(msg) => KmsReply::Message(msg),
            Err(_) => KmsReply::Error(HR_INVALID_DATA),
        }
    }

    fn apply_request_flaw(&mut self, req: &mut ActivationRequest) {
        if self.flaw == Some(HostFlaw::CountsRepeatedCmids) {
            req.cmid = Uuid::from_bytes(self.rng.block16());
        }
    }

    /// [`HostFlaw::NeverExpiresCmids`]: every CMID ever answered for the application, capped
    /// by the cache size.
    fn remember(&mut self, req: &ActivationRequest) -> u32 {
        let cap = self.model.cache_size(&req.app_id);
        let set = self.remembered.entry(req.app_id).or_default();
        if set.len() < MAX_REMEMBERED {
            set.insert(req.cmid);
        }
        u32::try_from(set.len()).unwrap_or(u32::MAX).min(cap)
    }
}

/// The ePID with a random serial (4th group) and a random later day of its year (flaw
/// RandomEpidPerRequest): still well formed, never the same twice in practice.
fn random_epid(epid: &str, random: u64) -> String {
    let serial = (random % 1_000_000) as u32;
    epid.split('-')
        .enumerate()
        .map(
            |(i, part)| match (i, part.get(..3).and_then(|d| d.parse::<u64>().ok())) {
                (3, _) => format!("{serial:06}"),
                // A day between the original one (after the build's release) and the year's end.
                (7, Some(first)) if part.len() == 7 && (1..=365).contains(&first) => {
                    let day = first + (random >> 32) % (366 - first);
                    format!("{day:03}{}", &part[3..])
                }
                _ => part.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("-")
}

/// The ePID with its key-id part (4th group) moved by `serial` (flaw ChangesEpidEveryRequest).
fn vary_epid(epid: &str, serial: u32) -> String {
    epid.split('-')
        .enumerate()
        .map(|(i, part)| match (i, part.parse::<u32>()) {
            (3, Ok(v)) => format!("{:06}", (v + serial) % 1_000_000),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("-")
}
