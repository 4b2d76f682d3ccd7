//! Capture ingestion: pcap/pcapng files → packets → link layer → IP → TCP → reassembled,
//! ordered byte streams per connection and direction, with gaps and damage reported.
//!
//! Layers, each a module with one job: [`reader`] (container formats), [`link`] (link-layer
//! headers), [`ip`] (IPv4/IPv6, IPv4 defragmentation), [`tcp`] (TCP header view),
//! [`reassembly`] (the sans-I/O [`reassembly::FlowTable`]), [`pipeline`] (ties them together:
//! [`read_capture`]), and [`writer`] (synthesises pcap/pcapng files for tests and corpora).
//!
//! On top of the byte streams: [`dcerpc`] (PDU framing, association state, fragment
//! reassembly), [`records`] (the typed, serialisable decode records) and [`decode`]
//! ([`decode_capture`]: capture → verified KMS exchanges).

pub mod corpus;
pub mod dcerpc;
pub mod decode;
pub mod ip;
pub mod json;
pub mod link;
pub mod live;
pub mod pipeline;
pub mod reader;
pub mod reassembly;
pub mod records;
pub mod tcp;
pub mod text;
pub mod writer;

pub use decode::{decode_capture, decode_capture_from, decode_to_vec, DecodeConfig, Decoder};
pub use pipeline::{read_capture, read_capture_from, ReadFailure, Summary};
pub use reader::{CaptureError, CaptureReader, PacketRef};
pub use reassembly::{CloseReason, ConnId, Direction, Event, FlowConfig, FlowTable, Warning};
pub use records::{Record, SummaryRecord};
