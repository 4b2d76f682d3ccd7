//! Request steps: building the KMS request a case describes, sending it (mutated, fragmented,
//! chunked or pipelined), and judging the answer (RPC §8, response §3.6, model, client, explicit
//! expectations).

use super::*;

impl<'t> Runner<'t> {
    pub(super) fn cmid_for(
        &mut self,
        spec: &Option<CmidSpec>,
        st: &mut CaseState,
    ) -> Result<Uuid, String> {
        let text = match spec {
            None => "new",
            Some(CmidSpec::Text(t)) => t.as_str(),
        };
        let id = match text {
            "new" => self.rng.uuid(),
            "same" => match st.last_cmid {
                Some(c) => c,
                None => self.rng.uuid(),
            },
            t if t.starts_with('@') => {
                let fresh = self.rng.uuid();
                *st.cmids.entry(t.to_string()).or_insert(fresh)
            }
            t => parse_uuid(t).map_err(|e| e.to_string())?,
        };
        st.last_cmid = Some(id);
        Ok(id)
    }

    pub(super) fn request_step(
        &mut self,
        r: &RequestStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let cmid = self.cmid_for(&r.cmid, st)?;
        let offset = match &r.time_offset {
            Some(t) => parse_duration(t)?,
            None => 0,
        };
        let host_now = self.target.now();
        let time = FileTime::from_unix_seconds(host_now.unix_seconds().saturating_add(offset));
        let mut spec =
            RequestSpec::for_product(&r.product.value, cmid, time).map_err(|e| e.to_string())?;
        if let Some(v) = &r.version {
            let (maj, min) = v
                .split_once('.')
                .ok_or_else(|| format!("version {v:?} must be major.minor"))?;
            spec.version = ProtocolVersion::new(
                maj.trim()
                    .parse()
                    .map_err(|_| format!("bad version {v:?}"))?,
                min.trim()
                    .parse()
                    .map_err(|_| format!("bad version {v:?}"))?,
            );
        } else {
            spec.version = ProtocolVersion::V6;
        }
        if let Some(k) = &r.kms_id {
            spec.kms_id = parse_uuid(k).map_err(|e| e.to_string())?;
        }
        if let Some(a) = &r.app_id {
            spec.app_id = parse_uuid(a).map_err(|e| e.to_string())?;
        }
        if let Some(n) = r.required_count {
            spec.required_count = n;
        }
        spec.vm = r.vm;
        if let Some(l) = r.license_status {
            spec.license_status = l;
        }
        if let Some(w) = &r.workstation {
            spec.workstation = w.clone();
        }
        let ndr = match r.ndr.as_deref() {
            None | Some("ndr32") => NdrSyntax::Ndr32,
            Some("ndr64") => NdrSyntax::Ndr64,
            Some(o) => return Err(format!("unknown ndr {o:?} (ndr32 or ndr64)")),
        };
        let level = r.expect.level.unwrap_or(st.level);
        let case_level = st.level;
        let conn = self.conn(st, &r.conn, f)?;
        let mut tr = Vec::new();
        self.default_bind_into(conn, f, &mut tr);
        let ctx = r.context_id.unwrap_or(match ndr {
            NdrSyntax::Ndr32 => conn.ctx32.unwrap_or(0),
            NdrSyntax::Ndr64 => conn.ctx64.unwrap_or(1),
        });
        let call = r.call_id.unwrap_or(conn.next_call);
        conn.next_call = call.wrapping_add(1);
        let enc = EncodedRequest::build(&spec, &mut self.rng, ndr, call, ctx, r.opnum.unwrap_or(0))
            .map_err(|e| e.to_string())?;
        let m = mutate::apply(&enc, spec.version, &r.mutate)?;
        let bytes = match r.fragment {
            Some(n) => fragment_request(call, ctx, enc.opnum, &m.stub, n),
            None => m.pdu.clone(),
        };
        let copies = r.pipeline.unwrap_or(1).clamp(1, MAX_PIPELINE);
        let mut all = Vec::with_capacity(bytes.len() * copies as usize);
        for _ in 0..copies {
            all.extend_from_slice(&bytes);
        }
        let product = &r.product.value;
        tr.push(format!(
            "-> request v{} '{}' N={} cmid={}{}{}{}",
            spec.version,
            product,
            spec.required_count,
            cmid,
            if ndr == NdrSyntax::Ndr64 {
                " ndr64"
            } else {
                ""
            },
            if m.changed { " mutated" } else { "" },
            if copies > 1 {
                format!(" x{copies}")
            } else {
                String::new()
            },
        ));
        let sent = self.send(conn, &all, r.chunk, r.chunk_delay_ms, f);
        self.requests_sent = true;
        // What the host decodes: our own request if untouched, else whatever the bytes say.
        let decoded: Option<DecodedRequest> = DecodedRequest::parse(&m.kms).ok();
        let model_req = if !m.changed {
            Some(spec.to_model())
        } else {
            decoded.as_ref().map(|d| model_request(d, &spec))
        };
        let mut answers = Vec::new();
        for _ in 0..copies {
            let a = if sent { self.recv(conn) } else { Answer::Close };
            let stop = matches!(a, Answer::Close | Answer::Reset | Answer::Silence);
            answers.push(a);
            if stop {
                break;
            }
        }
        let reused = conn.answered > 0;
        let rebuildable = copies == 1
            && !conn.explicit_bind
            && !conn.no_bind
            && ndr == NdrSyntax::Ndr32
            && r.context_id.is_none()
            && !accepts(&r.expect.outcome, "close");
        let dropped = matches!(answers.as_slice(), [Answer::Close | Answer::Reset]);
        if reused {
            f.check(
                "transport.keep_alive",
                None,
                Level::Should,
                !dropped,
                "the association stays open for the next request",
                if dropped {
                    "closed after the previous answer"
                } else {
                    "open"
                },
            );
        }
        if reused && dropped && rebuildable {
            // The host closed the association after its previous answer (no keep-alive): that
            // is the keep-alive cases' subject. Real clients open a connection per activation,
            // so this case goes on on a new connection with the same request.
            tr.push("-- closed after the previous answer: same request on a new connection".into());
            let mut fresh = self.open(f)?;
            fresh.next_call = call.wrapping_add(1);
            self.default_bind_into(&mut fresh, f, &mut tr);
            let again = self.send(&mut fresh, &all, r.chunk, r.chunk_delay_ms, f);
            answers = vec![if again {
                self.recv(&mut fresh)
            } else {
                Answer::Close
            }];
            st.conns.insert(conn_name(&r.conn), fresh);
        }
        if let Some(c) = st.conns.get_mut(&conn_name(&r.conn)) {
            c.answered += answers
                .iter()
                .filter(|a| !matches!(a, Answer::Close | Answer::Reset | Answer::Silence))
                .count() as u32;
        }
        st.transcript.append(&mut tr);
        for a in &answers {
            let now = Timestamp::from_filetime(self.target.now());
            let before = self.shadow.clone();
            let decision = model_req.as_ref().map(|mr| self.shadow.handle(mr, now));
            // A host that refused (or did not answer) a request the model would answer did
            // not count its CMID: the shadow model forgets it too, so later count bounds stay
            // what is certain.
            if decision.as_ref().is_some_and(|d| d.answer().is_some())
                && !matches!(reclassify(a, ndr), Answer::Success { .. })
            {
                self.shadow = before;
            }
            self.judge_request(
                r,
                st,
                f,
                a,
                &enc,
                decoded.as_ref(),
                decision.as_ref(),
                level,
                case_level,
                now,
                ndr,
            );
        }
        if answers.iter().any(|a| matches!(a, Answer::Silence))
            && !accepts(&r.expect.outcome, "silence")
        {
            self.transport_trouble = true;
        }
        if r.expect.then_sanity {
            self.then_sanity(f, st);
        }
        Ok(())
    }

    pub(super) fn default_bind_into(
        &mut self,
        conn: &mut Conn,
        f: &mut Findings,
        tr: &mut Vec<String>,
    ) {
        let mut tmp = CaseState::new(Level::Must);
        self.default_bind(conn, f, &mut tmp);
        tr.append(&mut tmp.transcript);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn judge_request(
        &mut self,
        r: &RequestStep,
        st: &mut CaseState,
        f: &mut Findings,
        a: &Answer,
        enc: &EncodedRequest,
        decoded: Option<&DecodedRequest>,
        decision: Option<&Decision>,
        level: Level,
        case_level: Level,
        now: Timestamp,
        ndr: NdrSyntax,
    ) {
        let a = reclassify(a, ndr);
        let sent = SentCall {
            call_id: enc.call_id,
            p_cont_id: enc.p_cont_id,
            ndr,
        };
        if matches!(a, Answer::Success { .. } | Answer::ErrorStub { .. }) {
            if let Some(p) = a.pdu() {
                rpc_response_checks(f, sent, p);
            }
        }
        let mut observed: Option<Observed> = None;
        let mut host_resp: Option<HostResponse> = None;
        let mut line = format!("<- {}", a.summary());
        match &a {
            Answer::Success { message, .. } => {
                if let Some(req) = decoded {
                    if let Some(resp) = kms_response_checks(f, req, message) {
                        let epid = resp.base.epid();
                        line = format!(
                            "<- response count={} epid={} hr=0x00000000",
                            resp.base.current_count, epid
                        );
                        observed = Some(Observed::Answer {
                            count: resp.base.current_count,
                        });
                        host_resp = Some(HostResponse {
                            hresult: 0,
                            current_count: resp.base.current_count,
                            activation_interval: resp.base.activation_interval,
                            renewal_interval: resp.base.renewal_interval,
                        });
                        let family = epid_family(req, &epid);
                        let first = self
                            .epids
                            .entry(family.clone())
                            .or_insert_with(|| epid.clone());
                        f.check(
                            "epid.stable",
                            Some("EPID-STABLE"),
                            Level::Should,
                            *first == epid,
                            first.clone(),
                            epid,
                        );
                        if let crate::wire::kms::ResponseBody::V6 { hwid, .. } = resp.body {
                            let first = *self.hwids.entry(family).or_insert(hwid);
                            f.check(
                                "hwid.stable",
                                Some("EPID-STABLE"),
                                Level::Should,
                                first == hwid,
                                hex_text(&first),
                                hex_text(&hwid),
                            );
                        }
                    }
                }
            }
            Answer::ErrorStub { hresult, .. } => {
                observed = Some(Observed::Refuse { hresult: *hresult });
                host_resp = Some(HostResponse {
                    hresult: *hresult,
                    current_count: 0,
                    activation_interval: 0,
                    renewal_interval: 0,
                });
            }
            _ => {}
        }
        st.transcript.push(line);
        let explicit_outcome = r.expect.outcome.is_some() || r.expect.hresult.is_some();
        if let Some(want) = &r.expect.outcome {
            outcome_check(f, level, want, a.outcome());
        }
        let success_allowed =
            matches!(a, Answer::Success { .. }) && accepts(&r.expect.outcome, "answer");
        if let (Some(want), false) = (&r.expect.hresult, success_allowed) {
            let got = match &a {
                Answer::Success { .. } => Some(0),
                Answer::ErrorStub { hresult, .. } => Some(*hresult),
                _ => None,
            };
            let list = set_items(want);
            let ok = got.is_some_and(|g| list.iter().any(|w| parse_hex_u32(w) == Some(g)));
            f.check(
                "expect.hresult",
                None,
                level,
                ok,
                list.join("|"),
                got.map_or_else(|| a.outcome().to_string(), |g| format!("0x{g:08X}")),
            );
        }
        if let (Some(want), Answer::Fault { status, .. }) = (&r.expect.fault_status, &a) {
            let ok = parse_hex_u32(want) == Some(*status);
            f.check(
                "expect.fault_status",
                None,
                level,
                ok,
                want.clone(),
                format!("0x{status:08X}"),
            );
        }
        if let Some(d) = decision {
            let rule = d.outcome_rule().map(|x| x.0);
            if !explicit_outcome {
                let (ok, obs) = match observed {
                    Some(o) => match d.permits_outcome(o) {
                        Ok(Some(alt)) => (true, format!("{o:?}, allowed by {alt}")),
                        Ok(None) => (true, format!("{o:?}")),
                        Err(e) => (false, e),
                    },
                    None => (false, a.summary()),
                };
                let expected = match &d.outcome {
                    Outcome::Answer(_) => "an answer".to_string(),
                    Outcome::Refuse { hresult } => format!("error 0x{hresult:08X}"),
                };
                f.check("model.outcome", rule, case_level, ok, expected, obs);
            }
            let judged = match observed {
                Some(Observed::Answer { count }) => d.judge_count(count).map(|j| (count, j)),
                _ => None,
            };
            let answered = matches!(observed, Some(Observed::Answer { .. }));
            if let (Some(x), Some(h), true) = (d.answer(), host_resp.as_ref(), answered) {
                let want = (x.activation_interval, x.renewal_interval);
                let got = (h.activation_interval, h.renewal_interval);
                f.check(
                    "model.intervals",
                    Some("CLIENT-RENEW-7D"),
                    Level::Should,
                    want == got,
                    format!("activation {} min, renewal {} min", want.0, want.1),
                    format!("activation {} min, renewal {} min", got.0, got.1),
                );
            }
            if let Some((count, (v, rule))) = judged {
                let bounds = d.answer().map(|x| x.count_bounds);
                f.check(
                    "model.count",
                    Some(rule.0),
                    case_level,
                    v == crate::model::Verdict::Consistent,
                    bounds.map_or_else(String::new, |b| match b.max {
                        Some(m) if m == b.min => format!("count {m}"),
                        Some(m) => format!("count in {}..={m}", b.min),
                        None => format!("count >= {}", b.min),
                    }),
                    count.to_string(),
                );
            }
        }
        if let Some(c) = &r.expect.count {
            let got = match observed {
                Some(Observed::Answer { count }) => Some(count),
                _ => None,
            };
            let (ok, expected) = match c {
                CountExpect::Exact(n) => (got == Some(*n), n.to_string()),
                CountExpect::Text(t) if t.trim() == "model" => {
                    match decision.and_then(Decision::answer) {
                        Some(x) => (
                            got.is_some_and(|g| {
                                x.count_bounds.judge(g) == crate::model::Verdict::Consistent
                            }),
                            format!("{:?}", x.count_bounds),
                        ),
                        None => (false, "a model answer".into()),
                    }
                }
                CountExpect::Text(t) => match compare_count(t, got) {
                    Ok(ok) => (ok, t.clone()),
                    Err(e) => (false, e),
                },
            };
            f.check(
                "expect.count",
                Some("CNT-DISTINCT-CMID"),
                level,
                ok,
                expected,
                got.map_or_else(|| a.outcome().to_string(), |g| g.to_string()),
            );
        }
        if let Some(want) = r.expect.activates {
            let activated = host_resp.is_some_and(|h| {
                let n = decoded.map_or(0, |d| d.base.required_client_count);
                KmsClient::new(n, now).on_response(&h, now).activated
            });
            f.check(
                "client.activates",
                Some("THR-CLIENT-25"),
                level,
                activated == want,
                want.to_string(),
                activated.to_string(),
            );
        }
    }
}

/// An answer classified with the request's NDR syntax (the connection default is NDR32).
fn reclassify(a: &Answer, ndr: NdrSyntax) -> Answer {
    match a.pdu() {
        Some(p) if ndr == NdrSyntax::Ndr64 => {
            crate::client::classify(crate::target::Received::Pdu(p.to_vec()), ndr)
        }
        _ => a.clone(),
    }
}

/// The host-key family an answer belongs to, for ePID and HwId stability (rule EPID-STABLE):
/// the request's application, refined by the host key whose ePID range holds the ePID the
/// host showed. Answers of different families (Windows and Office, or two Office keys) may
/// carry different ePIDs; within one family they may not.
pub(super) fn epid_family(req: &DecodedRequest, epid: &str) -> String {
    let app = req.base.application_id;
    let key = crate::wire::kms::Epid::parse(epid).ok().and_then(|e| {
        Catalog::get()
            .host_key_of_epid(crate::model::Profile::Hierarchical, &app, &e)
            .map(|k| k.name.clone())
    });
    match key {
        Some(k) => format!("{app}/{k}"),
        None => app.to_string(),
    }
}

fn hex_text(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The model's view of a request the runner sent: the same conversion the reference host
/// uses, with the workstation name as the case gave it.
pub(super) fn model_request(
    d: &DecodedRequest,
    spec: &RequestSpec,
) -> crate::model::ActivationRequest {
    crate::model::ActivationRequest {
        workstation: spec.workstation.clone(),
        ..crate::host::convert::activation_request(d)
    }
}

pub(super) fn compare_count(text: &str, got: Option<u32>) -> Result<bool, String> {
    let t = text.trim();
    let (op, rest) = [">=", "<=", ">", "<", "=="]
        .iter()
        .find_map(|op| t.strip_prefix(op).map(|r| (*op, r)))
        .ok_or_else(|| format!("bad count expectation {text:?}"))?;
    let n: u32 = rest
        .trim()
        .parse()
        .map_err(|_| format!("bad count expectation {text:?}"))?;
    Ok(got.is_some_and(|g| match op {
        ">=" => g >= n,
        "<=" => g <= n,
        ">" => g > n,
        "<" => g < n,
        _ => g == n,
    }))
}

pub(super) fn parse_hex_u32(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}
