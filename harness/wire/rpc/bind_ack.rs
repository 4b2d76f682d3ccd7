//! `bind_ack` / `alter_context_resp` body (spec §1.8): frag sizes, association group, the
//! secondary address (port string) with its alignment pad kept raw, and per-context results.

use super::header::HEADER_LEN;
use super::syntax::SyntaxId;
use crate::wire::cursor::Reader;
use crate::wire::WireResult;
use std::borrow::Cow;

/// The `result` of one presentation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultKind {
    /// 0: accepted.
    Acceptance,
    /// 1: user rejection.
    UserRejection,
    /// 2: provider rejection (reason 1 = interface, 2 = transfer syntaxes).
    ProviderRejection,
    /// 3: BTFN negotiate_ack (reason = accepted feature bitmask).
    NegotiateAck,
    /// Any other value, kept raw.
    Unknown(u16),
}

impl ResultKind {
    /// From the wire u16.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0 => Self::Acceptance,
            1 => Self::UserRejection,
            2 => Self::ProviderRejection,
            3 => Self::NegotiateAck,
            other => Self::Unknown(other),
        }
    }

    /// The wire u16.
    pub fn to_u16(self) -> u16 {
        match self {
            Self::Acceptance => 0,
            Self::UserRejection => 1,
            Self::ProviderRejection => 2,
            Self::NegotiateAck => 3,
            Self::Unknown(v) => v,
        }
    }
}

/// Provider-rejection reason: abstract syntax (interface) not supported.
pub const REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED: u16 = 1;
/// Provider-rejection reason: none of the proposed transfer syntaxes supported.
pub const REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED: u16 = 2;

/// One 24-byte result element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContextResult {
    /// Outcome.
    pub result: ResultKind,
    /// Reason code (or, for negotiate_ack, the feature bitmask).
    pub reason: u16,
    /// Accepted transfer syntax (nil/0 when rejected or negotiate_ack).
    pub transfer_syntax: SyntaxId,
}

/// The body shared by `bind_ack` and `alter_context_resp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck<'a> {
    /// Largest fragment the server will send.
    pub max_xmit_frag: u16,
    /// Largest fragment the server accepts.
    pub max_recv_frag: u16,
    /// Association group.
    pub assoc_group_id: u32,
    /// `sec_addr.port_spec` bytes including the terminating NUL (`sec_addr.length` is their
    /// count; empty = absent). At most 65535 bytes are encoded.
    pub sec_addr: Cow<'a, [u8]>,
    /// Pad bytes after the secondary address, kept raw (vlmcsd leaves them uninitialised).
    /// Only the first [`BindAck::pad_len`] bytes are on the wire; the parser zeroes the rest.
    pub pad: [u8; 3],
    /// The 3 reserved bytes after `n_results`, kept raw.
    pub reserved: [u8; 3],
    /// Per-context results (`n_results` is their count; at most 255 are encoded).
    pub results: Vec<ContextResult>,
    /// Bytes after the result list inside the PDU, kept raw.
    pub trailing: Cow<'a, [u8]>,
}

impl<'a> BindAck<'a> {
    /// Number of pad bytes after a secondary address of `sec_addr_len` bytes: to a 4-byte
    /// boundary measured from the PDU start.
    #[inline]
    pub fn pad_len_for(sec_addr_len: usize) -> usize {
        let end = HEADER_LEN + 10 + sec_addr_len;
        (4 - end % 4) % 4
    }

    /// Number of pad bytes this body carries on the wire.
    pub fn pad_len(&self) -> usize {
        Self::pad_len_for(self.sec_addr.len().min(usize::from(u16::MAX)))
    }

    /// The port string of the secondary address (without the NUL), when it is ASCII.
    pub fn port(&self) -> Option<&str> {
        let s = self.sec_addr.strip_suffix(&[0]).unwrap_or(&self.sec_addr);
        std::str::from_utf8(s).ok().filter(|s| s.is_ascii())
    }

    #[inline]
    pub(crate) fn parse(r: &mut Reader<'a>) -> WireResult<Self> {
        let max_xmit_frag = r.u16("rpc.bind_ack.max_xmit_frag")?;
        let max_recv_frag = r.u16("rpc.bind_ack.max_recv_frag")?;
        let assoc_group_id = r.u32("rpc.bind_ack.assoc_group_id")?;
        let len = r.u16("rpc.bind_ack.sec_addr.length")?;
        let sec_addr = r.take(usize::from(len), "rpc.bind_ack.sec_addr.port_spec")?;
        let pad_len = Self::pad_len_for(usize::from(len));
        let mut pad = [0u8; 3];
        let raw_pad = r.take(pad_len, "rpc.bind_ack.pad")?;
        // At most 3 bytes: a plain loop, not a memcpy call.
        for (d, s) in pad.iter_mut().zip(raw_pad) {
            *d = *s;
        }
        let n = r.u8("rpc.bind_ack.n_results")?;
        let reserved = r.array::<3>("rpc.bind_ack.reserved")?;
        let mut results = Vec::with_capacity(usize::from(n).min(r.remaining() / 24));
        for _ in 0..n {
            let result = ResultKind::from_u16(r.u16("rpc.bind_ack.result.result")?);
            let reason = r.u16("rpc.bind_ack.result.reason")?;
            let transfer_syntax =
                SyntaxId::from_wire(&r.array("rpc.bind_ack.result.transfer_syntax")?);
            results.push(ContextResult {
                result,
                reason,
                transfer_syntax,
            });
        }
        Ok(Self {
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            sec_addr: Cow::Borrowed(sec_addr),
            pad,
            reserved,
            results,
            trailing: Cow::Borrowed(r.rest()),
        })
    }

    /// Appends the body bytes (everything after the 16-byte header).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.max_xmit_frag.to_le_bytes());
        out.extend_from_slice(&self.max_recv_frag.to_le_bytes());
        out.extend_from_slice(&self.assoc_group_id.to_le_bytes());
        let len = self.sec_addr.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(self.sec_addr.get(..len).unwrap_or(&[]));
        out.extend_from_slice(&self.pad[..Self::pad_len_for(len)]);
        let n = self.results.len().min(255);
        out.push(n as u8);
        out.extend_from_slice(&self.reserved);
        for res in self.results.iter().take(n) {
            out.extend_from_slice(&res.result.to_u16().to_le_bytes());
            out.extend_from_slice(&res.reason.to_le_bytes());
            out.extend_from_slice(&res.transfer_syntax.to_wire());
        }
        out.extend_from_slice(&self.trailing);
    }

    /// The same body owning its bytes.
    pub fn into_owned(self) -> BindAck<'static> {
        BindAck {
            sec_addr: Cow::Owned(self.sec_addr.into_owned()),
            trailing: Cow::Owned(self.trailing.into_owned()),
            max_xmit_frag: self.max_xmit_frag,
            max_recv_frag: self.max_recv_frag,
            assoc_group_id: self.assoc_group_id,
            pad: self.pad,
            reserved: self.reserved,
            results: self.results,
        }
    }
}

/// One protocol version offered by a `bind_nak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RpcVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
}

/// `bind_nak` body: the whole bind refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindNak<'a> {
    /// `provider_reject_reason`.
    pub reject_reason: u16,
    /// Protocol versions supported (`n_protocols` u8 then major/minor pairs; ≤ 255 encoded).
    pub versions: Vec<RpcVersion>,
    /// Bytes after the version list (padding, signature), kept raw.
    pub trailing: Cow<'a, [u8]>,
}

impl<'a> BindNak<'a> {
    pub(crate) fn parse(r: &mut Reader<'a>) -> WireResult<Self> {
        let reject_reason = r.u16("rpc.bind_nak.reject_reason")?;
        let n = r.u8("rpc.bind_nak.n_protocols")?;
        let mut versions = Vec::with_capacity(usize::from(n).min(r.remaining() / 2));
        for _ in 0..n {
            let major = r.u8("rpc.bind_nak.version.major")?;
            let minor = r.u8("rpc.bind_nak.version.minor")?;
            versions.push(RpcVersion { major, minor });
        }
        Ok(Self {
            reject_reason,
            versions,
            trailing: Cow::Borrowed(r.rest()),
        })
    }

    /// Appends the body bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.reject_reason.to_le_bytes());
        let n = self.versions.len().min(255);
        out.push(n as u8);
        for v in self.versions.iter().take(n) {
            out.push(v.major);
            out.push(v.minor);
        }
        out.extend_from_slice(&self.trailing);
    }

    /// The same body owning its bytes.
    pub fn into_owned(self) -> BindNak<'static> {
        BindNak {
            reject_reason: self.reject_reason,
            versions: self.versions,
            trailing: Cow::Owned(self.trailing.into_owned()),
        }
    }
}
