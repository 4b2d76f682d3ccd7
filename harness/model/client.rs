//! The reference KMS client lifecycle: grace, activation on a sufficient count, renewal and
//! retry timing, with the host's intervals overriding the defaults.

use super::decision::HR_NOT_ENOUGH_COUNT;
use super::time::{Timestamp, DAY, MINUTE};

/// Initial grace period (rule CLIENT-GRACE-30D).
pub const GRACE_SECS: i64 = 30 * DAY;
/// Validity of a KMS activation (rule CLIENT-VALID-180D).
pub const VALIDITY_SECS: i64 = 180 * DAY;
/// Default renewal interval, minutes (rule CLIENT-RENEW-7D).
pub const DEFAULT_RENEWAL_MIN: u32 = 10_080;
/// Default retry interval while unactivated, minutes (rule CLIENT-RETRY-2H).
pub const DEFAULT_ACTIVATION_MIN: u32 = 120;

/// A client's license state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum LicenseState {
    /// Initial (out-of-box) grace until the instant.
    Grace {
        /// End of grace.
        until: Timestamp,
    },
    /// Activated until the instant (then out-of-tolerance grace).
    Licensed {
        /// End of validity.
        until: Timestamp,
    },
    /// Out-of-tolerance grace after validity lapsed, until the instant.
    OutOfTolerance {
        /// End of the grace.
        until: Timestamp,
    },
    /// Notification mode.
    Notification,
}

/// What the client received from a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct HostResponse {
    /// HRESULT of the exchange (0 = answer).
    pub hresult: u32,
    /// Reported count.
    pub current_count: u32,
    /// Host's VLActivationInterval, minutes.
    pub activation_interval: u32,
    /// Host's VLRenewalInterval, minutes.
    pub renewal_interval: u32,
}

/// The client's reaction to a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOutcome {
    /// Whether the client is activated (or renewed) by this response.
    pub activated: bool,
    /// 0 on activation, else the HRESULT the client reports (e.g. 0xC004F038).
    pub hresult: u32,
}

/// A genuine KMS client of one product with threshold N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsClient {
    threshold: u32,
    state: LicenseState,
    activation_interval: u32,
    renewal_interval: u32,
    last_contact: Timestamp,
}

impl KmsClient {
    /// A freshly installed client at `now` (grace starts).
    pub fn new(threshold: u32, now: Timestamp) -> Self {
        Self {
            threshold,
            state: LicenseState::Grace {
                until: now.plus(GRACE_SECS),
            },
            activation_interval: DEFAULT_ACTIVATION_MIN,
            renewal_interval: DEFAULT_RENEWAL_MIN,
            last_contact: now,
        }
    }

    /// The client's threshold.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The license state at `now` (advancing grace and validity expiries).
    pub fn state(&mut self, now: Timestamp) -> LicenseState {
        self.state = match self.state {
            LicenseState::Grace { until } | LicenseState::OutOfTolerance { until }
                if now >= until =>
            {
                LicenseState::Notification
            }
            LicenseState::Licensed { until } if now >= until => LicenseState::OutOfTolerance {
                until: until.plus(GRACE_SECS),
            },
            s => s,
        };
        self.state
    }

    /// Whether the client is activated at `now`.
    pub fn is_activated(&mut self, now: Timestamp) -> bool {
        matches!(self.state(now), LicenseState::Licensed { .. })
    }

    /// Applies a host response at `now`: activates (or renews) when the HRESULT is 0 and the
    /// count reaches the threshold; the host's intervals override the client's (INT-OVERRIDE).
    pub fn on_response(&mut self, response: &HostResponse, now: Timestamp) -> ClientOutcome {
        self.state(now);
        self.last_contact = now;
        if response.hresult != 0 {
            return ClientOutcome {
                activated: false,
                hresult: response.hresult,
            };
        }
        self.activation_interval = response.activation_interval;
        self.renewal_interval = response.renewal_interval;
        if response.current_count < self.threshold {
            return ClientOutcome {
                activated: false,
                hresult: HR_NOT_ENOUGH_COUNT,
            };
        }
        self.state = LicenseState::Licensed {
            until: now.plus(VALIDITY_SECS),
        };
        ClientOutcome {
            activated: true,
            hresult: 0,
        }
    }

    /// Records a contact attempt that got no response (timing only).
    pub fn on_no_response(&mut self, now: Timestamp) {
        self.state(now);
        self.last_contact = now;
    }

    /// When the client next contacts a host: renewal interval after the last contact when
    /// activated, activation (retry) interval otherwise.
    pub fn next_contact(&mut self, now: Timestamp) -> Timestamp {
        let minutes = if self.is_activated(now) {
            self.renewal_interval
        } else {
            self.activation_interval
        };
        self.last_contact.plus(i64::from(minutes) * MINUTE)
    }
}
