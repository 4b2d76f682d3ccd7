//! The project's own capture corpus (`captures/`), generated reproducibly from the codec's
//! encoders: a tiny in-file KMS client and host (wire + catalog, fixed seeds, fixed clock)
//! produce DCE/RPC conversations, which [`super::writer`] turns into TCP segments and
//! pcap/pcapng files. `cargo run --example gen_captures [DIR]` writes them; a test regenerates
//! them into a temporary folder and compares bytes. [`conversation`] and [`flow_packets`] are
//! also used by the benchmark to build large files.

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use uuid::Uuid;

use super::link::linktype;
use super::writer::{PcapNgWriter, PcapWriter, Segment, TcpSession};
use crate::model::Catalog;
use crate::rng::SplitMix64;
use crate::wire::filetime::FileTime;
use crate::wire::kms::{
    encode_request, encode_response, BaseRequest, BaseResponse, DecodedRequest, LicenseStatus,
    ProtocolVersion, RequestParams, ResponseParams,
};
use crate::wire::rpc::{
    btfn, Bind, BindAck, Common, ContextElement, ContextResult, NdrSyntax, Pdu, PfcFlags, Request,
    RequestStub, Response, ResponseStub, ResultKind, SyntaxId, KMS_INTERFACE, NDR32, NDR64,
};

/// 2026-11-28T00:00:00Z, the corpus clock.
pub const CORPUS_EPOCH_SECS: i64 = 1_795_824_000;

/// What one generated KMS conversation holds.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    /// Protocol major (4, 5 or 6).
    pub major: u16,
    /// Use NDR64 (the host accepts the NDR64 context) instead of NDR32.
    pub ndr64: bool,
    /// Propose (and acknowledge) bind-time feature negotiation.
    pub btfn: bool,
    /// Requests on the connection.
    pub requests: usize,
    /// Split the first request's stub into this many fragments (1: none).
    pub fragments: usize,
    /// SKU name from the catalog.
    pub sku: &'static str,
    /// Bind at all (false: request without bind, the host answers with a fault).
    pub bind: bool,
    /// Host answers with this HRESULT error stub instead of a response.
    pub error_hresult: Option<u32>,
    /// Host echoes a wrong CMID (a failing check).
    pub bad_cmid_echo: bool,
    /// Seed for every random value.
    pub seed: u64,
}

impl Default for FlowSpec {
    fn default() -> Self {
        FlowSpec {
            major: 6,
            ndr64: false,
            btfn: true,
            requests: 3,
            fragments: 1,
            sku: "Windows 10 Professional",
            bind: true,
            error_hresult: None,
            bad_cmid_echo: false,
            seed: 1,
        }
    }
}

/// One application message of a conversation.
#[derive(Debug, Clone)]
pub struct Message {
    /// Sent by the client.
    pub from_client: bool,
    /// The bytes (one or more whole PDUs).
    pub bytes: Vec<u8>,
}

const EPID: &str = "03612-00206-556-123456-03-1033-17763.0000-3322026";
const FRAG_FLAGS_MID: PfcFlags = PfcFlags(0);

/// The client/host conversation of `spec`: bind/bind_ack, then request/response pairs.
pub fn conversation(spec: &FlowSpec) -> Vec<Message> {
    let mut rng = SplitMix64::new(spec.seed);
    let cat = Catalog::get();
    let (sku_id, kms_id, app_id) = match cat.sku_by_name(spec.sku) {
        Some(s) => {
            let app = cat.kms(&s.kms_id).map(|k| k.app_id).unwrap_or_default();
            (s.id, s.kms_id, app)
        }
        None => (Uuid::nil(), Uuid::nil(), Uuid::nil()),
    };
    let syntax = if spec.ndr64 {
        NdrSyntax::Ndr64
    } else {
        NdrSyntax::Ndr32
    };
    let ctx_id: u16 = if spec.ndr64 { 1 } else { 0 };
    let mut out = Vec::new();
    let mut call_id = 1u32;
    if spec.bind {
        let mut contexts = vec![
            ContextElement::new(0, KMS_INTERFACE, NDR32),
            ContextElement::new(1, KMS_INTERFACE, NDR64),
        ];
        if spec.btfn {
            contexts.push(ContextElement::new(2, KMS_INTERFACE, btfn(3)));
        }
        let bind = Pdu::Bind(Common::new(call_id), Bind::new(contexts.clone())).encode();
        let results = contexts
            .iter()
            .map(|c| {
                let kind = crate::wire::rpc::TransferSyntaxKind::of(&c.transfer_syntaxes[0].uuid);
                match kind {
                    crate::wire::rpc::TransferSyntaxKind::Btfn { .. } => ContextResult {
                        result: ResultKind::NegotiateAck,
                        reason: 3,
                        transfer_syntax: SyntaxId::NIL,
                    },
                    _ if c.p_cont_id == ctx_id => ContextResult {
                        result: ResultKind::Acceptance,
                        reason: 0,
                        transfer_syntax: c.transfer_syntaxes[0],
                    },
                    _ => ContextResult {
                        result: ResultKind::ProviderRejection,
                        reason: 2,
                        transfer_syntax: SyntaxId::NIL,
                    },
                }
            })
            .collect();
        let sec = b"1688\0";
        let ack = Pdu::BindAck(
            Common::new(call_id),
            BindAck {
                max_xmit_frag: 5840,
                max_recv_frag: 5840,
                assoc_group_id: 0x1063_bf3f,
                sec_addr: Cow::Borrowed(sec),
                pad: [0; 3],
                reserved: [0; 3],
                results,
                trailing: Cow::Borrowed(&[]),
            },
        )
        .encode();
        out.push(Message {
            from_client: true,
            bytes: bind,
        });
        out.push(Message {
            from_client: false,
            bytes: ack,
        });
    }
    for i in 0..spec.requests {
        call_id += 1;
        let version = ProtocolVersion::new(spec.major, 0);
        let time = FileTime::from_unix_seconds(CORPUS_EPOCH_SECS + 60 * i as i64 + 1);
        let mut workstation = [0u8; 128];
        if let Ok(w) = BaseRequest::workstation_field(&format!("host{}.corpus.test", spec.seed)) {
            workstation = w;
        }
        let base = BaseRequest {
            version,
            is_vm_raw: u32::from(i % 2 == 1),
            license_status: LicenseStatus::OobGrace,
            grace_minutes: 43_200,
            application_id: app_id,
            sku_id,
            kms_counted_id: kms_id,
            cmid: rng.uuid(),
            required_client_count: 25,
            request_time: time,
            previous_cmid: Uuid::nil(),
            workstation_raw: workstation,
        };
        let params = match spec.major {
            4 => RequestParams::v4(),
            5 => RequestParams::v5(rng.block16()),
            _ => RequestParams::v6(rng.block16()),
        };
        let Ok(msg) = encode_request(&base, &params) else {
            continue;
        };
        let stub = RequestStub::new(&msg).encode(syntax);
        let pieces = if i == 0 { spec.fragments.max(1) } else { 1 };
        let chunk = stub.len().div_ceil(pieces).max(1);
        let mut req_bytes = Vec::new();
        let n = stub.chunks(chunk).count();
        for (k, part) in stub.chunks(chunk).enumerate() {
            let mut c = Common::new(call_id);
            c.pfc_flags = match (k == 0, k + 1 == n) {
                (true, true) => PfcFlags::SINGLE,
                (true, false) => PfcFlags::FIRST_FRAG,
                (false, true) => PfcFlags::LAST_FRAG,
                (false, false) => FRAG_FLAGS_MID,
            };
            Pdu::Request(
                c,
                Request {
                    alloc_hint: (stub.len() - k * chunk) as u32,
                    p_cont_id: ctx_id,
                    opnum: 0,
                    object: None,
                    stub: Cow::Borrowed(part),
                },
            )
            .encode_into(&mut req_bytes);
        }
        out.push(Message {
            from_client: true,
            bytes: req_bytes,
        });
        let answer = if !spec.bind {
            Pdu::Fault(
                Common::new(call_id),
                crate::wire::rpc::Fault {
                    alloc_hint: 32,
                    p_cont_id: ctx_id,
                    cancel_count: 0,
                    reserved: 0,
                    status: crate::wire::rpc::NCA_S_UNK_IF,
                    reserved2: 0,
                    extra: Cow::Borrowed(&[0, 0, 0, 0]),
                },
            )
            .encode()
        } else {
            let resp_stub = match (spec.error_hresult, DecodedRequest::parse(&msg)) {
                (Some(_), _) | (None, Err(_)) => {
                    ResponseStub::error(h_or(spec.error_hresult)).encode(syntax)
                }
                (None, Ok(req)) => {
                    let cmid = if spec.bad_cmid_echo {
                        rng.uuid()
                    } else {
                        base.cmid
                    };
                    let rbase = BaseResponse::new(
                        base.version,
                        EPID,
                        cmid,
                        time,
                        if i == 0 { 25 } else { 50 },
                        120,
                        10_080,
                    );
                    let rparams = ResponseParams {
                        outer_version: version,
                        random: rng.block16(),
                        response_iv: rng.block16(),
                        hwid: [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76],
                    };
                    match encode_response(&req, &rbase, &rparams) {
                        Ok(m) => ResponseStub::success(&m).encode(syntax),
                        Err(_) => ResponseStub::error(0x8007_000D).encode(syntax),
                    }
                }
            };
            Pdu::Response(
                Common::new(call_id),
                Response {
                    alloc_hint: resp_stub.len() as u32,
                    p_cont_id: ctx_id,
                    cancel_count: 0,
                    reserved: 0,
                    stub: Cow::Owned(resp_stub),
                },
            )
            .encode()
        };
        out.push(Message {
            from_client: false,
            bytes: answer,
        });
    }
    out
}

fn h_or(h: Option<u32>) -> u32 {
    h.unwrap_or(0x8007_000D)
}

/// How a conversation is cut into TCP segments.
#[derive(Debug, Clone, Copy)]
pub struct Packetize {
    /// Largest payload per segment.
    pub mss: usize,
    /// Swap every other pair of same-direction data segments (out of order).
    pub reorder: bool,
    /// Send every third data segment twice.
    pub retransmit: bool,
    /// Drop the handshake and the first `skip_data` data segments (capture starts late).
    pub skip_data: usize,
    /// Client ISN / server ISN.
    pub isn: (u32, u32),
    /// Leave out this data segment (0-based, after `skip_data`): a hole in the stream.
    pub drop: Option<usize>,
}

impl Default for Packetize {
    fn default() -> Self {
        Packetize {
            mss: 1460,
            reorder: false,
            retransmit: false,
            skip_data: 0,
            isn: (0x1000_0000, 0x2000_0000),
            drop: None,
        }
    }
}

/// The TCP segments of one conversation: handshake, data, FIN/FIN.
pub fn flow_packets(
    client: SocketAddr,
    server: SocketAddr,
    msgs: &[Message],
    how: Packetize,
) -> Vec<Segment> {
    let mut s = TcpSession::new(client, server, how.isn.0, how.isn.1);
    let mut segs = if how.skip_data > 0 {
        let _ = s.handshake();
        Vec::new()
    } else {
        s.handshake()
    };
    let mut data = Vec::new();
    for m in msgs {
        let mut group: Vec<Segment> = m
            .bytes
            .chunks(how.mss.max(1))
            .map(|c| s.data(m.from_client, c))
            .collect();
        if how.reorder && group.len() >= 2 {
            let mut i = 0;
            while i + 1 < group.len() {
                group.swap(i, i + 1);
                i += 2;
            }
        }
        data.extend(group);
    }
    let mut n = 0;
    for (i, seg) in data.into_iter().skip(how.skip_data).enumerate() {
        if how.drop == Some(i) {
            continue;
        }
        n += 1;
        let dup = how.retransmit && n % 3 == 0;
        if dup {
            segs.push(seg.clone());
        }
        segs.push(seg);
    }
    segs.push(s.fin(true));
    segs.push(s.fin(false));
    segs
}

/// Writes Ethernet-framed segments to a classic pcap.
pub fn write_pcap(segs: &[Segment], link: u32, nanos: bool, t0_ns: u64) -> io::Result<Vec<u8>> {
    let mut w = PcapWriter::new(Vec::new(), link, nanos, false)?;
    for (i, s) in segs.iter().enumerate() {
        let frame = frame(s, link, i as u16);
        w.packet(t0_ns + i as u64 * 1_000_000, &frame)?;
    }
    Ok(w.into_inner())
}

fn frame(s: &Segment, link: u32, id: u16) -> Vec<u8> {
    match link {
        linktype::LINUX_SLL2 => s.sll2_frame(id),
        linktype::RAW => s.ip_bytes(id),
        _ => s.ethernet_frame(id),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 1)))
}

const T0: u64 = CORPUS_EPOCH_SECS as u64 * 1_000_000_000;

fn simple(spec: &FlowSpec, client: &str, server: &str, how: Packetize) -> Vec<Segment> {
    flow_packets(addr(client), addr(server), &conversation(spec), how)
}

/// Every corpus file: (file name, bytes).
pub fn corpus() -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    let eth = linktype::ETHERNET;
    let mut files = Vec::new();
    let c = "10.0.0.2:49701";
    let s = "10.0.0.1:1688";
    let v4 = FlowSpec {
        major: 4,
        btfn: false,
        sku: "Windows 7 Enterprise",
        seed: 4,
        ..FlowSpec::default()
    };
    files.push((
        "c01_v4_ndr32_3req.pcap",
        write_pcap(&simple(&v4, c, s, Packetize::default()), eth, false, T0)?,
    ));
    let v5 = FlowSpec {
        major: 5,
        ndr64: true,
        sku: "Windows 8.1 Professional",
        seed: 5,
        ..FlowSpec::default()
    };
    files.push((
        "c02_v5_ndr64_btfn_3req.pcap",
        write_pcap(&simple(&v5, c, s, Packetize::default()), eth, true, T0)?,
    ));
    let v6 = FlowSpec {
        seed: 6,
        ..FlowSpec::default()
    };
    let v6_segs = simple(&v6, c, s, Packetize::default());
    let v6_file = write_pcap(&v6_segs, eth, true, T0)?;
    files.push(("c03_v6_ndr32_btfn_3req.pcap", v6_file.clone()));
    let v6_nobtfn = FlowSpec {
        ndr64: true,
        btfn: false,
        fragments: 3,
        requests: 2,
        sku: "Office Professional Plus 2016",
        seed: 7,
        ..FlowSpec::default()
    };
    files.push((
        "c04_v6_ndr64_fragmented.pcap",
        write_pcap(
            &simple(&v6_nobtfn, c, s, Packetize::default()),
            eth,
            false,
            T0,
        )?,
    ));
    let reord = Packetize {
        mss: 64,
        reorder: true,
        retransmit: true,
        ..Packetize::default()
    };
    files.push((
        "c05_v6_reordered_retransmitted.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    seed: 8,
                    ..FlowSpec::default()
                },
                c,
                s,
                reord,
            ),
            eth,
            false,
            T0,
        )?,
    ));
    let mid = Packetize {
        mss: 200,
        skip_data: 3,
        ..Packetize::default()
    };
    files.push((
        "c06_v6_midstream.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    seed: 9,
                    ..FlowSpec::default()
                },
                c,
                s,
                mid,
            ),
            eth,
            false,
            T0,
        )?,
    ));
    files.push((
        "c07_v6_ipv6.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    seed: 10,
                    requests: 1,
                    ..FlowSpec::default()
                },
                "[fd00::2]:49702",
                "[fd00::1]:1688",
                Packetize::default(),
            ),
            eth,
            false,
            T0,
        )?,
    ));
    // pcapng, two interfaces: Ethernet (v6 flow) and SLL2 (v4 flow), interleaved.
    {
        let a = simple(
            &FlowSpec {
                seed: 11,
                requests: 1,
                ..FlowSpec::default()
            },
            c,
            s,
            Packetize::default(),
        );
        let b = simple(
            &FlowSpec {
                major: 4,
                btfn: false,
                requests: 1,
                sku: "Windows 7 Enterprise",
                seed: 12,
                ..FlowSpec::default()
            },
            "10.0.0.3:49800",
            s,
            Packetize::default(),
        );
        let mut w = PcapNgWriter::new(Vec::new(), false)?;
        let ie = w.interface(linktype::ETHERNET as u16, 9)?;
        let is = w.interface(linktype::LINUX_SLL2 as u16, 6)?;
        let mut t = T0;
        for i in 0..a.len().max(b.len()) {
            if let Some(x) = a.get(i) {
                t += 1_000_000;
                w.packet(ie, t, &x.ethernet_frame(i as u16))?;
            }
            if let Some(x) = b.get(i) {
                t += 1_000_000;
                w.packet(is, t, &x.sll2_frame(i as u16))?;
            }
        }
        files.push(("c08_two_interfaces_eth_sll2.pcapng", w.into_inner()));
    }
    files.push((
        "c09_v5_sll2.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    major: 5,
                    requests: 1,
                    seed: 13,
                    ..FlowSpec::default()
                },
                c,
                s,
                Packetize::default(),
            ),
            linktype::LINUX_SLL2,
            false,
            T0,
        )?,
    ));
    // A KMS host on port 9999 next to an HTTP flow on port 80 (ignored quietly).
    {
        let mut segs = simple(
            &FlowSpec {
                seed: 14,
                requests: 1,
                ..FlowSpec::default()
            },
            "10.0.0.2:49703",
            "10.0.0.1:9999",
            Packetize::default(),
        );
        let http = vec![
            Message {
                from_client: true,
                bytes: b"GET / HTTP/1.1\r\nHost: corpus.test\r\n\r\n".to_vec(),
            },
            Message {
                from_client: false,
                bytes: b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            },
        ];
        segs.extend(flow_packets(
            addr("10.0.0.2:49704"),
            addr("10.0.0.1:80"),
            &http,
            Packetize::default(),
        ));
        files.push((
            "c10_v6_port9999_and_http.pcap",
            write_pcap(&segs, eth, false, T0)?,
        ));
    }
    files.push((
        "c11_fault_request_without_bind.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    bind: false,
                    requests: 1,
                    major: 4,
                    seed: 15,
                    ..FlowSpec::default()
                },
                c,
                s,
                Packetize::default(),
            ),
            eth,
            false,
            T0,
        )?,
    ));
    files.push((
        "c12_v6_error_hresult.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    error_hresult: Some(0xC004_F042),
                    requests: 1,
                    seed: 16,
                    ..FlowSpec::default()
                },
                c,
                s,
                Packetize::default(),
            ),
            eth,
            false,
            T0,
        )?,
    ));
    files.push((
        "c13_v4_bad_cmid_echo.pcap",
        write_pcap(
            &simple(
                &FlowSpec {
                    major: 4,
                    btfn: false,
                    requests: 1,
                    bad_cmid_echo: true,
                    sku: "Windows 7 Enterprise",
                    seed: 17,
                    ..FlowSpec::default()
                },
                c,
                s,
                Packetize::default(),
            ),
            eth,
            false,
            T0,
        )?,
    ));
    // A hole: the second segment of request 2 (call 3) was not captured.
    {
        let spec = FlowSpec {
            seed: 18,
            ..FlowSpec::default()
        };
        // Data segments at mss 100: bind 2, bind_ack 1, request 1 3, response 1 3, request 2 3…
        let how = Packetize {
            mss: 100,
            drop: Some(10),
            ..Packetize::default()
        };
        files.push((
            "c14_v6_gap.pcap",
            write_pcap(&simple(&spec, c, s, how), eth, false, T0)?,
        ));
    }
    // Damage: the v6 file cut inside its last-but-two packet record.
    {
        let cut = v6_file.len().saturating_sub(120);
        files.push(("d01_truncated.pcap", v6_file[..cut].to_vec()));
    }
    // Damage: a pcapng whose 10th packet block has an impossible length.
    {
        let ng = |n: usize| -> io::Result<Vec<u8>> {
            let mut w = PcapNgWriter::new(Vec::new(), false)?;
            let ie = w.interface(linktype::ETHERNET as u16, 9)?;
            for (i, seg) in v6_segs.iter().enumerate().take(n) {
                w.packet(ie, T0 + i as u64 * 1_000_000, &seg.ethernet_frame(i as u16))?;
            }
            Ok(w.into_inner())
        };
        let at = ng(9)?.len();
        let mut bytes = ng(v6_segs.len())?;
        if let Some(len_field) = bytes.get_mut(at + 4..at + 8) {
            len_field.copy_from_slice(&0x0000_0013u32.to_le_bytes());
        }
        files.push(("d02_corrupt_block.pcapng", bytes));
    }
    files.push((
        "d03_not_a_capture.pcap",
        b"This file is not a capture: it is plain text.\n".to_vec(),
    ));
    Ok(files)
}

/// Writes the corpus into `dir`.
pub fn write_corpus(dir: &Path) -> io::Result<Vec<&'static str>> {
    std::fs::create_dir_all(dir)?;
    let mut names = Vec::new();
    for (name, bytes) in corpus()? {
        std::fs::write(dir.join(name), bytes)?;
        names.push(name);
    }
    Ok(names)
}

/// The application messages of every connection in a capture (consecutive bytes in one
/// direction joined), in connection order: real flows to copy into large test files.
pub fn conversations_of(capture: &[u8]) -> Vec<Vec<Message>> {
    use super::reassembly::{Direction, Event};
    let mut convs: std::collections::BTreeMap<u64, Vec<Message>> = Default::default();
    let _ = super::read_capture(capture, super::FlowConfig::default(), |e| {
        if let Event::Data {
            conn, dir, bytes, ..
        } = e
        {
            let from_client = dir == Direction::ToServer;
            let c = convs.entry(conn).or_default();
            match c.last_mut() {
                Some(m) if m.from_client == from_client => m.bytes.extend_from_slice(bytes),
                _ => c.push(Message {
                    from_client,
                    bytes: bytes.to_vec(),
                }),
            }
        }
    });
    convs.into_values().filter(|c| !c.is_empty()).collect()
}

/// The conversations of the generated corpus's clean v4/v5/v6 flows (when no real capture is
/// at hand).
pub fn generated_conversations() -> Vec<Vec<Message>> {
    [(4, false, 21), (5, true, 22), (6, false, 23), (6, true, 24)]
        .into_iter()
        .map(|(major, ndr64, seed)| {
            conversation(&FlowSpec {
                major,
                ndr64,
                btfn: major != 4,
                sku: if major == 4 {
                    "Windows 7 Enterprise"
                } else {
                    "Windows 10 Professional"
                },
                seed,
                ..FlowSpec::default()
            })
        })
        .collect()
}

/// Writes an Ethernet pcap of at least `target_bytes` made of copies of `templates` (each copy
/// its own TCP connection from a distinct client address to 10.255.0.1:1688), streaming to
/// `out`. Returns the bytes written. Memory use does not depend on `target_bytes`.
pub fn write_big_capture<W: io::Write>(
    out: W,
    templates: &[Vec<Message>],
    target_bytes: u64,
) -> io::Result<u64> {
    let mut w = PcapWriter::new(out, linktype::ETHERNET, false, false)?;
    let mut written: u64 = 24;
    if templates.is_empty() {
        return Ok(written);
    }
    let server = SocketAddr::from(([10, 255, 0, 1], 1688));
    let mut t = T0;
    let mut k: u32 = 0;
    while written < target_bytes {
        let tpl = &templates[k as usize % templates.len()];
        let ip = [10, (k >> 16) as u8, (k >> 8) as u8, k as u8];
        let client = SocketAddr::from((ip, 20_000 + (k % 40_000) as u16));
        let how = Packetize {
            isn: (k.wrapping_mul(7919), k.wrapping_mul(104_729)),
            ..Packetize::default()
        };
        for (i, seg) in flow_packets(client, server, tpl, how).iter().enumerate() {
            t += 10_000;
            let frame = seg.ethernet_frame(i as u16);
            written += 16 + frame.len() as u64;
            w.packet(t, &frame)?;
        }
        k = k.wrapping_add(1);
    }
    w.into_inner().flush()?;
    Ok(written)
}
