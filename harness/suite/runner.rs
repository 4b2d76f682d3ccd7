//! The suite runner: executes loaded cases against a [`Target`], judges every answer (RPC §8,
//! KMS §3.6, the reference model, explicit expectations) and grades each case with
//! [`CaseReport::grade`]. Run level: sanity exchange before and after, host-death detection,
//! `--only` / `--skip` globs, expectations file, progress bar.
//!
//! Levels: protocol-format checks carry their own level (MUST, or SHOULD for CONC_MPX,
//! alloc_hint, the V6 fresh-IV tell, ePID semantics and interval bounds); model checks and
//! explicit expectations carry the case's level (`expect.level` overrides the latter).

use super::case::{
    BindStep, CaseDef, CmidSpec, ContextSpec, CountExpect, IdleStep, OutcomeSet, RawStep,
    RequestStep, ServiceStep, Step,
};
use super::judge::{kms_response_checks, rpc_response_checks, Findings, SentCall};
use super::loader::LoadedCase;
use super::mutate::{self, parse_hex};
use crate::client::{
    bind_pdu, classify, context_element, fragment_request, parse_uuid, sanity_exchange_with,
    transfer_syntax, Answer, EncodedRequest, RequestSpec, SanityFailure, SplitMix64,
    SANITY_PRODUCT,
};
use crate::model::{
    ActivationService, Catalog, Decision, HostConfig, HostResponse, KeyHandle, KmsClient, KmsHost,
    Machine, Observed, Outcome, Timestamp,
};
use crate::report::{CaseReport, Finding, Level, RunReport, TargetHealth, Verdict};
use crate::target::{Connection, Target, TargetError};
use crate::wire::kms::{DecodedRequest, ProtocolVersion};
use crate::wire::rpc::{
    ContextElement, NdrSyntax, Pdu, PfcFlags, ResultKind, SyntaxId, NDR32, NDR64,
};
use crate::wire::FileTime;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest `idle` the runner honours.
pub const MAX_IDLE: Duration = Duration::from_secs(10);
/// Longest total pause between chunks of one write.
pub const MAX_CHUNK_DELAY: Duration = Duration::from_secs(5);
/// Most copies a `pipeline` sends.
pub const MAX_PIPELINE: u32 = 64;

/// How to run a suite.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only cases whose id matches one of these globs (empty: all).
    pub only: Vec<String>,
    /// Skip cases whose id matches one of these globs.
    pub skip: Vec<String>,
    /// Known failures: case id → reason.
    pub expectations: BTreeMap<String, String>,
    /// Declared profile (`--profile`), besides the target's.
    pub profile: Option<String>,
    /// The configuration the shadow model judges with (that of the profile; the embedded
    /// host runs the same one).
    pub host_config: HostConfig,
    /// RNG seed (CMIDs, IVs).
    pub seed: u64,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// `*` / `?` glob match (whole string).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether a case id is selected by `--only` / `--skip`.
pub fn selected(id: &str, opts: &RunOptions) -> bool {
    (opts.only.is_empty() || opts.only.iter().any(|g| glob_match(g, id)))
        && !opts.skip.iter().any(|g| glob_match(g, id))
}

/// Parses `31d`, `2h`, `90m`, `15s`, `+5h`, `-30m` into signed seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (num, unit) = rest.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("bad duration {text:?} (use e.g. 31d, 2h, 90m, 15s)"))?;
    let mult = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" | "" => 1,
        _ => return Err(format!("bad duration unit in {text:?}")),
    };
    n.checked_mul(mult)
        .map(|v| v * sign)
        .ok_or_else(|| format!("duration {text:?} too large"))
}

/// Runs the selected cases and assembles the report.
pub fn run_suite(target: &dyn Target, cases: &[LoadedCase], opts: &RunOptions) -> RunReport {
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let t0 = Instant::now();
    let selected_cases: Vec<&LoadedCase> = cases
        .iter()
        .filter(|c| selected(&c.case.id.value, opts))
        .collect();
    let bar = progress_bar(opts.progress, selected_cases.len());
    let mut runner = Runner::new(target, opts);
    let before = runner.sanity(SANITY_PRODUCT);
    let mut health = TargetHealth {
        alive_before: answered(&before),
        sanity_failure: before.err().map(|e| e.message),
        ..TargetHealth::default()
    };
    let mut reports = Vec::with_capacity(selected_cases.len());
    for lc in selected_cases {
        if let Some(b) = &bar {
            b.set_message(lc.case.id.value.clone());
        }
        let mut report = match &health.died_after_case {
            Some(dead) => skipped(lc, format!("host stopped answering after case {dead}")),
            None if !health.alive_before && !lc.case.requires.activation_service => skipped(
                lc,
                "host did not answer the sanity exchange before the suite".into(),
            ),
            None => {
                let r = runner.run_case(lc);
                if runner.transport_trouble && !answered(&runner.sanity(SANITY_PRODUCT)) {
                    health.died_after_case = Some(lc.case.id.value.clone());
                }
                r
            }
        };
        if let Some(reason) = opts.expectations.get(&report.id) {
            report.expected_failure = Some(reason.clone());
        }
        reports.push(report);
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    health.alive_after = answered(&runner.sanity(SANITY_PRODUCT));
    RunReport::new(
        target.name(),
        started,
        t0.elapsed().as_millis() as u64,
        health,
        reports,
    )
}

/// Whether a sanity exchange shows a live host: it succeeded, or the host answered with a
/// response that failed a check (a wrong host is alive, and its cases run and fail).
fn answered(r: &Result<(), SanityFailure>) -> bool {
    r.as_ref().map_or_else(|e| e.host_answered, |_| true)
}

fn progress_bar(show: bool, n: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !show || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn base_report(lc: &LoadedCase) -> CaseReport {
    let c = &lc.case;
    CaseReport {
        id: c.id.value.clone(),
        family: lc.family.clone(),
        title: c.title.clone(),
        rule: c.rule.clone(),
        source: c.source.clone(),
        level: c.level,
        verdict: Verdict::Pass,
        reason: None,
        findings: Vec::new(),
        transcript: Vec::new(),
        duration_ms: 0,
        expected_failure: None,
    }
}

fn skipped(lc: &LoadedCase, reason: String) -> CaseReport {
    CaseReport {
        verdict: Verdict::Skip,
        reason: Some(reason),
        ..base_report(lc)
    }
}

/// One open connection and what the runner knows about it.
struct Conn {
    c: Box<dyn Connection>,
    next_call: u32,
    bound: bool,
    no_bind: bool,
    ctx32: Option<u16>,
    ctx64: Option<u16>,
}

/// Per-case state.
struct CaseState {
    conns: HashMap<String, Conn>,
    cmids: HashMap<String, Uuid>,
    last_cmid: Option<Uuid>,
    service: ActivationService,
    keys: HashMap<String, KeyHandle>,
    machines: HashMap<String, Uuid>,
    findings: Vec<Finding>,
    transcript: Vec<String>,
    level: Level,
}

/// Executes cases one by one, keeping the shadow model across them.
pub struct Runner<'t> {
    target: &'t dyn Target,
    opts: RunOptions,
    rng: SplitMix64,
    shadow: KmsHost,
    requests_sent: bool,
    epids: HashMap<String, String>,
    /// Set when the last case hit a connect failure or timeout.
    pub transport_trouble: bool,
}

impl<'t> Runner<'t> {
    /// A runner for `target`.
    pub fn new(target: &'t dyn Target, opts: &RunOptions) -> Self {
        let facts = target.facts();
        Runner {
            target,
            opts: opts.clone(),
            rng: SplitMix64::new(opts.seed ^ 0x6b6d_7373_7065_6300),
            shadow: shadow_host(facts.fresh, &opts.host_config),
            requests_sent: false,
            epids: HashMap::new(),
            transport_trouble: false,
        }
    }

    fn precondition(&mut self, c: &CaseDef) -> Result<(), String> {
        let facts = self.target.facts();
        let r = &c.requires;
        if r.activation_service {
            return Ok(());
        }
        if r.clock_control && !facts.clock_control {
            return Err("needs clock control (only the embedded host has it)".into());
        }
        if let Some(k) = &r.host_key {
            if facts.host_keys.is_empty() {
                return Err(format!("needs host key {k:?}; declare it with --host-key"));
            }
            if !facts.host_keys.iter().any(|h| h.eq_ignore_ascii_case(k)) {
                return Err(format!(
                    "needs host key {k:?}; the host holds {:?}",
                    facts.host_keys
                ));
            }
        }
        if let Some(p) = &r.profile {
            let have = self.opts.profile.clone().or(facts.profile.clone());
            if have.as_deref().unwrap_or("default") != p.as_str() {
                return Err(format!("belongs to profile {p:?} (--profile {p})"));
            }
        }
        if r.fresh {
            if facts.resettable {
                self.target
                    .reset()
                    .map_err(|e| format!("could not reset the host: {e}"))?;
                self.shadow = shadow_host(true, &self.opts.host_config);
            } else if !facts.fresh || self.requests_sent {
                return Err(
                    "needs a fresh host (empty CMID tables): pass --fresh on a host \
                            with empty tables, or use a resettable target"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Runs one case (preconditions, steps, grading).
    pub fn run_case(&mut self, lc: &LoadedCase) -> CaseReport {
        let t0 = Instant::now();
        self.transport_trouble = false;
        if let Err(reason) = self.precondition(&lc.case) {
            return skipped(lc, reason);
        }
        let mut st = CaseState {
            conns: HashMap::new(),
            cmids: HashMap::new(),
            last_cmid: None,
            service: ActivationService::new(),
            keys: HashMap::new(),
            machines: HashMap::new(),
            findings: Vec::new(),
            transcript: Vec::new(),
            level: lc.case.level,
        };
        let mut index = 0usize;
        let outcome = self.run_steps(&lc.case.steps, &mut st, &mut index);
        for (_, mut c) in st.conns.drain() {
            c.c.close();
        }
        let mut report = base_report(lc);
        report.verdict = CaseReport::grade(lc.case.level, &st.findings);
        report.reason = match outcome {
            Err(e) => {
                report.verdict = report.verdict.worst(Verdict::Fail);
                Some(e)
            }
            Ok(()) => st
                .findings
                .iter()
                .find(|f| !f.passed && Verdict::for_missed(f.level) == report.verdict)
                .map(|f| {
                    format!(
                        "step {}: {} expected {}, observed {}",
                        f.step, f.check, f.expected, f.observed
                    )
                }),
        };
        report.findings = st.findings;
        report.transcript = st.transcript;
        report.duration_ms = t0.elapsed().as_millis() as u64;
        report
    }

    /// Runs steps; `Err` aborts the case (a spec error or a broken transport).
    fn run_steps(
        &mut self,
        steps: &[Step],
        st: &mut CaseState,
        index: &mut usize,
    ) -> Result<(), String> {
        for step in steps {
            let i = *index;
            *index += 1;
            let mut f = Findings {
                step: i,
                list: Vec::new(),
            };
            let r = self.run_step(step, st, &mut f);
            st.findings.append(&mut f.list);
            r?;
        }
        Ok(())
    }

    fn run_step(
        &mut self,
        step: &Step,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        match step {
            Step::Connect(c) => {
                let name = conn_name(&c.conn);
                if let Some(mut old) = st.conns.remove(&name) {
                    old.c.close();
                }
                let conn = self.open(f)?;
                st.conns.insert(
                    name,
                    Conn {
                        no_bind: c.no_bind,
                        ..conn
                    },
                );
                Ok(())
            }
            Step::Bind(b) => self.bind_step(b, st, f),
            Step::Request(r) => self.request_step(r, st, f),
            Step::Raw(r) => self.raw_step(r, st, f),
            Step::Idle(i) => self.idle_step(i, st, f),
            Step::Close(c) => {
                if let Some(mut conn) = st.conns.remove(&conn_name(&c.conn)) {
                    conn.c.close();
                }
                Ok(())
            }
            Step::AdvanceClock(text) => {
                let secs = parse_duration(text)?;
                let by = Duration::from_secs(secs.max(0) as u64);
                st.transcript.push(format!("-- advance clock {text}"));
                self.target
                    .advance_clock(by)
                    .map_err(|e| format!("advance_clock: {e}"))
            }
            Step::Sanity(s) => {
                let product = s.product.as_deref().unwrap_or(SANITY_PRODUCT);
                let r = self.sanity(product);
                st.transcript.push(format!(
                    "-- sanity: {}",
                    r.as_ref().map_or_else(|e| e.message.as_str(), |_| "ok")
                ));
                f.check(
                    "sanity",
                    None,
                    Level::Must,
                    r.is_ok(),
                    "a well-formed exchange succeeds",
                    r.err().map_or_else(|| "ok".into(), |e| e.message),
                );
                Ok(())
            }
            Step::Repeat(rep) => {
                for _ in 0..rep.times {
                    let mut sub = 0usize;
                    let base = f.step;
                    for s in &rep.steps {
                        let mut inner = Findings {
                            step: base,
                            list: Vec::new(),
                        };
                        let r = self.run_step(s, st, &mut inner);
                        sub += 1;
                        f.list.append(&mut inner.list);
                        r?;
                    }
                    let _ = sub;
                }
                Ok(())
            }
            Step::Service(s) => self.service_step(s, st, f),
        }
    }

    fn open(&mut self, f: &mut Findings) -> Result<Conn, String> {
        match self.target.connect() {
            Ok(c) => Ok(Conn {
                c,
                next_call: 1,
                bound: false,
                no_bind: false,
                ctx32: None,
                ctx64: None,
            }),
            Err(e) => {
                self.transport_trouble = true;
                f.check(
                    "transport.connect",
                    None,
                    Level::Must,
                    false,
                    "connection accepted",
                    e.to_string(),
                );
                Err(format!("connect failed: {e}"))
            }
        }
    }

    fn conn<'s>(
        &mut self,
        st: &'s mut CaseState,
        name: &Option<String>,
        f: &mut Findings,
    ) -> Result<&'s mut Conn, String> {
        let key = conn_name(name);
        if !st.conns.contains_key(&key) {
            let c = self.open(f)?;
            st.conns.insert(key.clone(), c);
        }
        st.conns
            .get_mut(&key)
            .ok_or_else(|| "connection vanished".to_string())
    }

    fn recv(&mut self, conn: &mut Conn) -> Answer {
        match conn.c.recv() {
            Ok(r) => classify(r, NdrSyntax::Ndr32),
            Err(TargetError::Closed) => Answer::Close,
            Err(TargetError::Timeout { .. }) => Answer::Silence,
            Err(_) => Answer::Reset,
        }
    }

    fn send(
        &mut self,
        conn: &mut Conn,
        bytes: &[u8],
        chunk: Option<usize>,
        delay: Option<u64>,
        f: &mut Findings,
    ) -> bool {
        let r = match chunk {
            Some(n) if n > 0 => {
                let chunks = bytes.len().div_ceil(n).max(1) as u64;
                let total = Duration::from_millis(delay.unwrap_or(0).saturating_mul(chunks));
                let pause = if total > MAX_CHUNK_DELAY {
                    MAX_CHUNK_DELAY / chunks as u32
                } else {
                    Duration::from_millis(delay.unwrap_or(0))
                };
                conn.c.send_chunked(bytes, n, pause)
            }
            _ => conn.c.send(bytes),
        };
        match r {
            Ok(()) => true,
            Err(e) => {
                // A host may close while we write (a legitimate reaction to bad input); the
                // outcome check judges what it means.
                f.check(
                    "transport.write",
                    None,
                    Level::Info,
                    false,
                    "bytes accepted",
                    e.to_string(),
                );
                false
            }
        }
    }

    fn default_bind(&mut self, conn: &mut Conn, f: &mut Findings, st: &mut CaseState) {
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

    fn bind_step(
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

    fn cmid_for(&mut self, spec: &Option<CmidSpec>, st: &mut CaseState) -> Result<Uuid, String> {
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

    fn request_step(
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
        st.transcript.append(&mut tr);
        for a in &answers {
            let now = Timestamp::from_filetime(self.target.now());
            let decision = model_req.as_ref().map(|mr| self.shadow.handle(mr, now));
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

    fn default_bind_into(&mut self, conn: &mut Conn, f: &mut Findings, tr: &mut Vec<String>) {
        let mut tmp = CaseState {
            conns: HashMap::new(),
            cmids: HashMap::new(),
            last_cmid: None,
            service: ActivationService::new(),
            keys: HashMap::new(),
            machines: HashMap::new(),
            findings: Vec::new(),
            transcript: Vec::new(),
            level: Level::Must,
        };
        self.default_bind(conn, f, &mut tmp);
        tr.append(&mut tmp.transcript);
    }

    #[allow(clippy::too_many_arguments)]
    fn judge_request(
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
        // Re-classify with the request's NDR syntax (the connection default is NDR32).
        let a = match a.pdu() {
            Some(p) if ndr == NdrSyntax::Ndr64 => {
                crate::client::classify(crate::target::Received::Pdu(p.to_vec()), ndr)
            }
            _ => a.clone(),
        };
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
                        let family = decision
                            .and_then(Decision::answer)
                            .map(|x| x.epid.to_string())
                            .unwrap_or_else(|| enc.kms.len().to_string());
                        let first = self.epids.entry(family).or_insert_with(|| epid.clone());
                        f.check(
                            "epid.stable",
                            Some("EPID-STABLE"),
                            Level::Should,
                            *first == epid,
                            first.clone(),
                            epid,
                        );
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
            let rule = d.rules.first().map(|x| x.0);
            if !explicit_outcome {
                let (ok, obs) = match observed {
                    Some(o) => match d.permits(o) {
                        Ok(_) => (true, format!("{o:?}")),
                        Err(e) => (false, e),
                    },
                    None => (false, a.summary()),
                };
                let expected = match &d.outcome {
                    Outcome::Answer(x) => format!("answer count {:?}", x.count_bounds),
                    Outcome::Refuse { hresult } => format!("error 0x{hresult:08X}"),
                };
                f.check("model.outcome", rule, case_level, ok, expected, obs);
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

    /// A sanity exchange whose request the shadow model counts when the host answered it.
    pub fn sanity(&mut self, product: &str) -> Result<(), SanityFailure> {
        let mut sent = None;
        let r = sanity_exchange_with(self.target, product, &mut self.rng, &mut |s| {
            sent = Some(s.to_model())
        });
        if let Some(req) = sent {
            let now = Timestamp::from_filetime(self.target.now());
            self.shadow.handle(&req, now);
            self.requests_sent = true;
        }
        r
    }

    fn then_sanity(&mut self, f: &mut Findings, st: &mut CaseState) {
        let r = self.sanity(SANITY_PRODUCT);
        st.transcript.push(format!(
            "-- then sanity: {}",
            r.as_ref().map_or_else(|e| e.message.as_str(), |_| "ok")
        ));
        if r.is_err() {
            self.transport_trouble = true;
        }
        f.check(
            "robustness.then_sanity",
            None,
            Level::Must,
            r.is_ok(),
            "the host still serves a well-formed exchange",
            r.err().map_or_else(|| "ok".into(), |e| e.message),
        );
    }

    fn raw_step(
        &mut self,
        r: &RawStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let bytes = parse_hex(&r.hex)?;
        let level = st.level;
        let conn = self.conn(st, &r.conn, f)?;
        conn.bound = true;
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
        if r.then_sanity {
            self.then_sanity(f, st);
        }
        Ok(())
    }

    fn idle_step(
        &mut self,
        i: &IdleStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let total = Duration::from_millis(i.ms).min(MAX_IDLE);
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

    fn service_step(
        &mut self,
        s: &ServiceStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let cat = Catalog::get();
        let level = st.level;
        let sku_of = |p: &Option<String>| -> Result<(Uuid, Uuid), String> {
            let name = p.as_deref().ok_or("service op needs a product")?;
            if let Some(sku) = cat.sku_by_name(name) {
                return Ok((sku.id, sku.kms_id));
            }
            let kms = cat
                .kms_by_name(name)
                .ok_or_else(|| format!("unknown product {name:?}"))?;
            let sku = cat
                .skus()
                .iter()
                .find(|x| x.kms_id == kms.id)
                .map_or(Uuid::nil(), |x| x.id);
            Ok((sku, kms.id))
        };
        let machine = |st: &mut CaseState, label: &str, rng: &mut SplitMix64| -> Uuid {
            *st.machines
                .entry(label.to_string())
                .or_insert_with(|| rng.uuid())
        };
        let key = |st: &CaseState| {
            st.keys
                .get(&s.key)
                .copied()
                .ok_or_else(|| format!("unknown key {:?}", s.key))
        };
        let result: Result<(), crate::model::ServiceError> = match s.op.as_str() {
            "add_mak" => {
                let (_, group) = sku_of(&s.product)?;
                let h = st.service.add_mak(group, u64::from(s.count.unwrap_or(0)));
                st.keys.insert(s.key.clone(), h);
                Ok(())
            }
            "add_csvlk" => {
                let h = st.service.add_csvlk();
                st.keys.insert(s.key.clone(), h);
                Ok(())
            }
            "raise_limit" => {
                let h = key(st)?;
                st.service.raise(h, s.count.unwrap_or(0))
            }
            "activate" | "proxy" => {
                let h = key(st)?;
                let (sku, _) = sku_of(&s.product)?;
                let ms: Vec<Machine> = s
                    .machines
                    .iter()
                    .map(|l| Machine {
                        id: machine(st, l, &mut self.rng),
                        sku,
                        is_vm: s.vm,
                        was_kms_client: false,
                    })
                    .collect();
                if s.op == "proxy" {
                    st.service.activate_proxy(h, &ms).map(|_| ())
                } else {
                    ms.iter()
                        .try_for_each(|m| st.service.activate_mak(h, m).map(|_| ()))
                }
            }
            "activate_host" => {
                let h = key(st)?;
                let ids: Vec<Uuid> = s
                    .machines
                    .iter()
                    .map(|l| machine(st, l, &mut self.rng))
                    .collect();
                ids.iter()
                    .try_for_each(|id| st.service.activate_host(h, *id).map(|_| ()))
            }
            other => return Err(format!("unknown service op {other:?}")),
        };
        let got = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e
                .hresult()
                .map_or_else(|| format!("{e:?}"), |h| format!("0x{h:08X}")),
        };
        let ok = if s.expect.eq_ignore_ascii_case("ok") {
            result.is_ok()
        } else if matches!(s.expect.as_str(), "refused" | "error") {
            result.is_err()
        } else {
            parse_hex_u32(&s.expect).is_some_and(|w| got == format!("0x{w:08X}"))
        };
        st.transcript
            .push(format!("-- service {} {}: {got}", s.op, s.key));
        f.check("service.result", None, level, ok, s.expect.clone(), got);
        if let Some(want) = s.remaining {
            let h = key(st)?;
            let left = st.service.mak_remaining(h);
            f.check(
                "service.remaining",
                Some("MAK-BUDGET"),
                level,
                left == Some(u64::from(want)),
                want.to_string(),
                format!("{left:?}"),
            );
        }
        Ok(())
    }
}

fn shadow_host(fresh: bool, cfg: &HostConfig) -> KmsHost {
    let cfg = cfg.clone();
    let h = if fresh {
        KmsHost::new(cfg.clone())
    } else {
        KmsHost::observing(cfg.clone())
    };
    // The default configuration only names catalog keys; failure would be a catalog bug.
    h.unwrap_or_else(|_| {
        KmsHost::observing(cfg).unwrap_or_else(|e| panic!("default host config: {e}"))
    })
}

/// The model's view of a request the runner sent: the same conversion the reference host
/// uses, with the workstation name as the case gave it.
fn model_request(d: &DecodedRequest, spec: &RequestSpec) -> crate::model::ActivationRequest {
    crate::model::ActivationRequest {
        workstation: spec.workstation.clone(),
        ..crate::host::convert::activation_request(d)
    }
}

fn conn_name(n: &Option<String>) -> String {
    n.clone().unwrap_or_else(|| "default".into())
}

fn set_items(s: &OutcomeSet) -> Vec<String> {
    match s {
        OutcomeSet::One(x) => vec![x.clone()],
        OutcomeSet::Any(v) => v.clone(),
    }
}

fn accepts(s: &Option<OutcomeSet>, outcome: &str) -> bool {
    s.as_ref()
        .is_some_and(|s| set_items(s).iter().any(|x| x == outcome))
}

/// An outcome matches the set; `close` also accepts a reset.
fn outcome_check(f: &mut Findings, level: Level, want: &OutcomeSet, got: &str) {
    let list = set_items(want);
    let ok = list
        .iter()
        .any(|w| w == got || (w == "close" && got == "reset"));
    f.check("expect.outcome", None, level, ok, list.join("|"), got);
}

fn parse_hex_u32(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}

fn compare_count(text: &str, got: Option<u32>) -> Result<bool, String> {
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

/// Accepted transfer syntax per result of a bind_ack (None when not accepted).
fn accepted(pdu: &[u8]) -> Vec<Option<SyntaxId>> {
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
fn bind_checks(f: &mut Findings, call: u32, offered: &[ContextElement], pdu: &[u8]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_durations() {
        assert!(glob_match("THR-*", "THR-CLIENT-25"));
        assert!(glob_match("T?R-*-25", "THR-CLIENT-25"));
        assert!(!glob_match("CNT-*", "THR-CLIENT-25"));
        assert!(glob_match("*", ""));
        assert_eq!(parse_duration("31d"), Ok(31 * 86_400));
        assert_eq!(parse_duration("-30m"), Ok(-1800));
        assert_eq!(parse_duration("+5h"), Ok(18_000));
        assert!(parse_duration("5y").is_err());
        assert_eq!(compare_count(">= 5", Some(5)), Ok(true));
        assert_eq!(compare_count("< 5", Some(5)), Ok(false));
    }
}
