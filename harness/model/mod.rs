//! The reference model: the judge. Given what was asked and when, it says what a conforming KMS
//! host must answer and why (rule ids from [`rules()`]). Sans-I/O and deterministic: time
//! ([`Timestamp`]) and everything random are inputs.
//!
//! Parts: [`KmsHost`] (per-application CMID tables, host-key gate), [`KmsClient`] (lifecycle),
//! [`ActivationService`] (MAK / CSVLK budgets), [`Catalog`] (product data), [`rules()`].

pub mod catalog;
pub mod client;
pub mod decision;
pub mod host;
pub mod rules;
pub mod service;
pub mod table;
pub mod time;

pub use catalog::{Catalog, EpidRanges, HostKey, KmsProduct, Profile, Sku};
pub use client::{ClientOutcome, HostResponse, KmsClient, LicenseState};
pub use decision::{Alternative, Answer, CountBounds, Decision, Observed, Outcome, Verdict};
pub use host::{ActivationRequest, ConfigError, HostConfig, InstalledKey, KmsHost, Knowledge};
pub use rules::{rule, rules, Level, Rule, RuleId};
pub use service::{ActivationService, KeyHandle, Machine, ProxyReceipt, ServiceError};
pub use table::{CmidTable, Touch};
pub use time::Timestamp;
