//! The sanity exchange: one well-formed bind and V6 request on a new connection, whose answer
//! must verify. Tells whether a host works before, between and after cases.

use super::answer::{classify, Answer};
use super::build::{bind_pdu, context_element, EncodedRequest, RequestSpec};
use crate::rng::SplitMix64;
use crate::target::Target;
use crate::wire::kms::verify_response;
use crate::wire::rpc::{NdrSyntax, PfcFlags};

/// Product of the default sanity request: a server edition every default host key serves.
pub const SANITY_PRODUCT: &str = "Windows Server 2019 Datacenter";

/// Why a sanity exchange did not succeed, and whether the host answered at all: a host that
/// answers with a wrong response is alive (its cases must run and fail), one that does not
/// answer is not (its remaining cases must not be blamed on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanityFailure {
    /// The host sent a KMS response (which then failed a check).
    pub host_answered: bool,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for SanityFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for SanityFailure {
    fn from(message: String) -> Self {
        SanityFailure {
            host_answered: false,
            message,
        }
    }
}

impl From<&str> for SanityFailure {
    fn from(message: &str) -> Self {
        SanityFailure::from(message.to_string())
    }
}

/// Connects, binds NDR32, sends one V6 request for [`SANITY_PRODUCT`] and requires a
/// response that passes every §3.6 check. `Err` says what went wrong.
pub fn sanity_exchange(target: &dyn Target) -> Result<(), SanityFailure> {
    let seed = target.now().0 ^ 0x5a5a_5a5a;
    sanity_exchange_with(
        target,
        SANITY_PRODUCT,
        &mut SplitMix64::new(seed),
        &mut |_| {},
    )
}

/// A liveness probe that leaves the host's CMID tables untouched: connects, binds NDR32 and
/// requires a bind_ack. Used before the suite on a host declared fresh (`--fresh`), where a
/// KMS request would add a client before the first count case.
pub fn bind_probe(target: &dyn Target) -> Result<(), SanityFailure> {
    let mut conn = target.connect().map_err(|e| e.to_string())?;
    let result = bind_ndr32(conn.as_mut());
    conn.close();
    result
}

/// Binds NDR32 as call 1 on `conn` and requires a bind_ack.
fn bind_ndr32(conn: &mut dyn crate::target::Connection) -> Result<(), SanityFailure> {
    let ctx = context_element("ndr32", 0).map_err(|e| e.to_string())?;
    conn.send(&bind_pdu(1, vec![ctx], PfcFlags::SINGLE, false))
        .map_err(|e| format!("bind: {e}"))?;
    match classify(
        conn.recv().map_err(|e| format!("bind: {e}"))?,
        NdrSyntax::Ndr32,
    ) {
        Answer::BindAck { .. } => Ok(()),
        other => Err(format!("bind answered with {}", other.summary()).into()),
    }
}

/// [`sanity_exchange`] for a chosen product and RNG; `answered` sees the request when the host
/// answered it (so a shadow model can count it).
pub fn sanity_exchange_with(
    target: &dyn Target,
    product: &str,
    rng: &mut SplitMix64,
    answered: &mut dyn FnMut(&RequestSpec),
) -> Result<(), SanityFailure> {
    let mut conn = target.connect().map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), SanityFailure> {
        bind_ndr32(conn.as_mut())?;
        let spec = RequestSpec::for_product(product, rng.uuid(), target.now())
            .map_err(|e| e.to_string())?;
        let mut spec = spec;
        spec.version = crate::wire::kms::ProtocolVersion::V6;
        let req = EncodedRequest::build(&spec, rng, NdrSyntax::Ndr32, 2, 0, 0)
            .map_err(|e| e.to_string())?;
        conn.send(&req.pdu).map_err(|e| format!("request: {e}"))?;
        let answer = classify(
            conn.recv().map_err(|e| format!("request: {e}"))?,
            NdrSyntax::Ndr32,
        );
        let Answer::Success { message, .. } = answer else {
            return Err(format!("request answered with {}", answer.summary()).into());
        };
        answered(&spec);
        let decoded = req.decoded().ok_or("own request does not decode")?;
        let v = verify_response(&decoded, &message);
        let failure = v.failures().next().map(|c| {
            format!(
                "response fails {}: expected {}, observed {}",
                c.name, c.expected, c.observed
            )
        });
        failure.map_or(Ok(()), |message| {
            Err(SanityFailure {
                host_answered: true,
                message,
            })
        })
    })();
    conn.close();
    result
}
