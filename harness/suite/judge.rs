//! Judging one answer: the §8 RPC checks of a response PDU, the §3.6 KMS response checks, ePID
//! syntax and interval bounds. Each check becomes a [`Finding`] naming the check and its level.
//! The model and explicit expectations are judged by the runner, which holds the state.

use crate::report::{Finding, Level};
use crate::wire::kms::{epid, verify_response, CheckName, DecodedRequest, DecodedResponse};
use crate::wire::rpc::{Header, NdrSyntax, Pdu, PfcFlags, ResponseStub};

/// Collects findings for one step.
#[derive(Debug, Default)]
pub struct Findings {
    /// The step index.
    pub step: usize,
    /// What was found.
    pub list: Vec<Finding>,
}

impl Findings {
    /// Records a check.
    pub fn check(
        &mut self,
        check: &str,
        rule: Option<&str>,
        level: Level,
        passed: bool,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) {
        self.list.push(Finding {
            step: self.step,
            check: check.to_string(),
            rule: rule.map(str::to_string),
            level,
            passed,
            expected: expected.into(),
            observed: observed.into(),
            side: false,
        });
    }

    /// Records a side finding: an observation about another subject than the case's, shown
    /// on the case and in the host profile, never deciding its verdict (level INFO).
    pub fn side(
        &mut self,
        check: &str,
        rule: Option<&str>,
        passed: bool,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) {
        self.check(check, rule, Level::Info, passed, expected, observed);
        if let Some(f) = self.list.last_mut() {
            f.side = true;
        }
    }

    /// Records an equality check.
    pub fn eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        check: &str,
        level: Level,
        expected: T,
        observed: T,
    ) {
        let passed = expected == observed;
        self.check(
            check,
            Some("RPC-§8"),
            level,
            passed,
            format!("{expected:?}"),
            format!("{observed:?}"),
        );
    }
}

/// What the request looked like, for echo checks.
#[derive(Debug, Clone, Copy)]
pub struct SentCall {
    /// Call id.
    pub call_id: u32,
    /// Context id.
    pub p_cont_id: u16,
    /// Stub syntax.
    pub ndr: NdrSyntax,
}

/// §8 checks of a response PDU (success or error stub).
pub fn rpc_response_checks(f: &mut Findings, sent: SentCall, pdu: &[u8]) {
    let Ok(h) = Header::read(pdu) else {
        f.check(
            "rpc.header",
            None,
            Level::Must,
            false,
            "a 16-byte header",
            "short PDU",
        );
        return;
    };
    f.eq("rpc.call_id_echo", Level::Must, sent.call_id, h.call_id);
    f.eq(
        "rpc.first_last",
        Level::Must,
        true,
        h.pfc_flags.contains(PfcFlags::SINGLE),
    );
    f.check(
        "rpc.response_flags",
        Some("RPC-§8"),
        Level::Should,
        h.pfc_flags == PfcFlags::SINGLE,
        format!("{:?}", PfcFlags::SINGLE),
        format!("{:?}", h.pfc_flags),
    );
    f.eq(
        "rpc.no_conc_mpx",
        Level::Should,
        false,
        h.pfc_flags.contains(PfcFlags::CONC_MPX),
    );
    f.eq("rpc.drep_le", Level::Must, true, h.drep.is_little_endian());
    f.eq("rpc.auth_length", Level::Must, 0, h.auth_length);
    let Ok(Pdu::Response(_, r)) = Pdu::parse(pdu) else {
        return;
    };
    f.eq(
        "rpc.p_cont_id_echo",
        Level::Must,
        sent.p_cont_id,
        r.p_cont_id,
    );
    f.eq(
        "rpc.alloc_hint",
        Level::Should,
        r.stub.len() as u32,
        r.alloc_hint,
    );
    match ResponseStub::parse(&r.stub, sent.ndr) {
        Ok(
            s @ ResponseStub::Success {
                response_size,
                max_count,
                referent_id,
                return_value,
                ..
            },
        ) => {
            f.eq(
                "ndr.size_max_count",
                Level::Must,
                u64::from(response_size),
                max_count,
            );
            f.eq("ndr.referent_nonzero", Level::Must, true, referent_id != 0);
            f.eq("ndr.return_value_zero", Level::Must, 0, return_value);
            let valid = s.validate(sent.ndr);
            f.check(
                "ndr.response_form",
                Some("RPC-§8"),
                Level::Must,
                valid.is_ok(),
                "well-formed success stub",
                valid.err().map_or("ok".into(), |e| e.to_string()),
            );
        }
        Ok(s @ ResponseStub::Error { .. }) => {
            let valid = s.validate(sent.ndr);
            f.check(
                "ndr.error_form",
                Some("RPC-§8"),
                Level::Must,
                valid.is_ok(),
                "(0, NULL, HRESULT)",
                valid.err().map_or("ok".into(), |e| e.to_string()),
            );
        }
        Err(e) => f.check(
            "ndr.response_form",
            Some("RPC-§8"),
            Level::Must,
            false,
            "a decodable response stub",
            e.to_string(),
        ),
    }
}

/// §3.6 checks of a KMS response message against the request, plus ePID syntax and
/// interval bounds. Returns the decoded response when it decodes.
pub fn kms_response_checks(
    f: &mut Findings,
    request: &DecodedRequest,
    message: &[u8],
) -> Option<DecodedResponse> {
    let v = verify_response(request, message);
    // `request_versions_agree` judges the request we sent (some cases send disagreeing
    // versions on purpose), not the host.
    for c in v
        .checks
        .iter()
        .filter(|c| c.name != CheckName::RequestVersionsAgree)
    {
        let level = if c.name == CheckName::V6IvFresh {
            Level::Should
        } else {
            Level::Must
        };
        f.check(
            &format!("kms.{}", c.name),
            Some("KMS-§3.6"),
            level,
            c.passed,
            c.expected.clone(),
            c.observed.clone(),
        );
    }
    let resp = DecodedResponse::parse(message).ok()?;
    let text = resp.base.epid();
    for c in epid::validate(&text) {
        if c.name == CheckName::EpidSyntax || !v.checks.iter().any(|x| x.name == c.name) {
            f.check(
                &format!("epid.{}", c.name),
                Some("EPID-§4.6"),
                Level::Should,
                c.passed,
                c.expected,
                c.observed,
            );
        }
    }
    for (name, value) in [
        (
            "kms.activation_interval_range",
            resp.base.activation_interval,
        ),
        ("kms.renewal_interval_range", resp.base.renewal_interval),
    ] {
        f.check(
            name,
            Some("INT-OVERRIDE"),
            Level::Should,
            (15..=43_200).contains(&value),
            "15..=43200 minutes",
            value.to_string(),
        );
    }
    Some(resp)
}
