//! KMS messages (spec §2–§4): the opaque byte arrays inside the RPC stubs.
//!
//! Pure: no I/O, no state, no clocks, no RNG — every random value (IVs, Random, HwId) is an
//! input. Typical uses:
//! * host: [`DecodedRequest::parse`] → build a [`BaseResponse`] → [`encode_response`];
//! * client/prober: [`encode_request`] → send → [`verify_response`];
//! * capture decoder: parse both, [`verify_response`], [`DecodedResponse::params`] to recover
//!   the random values, [`epid::validate_with`] for ePID semantics.
//!
//! Errors are [`crate::wire::WireError`]s with offsets from the start of the KMS message.

pub(crate) mod bytes;
pub mod crypto;
pub mod epid;
pub mod request;
pub mod response;
pub mod verify;
pub mod version;

pub use bytes::hex;
pub use epid::{validate_with as validate_epid, Epid, EpidCatalog, EpidContext, KeyIdRange};
pub use request::{
    encode_request, parse_request, unknown_version, BaseRequest, DecodedRequest, LicenseStatus,
    RequestEnvelope, RequestParams, WorkstationIssue, WorkstationName,
};
pub use response::{
    encode_response, parse_response, BaseResponse, DecodedResponse, PidSizeIssue, ResponseBody,
    ResponseParams,
};
pub use verify::{
    verify_parsed, verify_parsed_failures, verify_parsed_failures_with_epid, verify_response,
    Check, CheckName, Verification,
};
pub use version::{Protocol, ProtocolVersion};
