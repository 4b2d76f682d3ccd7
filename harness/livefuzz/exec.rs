//! Runs one case's actions against a target and judges each expected answer with the
//! [`Oracle`], recording every byte each side sent (for the pcap of a finding).

use super::case::{Action, Expect, FuzzCase, MAX_PAUSE_US};
use super::oracle::{rpc_failure, FindingClass, FuzzFinding, Oracle};
use crate::client::{classify, Answer};
use crate::target::{Connection, Received, Target, TargetError};
use crate::wire::rpc::NdrSyntax;
use std::time::Duration;

/// Who sent a chunk of bytes, or how a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes from the client.
    Client(Vec<u8>),
    /// Bytes from the host.
    Host(Vec<u8>),
    /// The host closed the connection.
    HostClosed,
    /// The host reset the connection.
    HostReset,
    /// The client closed the connection.
    ClientClosed,
}

/// Every connection of one case, in order, with its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// One event list per connection.
    pub connections: Vec<Vec<Event>>,
}

/// What running one case gave.
#[derive(Debug, Clone, Default)]
pub struct CaseResult {
    /// Findings, in order.
    pub findings: Vec<FuzzFinding>,
    /// The bytes exchanged.
    pub exchange: Exchange,
    /// The host closed, reset or went silent (a sanity exchange should follow).
    pub needs_sanity: bool,
    /// One-line summaries of the answers, in order.
    pub answers: Vec<String>,
}

/// The state of the current connection.
struct Live {
    conn: Box<dyn Connection>,
    /// The host ended it (observed as an answer): later expectations are skipped.
    ended: bool,
    /// A write failed because the host closed: the next expectation is judged as a close.
    send_failed: bool,
    /// A success answer came on it.
    answered: bool,
}

/// Runs `case` against `target`, judging with `oracle`.
pub fn execute(target: &dyn Target, case: &FuzzCase, oracle: &mut Oracle) -> CaseResult {
    let mut out = CaseResult::default();
    let mut live: Option<Live> = None;
    for action in &case.session {
        match action {
            Action::Connect => {
                if let Some(mut l) = live.take() {
                    l.conn.close();
                }
                match target.connect() {
                    Ok(conn) => {
                        out.exchange.connections.push(Vec::new());
                        live = Some(Live {
                            conn,
                            ended: false,
                            send_failed: false,
                            answered: false,
                        });
                    }
                    Err(e) => {
                        out.findings.push(FuzzFinding {
                            class: FindingClass::HostDied,
                            detail: format!("connect: {e}"),
                        });
                        return out;
                    }
                }
            }
            Action::Send {
                bytes,
                chunk,
                pause_us,
            } => {
                let Some(l) = live.as_mut().filter(|l| !l.ended && !l.send_failed) else {
                    continue;
                };
                record(&mut out.exchange, Event::Client(bytes.clone()));
                let r = if *chunk == 0 {
                    l.conn.send(bytes)
                } else {
                    let pause = Duration::from_micros(u64::from((*pause_us).min(MAX_PAUSE_US)));
                    l.conn.send_chunked(bytes, *chunk, pause)
                };
                match r {
                    Ok(()) => {}
                    Err(TargetError::Timeout { .. }) => {
                        out.findings.push(FuzzFinding {
                            class: FindingClass::Hang,
                            detail: "the host stopped reading (write timeout)".into(),
                        });
                        out.needs_sanity = true;
                        l.ended = true;
                    }
                    Err(_) => {
                        l.send_failed = true;
                        out.needs_sanity = true;
                    }
                }
            }
            Action::Expect(expect) => {
                let Some(l) = live.as_mut().filter(|l| !l.ended) else {
                    continue;
                };
                let ndr = if expect.ndr64 {
                    NdrSyntax::Ndr64
                } else {
                    NdrSyntax::Ndr32
                };
                let answer = if l.send_failed {
                    l.ended = true;
                    Answer::Close
                } else {
                    match l.conn.recv() {
                        Ok(r) => {
                            match &r {
                                Received::Pdu(b) | Received::Garbage(b) => {
                                    record(&mut out.exchange, Event::Host(b.clone()));
                                }
                                Received::Closed => record(&mut out.exchange, Event::HostClosed),
                                Received::Reset => record(&mut out.exchange, Event::HostReset),
                                Received::Silence => {}
                            }
                            classify(r, ndr)
                        }
                        Err(TargetError::TooLarge { declared, .. }) => {
                            Answer::Garbage(format!("{declared}-byte answer").into_bytes())
                        }
                        Err(_) => {
                            record(&mut out.exchange, Event::HostReset);
                            Answer::Reset
                        }
                    }
                };
                if matches!(
                    answer,
                    Answer::Close | Answer::Reset | Answer::Silence | Answer::Garbage(_)
                ) {
                    l.ended = true;
                    out.needs_sanity = true;
                }
                let now = target.now();
                let (expect, answer) = pick_syntax(expect, answer);
                if let Some(f) = oracle.judge(&expect, &answer, l.answered, now) {
                    out.findings.push(f);
                }
                if matches!(answer, Answer::Success { .. }) {
                    l.answered = true;
                }
                out.answers.push(answer.summary());
            }
            Action::Close => {
                if let Some(mut l) = live.take() {
                    l.conn.close();
                    record(&mut out.exchange, Event::ClientClosed);
                }
            }
        }
    }
    if let Some(mut l) = live.take() {
        l.conn.close();
        record(&mut out.exchange, Event::ClientClosed);
    }
    out
}

/// For an expectation that allows either NDR syntax: the reading of the answer's stub that
/// is well formed (the expected syntax first).
fn pick_syntax(expect: &Expect, answer: Answer) -> (Expect, Answer) {
    let clean = |e: &Expect, a: &Answer| match a {
        Answer::BadStub { .. } => false,
        Answer::Success { pdu, .. } | Answer::ErrorStub { pdu, .. } => {
            rpc_failure(e, pdu).is_none()
        }
        _ => true,
    };
    if !expect.any_ndr || clean(expect, &answer) {
        return (expect.clone(), answer);
    }
    let Some(pdu) = answer.pdu().map(<[u8]>::to_vec) else {
        return (expect.clone(), answer);
    };
    let mut other = expect.clone();
    other.ndr64 = !expect.ndr64;
    let ndr = if other.ndr64 {
        NdrSyntax::Ndr64
    } else {
        NdrSyntax::Ndr32
    };
    let again = classify(Received::Pdu(pdu), ndr);
    if clean(&other, &again) {
        (other, again)
    } else {
        (expect.clone(), answer)
    }
}

fn record(x: &mut Exchange, e: Event) {
    if let Some(c) = x.connections.last_mut() {
        c.push(e);
    }
}
