//! The mutator: a well-formed session (bind + V4/V5/V6 request for a random catalog product,
//! NDR32 or NDR64) built with the client layer, then one structure-aware mutation applied at
//! the layer it belongs to, the layers around it rebuilt by the codec (so checksums, MAC and
//! encryption stay valid unless the mutation breaks them on purpose). Every random choice comes
//! from a [`SplitMix64`] seeded by (seed, case index): the same seed, index and clock give the
//! same case.

use super::case::{Action, Expect, ExpectKind, FuzzCase, MutationKind, MAX_PAUSE_US};
use crate::client::{
    bind_pdu, fragment_request, request_pdu, request_stub, seal, EncodedRequest, RequestSpec,
    SplitMix64, SANITY_PRODUCT,
};
use crate::model::Catalog;
use crate::wire::kms::ProtocolVersion;
use crate::wire::rpc::{
    btfn, ContextElement, NdrSyntax, PfcFlags, SyntaxId, KMS_INTERFACE, NDR32, NDR64,
};
use crate::wire::FileTime;
use uuid::Uuid;

/// Base-request fields in the plaintext: (name, offset, length).
pub const BASE_FIELDS: [(&str, usize, usize); 12] = [
    ("version", 0, 4),
    ("is_vm", 4, 4),
    ("license_status", 8, 4),
    ("grace_minutes", 12, 4),
    ("application_id", 16, 16),
    ("sku_id", 32, 16),
    ("kms_counted_id", 48, 16),
    ("cmid", 64, 16),
    ("required_client_count", 80, 4),
    ("request_time", 84, 8),
    ("previous_cmid", 92, 16),
    ("workstation", 108, 128),
];

/// Cases are made from a seed; see the module docs.
#[derive(Debug, Clone)]
pub struct Mutator {
    seed: u64,
}

/// The well-formed session a mutation starts from, every layer kept.
struct Base {
    spec: RequestSpec,
    enc: EncodedRequest,
    contexts: Vec<ContextElement>,
}

/// The session being assembled.
struct Draft {
    kind: MutationKind,
    note: String,
    prelude: Vec<Action>,
    bind: Vec<u8>,
    bind_kind: ExpectKind,
    /// Request writes with what each expects after it (empty: nothing expected).
    sends: Vec<(Vec<u8>, Vec<Expect>)>,
    chunk: usize,
    pause_us: u32,
    sanity_after: bool,
}

impl Mutator {
    /// A mutator for a run seed.
    pub fn new(seed: u64) -> Self {
        Mutator { seed }
    }

    /// The run seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Case `index`, with request times stamped from `now` (the host's clock).
    pub fn case(&self, index: u64, now: FileTime) -> FuzzCase {
        let mut rng =
            SplitMix64::new(self.seed ^ index.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        let base = base_session(&mut rng, now);
        let kind = pick_kind(&mut rng);
        let mut d = Draft::from_base(&base, kind);
        apply(&mut d, &base, &mut rng);
        // Any case may also be delivered a byte at a time.
        if d.chunk == 0 && below(&mut rng, 16) == 0 && kind != MutationKind::PduTruncate {
            d.chunk = 1;
            d.note.push_str(" +1-byte chunks");
        }
        d.finish(self.seed, index)
    }
}

fn below(rng: &mut SplitMix64, n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        rng.next_u64() % n
    }
}

fn pick<'a, T>(rng: &mut SplitMix64, items: &'a [T]) -> &'a T {
    let i = below(rng, items.len() as u64) as usize;
    &items[i.min(items.len().saturating_sub(1))]
}

fn pick_kind(rng: &mut SplitMix64) -> MutationKind {
    // Well-formed controls are as frequent as any one mutation.
    *pick(rng, &MutationKind::ALL)
}

fn base_session(rng: &mut SplitMix64, now: FileTime) -> Base {
    let cat = Catalog::get();
    let skus = cat.skus();
    let name = if skus.is_empty() {
        SANITY_PRODUCT.to_string()
    } else {
        pick(rng, skus).name.clone()
    };
    let cmid = rng.uuid();
    let spec = RequestSpec::for_product(&name, cmid, now)
        .or_else(|_| RequestSpec::for_product(SANITY_PRODUCT, cmid, now));
    let mut spec = match spec {
        Ok(s) => s,
        // The catalog always holds the sanity product; this keeps the mutator total anyway.
        Err(_) => RequestSpec {
            version: ProtocolVersion::V6,
            app_id: Uuid::nil(),
            kms_id: Uuid::nil(),
            sku_id: Uuid::nil(),
            cmid,
            previous_cmid: Uuid::nil(),
            required_count: 25,
            time: now,
            workstation: "client.kmsspec.test".into(),
            vm: false,
            license_status: 2,
            grace_minutes: 43_200,
        },
    };
    spec.version = *pick(
        rng,
        &[
            ProtocolVersion::V4,
            ProtocolVersion::V5,
            ProtocolVersion::V6,
        ],
    );
    spec.vm = below(rng, 4) == 0;
    let ndr64 = below(rng, 5) == 0;
    let mut contexts = vec![ContextElement::new(0, KMS_INTERFACE, NDR32)];
    if ndr64 {
        contexts.push(ContextElement::new(1, KMS_INTERFACE, NDR64));
    }
    let (ndr, ctx) = if ndr64 {
        (NdrSyntax::Ndr64, 1)
    } else {
        (NdrSyntax::Ndr32, 0)
    };
    let enc = EncodedRequest::build(&spec, rng, ndr, 2, ctx, 0).unwrap_or_else(|_| {
        spec.workstation = "client".into();
        // Only the workstation can fail to encode; a short ASCII name always does.
        EncodedRequest::build(&spec, &mut SplitMix64::new(0), ndr, 2, ctx, 0).unwrap_or(
            EncodedRequest {
                plain: Vec::new(),
                kms: Vec::new(),
                stub: Vec::new(),
                pdu: Vec::new(),
                iv: [0; 16],
                ndr,
                call_id: 2,
                p_cont_id: ctx,
                opnum: 0,
            },
        )
    });
    Base {
        spec,
        enc,
        contexts,
    }
}

fn expect(kind: ExpectKind, enc: &EncodedRequest, kms: Option<Vec<u8>>) -> Expect {
    Expect {
        kind,
        call_id: enc.call_id,
        p_cont_id: enc.p_cont_id,
        ndr64: enc.ndr == NdrSyntax::Ndr64,
        silence_ok: false,
        any_ndr: false,
        kms,
    }
}

impl Draft {
    fn from_base(base: &Base, kind: MutationKind) -> Self {
        Draft {
            kind,
            note: format!(
                "v{} {} {}",
                base.spec.version,
                if base.enc.ndr == NdrSyntax::Ndr64 {
                    "ndr64"
                } else {
                    "ndr32"
                },
                base.spec.sku_id
            ),
            prelude: Vec::new(),
            bind: bind_pdu(1, base.contexts.clone(), PfcFlags::SINGLE, false),
            bind_kind: ExpectKind::BindAck,
            sends: vec![(
                base.enc.pdu.clone(),
                vec![expect(
                    ExpectKind::Answer,
                    &base.enc,
                    Some(base.enc.kms.clone()),
                )],
            )],
            chunk: 0,
            pause_us: 0,
            sanity_after: false,
        }
    }

    /// Replaces the request with `pdu`, expecting `kind` judged against `kms`.
    fn request(&mut self, pdu: Vec<u8>, e: Expect) {
        self.sends = vec![(pdu, vec![e])];
    }

    fn note(&mut self, text: String) {
        self.note.push_str("; ");
        self.note.push_str(&text);
    }

    fn finish(self, seed: u64, index: u64) -> FuzzCase {
        let mut session = self.prelude;
        session.push(Action::Connect);
        session.push(Action::Send {
            bytes: self.bind,
            chunk: self.chunk,
            pause_us: self.pause_us,
        });
        session.push(Action::Expect(Expect {
            kind: self.bind_kind,
            call_id: 1,
            p_cont_id: 0,
            ndr64: false,
            silence_ok: false,
            any_ndr: false,
            kms: None,
        }));
        for (bytes, expects) in self.sends {
            session.push(Action::Send {
                bytes,
                chunk: self.chunk,
                pause_us: self.pause_us,
            });
            session.extend(expects.into_iter().map(Action::Expect));
        }
        session.push(Action::Close);
        FuzzCase {
            seed,
            index,
            kind: self.kind,
            note: self.note,
            sanity_after: self.sanity_after,
            session,
        }
    }
}

/// One unfragmented request PDU (FIRST|LAST, no alloc_hint or size override).
fn single_request(call_id: u32, p_cont_id: u16, opnum: u16, stub: &[u8]) -> Vec<u8> {
    request_pdu(
        call_id,
        p_cont_id,
        opnum,
        stub,
        PfcFlags::SINGLE,
        None,
        None,
    )
}

/// A request PDU around `kms` with the base's framing (consistent NDR sizes).
fn reframe(base: &Base, kms: &[u8]) -> Vec<u8> {
    let e = &base.enc;
    let stub = request_stub(kms, e.ndr, None);
    single_request(e.call_id, e.p_cont_id, e.opnum, &stub)
}

/// An interesting value for a field of `len` bytes.
fn field_value(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    match below(rng, 6) {
        0 => {}
        1 => v.fill(0xff),
        2 => rng.fill(&mut v),
        3 => {
            // Small integer / boundary.
            let n: u64 = *pick(rng, &[1, 4, 5, 24, 25, 26, 50, 0x7fff_ffff, 0x8000_0000]);
            let b = n.to_le_bytes();
            for (dst, src) in v.iter_mut().zip(b.iter()) {
                *dst = *src;
            }
        }
        4 => {
            // Valid-looking UUID / version words.
            let u = rng.uuid();
            for (dst, src) in v.iter_mut().zip(u.to_bytes_le().iter().cycle()) {
                *dst = *src;
            }
        }
        _ => {
            v.fill(0x41);
        }
    }
    v
}

fn apply(d: &mut Draft, base: &Base, rng: &mut SplitMix64) {
    let e = &base.enc;
    let kms_ok = Some(e.kms.clone());
    match d.kind {
        MutationKind::WellFormed => {}
        MutationKind::PduType => {
            // Not request (0) and not the types a server legitimately ignores (auth3,
            // co_cancel, orphaned).
            let t = *pick(
                rng,
                &[
                    1u8, 2, 3, 4, 5, 9, 11, 12, 13, 14, 15, 17, 20, 21, 0x7f, 0xff,
                ],
            );
            let mut pdu = e.pdu.clone();
            pdu[2] = t;
            d.note(format!("ptype {t}"));
            d.request(pdu, expect(ExpectKind::Refusal, e, kms_ok));
        }
        MutationKind::Flags => {
            // Never clears LAST_FRAG or sets MAYBE: both let a host wait silently.
            let bits = [0x01u8, 0x04, 0x08, 0x10, 0x20, 0x80];
            let mut flags = PfcFlags::SINGLE.0;
            for _ in 0..=below(rng, 2) {
                flags ^= *pick(rng, &bits);
            }
            let mut pdu = e.pdu.clone();
            pdu[3] = flags;
            d.note(format!("pfc_flags 0x{flags:02x}"));
            d.request(pdu, expect(ExpectKind::Tolerant, e, kms_ok));
        }
        MutationKind::Drep => {
            let mut pdu = e.pdu.clone();
            let at = 4 + below(rng, 4) as usize;
            let v = *pick(rng, &[0x00u8, 0x01, 0x11, 0x20, 0xff]);
            pdu[at] = v;
            d.note(format!("drep[{}] = 0x{v:02x}", at - 4));
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            // A big-endian reader sees another frag_length and may wait for more bytes.
            x.silence_ok = at == 4 && v & 0xf0 != 0x10;
            d.request(pdu, x);
        }
        MutationKind::FragLength => {
            let mut pdu = e.pdu.clone();
            let real = pdu.len();
            let shorter = below(rng, 2) == 0;
            let new = if shorter {
                16 + below(rng, (real - 16) as u64) as usize
            } else {
                let extra = 1 + below(rng, 64) as usize;
                let mut junk = vec![0u8; extra];
                rng.fill(&mut junk);
                pdu.extend_from_slice(&junk);
                real + extra
            };
            pdu[8..10].copy_from_slice(&(new as u16).to_le_bytes());
            d.note(format!("frag_length {real} -> {new}"));
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            // Shorter: the rest of the bytes start a PDU that may never complete.
            x.silence_ok = false;
            d.request(pdu, x);
        }
        MutationKind::AuthLength => {
            let mut pdu = e.pdu.clone();
            let v = *pick(rng, &[8u16, 16, 32, 0xffff]).min(&((pdu.len() - 24) as u16));
            let v = v.max(1);
            pdu[10..12].copy_from_slice(&v.to_le_bytes());
            d.note(format!("auth_length {v}"));
            d.request(pdu, expect(ExpectKind::Tolerant, e, kms_ok));
        }
        MutationKind::CallId => {
            let r = rng_u32(rng);
            let call = *pick(rng, &[0u32, 1, 0xffff_ffff, 0x8000_0000, r]);
            let pdu = single_request(call, e.p_cont_id, e.opnum, &e.stub);
            d.note(format!("call_id {call}"));
            let mut x = expect(ExpectKind::Answer, e, kms_ok);
            x.call_id = call;
            d.request(pdu, x);
        }
        MutationKind::BindContexts => {
            let n = below(rng, 6) as usize;
            let mut ctxs = Vec::with_capacity(n);
            for i in 0..n {
                let id = if below(rng, 3) == 0 { 0 } else { i as u16 };
                let ts = if below(rng, 2) == 0 { NDR32 } else { NDR64 };
                ctxs.push(ContextElement::new(id, KMS_INTERFACE, ts));
            }
            let mut bind = bind_pdu(1, ctxs, PfcFlags::SINGLE, false);
            if below(rng, 3) == 0 && bind.len() > 24 {
                // n_context_elem disagreeing with the elements present.
                bind[24] = bind[24].wrapping_add(1 + below(rng, 3) as u8);
            }
            d.note(format!(
                "{n} contexts, n_context_elem {}",
                bind.get(24).copied().unwrap_or(0)
            ));
            d.bind = bind;
            d.bind_kind = ExpectKind::Bind;
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            x.any_ndr = true;
            d.request(e.pdu.clone(), x);
        }
        MutationKind::BindSyntax => {
            let ts = match below(rng, 4) {
                0 => SyntaxId::new(rng.uuid(), 1),
                1 => SyntaxId::new(NDR32.uuid, rng_u32(rng) % 4),
                2 => SyntaxId::new(NDR64.uuid, 2),
                _ => NDR64,
            };
            d.note(format!("transfer syntax {} v{}", ts.uuid, ts.version));
            d.bind = bind_pdu(
                1,
                vec![ContextElement::new(e.p_cont_id, KMS_INTERFACE, ts)],
                PfcFlags::SINGLE,
                false,
            );
            d.bind_kind = ExpectKind::Bind;
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            x.any_ndr = true;
            d.request(e.pdu.clone(), x);
        }
        MutationKind::BindInterface => {
            let iface = if below(rng, 2) == 0 {
                SyntaxId::interface(rng.uuid(), 1, 0)
            } else {
                SyntaxId::interface(
                    KMS_INTERFACE.uuid,
                    1 + below(rng, 3) as u16,
                    below(rng, 2) as u16,
                )
            };
            d.note(format!("interface {} v0x{:08x}", iface.uuid, iface.version));
            let ts = if e.ndr == NdrSyntax::Ndr64 {
                NDR64
            } else {
                NDR32
            };
            d.bind = bind_pdu(
                1,
                vec![ContextElement::new(e.p_cont_id, iface, ts)],
                PfcFlags::SINGLE,
                false,
            );
            d.bind_kind = ExpectKind::Bind;
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            x.any_ndr = true;
            d.request(e.pdu.clone(), x);
        }
        MutationKind::Btfn => {
            let bits = rng_u32(rng) as u16;
            let mut ctxs = base.contexts.clone();
            let id = ctxs.len() as u16;
            ctxs.push(ContextElement::new(id, KMS_INTERFACE, btfn(bits)));
            d.note(format!("btfn bits 0x{bits:04x}"));
            d.bind = bind_pdu(1, ctxs, PfcFlags::SINGLE, false);
            d.bind_kind = ExpectKind::Bind;
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            x.any_ndr = true;
            d.request(e.pdu.clone(), x);
        }
        MutationKind::TransferSyntaxCount => {
            let n = below(rng, 5) as usize;
            let mut el = ContextElement::new(e.p_cont_id, KMS_INTERFACE, NDR32);
            el.transfer_syntaxes = (0..n)
                .map(|_| {
                    *pick(
                        rng,
                        &[NDR32, NDR64, btfn(3), SyntaxId::new(Uuid::from_u128(7), 1)],
                    )
                })
                .collect();
            d.note(format!("n_transfer_syn {n}"));
            d.bind = bind_pdu(1, vec![el], PfcFlags::SINGLE, false);
            d.bind_kind = ExpectKind::Bind;
            let mut x = expect(ExpectKind::Tolerant, e, kms_ok);
            x.any_ndr = true;
            d.request(e.pdu.clone(), x);
        }
        MutationKind::Opnum => {
            let op = 1 + (rng_u32(rng) % 0xffff) as u16;
            let pdu = single_request(e.call_id, e.p_cont_id, op, &e.stub);
            d.note(format!("opnum {op}"));
            d.request(pdu, expect(ExpectKind::Refusal, e, kms_ok));
        }
        MutationKind::ContextId => {
            let ctx = 2 + (rng_u32(rng) % 0xfffd) as u16;
            let pdu = single_request(e.call_id, ctx, e.opnum, &e.stub);
            d.note(format!("p_cont_id {ctx}"));
            let mut x = expect(ExpectKind::Refusal, e, kms_ok);
            x.p_cont_id = ctx;
            d.request(pdu, x);
        }
        MutationKind::AllocHint => {
            let r = rng_u32(rng);
            let hint = *pick(rng, &[0u32, 1, 0xffff_ffff, 0x0100_0000, r]);
            let pdu = request_pdu(
                e.call_id,
                e.p_cont_id,
                e.opnum,
                &e.stub,
                PfcFlags::SINGLE,
                Some(hint),
                None,
            );
            d.note(format!("alloc_hint {hint}"));
            d.request(pdu, expect(ExpectKind::Tolerant, e, kms_ok));
        }
        MutationKind::NdrSize => {
            let real = e.kms.len() as u32;
            let declared = match below(rng, 4) {
                0 => 0,
                1 => real + 1 + rng_u32(rng) % 64,
                2 => real.saturating_sub(1 + rng_u32(rng) % 64),
                _ => 0xffff_ffff,
            };
            let stub = request_stub(&e.kms, e.ndr, Some(declared));
            let pdu = single_request(e.call_id, e.p_cont_id, e.opnum, &stub);
            d.note(format!("NDR size {real} -> {declared}"));
            d.request(pdu, expect(ExpectKind::Tolerant, e, kms_ok));
        }
        MutationKind::KmsVersion => {
            let v = *pick(
                rng,
                &[
                    ProtocolVersion::new(3, 0),
                    ProtocolVersion::new(7, 0),
                    ProtocolVersion::new(0, 0),
                    ProtocolVersion::new(4, 1),
                    ProtocolVersion::new(5, 1),
                    ProtocolVersion::new(6, 1),
                    ProtocolVersion::new(0xffff, 0xffff),
                    ProtocolVersion::V4,
                    ProtocolVersion::V5,
                    ProtocolVersion::V6,
                ],
            );
            let mut kms = e.kms.clone();
            kms[..4].copy_from_slice(&v.to_wire());
            d.note(format!("outer version {v}"));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::Iv | MutationKind::Padding if base.spec.version.major == 4 => {
            // V4 has no IV and no padding: break the MAC instead.
            d.kind = MutationKind::Mac;
            apply(d, base, rng);
        }
        MutationKind::RequestField => {
            let (name, off, len) = *pick(rng, &BASE_FIELDS);
            let mut plain = e.plain.clone();
            let value = field_value(rng, len);
            if let Some(slot) = plain.get_mut(off..off + len) {
                slot.copy_from_slice(&value);
            }
            let kms = seal(&plain, base.spec.version, &e.iv);
            d.note(format!(
                "{name} = {}",
                super::hex::encode(&value[..len.min(16)])
            ));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::PayloadBitFlip => {
            let start = if base.spec.version.major == 4 { 0 } else { 20 };
            let mut kms = e.kms.clone();
            let n = 1 + below(rng, 3);
            for _ in 0..n {
                let at = start + below(rng, (kms.len() - start) as u64) as usize;
                kms[at] ^= 1 << below(rng, 8);
            }
            d.note(format!("{n} bit flips"));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::Padding => {
            let mut plain = e.plain.clone();
            let at = 236 + below(rng, 4) as usize;
            let v = *pick(rng, &[0u8, 1, 3, 5, 0x10, 0xff]);
            if let Some(b) = plain.get_mut(at) {
                *b = v;
            }
            d.note(format!("padding[{}] = {v}", at - 236));
            let kms = seal(&plain, base.spec.version, &e.iv);
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::Mac => {
            let mut kms = e.kms.clone();
            let at = kms.len() - 1 - below(rng, 16) as usize;
            kms[at] ^= 1 + below(rng, 255) as u8;
            d.note(format!("MAC byte {at}"));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::Iv => {
            let mut kms = e.kms.clone();
            let iv = if below(rng, 3) == 0 {
                [0u8; 16]
            } else {
                rng.block16()
            };
            kms[4..20].copy_from_slice(&iv);
            d.note(format!("IV {}", super::hex::encode(&iv)));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::KmsTruncate => {
            let keep = match below(rng, 3) {
                0 => below(rng, 20) as usize,
                1 => e.kms.len() - 1 - below(rng, 32) as usize,
                _ => below(rng, e.kms.len() as u64) as usize,
            };
            let kms = e.kms[..keep].to_vec();
            d.note(format!("KMS message {} -> {keep} bytes", e.kms.len()));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::KmsExtend => {
            let mut kms = e.kms.clone();
            let n = *pick(rng, &[1usize, 4, 15, 16, 32, 200]);
            let mut junk = vec![0u8; n];
            rng.fill(&mut junk);
            kms.extend_from_slice(&junk);
            d.note(format!("KMS message +{n} bytes"));
            d.request(
                reframe(base, &kms),
                expect(ExpectKind::Answer, e, Some(kms)),
            );
        }
        MutationKind::PduTruncate => {
            let keep = 1 + below(rng, (e.pdu.len() - 1) as u64) as usize;
            d.note(format!("request PDU cut at {keep} of {}", e.pdu.len()));
            d.sends = vec![(e.pdu[..keep].to_vec(), Vec::new())];
            d.sanity_after = true;
        }
        MutationKind::PduExtend => {
            let n = 1 + below(rng, 48) as usize;
            let mut junk = vec![0u8; n];
            rng.fill(&mut junk);
            if below(rng, 2) == 0 {
                // Bytes after the PDU: the answer comes, then whatever the junk starts.
                let mut pdu = e.pdu.clone();
                pdu.extend_from_slice(&junk);
                d.note(format!("{n} bytes after the PDU"));
                // A host that closes on the junk while it is unread sends a reset, which may
                // discard the answer already sent: the answer is judged only if it arrives.
                d.request(pdu, expect(ExpectKind::Tolerant, e, kms_ok));
            } else {
                // Bytes inside the PDU after the stub (frag_length covers them).
                let mut stub = e.stub.clone();
                stub.extend_from_slice(&junk);
                let pdu = single_request(e.call_id, e.p_cont_id, e.opnum, &stub);
                d.note(format!("{n} bytes after the stub"));
                d.request(pdu, expect(ExpectKind::Tolerant, e, kms_ok));
            }
        }
        MutationKind::Fragmented => {
            let max = 1 + below(rng, (e.stub.len() - 1) as u64) as usize;
            let pdu = fragment_request(e.call_id, e.p_cont_id, e.opnum, &e.stub, max);
            d.note(format!("fragments of {max} stub bytes"));
            d.request(pdu, expect(ExpectKind::Answer, e, kms_ok));
        }
        MutationKind::Pipelined => {
            let n = 2 + below(rng, 3) as u32;
            let one_write = below(rng, 2) == 0;
            let mut sends: Vec<(Vec<u8>, Vec<Expect>)> = Vec::new();
            for i in 0..n {
                let call = e.call_id + i;
                let pdu = single_request(call, e.p_cont_id, e.opnum, &e.stub);
                let mut x = expect(ExpectKind::Answer, e, kms_ok.clone());
                x.call_id = call;
                match (one_write, sends.last_mut()) {
                    (true, Some((bytes, expects))) => {
                        bytes.extend_from_slice(&pdu);
                        expects.push(x);
                    }
                    _ => sends.push((pdu, vec![x])),
                }
            }
            d.note(format!(
                "{n} requests{}",
                if one_write {
                    " in one write"
                } else {
                    " back to back"
                }
            ));
            d.sends = sends;
        }
        MutationKind::OneByteChunks => {
            d.chunk = 1;
        }
        MutationKind::SlowDelivery => {
            // Bounded so a slow case costs a few milliseconds, not the run's throughput.
            d.chunk = 48 + below(rng, 80) as usize;
            d.pause_us = (100 + below(rng, 400) as u32).min(MAX_PAUSE_US);
            d.note(format!("{}-byte writes, {} µs apart", d.chunk, d.pause_us));
        }
        MutationKind::Churn => {
            let n = 3 + below(rng, 6);
            for _ in 0..n {
                d.prelude.push(Action::Connect);
                match below(rng, 3) {
                    0 => {}
                    1 => d.prelude.push(Action::Send {
                        bytes: d.bind.clone(),
                        chunk: 0,
                        pause_us: 0,
                    }),
                    _ => {
                        let cut = 1 + below(rng, 40) as usize;
                        d.prelude.push(Action::Send {
                            bytes: d.bind[..cut.min(d.bind.len())].to_vec(),
                            chunk: 0,
                            pause_us: 0,
                        });
                    }
                }
                d.prelude.push(Action::Close);
            }
            d.note(format!("{n} short connections first"));
        }
    }
}

fn rng_u32(rng: &mut SplitMix64) -> u32 {
    rng.next_u64() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_case_and_every_kind_appears() {
        let now = FileTime(0x01db_0000_0000_0000);
        let a = Mutator::new(9);
        let b = Mutator::new(9);
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let c = a.case(i, now);
            assert_eq!(c, b.case(i, now));
            kinds.insert(c.kind);
        }
        assert!(kinds.len() >= 30, "{kinds:?}");
        assert_ne!(a.case(1, now), Mutator::new(10).case(1, now));
    }
}
