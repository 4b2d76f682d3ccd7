//! Raw-bytes and idle steps: hostile or silent clients, judged by what the host does.

use super::*;

impl<'t> Runner<'t> {
    pub(super) fn raw_step(
        &mut self,
        r: &RawStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let bytes = parse_hex(&r.hex)?;
        let level = st.level;
        let conn = self.conn(st, &r.conn, f)?;
        conn.bound = true;
        conn.explicit_bind = true;
        let sent = self.send(conn, &bytes, r.chunk, r.chunk_delay_ms, f);
        let a = if sent { self.recv(conn) } else { Answer::Close };
        st.transcript.push(format!("-> raw {} bytes", bytes.len()));
        st.transcript.push(format!("<- {}", a.summary()));
        let outcome = if matches!(a, Answer::BindAck { .. }) {
            "answer"
        } else {
            a.outcome()
        };
        outcome_check(f, level, &r.expect, outcome);
        if let (Some(want), Answer::Fault { status, .. }) = (&r.fault_status, &a) {
            f.check(
                "expect.fault_status",
                None,
                level,
                request::parse_hex_u32(want) == Some(*status),
                want.clone(),
                format!("0x{status:08X}"),
            );
        }
        if r.then_sanity {
            self.then_sanity(f, st);
        }
        Ok(())
    }

    pub(super) fn idle_step(
        &mut self,
        i: &IdleStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let total = self
            .target
            .idle_wait(Duration::from_millis(i.ms).min(MAX_IDLE));
        let t0 = Instant::now();
        self.conn(st, &i.conn, f)?;
        if i.then_sanity {
            self.then_sanity(f, st);
        }
        let left = total
            .saturating_sub(t0.elapsed())
            .max(Duration::from_millis(1));
        let conn = self.conn(st, &i.conn, f)?;
        let got = match conn.c.recv_within(left) {
            Ok(r) => classify(r, NdrSyntax::Ndr32),
            Err(TargetError::Closed) => Answer::Close,
            Err(TargetError::Timeout { .. }) => Answer::Silence,
            Err(_) => Answer::Reset,
        };
        st.transcript.push(format!(
            "-- idle {} ms: {}",
            total.as_millis(),
            got.summary()
        ));
        f.check(
            "idle.no_unsolicited_data",
            None,
            Level::Should,
            matches!(got, Answer::Silence | Answer::Close | Answer::Reset),
            "silence or close",
            got.summary(),
        );
        Ok(())
    }
}
