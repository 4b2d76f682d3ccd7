//! The embedded reference host over real loopback TCP: binding, V4/V5/V6 answers that pass
//! every client check, counting, refusals, faults, fragmentation, pipelining, slow clients,
//! garbage, idle timeout, reset and clock control; plus a fuzz-style property on the
//! sans-I/O handler.

use kmsspec::host::{Disposition, HostClock, HostConnection, HostState};
use kmsspec::model::catalog::APP_WINDOWS;
use kmsspec::model::{HostConfig, Timestamp};
use kmsspec::target::{Connection, EmbeddedConfig, EmbeddedHost, Received, Target};
use kmsspec::wire::kms::{
    encode_request, verify_response, BaseRequest, DecodedRequest, LicenseStatus, ProtocolVersion,
    RequestParams,
};
use kmsspec::wire::rpc::{
    btfn, Bind, Common, ContextElement, NdrSyntax, Pdu, PfcFlags, Request, RequestStub,
    ResponseStub, ResultKind, KMS_INTERFACE, NCA_S_OP_RNG_ERROR, NCA_S_UNK_IF, NDR32, NDR64,
};
use kmsspec::wire::FileTime;
use proptest::prelude::*;
use std::borrow::Cow;
use std::time::Duration;
use uuid::{uuid, Uuid};

const WIN10: Uuid = uuid!("58e2134f-8e11-4d17-9cb2-91069c151148");

fn base(cmid: Uuid, major: u16, time: FileTime) -> BaseRequest {
    BaseRequest {
        version: ProtocolVersion::new(major, 0),
        is_vm_raw: 0,
        license_status: LicenseStatus::from_u32(2),
        grace_minutes: 43_200,
        application_id: APP_WINDOWS,
        sku_id: Uuid::from_u128(0x1234),
        kms_counted_id: WIN10,
        cmid,
        required_client_count: 25,
        request_time: time,
        previous_cmid: Uuid::nil(),
        workstation_raw: BaseRequest::workstation_field("ws.example").unwrap(),
    }
}

fn kms_message(cmid: Uuid, major: u16, time: FileTime) -> Vec<u8> {
    let params = match major {
        4 => RequestParams::v4(),
        5 => RequestParams::v5([0x55; 16]),
        _ => RequestParams::v6([0x66; 16]),
    };
    encode_request(&base(cmid, major, time), &params).unwrap()
}

fn bind_pdu(call_id: u32) -> Vec<u8> {
    Pdu::Bind(
        Common::new(call_id),
        Bind::new(vec![
            ContextElement::new(0, KMS_INTERFACE, NDR32),
            ContextElement::new(1, KMS_INTERFACE, NDR64),
            ContextElement::new(2, KMS_INTERFACE, btfn(3)),
        ]),
    )
    .encode()
}

fn request_with(call_id: u32, ctx: u16, opnum: u16, flags: PfcFlags, stub: &[u8]) -> Vec<u8> {
    let mut c = Common::new(call_id);
    c.pfc_flags = flags;
    Pdu::Request(
        c,
        Request {
            alloc_hint: stub.len() as u32,
            p_cont_id: ctx,
            opnum,
            object: None,
            stub: Cow::Borrowed(stub),
        },
    )
    .encode()
}

fn request_pdu(call_id: u32, ctx: u16, syntax: NdrSyntax, msg: &[u8]) -> Vec<u8> {
    request_with(
        call_id,
        ctx,
        0,
        PfcFlags::SINGLE,
        &RequestStub::new(msg).encode(syntax),
    )
}

fn recv(conn: &mut Box<dyn Connection>) -> Pdu<'static> {
    match conn.recv().unwrap() {
        Received::Pdu(b) => Pdu::parse(&b).unwrap().into_owned(),
        other => panic!("expected a PDU, got {other:?}"),
    }
}

fn start() -> EmbeddedHost {
    EmbeddedHost::start(EmbeddedConfig::default()).unwrap()
}

fn bound(host: &EmbeddedHost) -> Box<dyn Connection> {
    let mut conn = host.connect().unwrap();
    conn.send(&bind_pdu(2)).unwrap();
    assert!(matches!(recv(&mut conn), Pdu::BindAck(..)));
    conn
}

/// Sends one request and returns the response stub's KMS message or HRESULT.
fn exchange(
    conn: &mut Box<dyn Connection>,
    call_id: u32,
    ctx: u16,
    syntax: NdrSyntax,
    msg: &[u8],
) -> Result<Vec<u8>, u32> {
    conn.send(&request_pdu(call_id, ctx, syntax, msg)).unwrap();
    stub_result(&recv(conn), call_id, ctx, syntax)
}

fn stub_result(pdu: &Pdu<'_>, call_id: u32, ctx: u16, syntax: NdrSyntax) -> Result<Vec<u8>, u32> {
    let Pdu::Response(c, r) = pdu else {
        panic!("expected a response, got {pdu:?}")
    };
    assert_eq!(c.call_id, call_id);
    assert_eq!(c.pfc_flags, PfcFlags::SINGLE);
    assert_eq!(r.p_cont_id, ctx);
    assert_eq!(r.alloc_hint as usize, r.stub.len());
    let stub = ResponseStub::parse(&r.stub, syntax).unwrap();
    stub.validate(syntax).unwrap();
    match stub.message() {
        Some(m) => Ok(m.to_vec()),
        None => Err(stub.return_value()),
    }
}

fn count_of(msg: &[u8]) -> u32 {
    kmsspec::wire::kms::parse_response(msg)
        .unwrap()
        .base
        .current_count
}

#[test]
fn bind_is_acknowledged_per_element() {
    let host = start();
    let mut conn = host.connect().unwrap();
    conn.send(&bind_pdu(7)).unwrap();
    let Pdu::BindAck(c, ack) = recv(&mut conn) else {
        panic!("no bind_ack")
    };
    assert_eq!(c.call_id, 7);
    assert_eq!(c.pfc_flags, PfcFlags::SINGLE);
    let kinds: Vec<_> = ack.results.iter().map(|r| (r.result, r.reason)).collect();
    assert_eq!(
        kinds,
        [
            (ResultKind::Acceptance, 0),
            (ResultKind::Acceptance, 0),
            (ResultKind::NegotiateAck, 3)
        ]
    );
    assert_eq!(ack.results[0].transfer_syntax, NDR32);
    assert_eq!(ack.results[1].transfer_syntax, NDR64);
    assert_eq!(ack.port(), Some(host.addr().port().to_string().as_str()));
    assert_ne!(ack.assoc_group_id, 0);
    assert_eq!((ack.max_xmit_frag, ack.max_recv_frag), (5840, 5840));
    // A second connection gets another association group.
    let mut other = host.connect().unwrap();
    other.send(&bind_pdu(2)).unwrap();
    let Pdu::BindAck(_, ack2) = recv(&mut other) else {
        panic!("no bind_ack")
    };
    assert_ne!(ack2.assoc_group_id, ack.assoc_group_id);
}

#[test]
fn v4_v5_v6_answers_pass_every_client_check() {
    let host = start();
    let mut conn = bound(&host);
    for (i, (major, ctx, syntax)) in [
        (4, 0, NdrSyntax::Ndr32),
        (5, 1, NdrSyntax::Ndr64),
        (6, 0, NdrSyntax::Ndr32),
        (6, 1, NdrSyntax::Ndr64),
    ]
    .into_iter()
    .enumerate()
    {
        let msg = kms_message(Uuid::from_u128(100 + i as u128), major, host.now());
        let call_id = 3 + i as u32;
        let answer = exchange(&mut conn, call_id, ctx, syntax, &msg).unwrap();
        let req = DecodedRequest::parse(&msg).unwrap();
        let v = verify_response(&req, &answer);
        assert!(
            v.all_passed(),
            "V{major}: {:?}",
            v.failures().collect::<Vec<_>>()
        );
        assert_eq!(count_of(&answer), i as u32 + 1);
    }
}

#[test]
fn count_rises_with_distinct_cmids_only() {
    let host = start();
    let mut conn = bound(&host);
    let mut counts = Vec::new();
    for (i, cmid) in [1u128, 2, 3, 2, 1, 4].into_iter().enumerate() {
        let msg = kms_message(Uuid::from_u128(cmid), 6, host.now());
        let answer = exchange(&mut conn, 10 + i as u32, 0, NdrSyntax::Ndr32, &msg).unwrap();
        counts.push(count_of(&answer));
    }
    assert_eq!(counts, [1, 2, 3, 3, 3, 4]);
}

#[test]
fn unknown_version_gets_invalid_data() {
    let host = start();
    let mut conn = bound(&host);
    let mut msg = kms_message(Uuid::from_u128(9), 6, host.now());
    msg[2] = 7; // outer major 7
    assert_eq!(
        exchange(&mut conn, 3, 0, NdrSyntax::Ndr32, &msg),
        Err(0x8007_000D)
    );
    // Truncated message and inconsistent NDR sizes: the same HRESULT, connection kept.
    let short = &kms_message(Uuid::from_u128(9), 6, host.now())[..250];
    assert_eq!(
        exchange(&mut conn, 4, 1, NdrSyntax::Ndr64, short),
        Err(0x8007_000D)
    );
    let good = kms_message(Uuid::from_u128(9), 6, host.now());
    let mut stub = RequestStub::new(&good);
    stub.declared_size += 1;
    conn.send(&request_with(
        5,
        0,
        0,
        PfcFlags::SINGLE,
        &stub.encode(NdrSyntax::Ndr32),
    ))
    .unwrap();
    assert_eq!(
        stub_result(&recv(&mut conn), 5, 0, NdrSyntax::Ndr32),
        Err(0x8007_000D)
    );
    assert!(exchange(&mut conn, 6, 0, NdrSyntax::Ndr32, &good).is_ok());
}

fn expect_fault(pdu: Pdu<'_>, call_id: u32, ctx: u16, status: u32) {
    let Pdu::Fault(c, f) = pdu else {
        panic!("expected a fault, got {pdu:?}")
    };
    assert_eq!(c.call_id, call_id);
    assert_eq!(c.pfc_flags.bits(), 0x23);
    assert_eq!((f.p_cont_id, f.status), (ctx, status));
}

#[test]
fn unknown_context_and_bad_opnum_fault() {
    let host = start();
    let mut conn = host.connect().unwrap();
    let msg = kms_message(Uuid::from_u128(1), 6, host.now());
    // Before any bind.
    conn.send(&request_pdu(2, 0, NdrSyntax::Ndr32, &msg))
        .unwrap();
    expect_fault(recv(&mut conn), 2, 0, NCA_S_UNK_IF);
    conn.send(&bind_pdu(3)).unwrap();
    recv(&mut conn);
    // The BTFN context id was never accepted.
    conn.send(&request_pdu(4, 2, NdrSyntax::Ndr32, &msg))
        .unwrap();
    expect_fault(recv(&mut conn), 4, 2, NCA_S_UNK_IF);
    let stub = RequestStub::new(&msg).encode(NdrSyntax::Ndr32);
    conn.send(&request_with(5, 0, 5, PfcFlags::SINGLE, &stub))
        .unwrap();
    expect_fault(recv(&mut conn), 5, 0, NCA_S_OP_RNG_ERROR);
    // Still serving.
    assert!(exchange(&mut conn, 6, 0, NdrSyntax::Ndr32, &msg).is_ok());
}

#[test]
fn three_fragment_request_is_answered() {
    let host = start();
    let mut conn = bound(&host);
    let msg = kms_message(Uuid::from_u128(1), 6, host.now());
    let stub = RequestStub::new(&msg).encode(NdrSyntax::Ndr64);
    let (a, rest) = stub.split_at(100);
    let (b, c) = rest.split_at(100);
    let mut bytes = request_with(8, 1, 0, PfcFlags::FIRST_FRAG, a);
    bytes.extend(request_with(8, 1, 0, PfcFlags(0), b));
    bytes.extend(request_with(8, 1, 0, PfcFlags::LAST_FRAG, c));
    conn.send(&bytes).unwrap();
    let answer = stub_result(&recv(&mut conn), 8, 1, NdrSyntax::Ndr64).unwrap();
    assert!(verify_response(&DecodedRequest::parse(&msg).unwrap(), &answer).all_passed());
}

#[test]
fn pipelined_and_byte_at_a_time_requests_are_answered() {
    let host = start();
    let mut conn = host.connect().unwrap();
    let m1 = kms_message(Uuid::from_u128(1), 6, host.now());
    let m2 = kms_message(Uuid::from_u128(2), 5, host.now());
    let mut bytes = bind_pdu(2);
    bytes.extend(request_pdu(3, 0, NdrSyntax::Ndr32, &m1));
    bytes.extend(request_pdu(4, 1, NdrSyntax::Ndr64, &m2));
    conn.send(&bytes).unwrap();
    assert!(matches!(recv(&mut conn), Pdu::BindAck(..)));
    assert_eq!(
        count_of(&stub_result(&recv(&mut conn), 3, 0, NdrSyntax::Ndr32).unwrap()),
        1
    );
    assert_eq!(
        count_of(&stub_result(&recv(&mut conn), 4, 1, NdrSyntax::Ndr64).unwrap()),
        2
    );
    let m3 = kms_message(Uuid::from_u128(3), 4, host.now());
    conn.send_chunked(&request_pdu(5, 0, NdrSyntax::Ndr32, &m3), 1, Duration::ZERO)
        .unwrap();
    assert_eq!(
        count_of(&stub_result(&recv(&mut conn), 5, 0, NdrSyntax::Ndr32).unwrap()),
        3
    );
}

#[test]
fn garbage_closes_only_that_connection() {
    let host = start();
    let mut conn = host.connect().unwrap();
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(matches!(
        conn.recv().unwrap(),
        Received::Closed | Received::Reset
    ));
    let mut fresh = bound(&host);
    let msg = kms_message(Uuid::from_u128(1), 6, host.now());
    assert!(exchange(&mut fresh, 3, 0, NdrSyntax::Ndr32, &msg).is_ok());
}

#[test]
fn idle_connection_is_closed() {
    let host = EmbeddedHost::start(EmbeddedConfig {
        idle_timeout: Duration::from_millis(200),
        ..EmbeddedConfig::default()
    })
    .unwrap();
    let mut conn = bound(&host);
    std::thread::sleep(Duration::from_millis(500));
    assert!(matches!(
        conn.recv_within(Duration::from_secs(2)).unwrap(),
        Received::Closed | Received::Reset
    ));
    assert_eq!(host.active_connections(), 0);
}

#[test]
fn reset_empties_tables_and_clock_expires_cmids() {
    let host = start();
    assert!(host.facts().resettable && host.facts().clock_control);
    let mut conn = bound(&host);
    let msg = kms_message(Uuid::from_u128(1), 6, host.now());
    exchange(&mut conn, 3, 0, NdrSyntax::Ndr32, &msg).unwrap();
    let now = Timestamp::from_filetime(host.now());
    assert_eq!(host.state().model().count(&APP_WINDOWS, now), 1);
    host.reset().unwrap();
    assert_eq!(host.state().model().count(&APP_WINDOWS, now), 0);

    let a = kms_message(Uuid::from_u128(10), 6, host.now());
    assert_eq!(
        count_of(&exchange(&mut conn, 4, 0, NdrSyntax::Ndr32, &a).unwrap()),
        1
    );
    let before = host.now();
    host.advance_clock(Duration::from_secs(31 * 86_400))
        .unwrap();
    assert!(host.now().0 >= before.0 + 31 * 86_400 * 10_000_000);
    let b = kms_message(Uuid::from_u128(11), 6, host.now());
    assert_eq!(
        count_of(&exchange(&mut conn, 5, 0, NdrSyntax::Ndr32, &b).unwrap()),
        1,
        "the first CMID expired after 31 days"
    );
}

fn in_process_state() -> HostState {
    HostState::new(
        HostConfig::default(),
        HostClock::Fixed(Timestamp(1_700_000_000)),
        1,
        None,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Random bytes in random chunks (sometimes after a valid bind): never panics, the output
    /// stays proportional to the input, the buffer stays bounded, and nothing is answered
    /// after a close.
    #[test]
    fn handler_survives_random_chunks(
        prefix in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(1usize..512, 1..16),
    ) {
        let mut state = in_process_state();
        let mut conn = HostConnection::new(1688);
        let mut input = if prefix { bind_pdu(2) } else { Vec::new() };
        input.extend_from_slice(&data);
        let mut out = Vec::new();
        let mut rest = &input[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            let before = out.len();
            let d = conn.feed(&mut state, chunk, &mut out);
            prop_assert!(conn.buffered() <= 5840 + 64 * 1024 + 512);
            if d == Disposition::Close {
                let closed_len = out.len();
                conn.feed(&mut state, tail, &mut out);
                prop_assert_eq!(out.len(), closed_len);
                prop_assert!(out.len() >= before);
                break;
            }
            rest = tail;
            i += 1;
        }
        prop_assert!(out.len() <= 4 * input.len() + 512);
    }
}
