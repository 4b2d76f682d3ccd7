//! Building what a client sends: presentation contexts, bind / alter_context PDUs, and an
//! activation request through its layers (plaintext → KMS message → NDR stub → request PDU),
//! each layer kept so a caller can mutate one and rebuild the ones around it.

use crate::model::{ActivationRequest, Catalog, Timestamp};
use crate::rng::SplitMix64;
use crate::wire::kms::crypto::{cbc_encrypt, v4_mac};
use crate::wire::kms::request::BASE_REQUEST_LEN;
use crate::wire::kms::{BaseRequest, DecodedRequest, LicenseStatus, Protocol, ProtocolVersion};
use crate::wire::rpc::{
    btfn, Bind, Common, ContextElement, NdrSyntax, PfcFlags, Request, RequestStub, SyntaxId,
    KMS_INTERFACE, NDR32, NDR64,
};
use crate::wire::FileTime;
use std::borrow::Cow;
use std::fmt;
use uuid::Uuid;

/// A request that cannot be built as specified (unknown product, bad UUID text, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// A presentation context element from a shorthand (`ndr32`, `ndr64`, `btfn`,
/// `unknown_syntax`, `unknown_interface`) or UUID text (taken as a transfer syntax, version 1).
pub fn context_element(name: &str, id: u16) -> Result<ContextElement, SpecError> {
    let transfer = transfer_syntax(name, 3)?;
    let iface = if name == "unknown_interface" {
        SyntaxId::interface(
            Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            1,
            0,
        )
    } else {
        KMS_INTERFACE
    };
    Ok(ContextElement::new(id, iface, transfer))
}

/// A transfer syntax from a shorthand or UUID text.
pub fn transfer_syntax(name: &str, btfn_features: u16) -> Result<SyntaxId, SpecError> {
    Ok(match name {
        "ndr32" | "unknown_interface" => NDR32,
        "ndr64" => NDR64,
        "btfn" => btfn(btfn_features),
        "unknown_syntax" => SyntaxId::new(
            Uuid::from_u128(0xdead_beef_0000_4000_8000_0000_0000_0001),
            1,
        ),
        other => SyntaxId::new(parse_uuid(other)?, 1),
    })
}

/// Parses UUID text.
pub fn parse_uuid(text: &str) -> Result<Uuid, SpecError> {
    Uuid::parse_str(text.trim()).map_err(|e| SpecError(format!("bad UUID {text:?}: {e}")))
}

/// A bind (or alter_context) PDU offering `contexts`.
pub fn bind_pdu(
    call_id: u32,
    contexts: Vec<ContextElement>,
    flags: PfcFlags,
    alter: bool,
) -> Vec<u8> {
    let mut common = Common::new(call_id);
    common.pfc_flags = flags;
    let body = Bind::new(contexts);
    let pdu = if alter {
        crate::wire::rpc::Pdu::AlterContext(common, body)
    } else {
        crate::wire::rpc::Pdu::Bind(common, body)
    };
    pdu.encode()
}

/// A request stub for `kms` with the given declared size and max_count (normally its length).
pub fn request_stub(kms: &[u8], ndr: NdrSyntax, declared: Option<u32>) -> Vec<u8> {
    let mut stub = RequestStub::new(kms);
    if let Some(d) = declared {
        stub.declared_size = d;
        stub.max_count = u64::from(d);
    }
    stub.encode(ndr)
}

/// One request PDU carrying `stub` (flags FIRST|LAST unless given; alloc_hint = stub length
/// unless given). `frag_length` is set to the real length unless `frag_length` overrides it.
pub fn request_pdu(
    call_id: u32,
    p_cont_id: u16,
    opnum: u16,
    stub: &[u8],
    flags: PfcFlags,
    alloc_hint: Option<u32>,
    frag_length: Option<u16>,
) -> Vec<u8> {
    let mut common = Common::new(call_id);
    common.pfc_flags = flags;
    let req = Request {
        alloc_hint: alloc_hint.unwrap_or(stub.len() as u32),
        p_cont_id,
        opnum,
        object: None,
        stub: Cow::Borrowed(stub),
    };
    let mut out = crate::wire::rpc::Pdu::Request(common, req).encode();
    if let (Some(fl), Some(slot)) = (frag_length, out.get_mut(8..10)) {
        slot.copy_from_slice(&fl.to_le_bytes());
    }
    out
}

/// Splits `stub` into request fragments of at most `max_stub` bytes each (FIRST on the first,
/// LAST on the last, alloc_hint = the stub bytes remaining), concatenated.
pub fn fragment_request(
    call_id: u32,
    p_cont_id: u16,
    opnum: u16,
    stub: &[u8],
    max_stub: usize,
) -> Vec<u8> {
    let max = max_stub.max(1);
    let chunks: Vec<&[u8]> = stub.chunks(max).collect();
    let n = chunks.len();
    let mut out = Vec::with_capacity(stub.len() + 24 * n);
    let mut remaining = stub.len();
    for (i, c) in chunks.iter().enumerate() {
        let mut flags = PfcFlags(0);
        if i == 0 {
            flags = flags.with(PfcFlags::FIRST_FRAG);
        }
        if i + 1 == n {
            flags = flags.with(PfcFlags::LAST_FRAG);
        }
        out.extend_from_slice(&request_pdu(
            call_id,
            p_cont_id,
            opnum,
            c,
            flags,
            Some(remaining as u32),
            None,
        ));
        remaining -= c.len();
    }
    out
}

/// Everything a KMS activation request carries, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// Protocol version (outer and inner).
    pub version: ProtocolVersion,
    /// Application id.
    pub app_id: Uuid,
    /// KMS counted id.
    pub kms_id: Uuid,
    /// SKU id.
    pub sku_id: Uuid,
    /// Client machine id.
    pub cmid: Uuid,
    /// Previous CMID.
    pub previous_cmid: Uuid,
    /// Required client count N.
    pub required_count: u32,
    /// Client clock.
    pub time: FileTime,
    /// Workstation name.
    pub workstation: String,
    /// VM flag.
    pub vm: bool,
    /// License status.
    pub license_status: u32,
    /// Minutes left in the status.
    pub grace_minutes: u32,
}

impl RequestSpec {
    /// A genuine request for a catalog product (SKU name): its application, KMS id, SKU id,
    /// threshold as N and its clients' protocol major.
    pub fn for_product(name: &str, cmid: Uuid, time: FileTime) -> Result<Self, SpecError> {
        let cat = Catalog::get();
        let sku = cat
            .sku_by_name(name)
            .ok_or_else(|| SpecError(format!("unknown product {name:?}")))?;
        let kms = cat
            .kms(&sku.kms_id)
            .ok_or_else(|| SpecError(format!("product {name:?} has no KMS group")))?;
        Ok(RequestSpec {
            version: ProtocolVersion::new(kms.protocol, 0),
            app_id: kms.app_id,
            kms_id: kms.id,
            sku_id: sku.id,
            cmid,
            previous_cmid: Uuid::nil(),
            required_count: kms.threshold,
            time,
            workstation: "client.kmsspec.test".into(),
            vm: false,
            license_status: 2,
            grace_minutes: 43_200,
        })
    }

    /// The base request (236 bytes of plaintext).
    pub fn base(&self) -> Result<BaseRequest, SpecError> {
        Ok(BaseRequest {
            version: self.version,
            is_vm_raw: u32::from(self.vm),
            license_status: LicenseStatus::from_u32(self.license_status),
            grace_minutes: self.grace_minutes,
            application_id: self.app_id,
            sku_id: self.sku_id,
            kms_counted_id: self.kms_id,
            cmid: self.cmid,
            required_client_count: self.required_count,
            request_time: self.time,
            previous_cmid: self.previous_cmid,
            workstation_raw: BaseRequest::workstation_field(&self.workstation)
                .map_err(|e| SpecError(format!("workstation: {e}")))?,
        })
    }

    /// The same request as a decoded one (a captured request being re-sent), stamped with a
    /// new client time.
    pub fn from_decoded(req: &DecodedRequest, time: FileTime) -> Self {
        let b = &req.base;
        RequestSpec {
            version: req.outer_version(),
            app_id: b.application_id,
            kms_id: b.kms_counted_id,
            sku_id: b.sku_id,
            cmid: b.cmid,
            previous_cmid: b.previous_cmid,
            required_count: b.required_client_count,
            time,
            workstation: b.workstation().text,
            vm: b.is_vm(),
            license_status: b.license_status.to_u32(),
            grace_minutes: b.grace_minutes,
        }
    }

    /// The request as the reference model sees it.
    pub fn to_model(&self) -> ActivationRequest {
        ActivationRequest {
            protocol: (self.version.major, self.version.minor),
            app_id: self.app_id,
            kms_id: self.kms_id,
            sku_id: self.sku_id,
            cmid: self.cmid,
            previous_cmid: self.previous_cmid,
            required_count: self.required_count,
            client_time: Timestamp::from_filetime(self.time),
            is_vm: self.vm,
            license_status: self.license_status,
            grace_minutes: self.grace_minutes,
            workstation: self.workstation.clone(),
        }
    }
}

/// An encoded request with every layer kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRequest {
    /// The plaintext under encryption: base (V4), base ‖ 04 04 04 04 (V5/V6 and unknown).
    pub plain: Vec<u8>,
    /// The KMS message.
    pub kms: Vec<u8>,
    /// The NDR request stub.
    pub stub: Vec<u8>,
    /// The whole request PDU (or fragments, concatenated).
    pub pdu: Vec<u8>,
    /// The request IV (V5/V6).
    pub iv: [u8; 16],
    /// Transfer syntax of the stub.
    pub ndr: NdrSyntax,
    /// RPC call id.
    pub call_id: u32,
    /// Presentation context id.
    pub p_cont_id: u16,
    /// Opnum.
    pub opnum: u16,
}

impl EncodedRequest {
    /// Encodes `spec` (IV from `rng`) into a single-fragment request PDU.
    pub fn build(
        spec: &RequestSpec,
        rng: &mut SplitMix64,
        ndr: NdrSyntax,
        call_id: u32,
        p_cont_id: u16,
        opnum: u16,
    ) -> Result<Self, SpecError> {
        let base = spec.base()?;
        let mut plain = base.to_bytes().to_vec();
        if spec.version.major != 4 {
            plain.extend_from_slice(&[4, 4, 4, 4]);
        }
        let iv = rng.block16();
        let kms = seal(&plain, spec.version, &iv);
        let stub = request_stub(&kms, ndr, None);
        let pdu = request_pdu(
            call_id,
            p_cont_id,
            opnum,
            &stub,
            PfcFlags::SINGLE,
            None,
            None,
        );
        Ok(EncodedRequest {
            plain,
            kms,
            stub,
            pdu,
            iv,
            ndr,
            call_id,
            p_cont_id,
            opnum,
        })
    }

    /// The request as a host decodes it, when it decodes.
    pub fn decoded(&self) -> Option<DecodedRequest> {
        DecodedRequest::parse(&self.kms).ok()
    }
}

/// Wraps a plaintext into a KMS message: V4 = plain ‖ MAC(plain); V5/V6 = version ‖ IV ‖
/// CBC(plain) (a tail that is not a whole block is left in clear); any other major = version ‖
/// IV ‖ plain (no cipher is defined for it).
pub fn seal(plain: &[u8], version: ProtocolVersion, iv: &[u8; 16]) -> Vec<u8> {
    match version.protocol() {
        Some(Protocol::V4) => {
            let mut out = plain.to_vec();
            out.extend_from_slice(&v4_mac(plain));
            out
        }
        Some(p) => {
            let mut out = Vec::with_capacity(20 + plain.len());
            out.extend_from_slice(&version.to_wire());
            out.extend_from_slice(iv);
            out.extend_from_slice(plain);
            let whole = (plain.len() / 16) * 16;
            if let Some(body) = out.get_mut(20..20 + whole) {
                // Cannot fail: `body` is a whole number of blocks.
                let _ = cbc_encrypt(p.cipher(), iv, body);
            }
            out
        }
        None => {
            let mut out = Vec::with_capacity(20 + plain.len());
            out.extend_from_slice(&version.to_wire());
            out.extend_from_slice(iv);
            out.extend_from_slice(plain);
            out
        }
    }
}

/// Length of the base request inside the plaintext.
pub const PLAIN_BASE_LEN: usize = BASE_REQUEST_LEN;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rpc::Pdu;

    #[test]
    fn a_v6_request_round_trips_through_the_wire_layer() {
        let mut rng = SplitMix64::new(1);
        let spec = RequestSpec::for_product(
            "Windows 10 Enterprise",
            rng.uuid(),
            FileTime(0x01d0_0000_0000_0000),
        )
        .unwrap();
        assert_eq!(spec.required_count, 25);
        let enc = EncodedRequest::build(&spec, &mut rng, NdrSyntax::Ndr32, 2, 0, 0).unwrap();
        let d = enc.decoded().expect("decodes");
        assert_eq!(d.base.cmid, spec.cmid);
        assert_eq!(d.base.required_client_count, 25);
        match Pdu::parse(&enc.pdu).unwrap() {
            Pdu::Request(c, r) => {
                assert_eq!(c.call_id, 2);
                assert_eq!(r.alloc_hint as usize, enc.stub.len());
            }
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn fragments_carry_first_and_last_flags() {
        let stub = vec![7u8; 100];
        let bytes = fragment_request(3, 0, 0, &stub, 40);
        let mut at = 0;
        let mut flags = Vec::new();
        while at < bytes.len() {
            let len = usize::from(u16::from_le_bytes([bytes[at + 8], bytes[at + 9]]));
            flags.push(bytes[at + 3]);
            at += len;
        }
        assert_eq!(flags, vec![1, 0, 2]);
    }
}
