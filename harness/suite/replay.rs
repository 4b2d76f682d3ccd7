//! `kmsspec replay`: judges captured KMS traffic with the suite's own judge and the reference
//! model, and optionally re-sends each captured request to a live host (differential testing).
//!
//! Every exchange of a capture becomes a [`CaseReport`] (family `REPLAY`): the §8 RPC checks of
//! the captured response PDU ([`rpc_response_checks`]), the §3.6 checks of the KMS response
//! ([`kms_response_checks`]), and the model's verdict from a [`KmsHost::observing`] host per
//! captured server: `model.outcome` (answer or refusal, and which HRESULT) decides; the count
//! against the certain bounds (`model.count`) and a genuine client's view (`client.activates`)
//! are side findings, shown but never deciding. Faults, unanswered requests, stream damage and
//! unreadable captures are cases too; nothing in a capture makes replay panic.
//!
//! Each call is judged with its connection's association as the capture shows it
//! ([`AssocFacts`]): a request on a context that no bind or alter_context accepted (rejected,
//! never negotiated, or no bind at all) must be faulted with nca_unk_if or closed (RPC-CTX-1,
//! as `run` judges ROB-REQ-BEFORE-BIND-1 and ROB-CTX-*): such a fault PASSes, an answer FAILs.
//! When the capture lacks the connection's start or has a hole before the call, binds may be
//! missing from it, so that is recorded (INFO) and not judged.
//!
//! With a target, each decoded request is rebuilt with the same fields but a fresh client time
//! and IV, sent on a new association bound with the captured NDR syntax, judged the same way,
//! and compared with the captured answer field by field (`replay.diff.*`, INFO: two hosts may
//! differ where the model allows it; the model judges the new answer on its own).

use super::judge::{kms_response_checks, rpc_response_checks, Findings, SentCall};
use crate::capture::records::{
    AssocFacts, ConnEnd, ContextState, ExchangeRecord, FaultRecord, Flow, Record,
};
use crate::capture::{decode_capture, CaptureReader, DecodeConfig};
use crate::cli::{EXIT_OK, EXIT_USAGE};
use crate::client::{bind_pdu, classify, context_element, Answer, EncodedRequest, RequestSpec};
use crate::host::convert::activation_request;
use crate::model::{
    HostConfig, HostResponse, KmsClient, KmsHost, Observed, Timestamp, Verdict as CountVerdict,
};
use crate::report::TargetHealth;
use crate::report::{CaseReport, Finding, Level, RunReport, Verdict};
use crate::rng::SplitMix64;
use crate::target::{Target, TargetOptions};
use crate::wire::kms::{DecodedRequest, DecodedResponse};
use crate::wire::rpc::{NdrSyntax, PfcFlags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The case family of every replay case.
pub const FAMILY: &str = "REPLAY";

/// Where the rules replay enforces are written.
const SOURCE: &str =
    "kms-protocol.md §3.6 (response), §8 (RPC); model rules (rules-and-failures.md)";

/// The rule a call on a context not bound on its connection breaks when it is answered
/// (rules-and-failures.md §2; the rule of the run cases ROB-REQ-BEFORE-BIND-1 and ROB-CTX-*).
const RULE_CTX: &str = "RPC-CTX-1";

/// The check name of the association judgement.
const CHECK_CTX: &str = "rpc.unbound_context";

/// What a conforming host does with a call on a context that is not bound.
const EXPECT_CTX: &str = "fault nca_unk_if (0x1C010003) or a closed connection";

/// Replay settings.
#[derive(Default)]
pub struct ReplayOptions<'a> {
    /// A live host to re-send every captured request to (differential testing).
    pub target: Option<&'a dyn Target>,
    /// Seed of the IVs of re-sent requests.
    pub seed: u64,
    /// A progress bar over the capture files on stderr (when it is a terminal).
    pub progress: bool,
}

/// What one captured request got, reduced to the fields two hosts are compared on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    kind: &'static str,
    hresult: Option<u32>,
    response: Option<DecodedResponse>,
}

impl Outcome {
    fn of_answer(a: &Answer) -> Self {
        let (hresult, response) = match a {
            Answer::Success { message, .. } => (Some(0), DecodedResponse::parse(message).ok()),
            Answer::ErrorStub { hresult, .. } => (Some(*hresult), None),
            Answer::Fault { status, .. } => (Some(*status), None),
            _ => (None, None),
        };
        Outcome {
            kind: a.outcome(),
            hresult,
            response,
        }
    }
}

/// Per-capture replay state: one observing model host per captured server, flow numbering.
struct CaptureState<'a> {
    stem: String,
    times: Vec<u64>,
    hosts: HashMap<String, KmsHost>,
    target_host: Option<KmsHost>,
    flows: Vec<Flow>,
    opts: &'a ReplayOptions<'a>,
    rng: SplitMix64,
    cases: Vec<CaseReport>,
}

/// Replays one capture file: one case per exchange, fault and problem found.
pub fn replay_file(path: &Path, opts: &ReplayOptions<'_>) -> Vec<CaseReport> {
    let stem = path.file_stem().map_or_else(
        || "capture".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    match std::fs::read(path) {
        Ok(bytes) => replay_bytes(&bytes, &stem, opts),
        Err(e) => vec![problem_case(
            &stem,
            "read",
            Verdict::Skip,
            format!("cannot read {}: {e}", path.display()),
        )],
    }
}

/// Replays a capture held in memory; `stem` names it in case ids.
pub fn replay_bytes(bytes: &[u8], stem: &str, opts: &ReplayOptions<'_>) -> Vec<CaseReport> {
    let mut st = CaptureState {
        stem: stem.to_string(),
        times: packet_times(bytes),
        hosts: HashMap::new(),
        target_host: KmsHost::observing(unknown_host_config()).ok(),
        flows: Vec::new(),
        opts,
        rng: SplitMix64::new(opts.seed ^ 0x5EED_0FAE_91A7),
        cases: Vec::new(),
    };
    let mut records = Vec::new();
    let decoded = decode_capture(
        bytes,
        stem,
        &DecodeConfig::default(),
        |r| records.push(r.clone()),
        |_| {},
    );
    if let Err(e) = decoded {
        st.cases.push(problem_case(
            stem,
            "decode",
            Verdict::Skip,
            format!("not a readable capture: {e}"),
        ));
        return st.cases;
    }
    for r in &records {
        st.record(r);
    }
    st.cases
}

/// Replays every capture and assembles the run report (`target` names the captures and the
/// live host, if any).
pub fn replay_all(paths: &[impl AsRef<Path>], opts: &ReplayOptions<'_>) -> RunReport {
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let t0 = Instant::now();
    let mut cases = Vec::new();
    let bar = super::runner::progress_bar(opts.progress, paths.len());
    for p in paths {
        if let Some(b) = &bar {
            b.set_message(p.as_ref().display().to_string());
        }
        cases.extend(replay_file(p.as_ref(), opts));
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.as_ref().display().to_string())
        .collect();
    let target = match opts.target {
        Some(t) => format!("replay of {} against {}", names.join(", "), t.name()),
        None => format!("replay of {}", names.join(", ")),
    };
    let health = TargetHealth {
        alive_before: true,
        alive_after: true,
        ..TargetHealth::default()
    };
    RunReport::new(
        target,
        started,
        t0.elapsed().as_millis() as u64,
        health,
        cases,
    )
}

/// Packet timestamps (Unix nanoseconds) by packet index, up to the first damage.
fn packet_times(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let Ok(mut r) = CaptureReader::new(bytes) else {
        return out;
    };
    while let Some(Ok(p)) = r.next_packet() {
        if p.index as usize != out.len() {
            break;
        }
        out.push(p.timestamp_ns);
    }
    out
}

fn problem_case(stem: &str, what: &str, verdict: Verdict, reason: String) -> CaseReport {
    CaseReport {
        id: format!("REPLAY-{stem}-{what}"),
        family: FAMILY.into(),
        title: format!("capture {stem}: {what}"),
        rule: "A capture that cannot be read cannot be judged.".into(),
        source: SOURCE.into(),
        level: Level::Must,
        verdict,
        reason: Some(reason),
        findings: Vec::new(),
        transcript: Vec::new(),
        duration_ms: 0,
        expected_failure: None,
        wire: Vec::new(),
        self_check: false,
    }
}

fn ndr_of(name: Option<&str>) -> NdrSyntax {
    match name {
        Some("ndr64") => NdrSyntax::Ndr64,
        _ => NdrSyntax::Ndr32,
    }
}

/// The model configuration for a captured host, whose keys nobody declared
/// ([`HostConfig::with_unknown_keys`]): the model never refuses a product some host key could
/// serve, and answering or refusing any catalog product with 0xC004F042 is allowed.
pub fn unknown_host_config() -> HostConfig {
    HostConfig::default().with_unknown_keys()
}

fn hr(v: u32) -> String {
    format!("0x{v:08X}")
}

impl CaptureState<'_> {
    fn flow_no(&mut self, f: &Flow) -> usize {
        match self.flows.iter().position(|x| x == f) {
            Some(i) => i + 1,
            None => {
                self.flows.push(f.clone());
                self.flows.len()
            }
        }
    }

    fn push(
        &mut self,
        id: String,
        title: String,
        rule: &str,
        findings: Vec<Finding>,
        t: Vec<String>,
    ) {
        let verdict = CaseReport::grade(Level::Must, &findings);
        let reason = findings
            .iter()
            .filter(|f| !f.passed)
            .map(|f| {
                format!(
                    "{}: expected {}, observed {}",
                    f.check, f.expected, f.observed
                )
            })
            .next();
        self.cases.push(CaseReport {
            id,
            family: FAMILY.into(),
            title,
            rule: rule.into(),
            source: SOURCE.into(),
            level: Level::Must,
            verdict,
            reason,
            findings,
            transcript: t,
            duration_ms: 0,
            expected_failure: None,
            wire: Vec::new(),
            self_check: false,
        });
    }

    fn record(&mut self, r: &Record) {
        match r {
            Record::Bind(b) => {
                self.flow_no(&b.flow);
            }
            Record::Exchange(x) => self.exchange(x),
            Record::Fault(f) => self.fault(f),
            Record::Gap(g) => {
                let n = self.flow_no(&g.flow);
                let mut f = Findings::default();
                f.check(
                    "capture.gap",
                    None,
                    Level::Info,
                    false,
                    "a complete stream",
                    format!(
                        "{} bytes missing at {} ({})",
                        g.missing, g.offset, g.direction
                    ),
                );
                let id = format!("REPLAY-{}-{n}-gap{}", self.stem, g.offset);
                self.push(
                    id,
                    format!("{}: bytes missing from the capture", self.stem),
                    "Missing bytes are not judged.",
                    f.list,
                    Vec::new(),
                );
            }
            Record::Error(e) => {
                let n = e.flow.as_ref().map_or(0, |f| self.flow_no(f));
                let from_server = e.direction == Some("to_client");
                let (level, expected) = match (e.layer, from_server) {
                    ("capture", _) => (Level::Info, "an undamaged capture file"),
                    (_, true) => (Level::Must, "well-formed DCE/RPC from the server (§8)"),
                    _ => (
                        Level::Info,
                        "well-formed client traffic (not the host's doing)",
                    ),
                };
                let mut f = Findings::default();
                f.check(
                    "capture.stream",
                    Some("RPC-§8"),
                    level,
                    false,
                    expected,
                    e.message.clone(),
                );
                let id = format!(
                    "REPLAY-{}-{n}-{}{}",
                    self.stem,
                    e.layer,
                    e.packet.map_or(String::new(), |p| format!("@{p}"))
                );
                let title = format!("{}: {} problem", self.stem, e.layer);
                self.push(
                    id,
                    title,
                    "The server's side of the stream is well-formed DCE/RPC.",
                    f.list,
                    Vec::new(),
                );
                if e.layer == "capture" {
                    if let Some(c) = self.cases.last_mut() {
                        c.verdict = Verdict::Skip;
                    }
                }
            }
            Record::Summary(_) => {}
        }
    }

    fn fault(&mut self, fr: &FaultRecord) {
        let n = self.flow_no(&fr.flow);
        let mut f = Findings::default();
        let fault = Reaction::Fault {
            status: &fr.status,
            name: fr.status_name,
        };
        let ctx = judge_context(&mut f, &fr.assoc, fault);
        if ctx == Ctx::Bound {
            // A bound KMS call is answered; faulting one that did not decode is allowed.
            f.check(
                "rpc.fault",
                Some("RPC-§8"),
                Level::Must,
                fr.request.is_none(),
                "a response to a well-formed KMS request on a bound context",
                fault.text(),
            );
        }
        let id = format!("REPLAY-{}-{n}-{}", self.stem, fr.call_id);
        let title = format!("{}: fault {}", self.stem, fr.status);
        let mut transcript = vec![format!("fault status={} call_id={}", fr.status, fr.call_id)];
        transcript.extend(association_line(&fr.assoc));
        self.push(
            id,
            title,
            "A call on a context not bound on its connection is faulted with nca_unk_if or closed \
             (RPC-CTX-1); a well-formed KMS call on a bound context is answered.",
            f.list,
            transcript,
        );
    }

    fn now_for(&self, x: &ExchangeRecord, req: &DecodedRequest) -> Timestamp {
        x.request_packet
            .and_then(|p| self.times.get(p as usize))
            .map_or_else(
                || Timestamp::from_filetime(req.base.request_time),
                |ns| Timestamp((ns / 1_000_000_000) as i64),
            )
    }

    fn exchange(&mut self, x: &ExchangeRecord) {
        let n = self.flow_no(&x.flow);
        let id = format!("REPLAY-{}-{n}-{}", self.stem, x.call_id);
        let title = match &x.request {
            Some(r) => format!(
                "{}: {} v{}",
                self.stem,
                r.sku.or(r.kms).unwrap_or("unknown product"),
                r.protocol
            ),
            None if x.request_packet.is_none() && x.request_error.is_none() => {
                format!("{}: response to a request not captured", self.stem)
            }
            None => format!("{}: undecodable request", self.stem),
        };
        let mut f = Findings::default();
        let mut transcript = Vec::new();
        let raw = x.raw.as_deref();
        let req = raw.and_then(|r| r.request.as_ref());
        let ndr = ndr_of(x.ndr);
        if let Some(r) = &x.request {
            transcript.push(format!(
                "request v{} cmid={} N={} app={}",
                r.protocol, r.cmid, r.required_client_count, r.app_id
            ));
        }
        // The association is judged for requests the capture holds (a response whose request
        // was not captured is already not judged).
        let ctx = if x.request_packet.is_some() {
            let reaction = match &x.response {
                Some(_) => Reaction::Answer,
                None => Reaction::Nothing(x.assoc.ended),
            };
            transcript.extend(association_line(&x.assoc));
            judge_context(&mut f, &x.assoc, reaction)
        } else {
            Ctx::Bound
        };
        match &x.response {
            // Not bound (or not knowably bound): the finding above judged the missing answer.
            None if ctx != Ctx::Bound => transcript.push("no answer".into()),
            None => {
                let expected = if req.is_some() {
                    "a response"
                } else {
                    "a response, error stub or fault"
                };
                f.check(
                    "replay.answered",
                    Some("RPC-§8"),
                    Level::Must,
                    false,
                    expected,
                    "no answer (connection ended first)",
                );
                transcript.push("no answer".into());
            }
            Some(v) => {
                transcript.push(format!(
                    "response hr={} count={:?} epid={:?}",
                    v.hresult, v.current_count, v.epid
                ));
                let sent = SentCall {
                    call_id: x.call_id,
                    p_cont_id: x.context_id,
                    ndr,
                };
                match raw.and_then(|r| r.response_pdu.as_deref()) {
                    Some(pdu) => rpc_response_checks(&mut f, sent, pdu),
                    None => f.check(
                        "rpc.fragmented",
                        None,
                        Level::Info,
                        true,
                        "",
                        "response in several fragments; header checks skipped",
                    ),
                }
            }
        }
        let message = raw.and_then(|r| r.response_message.as_deref());
        match req {
            Some(req) => {
                if let Some(m) = message {
                    kms_response_checks(&mut f, req, m);
                }
                // An answer on a context not bound should not exist: what the model allows
                // for it means nothing, and whether the host counted it is unknown.
                if ctx != Ctx::Unbound {
                    self.judge_model(&mut f, x, req);
                }
            }
            // The request was not captured (the capture started after it, or behind a hole):
            // nothing says what the host was asked, so only the answer's form is judged.
            None if x.request_packet.is_none() && x.request_error.is_none() => f.check(
                "replay.request_captured",
                None,
                Level::Info,
                false,
                "the request of this answer in the capture",
                "not captured; only the response's RPC form was judged",
            ),
            None if x.response.is_some() => {
                let answered = message.is_some();
                f.check(
                    "model.undecodable_request",
                    Some("KMS-§3.6"),
                    Level::Must,
                    !answered,
                    "an error stub for a request that does not decode",
                    if answered {
                        "an activation answer".to_string()
                    } else {
                        format!(
                            "error {}",
                            x.response.as_ref().map_or("", |v| v.hresult.as_ref())
                        )
                    },
                );
            }
            None => {}
        }
        // A request on a context not bound is not re-sent: on the new, bound association it
        // would be another question.
        if let (Some(t), Some(req), false) = (self.opts.target, req, ctx == Ctx::Unbound) {
            f.step = 1;
            self.resend(&mut f, &mut transcript, t, x, req);
        }
        self.push(
            id,
            title,
            "The captured answer conforms to the protocol (§3.6, §8) and the model allows it; a \
             request on a context not bound is faulted (nca_unk_if) or closed (RPC-CTX-1).",
            f.list,
            transcript,
        );
    }

    /// The model's verdict on the captured answer: `model.outcome` (the kind of outcome:
    /// answer, or refusal with its HRESULT) decides; the count against the certain bounds
    /// (`model.count`) and a genuine client's view (`client.activates`) are side findings.
    fn judge_model(&mut self, f: &mut Findings, x: &ExchangeRecord, req: &DecodedRequest) {
        let now = self.now_for(x, req);
        let server = x.flow.server.to_string();
        if !self.hosts.contains_key(&server) {
            if let Ok(h) = KmsHost::observing(unknown_host_config()) {
                self.hosts.insert(server.clone(), h);
            }
        }
        let Some(host) = self.hosts.get_mut(&server) else {
            return;
        };
        let decision = host.handle(&activation_request(req), now);
        let rule_text = decision
            .rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let (observed, hresult, count) = match (&x.response, raw_response(x)) {
            (Some(_), Some(resp)) if response_hresult(x) == 0 => (
                Some(Observed::Answer {
                    count: resp.base.current_count,
                }),
                0,
                resp.base.current_count,
            ),
            (Some(_), _) => {
                let h = response_hresult(x);
                (Some(Observed::Refuse { hresult: h }), h, 0)
            }
            (None, _) => (None, 0, 0),
        };
        let Some(observed) = observed else {
            return;
        };
        let verdict = decision.permits_outcome(observed);
        f.check(
            "model.outcome",
            Some(decision.outcome_rule().map_or("MODEL", |r| r.0)),
            Level::Must,
            verdict.is_ok(),
            match decision.answer() {
                Some(_) => format!("an answer (rules {rule_text})"),
                None => format!("error {} (rules {rule_text})", hr(decision.hresult())),
            },
            match &verdict {
                Ok(Some(alt)) => format!("{observed:?}, allowed by {alt}"),
                Ok(None) => format!("{observed:?}"),
                Err(why) => why.clone(),
            },
        );
        let judged = match observed {
            Observed::Answer { count } => decision.judge_count(count).zip(decision.answer()),
            Observed::Refuse { .. } => None,
        };
        if let Some(((v, rule), a)) = judged {
            f.side(
                "model.count",
                Some(rule.0),
                v == CountVerdict::Consistent,
                format!(
                    "count in {}..{}",
                    a.count_bounds.min,
                    a.count_bounds.max.map_or("∞".into(), |m| m.to_string())
                ),
                count.to_string(),
            );
        }
        let resp = raw_response(x);
        let mut client = KmsClient::new(req.base.required_client_count, now);
        let outcome = client.on_response(
            &HostResponse {
                hresult,
                current_count: count,
                activation_interval: resp.as_ref().map_or(0, |r| r.base.activation_interval),
                renewal_interval: resp.as_ref().map_or(0, |r| r.base.renewal_interval),
            },
            now,
        );
        f.side(
            "client.activates",
            Some("THR-CLIENT-25"),
            outcome.activated,
            format!(
                "a genuine client with N={} activates",
                req.base.required_client_count
            ),
            if outcome.activated {
                "activated".to_string()
            } else {
                format!("not activated: {}", hr(outcome.hresult))
            },
        );
    }

    /// Re-sends the captured request to the target with a fresh time and IV, judges the new
    /// answer and compares it with the captured one.
    fn resend(
        &mut self,
        f: &mut Findings,
        transcript: &mut Vec<String>,
        t: &dyn Target,
        x: &ExchangeRecord,
        req: &DecodedRequest,
    ) {
        let now = t.now();
        let spec = RequestSpec::from_decoded(req, now);
        let ndr = ndr_of(x.ndr);
        let enc = match EncodedRequest::build(&spec, &mut self.rng, ndr, 2, 0, 0) {
            Ok(e) => e,
            Err(e) => {
                f.check(
                    "replay.resend",
                    None,
                    Level::Info,
                    false,
                    "a request rebuilt from the capture",
                    e.to_string(),
                );
                return;
            }
        };
        let answer = match send_one(t, ndr, &enc.pdu) {
            Ok(a) => a,
            Err(e) => {
                f.check(
                    "replay.resend",
                    None,
                    Level::Must,
                    false,
                    "an answer from the target",
                    e,
                );
                return;
            }
        };
        transcript.push(format!("re-sent to {}: {}", t.name(), answer.summary()));
        let new_req = enc.decoded();
        if let Some(pdu) = answer.pdu() {
            if matches!(
                answer,
                Answer::Success { .. } | Answer::ErrorStub { .. } | Answer::BadStub { .. }
            ) {
                rpc_response_checks(
                    f,
                    SentCall {
                        call_id: 2,
                        p_cont_id: 0,
                        ndr,
                    },
                    pdu,
                );
            }
        }
        if let (Answer::Success { message, .. }, Some(nr)) = (&answer, &new_req) {
            kms_response_checks(f, nr, message);
        }
        let new = Outcome::of_answer(&answer);
        if let (Some(host), Some(nr)) = (self.target_host.as_mut(), &new_req) {
            let d = host.handle(&activation_request(nr), Timestamp::from_filetime(now));
            let observed = match (&new.hresult, &new.response) {
                (Some(0), Some(r)) => Some(Observed::Answer {
                    count: r.base.current_count,
                }),
                (Some(h), _) if *h != 0 && new.kind == "error" => {
                    Some(Observed::Refuse { hresult: *h })
                }
                _ => None,
            };
            match observed {
                Some(o) => {
                    let v = d.permits(o);
                    f.check(
                        "replay.model.outcome",
                        None,
                        Level::Must,
                        v.is_ok(),
                        format!("what the model allows (expected hr {})", hr(d.hresult())),
                        v.err().unwrap_or_else(|| format!("{o:?}")),
                    );
                }
                None => f.check(
                    "replay.model.outcome",
                    None,
                    Level::Must,
                    false,
                    format!("an answer or error stub (expected hr {})", hr(d.hresult())),
                    new.kind.to_string(),
                ),
            }
        }
        let old = captured_outcome(x);
        compare(f, &old, &new, req.base.required_client_count);
    }
}

/// How the host reacted to a call, for the association judgement.
#[derive(Debug, Clone, Copy)]
enum Reaction<'a> {
    /// A fault PDU: its status text and name, when known.
    Fault {
        status: &'a str,
        name: Option<&'static str>,
    },
    /// A response PDU (success or error stub): the call was processed.
    Answer,
    /// No answer; how the connection ended.
    Nothing(ConnEnd),
}

impl Reaction<'_> {
    fn text(self) -> String {
        match self {
            Reaction::Fault { status, name } => {
                format!("fault {status} ({})", name.unwrap_or("unknown"))
            }
            Reaction::Answer => "an answer (the call was processed)".into(),
            Reaction::Nothing(ConnEnd::Closed) => "no answer; the connection was closed".into(),
            Reaction::Nothing(ConnEnd::Idle) => {
                "no answer and no close: the host stayed silent".into()
            }
            Reaction::Nothing(ConnEnd::CaptureEnded) => "no answer before the capture ended".into(),
            Reaction::Nothing(ConnEnd::Open) => "no answer before the next call".into(),
        }
    }
}

/// What the association judgement made of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Its context was accepted: it is judged as a bound call.
    Bound,
    /// Its context was not bound, and the capture shows the whole association: judged by
    /// RPC-CTX-1.
    Unbound,
    /// Its context was not seen accepted, but the capture may lack the bind: not judged.
    Unknown,
}

/// The association of a call as a transcript line, when its context was not accepted.
fn association_line(a: &AssocFacts) -> Option<String> {
    (a.context != ContextState::Accepted).then(|| {
        format!(
            "association: context {} {}{}",
            a.context_id,
            a.context.text(),
            if a.history_complete() {
                ""
            } else {
                " (the capture may lack binds)"
            }
        )
    })
}

/// Judges a call by its connection's association (RPC-CTX-1): a call on a context that no bind
/// or alter_context accepted must be faulted with nca_unk_if or closed, not answered. Records
/// nothing for a call on an accepted context.
fn judge_context(f: &mut Findings, a: &AssocFacts, r: Reaction<'_>) -> Ctx {
    let state = match a.context {
        ContextState::Accepted => return Ctx::Bound,
        ContextState::Rejected => format!("context {} was rejected", a.context_id),
        ContextState::NotNegotiated => {
            format!("context {} was never accepted by a bind", a.context_id)
        }
        ContextState::NoBind => "no bind on the connection".to_string(),
    };
    if !a.history_complete() {
        let why = if a.start_seen {
            "bytes of the connection are missing before it"
        } else {
            "the capture starts mid-connection"
        };
        f.check(
            CHECK_CTX,
            Some(RULE_CTX),
            Level::Info,
            false,
            "the connection's binds in the capture",
            format!(
                "not judged: {state} in the capture, but {why}; {}",
                r.text()
            ),
        );
        return Ctx::Unknown;
    }
    let (passed, level) = match r {
        Reaction::Fault { name, .. } => (name == Some("nca_unk_if"), Level::Must),
        Reaction::Answer => (false, Level::Must),
        Reaction::Nothing(ConnEnd::Closed) => (true, Level::Must),
        Reaction::Nothing(ConnEnd::Idle) => (false, Level::Must),
        // The capture stops before the host's reaction: nothing to judge.
        Reaction::Nothing(ConnEnd::CaptureEnded | ConnEnd::Open) => (false, Level::Info),
    };
    f.check(
        CHECK_CTX,
        Some(RULE_CTX),
        level,
        passed,
        EXPECT_CTX,
        format!("{state}: {}", r.text()),
    );
    Ctx::Unbound
}

fn response_hresult(x: &ExchangeRecord) -> u32 {
    x.response
        .as_ref()
        .and_then(|v| u32::from_str_radix(v.hresult.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

fn raw_response(x: &ExchangeRecord) -> Option<DecodedResponse> {
    x.raw
        .as_deref()
        .and_then(|r| r.response_message.as_deref())
        .and_then(|m| DecodedResponse::parse(m).ok())
}

fn captured_outcome(x: &ExchangeRecord) -> Outcome {
    match &x.response {
        None => Outcome {
            kind: "close",
            hresult: None,
            response: None,
        },
        Some(_) => {
            let h = response_hresult(x);
            let response = raw_response(x);
            Outcome {
                kind: if h == 0 && response.is_some() {
                    "answer"
                } else {
                    "error"
                },
                hresult: Some(h),
                response,
            }
        }
    }
}

/// Binds a new association with `ndr`, sends `pdu`, and classifies the answer.
fn send_one(t: &dyn Target, ndr: NdrSyntax, pdu: &[u8]) -> Result<Answer, String> {
    let mut c = t.connect().map_err(|e| e.to_string())?;
    let name = match ndr {
        NdrSyntax::Ndr32 => "ndr32",
        NdrSyntax::Ndr64 => "ndr64",
    };
    let ctx = context_element(name, 0).map_err(|e| e.to_string())?;
    c.send(&bind_pdu(1, vec![ctx], PfcFlags::SINGLE, false))
        .map_err(|e| e.to_string())?;
    let bound = classify(c.recv().map_err(|e| e.to_string())?, ndr);
    if !matches!(bound, Answer::BindAck { .. }) {
        c.close();
        return Err(format!("bind not acknowledged: {}", bound.summary()));
    }
    c.send(pdu).map_err(|e| e.to_string())?;
    let a = classify(c.recv().map_err(|e| e.to_string())?, ndr);
    c.close();
    Ok(a)
}

/// Field-by-field comparison of the captured and the new answer (INFO findings).
fn compare(f: &mut Findings, old: &Outcome, new: &Outcome, n: u32) {
    let mut diff = |field: &str, same: bool, was: String, now: String| {
        f.check(
            &format!("replay.diff.{field}"),
            None,
            Level::Info,
            same,
            format!("as captured: {was}"),
            now,
        );
    };
    diff(
        "outcome",
        old.kind == new.kind,
        old.kind.into(),
        new.kind.into(),
    );
    diff(
        "hresult",
        old.hresult == new.hresult,
        format!("{:?}", old.hresult.map(hr)),
        format!("{:?}", new.hresult.map(hr)),
    );
    let (Some(a), Some(b)) = (&old.response, &new.response) else {
        return;
    };
    let (ca, cb) = (a.base.current_count, b.base.current_count);
    diff(
        "count",
        (ca >= n) == (cb >= n),
        format!("{ca} (N={n})"),
        format!("{cb} (N={n})"),
    );
    diff(
        "activation_interval",
        a.base.activation_interval == b.base.activation_interval,
        a.base.activation_interval.to_string(),
        b.base.activation_interval.to_string(),
    );
    diff(
        "renewal_interval",
        a.base.renewal_interval == b.base.renewal_interval,
        a.base.renewal_interval.to_string(),
        b.base.renewal_interval.to_string(),
    );
    let (ea, eb) = (a.base.epid(), b.base.epid());
    let ok = |e: &str| crate::wire::kms::epid::validate(e).iter().all(|c| c.passed);
    diff(
        "epid",
        ok(&ea) == ok(&eb) && ea.is_empty() == eb.is_empty(),
        ea,
        eb,
    );
    let hw = |r: &DecodedResponse| matches!(r.body, crate::wire::kms::ResponseBody::V6 { .. });
    diff("hwid", hw(a) == hw(b), hw(a).to_string(), hw(b).to_string());
}

/// What `kmsspec replay` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone, Default)]
pub struct ReplayCommand {
    /// Capture files.
    pub captures: Vec<PathBuf>,
    /// The target to re-send each captured request to (none: judge the captures only).
    pub target: TargetOptions,
    /// Write the JSON report here.
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// Write the HTML report here.
    pub html: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
}

/// Runs `kmsspec replay` and returns the process exit status (as `run`: 0 / 1 / 2).
pub fn command(args: &ReplayCommand) -> i32 {
    match command_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kmsspec: {e}");
            EXIT_USAGE
        }
    }
}

fn command_inner(args: &ReplayCommand) -> Result<i32, String> {
    let t = &args.target;
    let live = t.live_target()?;
    let opts = ReplayOptions {
        target: live.as_ref().map(|l| l as &dyn Target),
        seed: 1,
        progress: !args.quiet,
    };
    let report = replay_all(&args.captures, &opts);
    crate::report::emit(&report, args.json.as_deref(), args.junit.as_deref())?;
    if let Some(p) = &args.html {
        crate::report::write_html(p, &crate::report::html::run_page(&report))?;
    }
    let code = report.exit_code();
    Ok(if code == 0 { EXIT_OK } else { code })
}
