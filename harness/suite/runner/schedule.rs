//! Scheduling cases: one after another, or concurrently with `--jobs N`, with the same reports.
//!
//! A resettable target that can also be rewound and cloned (the embedded host) runs every case
//! hermetically: the case's host is rewound first (empty tables, clock at the start instant,
//! RNG at its seed) and the case gets a runner of its own (fresh shadow model, an RNG seeded
//! from the run seed and the case id). A case's report then depends on nothing but the case,
//! so the cases can be spread over workers, each with a sibling host of its own, and the
//! report is the one a sequential run gives, apart from timings.
//!
//! A live target shares its state across cases. With one job (its default) the cases run in
//! order on one runner, as always. With more, the cases that depend on host state (fresh
//! tables, clock control, counts) run first, in order, on the main runner; the others then run
//! concurrently, each worker judging with a copy of the main runner's shadow model, whose
//! count bounds are then approximate (the cases judged on counts are not among them).
//!
//! Cases that wait on purpose (idle steps, paced writes, an accepted silence) mostly sleep:
//! with more than one job they run on wait lanes of their own beside the workers, so they
//! overlap the rest instead of holding a worker.

use super::super::case::{CaseDef, OutcomeSet, Step};
use crate::report::CaseReport;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most cases that wait on purpose running at once beside the workers (each holds one or two
/// mostly idle connections).
pub const WAIT_LANES: usize = 8;

/// Whether a case spends time waiting on purpose: an `idle` step, writes paced by
/// `chunk_delay_ms`, or an accepted silence (which costs a whole read timeout).
pub fn waits_on_purpose(case: &CaseDef) -> bool {
    fn silence(s: &Option<OutcomeSet>) -> bool {
        match s {
            Some(OutcomeSet::One(x)) => x == "silence",
            Some(OutcomeSet::Any(v)) => v.iter().any(|x| x == "silence"),
            None => false,
        }
    }
    fn step_waits(s: &Step) -> bool {
        match s {
            Step::Idle(_) => true,
            Step::Raw(r) => {
                r.chunk_delay_ms.is_some_and(|d| d > 0) || silence(&Some(r.expect.clone()))
            }
            Step::Request(r) => {
                r.chunk_delay_ms.is_some_and(|d| d > 0) || silence(&r.expect.outcome)
            }
            Step::Repeat(r) => r.steps.iter().any(step_waits),
            _ => false,
        }
    }
    case.steps.iter().any(step_waits)
}

/// Whether a case depends on host state other cases change: it needs fresh tables or clock
/// control, expects a count or an activation (which follows from the count), or is judged on
/// a counting rule. On a shared live host such cases never run concurrently with others.
pub fn shares_host_state(case: &CaseDef) -> bool {
    fn step_counts(s: &Step) -> bool {
        match s {
            Step::Request(r) => r.expect.count.is_some() || r.expect.activates.is_some(),
            Step::Repeat(r) => r.steps.iter().any(step_counts),
            Step::AdvanceClock(_) => true,
            _ => false,
        }
    }
    let r = &case.requires;
    r.fresh
        || r.clock_control
        || case
            .rules
            .iter()
            .any(|x| x.value.starts_with("CNT-") || x.value.starts_with("CACHE-"))
        || case.steps.iter().any(step_counts)
}

/// What running one case gave.
pub(super) struct Ran {
    /// Its report.
    pub report: CaseReport,
    /// The case left the host unable to answer a sanity exchange.
    pub killed_host: bool,
}

/// The queues a pool draws cases from, in case order.
pub(super) struct Queues {
    /// Cases for the workers.
    pub work: Vec<usize>,
    /// Cases that wait on purpose, for the wait lanes (and idle workers).
    pub waiting: Vec<usize>,
}

/// Runs the queued case indices on `lanes` (one state per thread: the first `workers` are
/// workers, the rest wait lanes) and returns the results by index. Workers take from `work`
/// first, then from `waiting`; wait lanes only from `waiting`. Once a case killed the host,
/// no case after it in case order is started, and with `stop_all` (a shared live host) none at
/// all. The index of the first case (in case order) that killed the host is returned.
pub(super) fn run_pool<S: Send>(
    n: usize,
    queues: Queues,
    lanes: Vec<S>,
    workers: usize,
    stop_all: bool,
    run: &(dyn Fn(&mut S, usize) -> Ran + Sync),
) -> (Vec<Option<CaseReport>>, Option<usize>) {
    let work = Mutex::new(VecDeque::from(queues.work));
    let waiting = Mutex::new(VecDeque::from(queues.waiting));
    let dead = AtomicUsize::new(usize::MAX);
    let stopped = AtomicBool::new(false);
    let results: Mutex<Vec<Option<CaseReport>>> = Mutex::new((0..n).map(|_| None).collect());
    let take = |q: &Mutex<VecDeque<usize>>| q.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
    std::thread::scope(|s| {
        for (k, mut lane) in lanes.into_iter().enumerate() {
            let is_worker = k < workers;
            let (work, waiting, dead, stopped, results, take) =
                (&work, &waiting, &dead, &stopped, &results, &take);
            s.spawn(move || loop {
                let next = if is_worker {
                    take(work).or_else(|| take(waiting))
                } else {
                    take(waiting)
                };
                let Some(i) = next else { break };
                if stopped.load(Ordering::SeqCst) || i > dead.load(Ordering::SeqCst) {
                    continue;
                }
                let ran = run(&mut lane, i);
                if ran.killed_host {
                    dead.fetch_min(i, Ordering::SeqCst);
                    if stop_all {
                        stopped.store(true, Ordering::SeqCst);
                    }
                }
                let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = r.get_mut(i) {
                    *slot = Some(ran.report);
                }
            });
        }
    });
    let dead = dead.load(Ordering::SeqCst);
    (
        results.into_inner().unwrap_or_else(|p| p.into_inner()),
        (dead != usize::MAX).then_some(dead),
    )
}
