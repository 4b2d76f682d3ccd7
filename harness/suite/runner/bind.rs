//! Bind and alter_context steps: the PDU a case offers and the checks on the bind_ack (§8).

use super::*;

impl<'t> Runner<'t> {
    pub(super) fn default_bind(&mut self, conn: &mut Conn, f: &mut Findings, st: &mut CaseState) {
        if conn.bound || conn.no_bind {
            return;
        }
        conn.bound = true;
        let ctx = ContextElement::new(0, crate::wire::rpc::KMS_INTERFACE, NDR32);
        let call = conn.next_call;
        conn.next_call += 1;
        let pdu = bind_pdu(
            call,
            vec![ctx],
            PfcFlags::SINGLE.with(PfcFlags::CONC_MPX),
            false,
        );
        st.transcript.push("-> bind [ndr32]".into());
        if !self.send(conn, &pdu, None, None, f) {
            return;
        }
        let a = self.recv(conn);
        let ok = matches!(&a, Answer::BindAck { pdu } if accepted(pdu).first().is_some_and(|r| *r == Some(NDR32)));
        if ok {
            conn.ctx32 = Some(0);
        }
        st.transcript.push(format!("<- {}", a.summary()));
        f.check(
            "bind.default_accepted",
            Some("RPC-§8"),
            Level::Must,
            ok,
            "bind_ack accepting NDR32",
            a.summary(),
        );
    }

    pub(super) fn bind_step(
        &mut self,
        b: &BindStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let mut elems = Vec::new();
        for (i, c) in b.contexts.iter().enumerate() {
            let pos = i as u16;
            elems.push(match c {
                ContextSpec::Named(n) => context_element(n, pos).map_err(|e| e.to_string())?,
                ContextSpec::Explicit(e) => {
                    let iface = match &e.interface {
                        Some(u) => {
                            SyntaxId::interface(parse_uuid(u).map_err(|e| e.to_string())?, 1, 0)
                        }
                        None => crate::wire::rpc::KMS_INTERFACE,
                    };
                    let transfers = e
                        .transfer
                        .iter()
                        .map(|t| transfer_syntax(t, e.btfn_features.unwrap_or(3)))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())?;
                    ContextElement {
                        p_cont_id: e.id.unwrap_or(pos),
                        reserved: 0,
                        abstract_syntax: iface,
                        transfer_syntaxes: transfers,
                    }
                }
            });
        }
        let level = st.level;
        let conn = self.conn(st, &b.conn, f)?;
        if b.alter {
            let mut tr = Vec::new();
            self.default_bind_into(conn, f, &mut tr);
            st.transcript.append(&mut tr);
        }
        let conn = self.conn(st, &b.conn, f)?;
        conn.bound = true;
        conn.explicit_bind = true;
        let call = b.call_id.unwrap_or(conn.next_call);
        conn.next_call = call.wrapping_add(1);
        let flags = b
            .flags
            .map(PfcFlags)
            .unwrap_or(PfcFlags::SINGLE.with(PfcFlags::CONC_MPX));
        let pdu = bind_pdu(call, elems.clone(), flags, b.alter);
        let mut line = format!("-> {} [", if b.alter { "alter_context" } else { "bind" });
        for e in &elems {
            line.push_str(&format!(" {}:{}", e.p_cont_id, e.transfer_syntaxes.len()));
        }
        line.push_str(" ]");
        let sent = self.send(conn, &pdu, None, None, f);
        let a = if sent { self.recv(conn) } else { Answer::Close };
        let results = match &a {
            Answer::BindAck { pdu } => {
                let acc = accepted(pdu);
                for (e, r) in elems.iter().zip(&acc) {
                    match r {
                        Some(s) if *s == NDR32 => conn.ctx32 = conn.ctx32.or(Some(e.p_cont_id)),
                        Some(s) if *s == NDR64 => conn.ctx64 = conn.ctx64.or(Some(e.p_cont_id)),
                        _ => {}
                    }
                }
                bind_checks(f, call, &elems, pdu)
            }
            _ => Vec::new(),
        };
        st.transcript.push(line);
        st.transcript
            .push(format!("<- {} {}", a.summary(), results.join(",")));
        let outcome = if matches!(a, Answer::BindAck { .. }) {
            "answer"
        } else {
            a.outcome()
        };
        let want = b
            .expect
            .outcome
            .clone()
            .unwrap_or(OutcomeSet::One("answer".into()));
        outcome_check(f, level, &want, outcome);
        if let Some(exp) = &b.expect.results {
            for (i, e) in exp.iter().enumerate() {
                let got = results.get(i).map(String::as_str).unwrap_or("missing");
                let ok = match e.as_str() {
                    "any" => true,
                    "reject" => got.starts_with("reject"),
                    other => other == got,
                };
                f.check(
                    &format!("bind.result[{i}]"),
                    Some("RPC-§8"),
                    level,
                    ok,
                    e.clone(),
                    got,
                );
            }
        }
        if matches!(a, Answer::Silence | Answer::Reset) {
            self.transport_trouble = true;
        }
        Ok(())
    }
}

/// Accepted transfer syntax per result of a bind_ack (None when not accepted).
pub(super) fn accepted(pdu: &[u8]) -> Vec<Option<SyntaxId>> {
    match Pdu::parse(pdu) {
        Ok(Pdu::BindAck(_, a) | Pdu::AlterContextResp(_, a)) => a
            .results
            .iter()
            .map(|r| (r.result == ResultKind::Acceptance).then_some(r.transfer_syntax))
            .collect(),
        _ => Vec::new(),
    }
}

/// §8 bind_ack checks; returns per-context result names.
pub(super) fn bind_checks(
    f: &mut Findings,
    call: u32,
    offered: &[ContextElement],
    pdu: &[u8],
) -> Vec<String> {
    let Ok(Pdu::BindAck(c, a) | Pdu::AlterContextResp(c, a)) = Pdu::parse(pdu) else {
        return Vec::new();
    };
    f.eq("bind.call_id_echo", Level::Must, call, c.call_id);
    f.eq(
        "bind.n_results",
        Level::Must,
        offered.len(),
        a.results.len(),
    );
    let mut names = Vec::new();
    for (e, r) in offered.iter().zip(&a.results) {
        let name = match (r.result, r.reason) {
            (ResultKind::Acceptance, _) => {
                let echoed = e.transfer_syntaxes.contains(&r.transfer_syntax);
                f.check(
                    "bind.accept_echoes_syntax",
                    Some("RPC-§8"),
                    Level::Must,
                    echoed,
                    "an offered transfer syntax",
                    format!("{}", r.transfer_syntax.uuid),
                );
                "accept"
            }
            (ResultKind::ProviderRejection, 1) => "reject_abstract",
            (ResultKind::ProviderRejection, 2) => "reject_transfer",
            (ResultKind::ProviderRejection | ResultKind::UserRejection, _) => "reject",
            (ResultKind::NegotiateAck, _) => "negotiate_ack",
            (ResultKind::Unknown(_), _) => "unknown",
        };
        if name.starts_with("reject") || name == "negotiate_ack" {
            f.eq(
                "bind.nonaccept_nil_syntax",
                Level::Must,
                SyntaxId::NIL,
                r.transfer_syntax,
            );
        }
        names.push(name.to_string());
    }
    names
}
