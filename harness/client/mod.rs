//! A sans-I/O KMS client session builder: the bytes a client sends (bind / alter_context,
//! activation requests in NDR32 or NDR64 stubs, optionally fragmented) and the classification
//! of what comes back. Used by the suite runner, the sanity exchange, the fuzzer and the corpus
//! generator. Every random value comes from a seeded [`SplitMix64`], so runs are repeatable.

mod answer;
mod build;
mod sanity;

pub use crate::rng::SplitMix64;
pub use answer::{classify, classify_pdu, Answer};
pub use build::{
    bind_pdu, context_element, fragment_request, parse_uuid, request_pdu, request_stub, seal,
    transfer_syntax, EncodedRequest, RequestSpec, SpecError, PLAIN_BASE_LEN,
};
pub use sanity::{
    bind_probe, sanity_exchange, sanity_exchange_with, SanityFailure, SANITY_PRODUCT,
};
