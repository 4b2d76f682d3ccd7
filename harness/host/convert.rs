//! Glue from the wire layer to the model: a decoded KMS request → the model's
//! [`ActivationRequest`]. The embedded host, the suite runner and capture replay all use this
//! one mapping, so the model judges exactly what was on the wire.

use crate::model::{ActivationRequest, Timestamp};
use crate::wire::kms::DecodedRequest;

/// Maps a decoded request to the model's request.
///
/// * `protocol` is the **outer** version (V4: the base version), the one that selected the
///   message format (spec §2.1);
/// * `client_time` is the request FILETIME truncated to whole seconds (model time);
/// * `is_vm` is any non-zero VM flag; `license_status` is the raw u32;
/// * `workstation` is the decoded name up to its NUL (lossy for bad UTF-16; the model does not
///   judge it).
pub fn activation_request(req: &DecodedRequest) -> ActivationRequest {
    let outer = req.outer_version();
    let b = &req.base;
    ActivationRequest {
        protocol: (outer.major, outer.minor),
        app_id: b.application_id,
        kms_id: b.kms_counted_id,
        sku_id: b.sku_id,
        cmid: b.cmid,
        previous_cmid: b.previous_cmid,
        required_count: b.required_client_count,
        client_time: Timestamp::from_filetime(b.request_time),
        is_vm: b.is_vm(),
        license_status: b.license_status.to_u32(),
        grace_minutes: b.grace_minutes,
        workstation: b.workstation().text,
    }
}

impl From<&DecodedRequest> for ActivationRequest {
    /// Same as [`activation_request`].
    fn from(req: &DecodedRequest) -> Self {
        activation_request(req)
    }
}
