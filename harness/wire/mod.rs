//! The wire layer: bytes ↔ typed messages. Pure: no I/O, no state, no clocks.
//!
//! Every public parser takes a byte slice and returns a typed value or a [`WireError`] naming
//! the field and byte offset; every encoder returns the exact bytes.

pub(crate) mod cursor;
pub mod error;
pub mod filetime;
pub mod guid;
pub mod kms;
pub mod rpc;

pub use error::{WireError, WireErrorKind, WireResult};
pub use filetime::FileTime;
