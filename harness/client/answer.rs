//! What came back for a request or bind, classified into the outcomes the suite talks about:
//! a KMS response (success stub), an error stub (HRESULT), a fault, a bind_ack / bind_nak, a
//! close, silence, or garbage.

use crate::target::Received;
use crate::wire::rpc::{NdrSyntax, Pdu, PduType, ResponseStub};

/// One classified answer. PDU bytes are kept for the judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A response PDU whose stub is in success form; `message` is the KMS response.
    Success {
        /// The whole PDU.
        pdu: Vec<u8>,
        /// The KMS response message.
        message: Vec<u8>,
    },
    /// A response PDU whose stub is in error form.
    ErrorStub {
        /// The whole PDU.
        pdu: Vec<u8>,
        /// The HRESULT.
        hresult: u32,
    },
    /// A response PDU whose stub does not decode.
    BadStub {
        /// The whole PDU.
        pdu: Vec<u8>,
        /// Why.
        error: String,
    },
    /// A fault PDU.
    Fault {
        /// The whole PDU.
        pdu: Vec<u8>,
        /// Fault status.
        status: u32,
    },
    /// bind_ack or alter_context_resp.
    BindAck {
        /// The whole PDU.
        pdu: Vec<u8>,
    },
    /// bind_nak.
    BindNak {
        /// The whole PDU.
        pdu: Vec<u8>,
        /// Reject reason.
        reason: u16,
    },
    /// A PDU of another type (a server should never send it).
    OtherPdu {
        /// The whole PDU.
        pdu: Vec<u8>,
        /// Its type.
        ptype: PduType,
    },
    /// Bytes framed like a PDU that do not decode.
    Undecodable {
        /// The bytes.
        bytes: Vec<u8>,
        /// Why.
        error: String,
    },
    /// Clean close.
    Close,
    /// Connection reset.
    Reset,
    /// Nothing within the timeout.
    Silence,
    /// Bytes that are not DCE/RPC.
    Garbage(Vec<u8>),
}

impl Answer {
    /// The suite's outcome name: `answer`, `error`, `fault`, `reject`, `close`, `reset`,
    /// `silence`, `bind_ack`, `garbage`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Answer::Success { .. } => "answer",
            Answer::ErrorStub { .. } => "error",
            Answer::Fault { .. } => "fault",
            Answer::BindAck { .. } => "bind_ack",
            Answer::BindNak { .. } => "reject",
            Answer::Close => "close",
            Answer::Reset => "reset",
            Answer::Silence => "silence",
            Answer::BadStub { .. } | Answer::OtherPdu { .. } | Answer::Undecodable { .. } => {
                "garbage"
            }
            Answer::Garbage(_) => "garbage",
        }
    }

    /// The PDU bytes, when the answer is one.
    pub fn pdu(&self) -> Option<&[u8]> {
        match self {
            Answer::Success { pdu, .. }
            | Answer::ErrorStub { pdu, .. }
            | Answer::BadStub { pdu, .. }
            | Answer::Fault { pdu, .. }
            | Answer::BindAck { pdu }
            | Answer::BindNak { pdu, .. }
            | Answer::OtherPdu { pdu, .. } => Some(pdu),
            _ => None,
        }
    }

    /// One-line summary for transcripts.
    pub fn summary(&self) -> String {
        match self {
            Answer::Success { message, .. } => format!("response ({} bytes)", message.len()),
            Answer::ErrorStub { hresult, .. } => format!("error hr=0x{hresult:08X}"),
            Answer::BadStub { error, .. } => format!("response with bad stub: {error}"),
            Answer::Fault { status, .. } => format!("fault status=0x{status:08X}"),
            Answer::BindAck { .. } => "bind_ack".into(),
            Answer::BindNak { reason, .. } => format!("bind_nak reason={reason}"),
            Answer::OtherPdu { ptype, .. } => format!("unexpected PDU {ptype:?}"),
            Answer::Undecodable { error, bytes } => {
                format!("undecodable PDU ({} bytes): {error}", bytes.len())
            }
            Answer::Close => "close".into(),
            Answer::Reset => "reset".into(),
            Answer::Silence => "silence".into(),
            Answer::Garbage(b) => format!("garbage ({} bytes)", b.len()),
        }
    }
}

/// Classifies what a connection received; `ndr` is the syntax the request's stub used.
pub fn classify(received: Received, ndr: NdrSyntax) -> Answer {
    let bytes = match received {
        Received::Pdu(b) => b,
        Received::Closed => return Answer::Close,
        Received::Reset => return Answer::Reset,
        Received::Silence => return Answer::Silence,
        Received::Garbage(b) => return Answer::Garbage(b),
    };
    classify_pdu(bytes, ndr)
}

/// Classifies one complete PDU.
pub fn classify_pdu(bytes: Vec<u8>, ndr: NdrSyntax) -> Answer {
    enum Kind {
        Stub(Result<(Option<Vec<u8>>, u32), String>),
        Fault(u32),
        Ack,
        Nak(u16),
        Other(PduType),
    }
    let kind = match Pdu::parse(&bytes) {
        Err(e) => {
            return Answer::Undecodable {
                error: e.to_string(),
                bytes,
            }
        }
        Ok(Pdu::Response(_, r)) => Kind::Stub(
            ResponseStub::parse(&r.stub, ndr)
                .map(|s| (s.message().map(<[u8]>::to_vec), s.return_value()))
                .map_err(|e| e.to_string()),
        ),
        Ok(Pdu::Fault(_, f)) => Kind::Fault(f.status),
        Ok(Pdu::BindAck(..) | Pdu::AlterContextResp(..)) => Kind::Ack,
        Ok(Pdu::BindNak(_, n)) => Kind::Nak(n.reject_reason),
        Ok(p) => Kind::Other(p.ptype()),
    };
    match kind {
        Kind::Stub(Ok((Some(message), _))) => Answer::Success {
            pdu: bytes,
            message,
        },
        Kind::Stub(Ok((None, hresult))) => Answer::ErrorStub {
            pdu: bytes,
            hresult,
        },
        Kind::Stub(Err(error)) => Answer::BadStub { pdu: bytes, error },
        Kind::Fault(status) => Answer::Fault { pdu: bytes, status },
        Kind::Ack => Answer::BindAck { pdu: bytes },
        Kind::Nak(reason) => Answer::BindNak { pdu: bytes, reason },
        Kind::Other(ptype) => Answer::OtherPdu { pdu: bytes, ptype },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stub_and_transport_outcomes() {
        let stub = ResponseStub::error(0xC004_F042).encode(NdrSyntax::Ndr32);
        let pdu = crate::wire::rpc::Pdu::Response(
            crate::wire::rpc::Common::new(5),
            crate::wire::rpc::Response {
                alloc_hint: stub.len() as u32,
                p_cont_id: 0,
                cancel_count: 0,
                reserved: 0,
                stub: std::borrow::Cow::Owned(stub),
            },
        )
        .encode();
        let a = classify(Received::Pdu(pdu), NdrSyntax::Ndr32);
        assert!(
            matches!(
                a,
                Answer::ErrorStub {
                    hresult: 0xC004_F042,
                    ..
                }
            ),
            "{a:?}"
        );
        assert_eq!(a.outcome(), "error");
        assert_eq!(
            classify(Received::Silence, NdrSyntax::Ndr32).outcome(),
            "silence"
        );
        assert_eq!(
            classify(Received::Pdu(vec![1, 2, 3]), NdrSyntax::Ndr32).outcome(),
            "garbage"
        );
    }
}
