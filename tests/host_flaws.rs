//! The mutants have teeth: one scripted session against the in-process handler, judged by
//! conformance properties. The reference host violates none; every flaw violates the
//! property it was built to break.

use kmsspec::host::{Disposition, HostClock, HostConnection, HostFlaw, HostState};
use kmsspec::model::catalog::APP_WINDOWS;
use kmsspec::model::{HostConfig, Timestamp};
use kmsspec::wire::kms::{
    encode_request, parse_response, verify_response, BaseRequest, DecodedRequest, Epid,
    LicenseStatus, ProtocolVersion, RequestParams,
};
use kmsspec::wire::rpc::{
    btfn, Bind, Common, ContextElement, NdrSyntax, Pdu, PfcFlags, Request, RequestStub,
    ResponseStub, ResultKind, KMS_INTERFACE, NDR32, NDR64,
};
use std::borrow::Cow;
use uuid::{uuid, Uuid};

const WIN10: Uuid = uuid!("58e2134f-8e11-4d17-9cb2-91069c151148");
const T0: i64 = 1_700_000_000;

fn message(app: Uuid, kms: Uuid, cmid: Uuid, time: Timestamp) -> Vec<u8> {
    let base = BaseRequest {
        version: ProtocolVersion::V6,
        is_vm_raw: 0,
        license_status: LicenseStatus::from_u32(2),
        grace_minutes: 43_200,
        application_id: app,
        sku_id: Uuid::nil(),
        kms_counted_id: kms,
        cmid,
        required_client_count: 25,
        request_time: time.to_filetime(),
        previous_cmid: Uuid::nil(),
        workstation_raw: BaseRequest::workstation_field("ws").unwrap(),
    };
    encode_request(&base, &RequestParams::v6([0x42; 16])).unwrap()
}

fn request(call_id: u32, msg: &[u8]) -> Vec<u8> {
    request_with_flags(call_id, msg, PfcFlags::SINGLE)
}

fn request_with_flags(call_id: u32, msg: &[u8], flags: PfcFlags) -> Vec<u8> {
    let stub = RequestStub::new(msg).encode(NdrSyntax::Ndr32);
    let mut common = Common::new(call_id);
    common.pfc_flags = flags;
    Pdu::Request(
        common,
        Request {
            alloc_hint: stub.len() as u32,
            p_cont_id: 0,
            opnum: 0,
            object: None,
            stub: Cow::Owned(stub),
        },
    )
    .encode()
}

struct Session {
    state: HostState,
    conn: HostConnection,
    open: bool,
}

impl Session {
    /// Feeds one PDU; returns the reply PDU, if any.
    fn send(&mut self, bytes: &[u8]) -> Option<Pdu<'static>> {
        if !self.open {
            return None;
        }
        let mut out = Vec::new();
        if self.conn.feed(&mut self.state, bytes, &mut out) == Disposition::Close {
            self.open = false;
        }
        (!out.is_empty()).then(|| Pdu::parse(&out).unwrap().into_owned())
    }
}

fn check(v: &mut Vec<&'static str>, ok: bool, name: &'static str) {
    if !ok {
        v.push(name)
    }
}

/// Names of the conformance properties the host breaks in a fixed session.
fn violations(flaw: Option<HostFlaw>) -> Vec<&'static str> {
    let state = HostState::new(
        HostConfig::default(),
        HostClock::Fixed(Timestamp(T0)),
        9,
        flaw,
    )
    .unwrap();
    let mut s = Session {
        state,
        conn: HostConnection::new(1688),
        open: true,
    };
    let mut v = Vec::new();

    // A request before any bind: fault nca_s_unk_if (or a close), never an answer.
    let early = message(APP_WINDOWS, WIN10, Uuid::from_u128(1), Timestamp(T0));
    match s.send(&request(1, &early)) {
        Some(Pdu::Fault(..)) | None => {}
        Some(_) => check(&mut v, false, "request-before-bind"),
    }
    s.open = true;

    let bind = Pdu::Bind(
        Common::new(2),
        Bind::new(vec![
            ContextElement::new(0, KMS_INTERFACE, NDR32),
            ContextElement::new(1, KMS_INTERFACE, NDR64),
            ContextElement::new(2, KMS_INTERFACE, btfn(3)),
        ]),
    )
    .encode();
    match s.send(&bind) {
        Some(Pdu::BindAck(_, a)) => {
            check(
                &mut v,
                a.results[1].result == ResultKind::Acceptance,
                "ndr64",
            );
            check(
                &mut v,
                a.results[2].result == ResultKind::NegotiateAck,
                "btfn",
            );
        }
        _ => check(&mut v, false, "bind"),
    }

    // A V6 answer, judged field by field. Returns (count, epid).
    fn ask(
        s: &mut Session,
        call_id: u32,
        msg: &[u8],
        v: &mut Vec<&'static str>,
    ) -> Option<Result<(u32, String), u32>> {
        let reply = s.send(&request(call_id, msg));
        let mut c = |ok: bool, name: &'static str| {
            if !ok {
                v.push(name)
            }
        };
        let Some(Pdu::Response(h, r)) = reply else {
            c(false, "answered");
            return None;
        };
        c(h.call_id == call_id, "call-id");
        c(!h.pfc_flags.contains(PfcFlags::CONC_MPX), "no-conc-mpx");
        c(r.alloc_hint as usize == r.stub.len(), "alloc-hint");
        c(s.open, "keep-alive");
        let stub = ResponseStub::parse(&r.stub, NdrSyntax::Ndr32).unwrap();
        let Some(m) = stub.message() else {
            return Some(Err(stub.return_value()));
        };
        let req = DecodedRequest::parse(msg).unwrap();
        c(verify_response(&req, m).all_passed(), "client-checks");
        let resp = parse_response(m).unwrap();
        c(
            (15..=43_200).contains(&resp.base.activation_interval),
            "intervals",
        );
        c(Epid::parse(&resp.base.epid()).is_ok(), "epid-syntax");
        Some(Ok((resp.base.current_count, resp.base.epid())))
    }

    let t = Timestamp(T0);
    let a = message(APP_WINDOWS, WIN10, Uuid::from_u128(1), t);

    let first = ask(&mut s, 3, &a, &mut v);
    let second = ask(&mut s, 4, &a, &mut v);
    match (&first, &second) {
        (Some(Ok((c1, e1))), Some(Ok((c2, e2)))) => {
            check(&mut v, *c1 == 1, "count");
            check(&mut v, *c2 == 1, "repeat-count");
            check(&mut v, e1 == e2, "epid-stable");
        }
        _ => check(&mut v, false, "answers"),
    }
    let mut unknown = message(APP_WINDOWS, WIN10, Uuid::from_u128(1), t);
    unknown[2] = 9;
    let r = ask(&mut s, 5, &unknown, &mut v);
    check(
        &mut v,
        matches!(r, Some(Err(0x8007_000D))),
        "unknown-version",
    );
    let r = ask(&mut s, 6, &a[..200], &mut v);
    check(&mut v, matches!(r, Some(Err(0x8007_000D))), "truncated");
    let foreign = message(
        Uuid::from_u128(77),
        Uuid::from_u128(78),
        Uuid::from_u128(2),
        t,
    );
    let r = ask(&mut s, 7, &foreign, &mut v);
    check(&mut v, matches!(r, Some(Err(0xC004_F042))), "hierarchy");
    s.state.advance_clock(31 * 86_400);
    let later = message(APP_WINDOWS, WIN10, Uuid::from_u128(3), t.plus(31 * 86_400));
    let r = ask(&mut s, 8, &later, &mut v);
    check(&mut v, matches!(r, Some(Ok((1, _)))), "expiry");
    // On a new connection: response headers are built fresh, whatever the request's flags
    // (here PENDING_CANCEL).
    s.conn = HostConnection::new(1688);
    s.open = true;
    s.send(&bind);
    let flagged = request_with_flags(9, &later, PfcFlags(0x07));
    match s.send(&flagged) {
        Some(Pdu::Response(h, _)) => check(&mut v, h.pfc_flags == PfcFlags::SINGLE, "fresh-header"),
        _ => check(&mut v, false, "fresh-header"),
    }
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn reference_host_breaks_nothing() {
    assert_eq!(violations(None), Vec::<&str>::new());
}

#[test]
fn every_flaw_breaks_its_property() {
    use HostFlaw::*;
    let expected: [(HostFlaw, &str); 24] = [
        (FixedCount(50), "count"),
        (CountsRepeatedCmids, "repeat-count"),
        (IgnoresHierarchy, "hierarchy"),
        (WrongCmidEcho, "client-checks"),
        (V5IvRuleInV6, "client-checks"),
        (HmacWrongSlot, "client-checks"),
        (DropsOnUnknownVersion, "unknown-version"),
        (ClosesAfterEveryAnswer, "keep-alive"),
        (HangsOnTruncatedRequest, "truncated"),
        (WrongCallId, "call-id"),
        (NeverExpiresCmids, "expiry"),
        (WrongTimeEcho, "client-checks"),
        (ChangesEpidEveryRequest, "epid-stable"),
        (BadEpidSyntax, "epid-syntax"),
        (SetsConcMpxOnResponse, "no-conc-mpx"),
        (WrongAllocHint, "alloc-hint"),
        (RejectsNdr64, "ndr64"),
        (IntervalsOutOfRange, "intervals"),
        (NoBtfnAck, "btfn"),
        (IgnoresThreshold, "count"),
        (FixedCountTwiceN, "count"),
        (RandomEpidPerRequest, "epid-stable"),
        (AnswersWithoutBind, "request-before-bind"),
        (EchoesRequestHeader, "fresh-header"),
    ];
    assert_eq!(expected.len(), HostFlaw::ALL.len());
    for (flaw, property) in expected {
        let v = violations(Some(flaw));
        assert!(
            v.contains(&property),
            "{}: expected to break {property}, broke {v:?}",
            flaw.name()
        );
    }
}
