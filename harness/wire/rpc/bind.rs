//! `bind` / `alter_context` body (spec §1.6): frag sizes, association group and the list of
//! presentation contexts offered. Any number of transfer syntaxes per element is decoded
//! correctly (the reference servers assume exactly one; we do not).

use super::syntax::{SyntaxId, SYNTAX_ID_LEN};
use crate::wire::cursor::Reader;
use crate::wire::WireResult;
use std::borrow::Cow;

/// One offered presentation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextElement {
    /// Presentation context id the client will use in requests.
    pub p_cont_id: u16,
    /// The reserved byte after `n_transfer_syn`, kept raw.
    pub reserved: u8,
    /// Interface offered (for KMS: [`super::KMS_INTERFACE`]).
    pub abstract_syntax: SyntaxId,
    /// Transfer syntaxes proposed, in order (`n_transfer_syn` on the wire is their count).
    pub transfer_syntaxes: Vec<SyntaxId>,
}

impl ContextElement {
    /// An element with one transfer syntax and a zero reserved byte (what clients send).
    pub fn new(p_cont_id: u16, abstract_syntax: SyntaxId, transfer: SyntaxId) -> Self {
        Self {
            p_cont_id,
            reserved: 0,
            abstract_syntax,
            transfer_syntaxes: vec![transfer],
        }
    }

    /// Encoded size: 4 + 20 + 20 per transfer syntax (44 with one).
    pub fn wire_len(&self) -> usize {
        4 + SYNTAX_ID_LEN * (1 + self.transfer_syntaxes.len().min(255))
    }
}

/// The body shared by `bind` and `alter_context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind<'a> {
    /// Largest fragment the client will send.
    pub max_xmit_frag: u16,
    /// Largest fragment the client accepts.
    pub max_recv_frag: u16,
    /// Association group (0 = new).
    pub assoc_group_id: u32,
    /// The 3 reserved bytes after `n_context_elem`, kept raw (vlmcsd reads them as part of a
    /// u32 count, so a checker wants to see them).
    pub reserved: [u8; 3],
    /// Offered contexts (`n_context_elem` on the wire is their count; at most 255 are encoded).
    pub contexts: Vec<ContextElement>,
    /// Bytes after the context list inside the PDU, kept raw.
    pub trailing: Cow<'a, [u8]>,
}

impl<'a> Bind<'a> {
    /// A bind body with the usual client values (5840/5840, group 0) and no trailing bytes.
    pub fn new(contexts: Vec<ContextElement>) -> Self {
        Self {
            max_xmit_frag: 5840,
            max_recv_frag: 5840,
            assoc_group_id: 0,
            reserved: [0; 3],
            contexts,
            trailing: Cow::Borrowed(&[]),
        }
    }

    #[inline]
    pub(crate) fn parse(r: &mut Reader<'a>) -> WireResult<Self> {
        let max_xmit_frag = r.u16("rpc.bind.max_xmit_frag")?;
        let max_recv_frag = r.u16("rpc.bind.max_recv_frag")?;
        let assoc_group_id = r.u32("rpc.bind.assoc_group_id")?;
        let n = r.u8("rpc.bind.n_context_elem")?;
        let reserved = r.array::<3>("rpc.bind.reserved")?;
        // Each element needs at least 24 bytes; never reserve more than the input can hold.
        let mut contexts = Vec::with_capacity(usize::from(n).min(r.remaining() / 24));
        for _ in 0..n {
            let p_cont_id = r.u16("rpc.bind.context.p_cont_id")?;
            let n_ts = r.u8("rpc.bind.context.n_transfer_syn")?;
            let reserved = r.u8("rpc.bind.context.reserved")?;
            let abstract_syntax =
                SyntaxId::from_wire(&r.array("rpc.bind.context.abstract_syntax")?);
            let mut transfer_syntaxes =
                Vec::with_capacity(usize::from(n_ts).min(r.remaining() / SYNTAX_ID_LEN));
            for _ in 0..n_ts {
                transfer_syntaxes.push(SyntaxId::from_wire(
                    &r.array("rpc.bind.context.transfer_syntax")?,
                ));
            }
            contexts.push(ContextElement {
                p_cont_id,
                reserved,
                abstract_syntax,
                transfer_syntaxes,
            });
        }
        Ok(Self {
            max_xmit_frag,
            max_recv_frag,
            assoc_group_id,
            reserved,
            contexts,
            trailing: Cow::Borrowed(r.rest()),
        })
    }

    /// Appends the body bytes (everything after the 16-byte header).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.max_xmit_frag.to_le_bytes());
        out.extend_from_slice(&self.max_recv_frag.to_le_bytes());
        out.extend_from_slice(&self.assoc_group_id.to_le_bytes());
        let n = self.contexts.len().min(255);
        out.push(n as u8);
        out.extend_from_slice(&self.reserved);
        for c in self.contexts.iter().take(n) {
            out.extend_from_slice(&c.p_cont_id.to_le_bytes());
            let n_ts = c.transfer_syntaxes.len().min(255);
            out.push(n_ts as u8);
            out.push(c.reserved);
            out.extend_from_slice(&c.abstract_syntax.to_wire());
            for t in c.transfer_syntaxes.iter().take(n_ts) {
                out.extend_from_slice(&t.to_wire());
            }
        }
        out.extend_from_slice(&self.trailing);
    }

    /// The same body owning its bytes.
    pub fn into_owned(self) -> Bind<'static> {
        Bind {
            trailing: Cow::Owned(self.trailing.into_owned()),
            max_xmit_frag: self.max_xmit_frag,
            max_recv_frag: self.max_recv_frag,
            assoc_group_id: self.assoc_group_id,
            reserved: self.reserved,
            contexts: self.contexts,
        }
    }
}
