//! The oracle: judges one answer against what the case expects. A request whose RPC framing is
//! intact is judged on the KMS message the host decodes: when it decodes (with a valid V4 MAC
//! and V5/V6 padding) the answer must be what the reference model permits, with every MUST
//! response check of the suite's judge passing; an unknown version must be refused with the
//! model's HRESULT; any other undecodable message must get a documented refusal (error stub,
//! fault) or a clean close. RPC-level oddities may be answered (then judged the same way) or
//! refused. Never acceptable: silence (a hang) or bytes that are not a proper answer.
//!
//! The shadow model observes (`KmsHost::observing`): it learns only the requests the host
//! visibly answered, so its counts are lower bounds on the host's, and it never guesses.

use super::case::{Expect, ExpectKind};
use crate::client::{Answer, RequestSpec};
use crate::model::{Decision, HostConfig, KmsHost, Observed, Timestamp};
use crate::report::Level;
use crate::suite::judge::{kms_response_checks, rpc_response_checks, Findings, SentCall};
use crate::wire::kms::request::unknown_version;
use crate::wire::kms::DecodedRequest;
use crate::wire::rpc::NdrSyntax;
use crate::wire::FileTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Rule id cited when a host closes a connection after answering on it (spec §1.1).
pub const RULE_KEEPALIVE: &str = "RPC-KEEPALIVE";
/// Rule id cited when a malformed RPC request is answered as if it were well formed.
pub const RULE_REFUSE_MALFORMED: &str = "RPC-REFUSE-MALFORMED";
/// Rule id cited when a well-formed bind is not acknowledged.
pub const RULE_BIND_ACK: &str = "RPC-BIND-ACK";

/// What kind of problem a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum FindingClass {
    /// The host refuses connections or fails sanity exchanges (confirmed twice).
    HostDied,
    /// No answer within the read timeout where one was due.
    Hang,
    /// An answer that fails a response check (named).
    InvalidAnswer {
        /// The failed check, e.g. `kms.cmid_echo`.
        check: String,
    },
    /// An answer (or close) the model or a protocol rule forbids (named).
    RuleViolation {
        /// The rule, e.g. `VER-UNSUPPORTED`.
        rule: String,
    },
    /// Bytes that are not a proper answer (undecodable, wrong PDU type, bad stub).
    Garbage,
}

impl FindingClass {
    /// Short stable name for directory names and summaries.
    pub fn slug(&self) -> &'static str {
        match self {
            FindingClass::HostDied => "host-died",
            FindingClass::Hang => "hang",
            FindingClass::InvalidAnswer { .. } => "invalid-answer",
            FindingClass::RuleViolation { .. } => "rule-violation",
            FindingClass::Garbage => "garbage",
        }
    }
}

impl fmt::Display for FindingClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindingClass::InvalidAnswer { check } => write!(f, "invalid-answer({check})"),
            FindingClass::RuleViolation { rule } => write!(f, "rule-violation({rule})"),
            other => f.write_str(other.slug()),
        }
    }
}

/// One finding with what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuzzFinding {
    /// The class.
    #[serde(flatten)]
    pub class: FindingClass,
    /// Expected versus observed, one line.
    pub detail: String,
}

fn finding(class: FindingClass, detail: impl Into<String>) -> Option<FuzzFinding> {
    Some(FuzzFinding {
        class,
        detail: detail.into(),
    })
}

/// What a host makes of a KMS message (the reference host's decoding steps).
enum HostView {
    /// Unknown protocol version: the model's refusal applies.
    UnknownVersion(String),
    /// Cannot be decoded (or MAC / padding wrong): a documented refusal is due.
    Undecodable(String),
    /// Decodes: the model judges it.
    Decoded(Box<DecodedRequest>),
}

fn host_view(kms: &[u8]) -> HostView {
    match DecodedRequest::parse(kms) {
        Err(e) => match unknown_version(&e) {
            Some(v) => HostView::UnknownVersion(v.to_string()),
            None => HostView::Undecodable(e.to_string()),
        },
        Ok(r) if r.v4_mac_valid() == Some(false) => HostView::Undecodable("V4 MAC".into()),
        Ok(r) => match r.check_padding() {
            Err(e) => HostView::Undecodable(format!("padding: {e}")),
            Ok(()) => HostView::Decoded(Box::new(r)),
        },
    }
}

/// Judges answers; holds the shadow model across cases.
#[derive(Debug, Clone)]
pub struct Oracle {
    shadow: KmsHost,
}

impl Default for Oracle {
    fn default() -> Self {
        Self::new()
    }
}

impl Oracle {
    /// An oracle whose shadow model observes a host with the default configuration.
    pub fn new() -> Self {
        Self::with_config(HostConfig::default())
    }

    /// An oracle for a target with these facts: the embedded host's keys, the keys declared
    /// with `--host-key`, or — nothing declared — unknown keys, so that answering any catalog
    /// product or refusing it with 0xC004F042 are both allowed.
    pub fn for_facts(facts: &crate::target::TargetFacts) -> Self {
        Self::with_config(facts.model_config(&HostConfig::default()))
    }

    fn with_config(config: HostConfig) -> Self {
        let shadow =
            KmsHost::observing(config).or_else(|_| KmsHost::observing(HostConfig::default()));
        Oracle {
            // The configurations used name catalog keys only.
            shadow: shadow.unwrap_or_else(|e| panic!("default host config: {e}")),
        }
    }

    /// Tells the shadow model the host answered a sanity request.
    pub fn count_answered(&mut self, spec: &RequestSpec, now: FileTime) {
        self.shadow
            .handle(&spec.to_model(), Timestamp::from_filetime(now));
    }

    /// Judges `answer` to `expect`; `answered_before` says a success answer already came on
    /// this connection (a close now breaks keep-alive). `now` is the host's clock.
    pub fn judge(
        &mut self,
        expect: &Expect,
        answer: &Answer,
        answered_before: bool,
        now: FileTime,
    ) -> Option<FuzzFinding> {
        if let Answer::Silence = answer {
            return if expect.silence_ok {
                None
            } else {
                finding(FindingClass::Hang, "no answer within the read timeout")
            };
        }
        if is_garbage(answer) {
            return finding(FindingClass::Garbage, answer.summary());
        }
        match expect.kind {
            ExpectKind::BindAck => match answer {
                Answer::BindAck { .. } => None,
                other => finding(
                    FindingClass::RuleViolation {
                        rule: RULE_BIND_ACK.into(),
                    },
                    format!("well-formed bind answered with {}", other.summary()),
                ),
            },
            ExpectKind::Bind => match answer {
                Answer::BindAck { .. } | Answer::BindNak { .. } | Answer::Close | Answer::Reset => {
                    None
                }
                other => finding(
                    FindingClass::Garbage,
                    format!("bind answered with {}", other.summary()),
                ),
            },
            ExpectKind::Answer => self.judge_request(expect, answer, answered_before, now),
            ExpectKind::Tolerant => match answer {
                Answer::Success { .. } => self.judge_request(expect, answer, answered_before, now),
                Answer::ErrorStub { pdu, .. } => rpc_failure(expect, pdu),
                _ => None,
            },
            ExpectKind::Refusal => match answer {
                Answer::Success { .. } => finding(
                    FindingClass::RuleViolation {
                        rule: RULE_REFUSE_MALFORMED.into(),
                    },
                    "a malformed request got a success answer",
                ),
                Answer::ErrorStub { pdu, .. } => rpc_failure(expect, pdu),
                _ => None,
            },
        }
    }

    fn judge_request(
        &mut self,
        expect: &Expect,
        answer: &Answer,
        answered_before: bool,
        now: FileTime,
    ) -> Option<FuzzFinding> {
        if let Some(pdu) = answer.pdu() {
            if matches!(answer, Answer::Success { .. } | Answer::ErrorStub { .. }) {
                if let Some(f) = rpc_failure(expect, pdu) {
                    return Some(f);
                }
            }
        }
        let Some(kms) = &expect.kms else {
            return None;
        };
        let closed = matches!(answer, Answer::Close | Answer::Reset);
        if closed && answered_before {
            return finding(
                FindingClass::RuleViolation {
                    rule: RULE_KEEPALIVE.into(),
                },
                "connection closed after an answer, with a request pending",
            );
        }
        match host_view(kms) {
            HostView::Undecodable(why) => match answer {
                Answer::Success { .. } => finding(
                    FindingClass::InvalidAnswer {
                        check: "kms.request_decodes".into(),
                    },
                    format!("success answer to an undecodable request ({why})"),
                ),
                _ => None,
            },
            HostView::UnknownVersion(v) => {
                let d = self
                    .shadow
                    .clone()
                    .handle(&unknown_version_request(&v), Timestamp::from_filetime(now));
                match observed(answer) {
                    Some(o) => permits(&d, o),
                    None => violation(
                        &d,
                        format!("version {v} answered with {}", answer.summary()),
                    ),
                }
            }
            HostView::Decoded(req) => {
                let snapshot = self.shadow.clone();
                let model_req = crate::host::activation_request(&req);
                let d = self
                    .shadow
                    .handle(&model_req, Timestamp::from_filetime(now));
                match answer {
                    Answer::Success { message, .. } => {
                        let mut f = Findings::default();
                        let resp = kms_response_checks(&mut f, &req, message);
                        if let Some(x) = first_must(&f) {
                            return Some(x);
                        }
                        match resp {
                            Some(r) => permits(
                                &d,
                                Observed::Answer {
                                    count: r.base.current_count,
                                },
                            ),
                            None => finding(
                                FindingClass::InvalidAnswer {
                                    check: "kms.response_decodes".into(),
                                },
                                "the response does not decode",
                            ),
                        }
                    }
                    Answer::ErrorStub { hresult, .. } => {
                        self.shadow = snapshot;
                        permits(&d, Observed::Refuse { hresult: *hresult })
                    }
                    other => {
                        self.shadow = snapshot;
                        violation(
                            &d,
                            format!("well-formed request answered with {}", other.summary()),
                        )
                    }
                }
            }
        }
    }
}

fn unknown_version_request(v: &str) -> crate::model::ActivationRequest {
    let mut r = crate::model::ActivationRequest::genuine(
        uuid::Uuid::nil(),
        uuid::Uuid::nil(),
        Timestamp(0),
    );
    let (maj, min) = v.split_once('.').unwrap_or((v, "0"));
    r.protocol = (maj.parse().unwrap_or(0xffff), min.parse().unwrap_or(0xffff));
    r
}

fn is_garbage(a: &Answer) -> bool {
    matches!(
        a,
        Answer::BadStub { .. }
            | Answer::OtherPdu { .. }
            | Answer::Undecodable { .. }
            | Answer::Garbage(_)
    )
}

fn observed(a: &Answer) -> Option<Observed> {
    match a {
        Answer::ErrorStub { hresult, .. } => Some(Observed::Refuse { hresult: *hresult }),
        _ => None,
    }
}

fn permits(d: &Decision, o: Observed) -> Option<FuzzFinding> {
    match d.permits(o) {
        Ok(_) => None,
        Err(why) => violation(d, why),
    }
}

fn violation(d: &Decision, why: String) -> Option<FuzzFinding> {
    let rule = d
        .rules
        .iter()
        .find(|r| r.0.starts_with("CNT") && why.starts_with("count"))
        .or(d.rules.first())
        .map_or_else(|| "MODEL".to_string(), |r| r.0.to_string());
    finding(FindingClass::RuleViolation { rule }, why)
}

/// The suite's §8 checks of a response PDU; the first MUST failure.
pub fn rpc_failure(expect: &Expect, pdu: &[u8]) -> Option<FuzzFinding> {
    let mut f = Findings::default();
    let sent = SentCall {
        call_id: expect.call_id,
        p_cont_id: expect.p_cont_id,
        ndr: if expect.ndr64 {
            NdrSyntax::Ndr64
        } else {
            NdrSyntax::Ndr32
        },
    };
    rpc_response_checks(&mut f, sent, pdu);
    first_must(&f)
}

fn first_must(f: &Findings) -> Option<FuzzFinding> {
    f.list
        .iter()
        .find(|x| !x.passed && x.level == Level::Must)
        .and_then(|x| {
            finding(
                FindingClass::InvalidAnswer {
                    check: x.check.clone(),
                },
                format!("expected {}, observed {}", x.expected, x.observed),
            )
        })
}
