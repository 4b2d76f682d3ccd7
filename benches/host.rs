//! The embedded reference host: in-process handler cost (bind + V6 request) and exchanges per
//! second over loopback, on one kept-alive connection and with a new connection per request.

use divan::{black_box, Bencher};
use kmsspec::host::{HostClock, HostConnection, HostState};
use kmsspec::model::catalog::APP_WINDOWS;
use kmsspec::model::{HostConfig, Timestamp};
use kmsspec::target::{EmbeddedConfig, EmbeddedHost, Target};
use kmsspec::wire::kms::{
    encode_request, BaseRequest, LicenseStatus, ProtocolVersion, RequestParams,
};
use kmsspec::wire::rpc::{
    btfn, Bind, Common, ContextElement, NdrSyntax, Pdu, Request, RequestStub, KMS_INTERFACE, NDR32,
    NDR64,
};
use kmsspec::wire::FileTime;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    divan::main();
}

fn bind() -> Vec<u8> {
    Pdu::Bind(
        Common::new(2),
        Bind::new(vec![
            ContextElement::new(0, KMS_INTERFACE, NDR32),
            ContextElement::new(1, KMS_INTERFACE, NDR64),
            ContextElement::new(2, KMS_INTERFACE, btfn(3)),
        ]),
    )
    .encode()
}

fn v6_request(time: FileTime) -> Vec<u8> {
    let base = BaseRequest {
        version: ProtocolVersion::V6,
        is_vm_raw: 0,
        license_status: LicenseStatus::from_u32(2),
        grace_minutes: 43_200,
        application_id: APP_WINDOWS,
        sku_id: uuid::Uuid::nil(),
        kms_counted_id: uuid::uuid!("58e2134f-8e11-4d17-9cb2-91069c151148"),
        cmid: uuid::Uuid::from_u128(1),
        required_client_count: 25,
        request_time: time,
        previous_cmid: uuid::Uuid::nil(),
        workstation_raw: BaseRequest::workstation_field("bench").expect("name"),
    };
    let msg = encode_request(&base, &RequestParams::v6([7; 16])).expect("request");
    let stub = RequestStub::new(&msg).encode(NdrSyntax::Ndr32);
    Pdu::Request(
        Common::new(3),
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

fn state() -> HostState {
    HostState::new(
        HostConfig::default(),
        HostClock::Fixed(Timestamp(1_700_000_000)),
        1,
        None,
    )
    .expect("state")
}

#[divan::bench]
fn handler_bind_and_v6_request(b: Bencher) {
    let mut st = state();
    let mut input = bind();
    input.extend(v6_request(Timestamp(1_700_000_000).to_filetime()));
    let mut out = Vec::with_capacity(1024);
    b.bench_local(|| {
        out.clear();
        let mut conn = HostConnection::new(1688);
        conn.feed(&mut st, black_box(&input), &mut out);
        black_box(out.len())
    });
}

#[divan::bench]
fn handler_v6_request_bound(b: Bencher) {
    let mut st = state();
    let mut conn = HostConnection::new(1688);
    let mut out = Vec::with_capacity(1024);
    conn.feed(&mut st, &bind(), &mut out);
    let req = v6_request(Timestamp(1_700_000_000).to_filetime());
    b.bench_local(|| {
        out.clear();
        conn.feed(&mut st, black_box(&req), &mut out);
        black_box(out.len())
    });
}

fn read_pdu(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    s.read_exact(&mut buf[..16]).expect("header");
    let n = usize::from(u16::from_le_bytes([buf[8], buf[9]]));
    s.read_exact(&mut buf[16..n]).expect("body");
    n
}

#[divan::bench]
fn loopback_exchange_one_connection(b: Bencher) {
    let host = EmbeddedHost::start(EmbeddedConfig::default()).expect("host");
    let mut s = TcpStream::connect(host.addr()).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 8192];
    s.write_all(&bind()).expect("bind");
    read_pdu(&mut s, &mut buf);
    let req = v6_request(host.now());
    b.bench_local(|| {
        s.write_all(&req).expect("write");
        black_box(read_pdu(&mut s, &mut buf))
    });
}

#[divan::bench]
fn loopback_exchange_new_connection(b: Bencher) {
    let host = EmbeddedHost::start(EmbeddedConfig::default()).expect("host");
    let mut buf = vec![0u8; 8192];
    let mut both = bind();
    both.extend(v6_request(host.now()));
    b.bench_local(|| {
        let mut s = TcpStream::connect(host.addr()).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        s.write_all(&both).expect("write");
        read_pdu(&mut s, &mut buf);
        black_box(read_pdu(&mut s, &mut buf))
    });
}
