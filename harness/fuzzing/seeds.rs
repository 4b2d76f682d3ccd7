//! Seed inputs for every fuzz target, from the shared corpus (test vectors, captures), local
//! captures and spec files, plus synthetic samples built with the encoders so that a checkout
//! without any corpus still has one valid input per target.
//!
//! Used by `cargo run --example fuzz_seeds -- OUT_DIR` (writes `OUT_DIR/<target>/<hash>`) and
//! by `tests/fuzz_regressions.rs` (runs every target over every seed).

use crate::capture::writer::{PcapNgWriter, PcapWriter, TcpSession};
use crate::capture::{read_capture, ConnId, Direction, Event, FlowConfig};
use crate::wire::kms::{
    encode_request, encode_response, BaseRequest, BaseResponse, DecodedRequest, DecodedResponse,
    Protocol, ProtocolVersion, RequestParams, ResponseParams,
};
use crate::wire::rpc::{
    pdu_length, Bind, Common, ContextElement, NdrSyntax, Pdu, Request, RequestStub, Response,
    ResponseStub, KMS_INTERFACE, NDR32, NDR64,
};
use crate::wire::FileTime;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Largest capture file taken as a seed (bigger ones still feed the other targets).
const MAX_CAPTURE_SEED: u64 = 256 * 1024;
/// Chunk-size prefix of `pdu_stream` seeds (7, 16, 63, 1 bytes, cycled).
const STREAM_PREFIX: [u8; 4] = [6, 15, 62, 0];
/// Parse-only targets that read the same input format as a round-trip target, and so start
/// from its seeds: (round-trip target, parse-only target).
const PARSE_SIBLINGS: [(&str, &str); 3] = [
    ("rpc_pdu", "rpc_pdu_parse"),
    ("kms_request", "kms_request_parse"),
    ("capture", "capture_parse"),
];

/// Seeds per target name, deduplicated, in a stable order.
#[derive(Debug, Default, Clone)]
pub struct SeedSet {
    by_target: BTreeMap<&'static str, BTreeSet<Vec<u8>>>,
}

impl SeedSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one seed for `target` (and for its parse-only sibling, which reads the same format).
    pub fn add(&mut self, target: &'static str, bytes: Vec<u8>) {
        if let Some(&(_, parse)) = PARSE_SIBLINGS.iter().find(|(t, _)| *t == target) {
            self.by_target
                .entry(parse)
                .or_default()
                .insert(bytes.clone());
        }
        self.by_target.entry(target).or_default().insert(bytes);
    }

    /// The seeds of `target`.
    pub fn get(&self, target: &str) -> impl Iterator<Item = &[u8]> {
        self.by_target
            .get(target)
            .into_iter()
            .flat_map(|s| s.iter().map(Vec::as_slice))
    }

    /// Number of seeds of `target`.
    pub fn count(&self, target: &str) -> usize {
        self.by_target.get(target).map_or(0, BTreeSet::len)
    }

    /// Writes `dir/<target>/<fnv64 hex>` for every seed; returns how many files were written.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<usize> {
        let mut n = 0;
        for (target, seeds) in &self.by_target {
            let sub = dir.join(target);
            std::fs::create_dir_all(&sub)?;
            for s in seeds {
                std::fs::write(sub.join(format!("seed-{:016x}", fnv64(s))), s)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Adds the seeds found in a capture file (`.pcap`/`.pcapng`): the file itself (if small),
    /// each client→server stream, each framed PDU, each KMS request and request/response pair.
    pub fn add_capture_file(&mut self, path: &Path) -> std::io::Result<()> {
        let bytes = std::fs::read(path)?;
        if bytes.len() as u64 <= MAX_CAPTURE_SEED {
            self.add("capture", bytes.clone());
            self.add("decode", bytes.clone());
        }
        self.add_capture_bytes(&bytes);
        Ok(())
    }

    /// Adds the streams, PDUs and KMS messages carried by capture bytes.
    pub fn add_capture_bytes(&mut self, bytes: &[u8]) {
        let mut streams: HashMap<(ConnId, bool), Vec<u8>> = HashMap::new();
        let mut order: Vec<ConnId> = Vec::new();
        let _ = read_capture(bytes, FlowConfig::default(), |ev| match ev {
            Event::Opened { conn, .. } => order.push(conn),
            Event::Data {
                conn, dir, bytes, ..
            } => streams
                .entry((conn, dir == Direction::ToServer))
                .or_default()
                .extend_from_slice(bytes),
            _ => {}
        });
        for conn in order {
            let up = streams.remove(&(conn, true)).unwrap_or_default();
            let down = streams.remove(&(conn, false)).unwrap_or_default();
            self.add_streams(&up, &down);
        }
    }

    /// Adds a client stream and the server's answer stream of one connection.
    pub fn add_streams(&mut self, up: &[u8], down: &[u8]) {
        if !up.is_empty() {
            let client = &up[..up.len().min(16 * 1024)];
            let mut s = STREAM_PREFIX.to_vec();
            s.extend_from_slice(client);
            self.add("pdu_stream", s);
            // host_connection: one chunking byte, then what the client sent.
            let mut h = vec![0u8];
            h.extend_from_slice(client);
            self.add("host_connection", h);
        }
        let requests = self.add_pdus(up);
        let responses = self.add_pdus(down);
        for (req, resp) in requests.iter().zip(&responses) {
            self.add_pair(req, resp);
        }
    }

    /// Frames `stream` into PDUs, adds each, and returns the KMS messages of its
    /// requests/responses in order.
    fn add_pdus(&mut self, stream: &[u8]) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        let mut rest = stream;
        while let Ok(Some(n)) = pdu_length(rest) {
            let Some(pdu) = rest.get(..n) else { break };
            self.add("rpc_pdu", pdu.to_vec());
            if let Some(m) = Pdu::parse(pdu).ok().and_then(|p| self.stub_message(&p)) {
                messages.push(m);
            }
            rest = &rest[n..];
        }
        messages
    }

    /// The KMS message inside a request or success response PDU (NDR32, else NDR64).
    fn stub_message(&mut self, pdu: &Pdu<'_>) -> Option<Vec<u8>> {
        let stub = pdu.stub()?;
        let msg = match pdu {
            Pdu::Request(..) => [NdrSyntax::Ndr32, NdrSyntax::Ndr64]
                .into_iter()
                .find_map(|s| {
                    RequestStub::parse(stub, s)
                        .ok()
                        .filter(|r| r.trailing.is_empty())
                })
                .map(|r| r.message.to_vec()),
            _ => [NdrSyntax::Ndr32, NdrSyntax::Ndr64]
                .into_iter()
                .find_map(|s| {
                    ResponseStub::parse(stub, s)
                        .ok()
                        .filter(|r| r.validate(s).is_ok())
                })
                .and_then(|r| r.message().map(<[u8]>::to_vec)),
        }?;
        if matches!(pdu, Pdu::Request(..)) {
            self.add("kms_request", msg.clone());
        } else {
            self.add("kms_response_parse", msg.clone());
        }
        Some(msg)
    }

    /// Adds a `kms_response` seed (selector ‖ request ‖ response) when `req` is a request, and
    /// the response alone as a `kms_response_parse` seed.
    fn add_pair(&mut self, req: &[u8], resp: &[u8]) {
        self.add("kms_response_parse", resp.to_vec());
        let Ok(r) = DecodedRequest::parse(req) else {
            return;
        };
        let sel = match r.protocol {
            Protocol::V4 => 0,
            Protocol::V5 => 1,
            Protocol::V6 => 2,
        };
        let mut seed = vec![sel];
        seed.extend_from_slice(req);
        seed.extend_from_slice(resp);
        self.add("kms_response", seed);
    }

    /// Adds the seeds of `kms-test-vectors.json`: every hex PDU or KMS message, every ePID,
    /// client streams of captured sessions, and request/response pairs of each object.
    pub fn add_vectors(&mut self, json: &serde_json::Value) {
        match json {
            serde_json::Value::Object(map) => {
                let mut req = None;
                let mut resp = None;
                let mut up = Vec::new();
                let mut down = Vec::new();
                for (key, v) in map {
                    if let Some(bytes) = v.as_str().and_then(unhex) {
                        if key.contains("client_pdu") || key.starts_with("request_pdu") {
                            up.extend_from_slice(&bytes);
                        }
                        if key.contains("server_pdu") || key.starts_with("response_pdu") {
                            down.extend_from_slice(&bytes);
                        }
                        match key.as_str() {
                            "request_kms" => req = Some(bytes),
                            "response_kms" => resp = Some(bytes),
                            _ => self.add_hex_blob(bytes),
                        }
                    } else {
                        self.add_vectors(v);
                    }
                }
                if let (Some(q), Some(r)) = (&req, &resp) {
                    self.add("kms_request", q.clone());
                    self.add_pair(q, r);
                }
                if !up.is_empty() {
                    self.add_streams(&up, &down);
                }
                if let Some(exchanges) = map.get("exchanges").or_else(|| map.get("exchange")) {
                    let (up, down) = session_streams(exchanges);
                    self.add_streams(&up, &down);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| self.add_vectors(v)),
            serde_json::Value::String(s) if is_epid_like(s) => self.add("epid", s.clone().into()),
            _ => {}
        }
    }

    fn add_hex_blob(&mut self, bytes: Vec<u8>) {
        if Pdu::parse(&bytes).is_ok() {
            self.add("rpc_pdu", bytes);
        } else if DecodedRequest::parse(&bytes).is_ok() {
            self.add("kms_request", bytes);
        } else if DecodedResponse::parse(&bytes).is_ok() {
            self.add("kms_response_parse", bytes);
        } else if bytes.len() >= 8 {
            self.add("rpc_pdu", bytes);
        }
    }

    /// Adds every `*.yaml`/`*.yml` file under `dir` as a `spec_yaml` seed.
    pub fn add_spec_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        for f in sorted_files(dir, &["yaml", "yml"])? {
            self.add("spec_yaml", std::fs::read(f)?);
        }
        Ok(())
    }

    /// Adds every `*.pcap`/`*.pcapng` file under `dir`.
    pub fn add_capture_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        for f in sorted_files(dir, &["pcap", "pcapng", "cap"])? {
            self.add_capture_file(&f)?;
        }
        Ok(())
    }

    /// Synthetic samples for every target, built with the encoders (no files needed).
    pub fn add_synthetic(&mut self) {
        let base = sample_base();
        for (i, params) in [
            RequestParams::v4(),
            RequestParams::v5([0x11; 16]),
            RequestParams::v6([0x22; 16]),
        ]
        .iter()
        .enumerate()
        {
            let mut b = base.clone();
            b.version = params.outer_version;
            let Ok(req) = encode_request(&b, params) else {
                continue;
            };
            let Ok(decoded) = DecodedRequest::parse(&req) else {
                continue;
            };
            let rb = BaseResponse::new(
                b.version,
                "03612-00206-556-123727-03-1033-17763.0000-2972018",
                b.cmid,
                b.request_time,
                25,
                120,
                10_080,
            );
            let rp = ResponseParams {
                outer_version: params.outer_version,
                random: [0x33; 16],
                response_iv: [0x44; 16],
                hwid: [0x3A, 0x1C, 0x04, 0x96, 0x00, 0xB6, 0x00, 0x76],
            };
            let Ok(resp) = encode_response(&decoded, &rb, &rp) else {
                continue;
            };
            self.add("kms_request", req.clone());
            let mut up = sample_bind(i % 2 == 1).encode();
            let mut down = Vec::new();
            let syntax = if i % 2 == 1 {
                NdrSyntax::Ndr64
            } else {
                NdrSyntax::Ndr32
            };
            let rq = Pdu::Request(
                Common::new(2),
                Request {
                    alloc_hint: (req.len() + syntax.request_prefix_len()) as u32,
                    p_cont_id: (i % 2) as u16,
                    opnum: 0,
                    object: None,
                    stub: Cow::Owned(RequestStub::new(&req).encode(syntax)),
                },
            )
            .encode();
            let stub = ResponseStub::success(&resp).encode(syntax);
            let rs = Pdu::Response(
                Common::new(2),
                Response {
                    alloc_hint: stub.len() as u32,
                    p_cont_id: (i % 2) as u16,
                    cancel_count: 0,
                    reserved: 0,
                    stub: Cow::Owned(stub),
                },
            )
            .encode();
            up.extend_from_slice(&rq);
            down.extend_from_slice(&rs);
            self.add_streams(&up, &down);
            let capture = sample_capture(&up, &down, i == 2);
            self.add("decode", capture.clone());
            self.add("capture", capture);
        }
        self.add(
            "epid",
            b"03612-00206-556-123727-03-1033-17763.0000-2972018".to_vec(),
        );
        self.add("spec_yaml", SAMPLE_SPEC.as_bytes().to_vec());
    }
}

/// Client and server streams of a captured session's exchange list.
fn session_streams(exchanges: &serde_json::Value) -> (Vec<u8>, Vec<u8>) {
    let mut up = Vec::new();
    let mut down = Vec::new();
    for ex in exchanges.as_array().into_iter().flatten() {
        let get = |k: &str| ex.get(k).and_then(|v| v.as_str()).and_then(unhex);
        if let Some(b) = get("client_pdu") {
            up.extend_from_slice(&b);
        }
        if let Some(b) = get("server_pdu") {
            down.extend_from_slice(&b);
        }
    }
    (up, down)
}

/// The files with one of `exts` directly in `dir`, sorted; none if `dir` does not exist.
fn sorted_files(dir: &Path, exts: &[&str]) -> std::io::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn is_epid_like(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes().get(5) == Some(&b'-') && s.contains(".0000-")
}

/// Even-length hex of at least 16 bytes, else `None`.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() < 32 || s.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

fn fnv64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn sample_base() -> BaseRequest {
    let mut raw = [0u8; 236];
    raw[16..32].copy_from_slice(&[
        0x34, 0x27, 0xc9, 0x55, 0x82, 0xd6, 0x71, 0x4d, 0x98, 0x3e, 0xd6, 0xec, 0x3f, 0x16, 0x05,
        0x9f,
    ]);
    raw[64..80].copy_from_slice(&[0x5a; 16]);
    raw[80] = 25;
    raw[84..92].copy_from_slice(&FileTime(0x01DA_1234_5678_9ABC).0.to_le_bytes());
    for (i, c) in "client.example".encode_utf16().enumerate() {
        raw[108 + 2 * i..110 + 2 * i].copy_from_slice(&c.to_le_bytes());
    }
    let mut b = BaseRequest::parse(&raw).unwrap_or_else(|_| unreachable!("236 bytes"));
    b.version = ProtocolVersion::V6;
    b
}

fn sample_bind(ndr64: bool) -> Pdu<'static> {
    let mut ctx = vec![ContextElement::new(0, KMS_INTERFACE, NDR32)];
    if ndr64 {
        ctx.push(ContextElement::new(1, KMS_INTERFACE, NDR64));
    }
    Pdu::Bind(Common::new(2), Bind::new(ctx))
}

/// A one-connection capture (handshake, request, response, FIN) in pcap or pcapng.
fn sample_capture(up: &[u8], down: &[u8], pcapng: bool) -> Vec<u8> {
    let client = "192.0.2.10:49700"
        .parse()
        .unwrap_or_else(|_| unreachable!());
    let server = "192.0.2.1:1688".parse().unwrap_or_else(|_| unreachable!());
    let mut s = TcpSession::new(client, server, 1000, 5000);
    let mut segs = s.handshake();
    segs.push(s.data(true, up));
    segs.push(s.data(false, down));
    segs.push(s.fin(true));
    segs.push(s.fin(false));
    let frames: Vec<Vec<u8>> = segs
        .iter()
        .enumerate()
        .map(|(i, g)| g.ethernet_frame(i as u16))
        .collect();
    let write = || -> std::io::Result<Vec<u8>> {
        if pcapng {
            let mut w = PcapNgWriter::new(Vec::new(), false)?;
            let ifc = w.interface(1, 9)?;
            for (i, f) in frames.iter().enumerate() {
                w.packet(ifc, 1_700_000_000_000_000_000 + i as u64 * 1000, f)?;
            }
            Ok(w.into_inner())
        } else {
            let mut w = PcapWriter::new(Vec::new(), 1, false, false)?;
            for (i, f) in frames.iter().enumerate() {
                w.packet(1_700_000_000_000_000_000 + i as u64 * 1000, f)?;
            }
            Ok(w.into_inner())
        }
    };
    write().unwrap_or_default()
}

/// A spec file exercising most step kinds.
const SAMPLE_SPEC: &str = r#"family: THR
title: Activation thresholds
cases:
  - id: THR-CLIENT-25
    title: A Windows client activates only once the host counts 25 machines
    rule: A host activates Windows client products only at 25 computers.
    source: seed FAQ
    level: MUST
    rules: [THR-CLIENT-25]
    requires: { fresh: true, clock_control: true, host_key: Windows Server 2019 }
    steps:
      - connect: { conn: a, no_bind: false }
      - bind: { contexts: [ndr32, ndr64, btfn], expect: { results: [accept, accept, negotiate_ack] } }
      - repeat:
          times: 24
          steps:
            - request: { product: Windows 10 Enterprise, expect: { activates: false } }
      - request:
          product: Windows 10 Enterprise
          version: "5.0"
          ndr: ndr64
          cmid: "@first"
          mutate: [{ scope: plain, offset: -4, xor: "01" }]
          expect: { outcome: [answer, error], count: ">= 25", hresult: "0xC004F038" }
      - raw: { hex: "05000b03", chunk: 1, expect: close, then_sanity: true }
      - idle: { ms: 100 }
      - advance_clock: 31d
      - sanity: {}
      - service: { op: add_mak, key: k1, product: Windows 10 Enterprise, count: 2, expect: ok }
      - close: {}
"#;
