//! What a conforming host answers: the expected outcome, the rules behind it, and where a rule
//! leaves freedom, the other outcomes it allows.

use super::rules::RuleId;
use std::sync::Arc;

/// HRESULT: the product cannot be served by this host (SL_E_VL_KEY_MANAGEMENT_SERVICE_ID_MISMATCH).
pub const HR_KMS_ID_MISMATCH: u32 = 0xC004_F042;
/// HRESULT: the count in the answer is below the client's threshold (client side).
pub const HR_NOT_ENOUGH_COUNT: u32 = 0xC004_F038;
/// HRESULT: ERROR_INVALID_DATA, for an unsupported protocol version.
pub const HR_INVALID_DATA: u32 = 0x8007_000D;
/// HRESULT: the request timestamp is too far from the host's clock.
pub const HR_INVALID_TIMESTAMP: u32 = 0xC004_F06C;
/// HRESULT: KMS host key over its activation limit (activation service).
pub const HR_CSVLK_LIMIT: u32 = 0xC004_C008;
/// HRESULT: MAK activation limit exceeded (activation service).
pub const HR_MAK_LIMIT: u32 = 0xC004_C020;

/// Bounds on the count a host may report: exact when the model knows the table, a range when
/// the host was already in service before observation began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountBounds {
    /// Lowest count a conforming host can report.
    pub min: u32,
    /// Highest count a conforming host can report; `None` when nothing caps it.
    pub max: Option<u32>,
}

/// How an observed count compares with [`CountBounds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the bounds.
    Consistent,
    /// Below what is certain (rules CNT-DISTINCT-CMID / CNT-SELF-INCLUDED).
    BelowMinimum {
        /// The lowest allowed.
        min: u32,
    },
    /// Above what is possible (rule CACHE-2X-NEVER-SHRINK).
    AboveMaximum {
        /// The highest allowed.
        max: u32,
    },
}

impl CountBounds {
    /// Exactly `n`.
    pub fn exact(n: u32) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }

    /// Judges an observed count against the bounds.
    pub fn judge(&self, observed: u32) -> Verdict {
        if observed < self.min {
            Verdict::BelowMinimum { min: self.min }
        } else if let Some(max) = self.max.filter(|m| observed > *m) {
            Verdict::AboveMaximum { max }
        } else {
            Verdict::Consistent
        }
    }
}

/// A successful answer's content as a conforming host gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The count (the lower bound when the table is partly unknown).
    pub current_count: u32,
    /// Counts a conforming host may report.
    pub count_bounds: CountBounds,
    /// VLActivationInterval, minutes.
    pub activation_interval: u32,
    /// VLRenewalInterval, minutes.
    pub renewal_interval: u32,
    /// Host ePID of the serving host-key family (stable, rule EPID-STABLE).
    pub epid: Arc<str>,
    /// Host HwId of the family (V6).
    pub hwid: [u8; 8],
    /// Whether a genuine client with this request's threshold activates on this answer.
    pub client_activates: bool,
}

/// The host's expected outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response with HRESULT 0.
    Answer(Answer),
    /// An error stub with this HRESULT.
    Refuse {
        /// The HRESULT.
        hresult: u32,
    },
}

/// Another outcome a rule allows besides the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// Answering (HRESULT 0) is allowed too.
    Answer {
        /// The rule allowing it.
        rule: RuleId,
    },
    /// Refusing with this HRESULT is allowed too.
    Refuse {
        /// The HRESULT.
        hresult: u32,
        /// The rule allowing it.
        rule: RuleId,
    },
}

/// What a host did, as observed, for judging against a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// An answer with this count.
    Answer {
        /// Reported count.
        count: u32,
    },
    /// An error stub with this HRESULT.
    Refuse {
        /// The HRESULT.
        hresult: u32,
    },
}

/// The model's judgement of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What a conforming host answers (the model's state follows this outcome).
    pub outcome: Outcome,
    /// Other outcomes some rule allows.
    pub alternatives: Vec<Alternative>,
    /// Rules that determined the outcome.
    pub rules: Vec<RuleId>,
}

impl Decision {
    /// The HRESULT of the expected outcome (0 for an answer).
    pub fn hresult(&self) -> u32 {
        match &self.outcome {
            Outcome::Answer(_) => 0,
            Outcome::Refuse { hresult } => *hresult,
        }
    }

    /// The expected answer, if the outcome is one.
    pub fn answer(&self) -> Option<&Answer> {
        match &self.outcome {
            Outcome::Answer(a) => Some(a),
            Outcome::Refuse { .. } => None,
        }
    }

    /// Whether the model allows the kind of outcome a host chose (answer, or refusal with its
    /// HRESULT), leaving the count aside: that is [`Decision::judge_count`]'s subject. `Ok`
    /// names the rule allowing it when it is an alternative, `Err` says why not.
    pub fn permits_outcome(&self, observed: Observed) -> Result<Option<RuleId>, String> {
        match (&self.outcome, observed) {
            (Outcome::Answer(_), Observed::Answer { .. }) => Ok(None),
            _ => self.permits(observed),
        }
    }

    /// The rule the expected outcome stands on: the last rule before a refusal, or the product
    /// gate (HIER-HOST-KEY) or first rule for an answer.
    pub fn outcome_rule(&self) -> Option<RuleId> {
        match &self.outcome {
            Outcome::Refuse { .. } => self.rules.last().copied(),
            Outcome::Answer(_) => self
                .rules
                .iter()
                .copied()
                .find(|r| *r == super::rules::HIER_HOST_KEY)
                .or_else(|| self.rules.first().copied()),
        }
    }

    /// How a reported count compares with what the model knows, with the rule a miss breaks:
    /// CNT-DISTINCT-CMID below the certain minimum, CACHE-2X-NEVER-SHRINK above the maximum.
    /// `None` when the expected outcome is not an answer.
    pub fn judge_count(&self, count: u32) -> Option<(Verdict, RuleId)> {
        let a = self.answer()?;
        let v = a.count_bounds.judge(count);
        let rule = match v {
            Verdict::AboveMaximum { .. } => super::rules::CACHE_2X_NEVER_SHRINK,
            _ => super::rules::CNT_DISTINCT_CMID,
        };
        Some((v, rule))
    }

    /// Whether the model allows what a host did; `Ok` names the rule allowing it when it is an
    /// alternative, `Err` says why not.
    pub fn permits(&self, observed: Observed) -> Result<Option<RuleId>, String> {
        match (&self.outcome, observed) {
            (Outcome::Refuse { hresult }, Observed::Refuse { hresult: h }) if *hresult == h => {
                Ok(None)
            }
            (Outcome::Answer(a), Observed::Answer { count }) => match a.count_bounds.judge(count) {
                Verdict::Consistent => Ok(None),
                v => Err(format!("count {count}: {v:?}")),
            },
            _ => self
                .alternatives
                .iter()
                .find_map(|alt| match (alt, observed) {
                    (Alternative::Answer { rule }, Observed::Answer { .. }) => Some(*rule),
                    (Alternative::Refuse { hresult, rule }, Observed::Refuse { hresult: h })
                        if *hresult == h =>
                    {
                        Some(*rule)
                    }
                    _ => None,
                })
                .map(Some)
                .ok_or_else(|| format!("{observed:?} where {:#010X} is expected", self.hresult())),
        }
    }
}
