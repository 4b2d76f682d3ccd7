//! The suite runner: executes loaded cases against a [`Target`], judges every answer (RPC §8,
//! KMS §3.6, the reference model, explicit expectations) and grades each case with
//! [`CaseReport::grade`]. Run level: sanity exchange before and after, host-death detection,
//! `--only` / `--skip` globs, expectations file, progress bar, and the scheduling of cases
//! (hermetic and concurrent on the embedded host, in order on a live one: [`schedule`]).
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
use super::record::Recorder;
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
    /// Skip the model self-checks (activation-service cases, which never touch the target),
    /// as `run` does against a live target unless `--self-checks` is given.
    pub no_self_checks: bool,
    /// Cases run at once (`--jobs`); 0: the available cores on a hermetic target (the
    /// embedded host), 1 on a live one. See [`effective_jobs`].
    pub jobs: usize,
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

/// Runs the selected cases and assembles the report: on a target that can be rewound (the
/// embedded host) every case is hermetic and `opts.jobs` cases run at once, each on a host of
/// its own; on a live target the cases run in order unless `opts.jobs` asks for more (see
/// [`schedule`]). The report lists the cases in case order either way.
pub fn run_suite(target: &dyn Target, cases: &[LoadedCase], opts: &RunOptions) -> RunReport {
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let t0 = Instant::now();
    let selected_cases: Vec<&LoadedCase> = cases
        .iter()
        .filter(|c| selected(&c.case.id.value, opts))
        .filter(|c| !(opts.no_self_checks && c.case.requires.activation_service))
        .collect();
    let bar = progress_bar(opts.progress, selected_cases.len());
    let hermetic = target.facts().resettable && target.rewind().is_ok();
    let jobs = effective_jobs(opts.jobs, hermetic);
    // Every case's wire log (PDUs sent and received, decoded) is taken from a recorder: this
    // one for the main runner, one per lane for concurrent cases.
    let recorder = Recorder::new(target);
    let mut main = Runner::new(&recorder, opts);
    let facts = target.facts();
    // On a host declared fresh that the harness cannot reset, a KMS request now would add a
    // client before the first count case: a bind probes liveness instead.
    let before = if facts.fresh && !facts.resettable {
        crate::client::bind_probe(target)
    } else {
        main.sanity(SANITY_PRODUCT)
    };
    let mut health = TargetHealth {
        alive_before: answered(&before),
        sanity_failure: before.err().map(|e| e.message),
        ..TargetHealth::default()
    };
    let ctx = PoolContext {
        cases: &selected_cases,
        opts,
        alive_before: health.alive_before,
        bar: bar.as_ref(),
    };
    let (results, dead, lanes_alive) = if hermetic {
        ctx.hermetic(target, jobs)
    } else {
        let (r, d) = ctx.shared(&mut main, &recorder, jobs);
        (r, d, true)
    };
    let dead_id = dead
        .and_then(|i| selected_cases.get(i))
        .map(|lc| lc.case.id.value.clone());
    let mut reports = Vec::with_capacity(selected_cases.len());
    for (i, (lc, slot)) in selected_cases.iter().zip(results).enumerate() {
        let after_death = dead.is_some_and(|d| i > d);
        let mut report = match (slot, &dead_id) {
            // A dead host answers nothing after the case that killed it: in a hermetic run
            // the later cases (which ran on other hosts) are skipped as in a sequential run.
            (Some(r), _) if !(hermetic && after_death) => r,
            (_, Some(dead)) => skipped(lc, format!("host stopped answering after case {dead}")),
            (_, None) => skipped(lc, "not run".into()),
        };
        if let Some(reason) = opts.expectations.get(&report.id) {
            report.expected_failure = Some(reason.clone());
        }
        reports.push(report);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    health.died_after_case = dead_id;
    health.alive_after = answered(&main.sanity(SANITY_PRODUCT)) && lanes_alive;
    let run_failure = run_failure(&health);
    let mut report = RunReport::new(
        target.name(),
        started,
        t0.elapsed().as_millis() as u64,
        health,
        reports,
    );
    report.run_failure = run_failure;
    report.host_profile = crate::report::profile::host_profile(&report.cases);
    report
}

/// The number of concurrent cases `jobs` asks for: 0 means the available cores on a hermetic
/// (rewindable) target and 1 on a live one.
pub fn effective_jobs(jobs: usize, hermetic: bool) -> usize {
    match jobs {
        0 if hermetic => std::thread::available_parallelism().map_or(1, |n| n.get()),
        0 => 1,
        n => n,
    }
}

/// What every scheduled case needs besides its lane.
struct PoolContext<'a> {
    cases: &'a [&'a LoadedCase],
    opts: &'a RunOptions,
    alive_before: bool,
    bar: Option<&'a indicatif::ProgressBar>,
}

impl PoolContext<'_> {
    /// Runs case `i` with `runner`, whose target is `recorder` (the case's wire log), then
    /// checks the host still serves if the case saw transport trouble.
    fn run_one(&self, runner: &mut Runner, recorder: &Recorder, i: usize) -> schedule::Ran {
        let lc = self.cases[i];
        if let Some(b) = self.bar {
            b.set_message(lc.case.id.value.clone());
        }
        let ran = if !self.alive_before && !lc.case.requires.activation_service {
            schedule::Ran {
                report: skipped(
                    lc,
                    "host did not answer the sanity exchange before the suite".into(),
                ),
                killed_host: false,
            }
        } else {
            recorder.take();
            let mut report = runner.run_case(lc);
            report.wire = recorder.take();
            let killed_host = runner.transport_trouble && !answered(&runner.sanity(SANITY_PRODUCT));
            schedule::Ran {
                report,
                killed_host,
            }
        };
        if let Some(b) = self.bar {
            b.inc(1);
        }
        ran
    }

    /// The case indices split into the workers' queue and, with wait lanes, the queue of
    /// cases that wait on purpose.
    fn queues(&self, indices: Vec<usize>, wait_lanes: bool) -> schedule::Queues {
        let (waiting, work) = indices
            .into_iter()
            .partition(|&i| wait_lanes && schedule::waits_on_purpose(&self.cases[i].case));
        schedule::Queues { work, waiting }
    }

    /// Hermetic cases: each rewinds its host and runs with a runner of its own; `jobs`
    /// workers and (with more than one job) wait lanes, each on a sibling host. Also says
    /// whether every sibling still answers at the end.
    fn hermetic(
        &self,
        target: &dyn Target,
        jobs: usize,
    ) -> (Vec<Option<CaseReport>>, Option<usize>, bool) {
        let n = self.cases.len();
        let waiting = self
            .cases
            .iter()
            .filter(|lc| schedule::waits_on_purpose(&lc.case))
            .count();
        let wait_lanes = if jobs > 1 {
            schedule::WAIT_LANES.min(waiting)
        } else {
            0
        };
        let wanted = jobs.min(n.max(1)) + wait_lanes;
        let siblings: Vec<Box<dyn Target>> =
            (1..wanted).map_while(|_| target.sibling().ok()).collect();
        let recorders: Vec<Recorder> = std::iter::once(target)
            .chain(siblings.iter().map(|t| t.as_ref()))
            .map(Recorder::new)
            .collect();
        let workers = jobs.min(recorders.len()).max(1);
        let queues = self.queues((0..n).collect(), recorders.len() > workers);
        let run = |rec: &mut &Recorder, i: usize| -> schedule::Ran {
            let lc = self.cases[i];
            if let Err(e) = rec.rewind() {
                return schedule::Ran {
                    report: skipped(lc, format!("could not rewind the host: {e}")),
                    killed_host: true,
                };
            }
            let mut runner = Runner::for_case(*rec, self.opts, &lc.case.id.value);
            self.run_one(&mut runner, rec, i)
        };
        let lanes: Vec<&Recorder> = recorders.iter().collect();
        let (results, dead) = schedule::run_pool(n, queues, lanes, workers, false, &run);
        let siblings_alive = siblings
            .iter()
            .all(|t| answered(&Runner::new(t.as_ref(), self.opts).sanity(SANITY_PRODUCT)));
        (results, dead, siblings_alive)
    }

    /// Cases on a shared (live) host with the main runner. One job: in case order. More: the
    /// cases that depend on host state first, in order; then the others concurrently, each
    /// worker with a copy of the main runner.
    fn shared(
        &self,
        main: &mut Runner,
        recorder: &Recorder,
        jobs: usize,
    ) -> (Vec<Option<CaseReport>>, Option<usize>) {
        let n = self.cases.len();
        let run = |(r, rec): &mut (&mut Runner, &Recorder), i: usize| self.run_one(r, rec, i);
        if jobs <= 1 {
            let queues = self.queues((0..n).collect(), false);
            return schedule::run_pool(n, queues, vec![(main, recorder)], 1, true, &run);
        }
        let (exclusive, free): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| schedule::shares_host_state(&self.cases[i].case));
        let queues = self.queues(exclusive, false);
        let lane = vec![(&mut *main, recorder)];
        let (mut results, dead) = schedule::run_pool(n, queues, lane, 1, true, &run);
        if dead.is_some() {
            return (results, dead);
        }
        let waiting = free
            .iter()
            .filter(|&&i| schedule::waits_on_purpose(&self.cases[i].case))
            .count();
        let lanes = jobs + schedule::WAIT_LANES.min(waiting);
        let recorders: Vec<Recorder> = (0..lanes).map(|_| recorder.sibling_log()).collect();
        let mut forks: Vec<Runner> = recorders
            .iter()
            .enumerate()
            .map(|(k, rec)| main.fork(rec, k))
            .collect();
        let queues = self.queues(free, lanes > jobs);
        let lane_refs: Vec<(&mut Runner, &Recorder)> = forks.iter_mut().zip(&recorders).collect();
        let (second, dead) = schedule::run_pool(n, queues, lane_refs, jobs, true, &run);
        for (slot, r) in results.iter_mut().zip(second) {
            if r.is_some() {
                *slot = r;
            }
        }
        (results, dead)
    }
}

/// Why the run failed as a whole, whatever its cases say: a target that never answered the
/// sanity exchange (nothing listening, resets, silence, garbage) or stopped answering.
fn run_failure(h: &TargetHealth) -> Option<String> {
    if !h.alive_before {
        Some(format!(
            "the target did not answer the sanity exchange before the suite: {}",
            h.sanity_failure.as_deref().unwrap_or("no answer")
        ))
    } else if let Some(case) = &h.died_after_case {
        Some(format!("the target stopped answering after case {case}"))
    } else if !h.alive_after {
        Some("the target did not answer the sanity exchange after the suite".into())
    } else {
        None
    }
}

/// Whether a sanity exchange shows a live host: it succeeded, or the host answered with a
/// response that failed a check (a wrong host is alive, and its cases run and fail).
fn answered(r: &Result<(), SanityFailure>) -> bool {
    r.as_ref().map_or_else(|e| e.host_answered, |_| true)
}

/// A progress bar on stderr when it is a terminal and `show` (runs and replays of many items).
pub(crate) fn progress_bar(show: bool, n: usize) -> Option<indicatif::ProgressBar> {
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
        wire: Vec::new(),
        self_check: c.requires.activation_service,
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
    /// Answers received on this connection so far (keep-alive is judged from the second on).
    answered: u32,
    /// The case bound or wrote raw PDUs on it itself: its association cannot be rebuilt
    /// transparently.
    explicit_bind: bool,
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

impl CaseState {
    /// The empty state of a case graded at `level`.
    fn new(level: Level) -> Self {
        CaseState {
            conns: HashMap::new(),
            cmids: HashMap::new(),
            last_cmid: None,
            service: ActivationService::new(),
            keys: HashMap::new(),
            machines: HashMap::new(),
            findings: Vec::new(),
            transcript: Vec::new(),
            level,
        }
    }
}

/// Executes cases one by one, keeping the shadow model across them (one runner per case on a
/// hermetic target, one per run, or per worker, on a live one).
pub struct Runner<'t> {
    target: &'t dyn Target,
    opts: RunOptions,
    rng: SplitMix64,
    shadow: KmsHost,
    requests_sent: bool,
    epids: HashMap<String, String>,
    hwids: HashMap<String, [u8; 8]>,
    /// Set when the last case hit a connect failure or timeout.
    pub transport_trouble: bool,
}

mod bind;
mod raw;
mod request;
pub mod schedule;
mod service;

use request::parse_hex_u32;

impl<'t> Runner<'t> {
    /// A runner for `target`.
    pub fn new(target: &'t dyn Target, opts: &RunOptions) -> Self {
        let facts = target.facts();
        Runner {
            target,
            opts: opts.clone(),
            rng: SplitMix64::new(opts.seed ^ 0x6b6d_7373_7065_6300),
            shadow: shadow_host(facts.fresh, &facts.model_config(&opts.host_config)),
            requests_sent: false,
            epids: HashMap::new(),
            hwids: HashMap::new(),
            transport_trouble: false,
        }
    }

    /// A runner for one hermetic case on a just-rewound `target`: a fresh shadow model and an
    /// RNG seeded from the run seed and the case id, so that the case sends the same bytes
    /// whichever cases ran before it, and wherever it runs.
    pub fn for_case(target: &'t dyn Target, opts: &RunOptions, case_id: &str) -> Self {
        let mut r = Runner::new(target, opts);
        r.rng = SplitMix64::new(opts.seed ^ 0x6b6d_7373_7065_6300 ^ fnv1a(case_id));
        r
    }

    /// A copy for concurrent worker `lane` on a shared live host, reached through `target`
    /// (the worker's recorder): the same shadow model and ePID / HwId memory so far, its own
    /// RNG stream.
    fn fork(&self, target: &'t dyn Target, lane: usize) -> Runner<'t> {
        let stream = (lane as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Runner {
            target,
            opts: self.opts.clone(),
            rng: SplitMix64::new(self.opts.seed ^ 0x6b6d_7373_7065_6300 ^ stream),
            shadow: self.shadow.clone(),
            requests_sent: self.requests_sent,
            epids: self.epids.clone(),
            hwids: self.hwids.clone(),
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
                let cfg = self.target.facts().model_config(&self.opts.host_config);
                self.shadow = shadow_host(true, &cfg);
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
        let mut st = CaseState::new(lc.case.level);
        let mut index = 0usize;
        let outcome = self.run_steps(&lc.case.steps, &mut st, &mut index);
        for (_, mut c) in st.conns.drain() {
            c.c.close();
        }
        super::subject::mark_side_findings(&lc.case, &mut st.findings);
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
                .find(|f| !f.passed && !f.side && Verdict::for_missed(f.level) == report.verdict)
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
                sanity_findings(f, "sanity", r);
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
                answered: 0,
                explicit_bind: false,
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
        sanity_findings(f, "robustness.then_sanity", r);
    }
}

/// FNV-1a of a text (a stable per-case RNG stream).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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

/// The findings of a sanity exchange. Its subject is that the host still serves: an answer
/// that then fails a response check still shows a live host (check `name` passes), and the
/// failed check is recorded as `sanity.answer_checks`, a side finding that belongs to the
/// case about that check.
fn sanity_findings(f: &mut Findings, name: &str, r: Result<(), SanityFailure>) {
    let alive = r.as_ref().map_or_else(|e| e.host_answered, |_| true);
    f.check(
        name,
        None,
        Level::Must,
        alive,
        "the host serves a well-formed exchange",
        match &r {
            Ok(()) => "ok".to_string(),
            Err(e) if e.host_answered => format!("answered ({})", e.message),
            Err(e) => e.message.clone(),
        },
    );
    if let (Err(e), true) = (&r, alive) {
        f.check(
            "sanity.answer_checks",
            Some("KMS-§3.6"),
            Level::Must,
            false,
            "an answer passing every response check",
            e.message.clone(),
        );
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

#[cfg(test)]
mod tests {
    use super::request::compare_count;
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
