//! Exchanges per second over loopback against the embedded host: one connection reused, four
//! connections on four threads, and a new connection (bind + request) per exchange.

use kmsspec::client::{
    bind_pdu, classify, context_element, Answer, EncodedRequest, RequestSpec, SplitMix64,
};
use kmsspec::target::{Connection, EmbeddedConfig, EmbeddedHost, Target};
use kmsspec::wire::rpc::{NdrSyntax, PfcFlags};

fn main() {
    divan::main();
}

fn host() -> EmbeddedHost {
    EmbeddedHost::start(EmbeddedConfig::default()).expect("embedded host")
}

fn bound(h: &EmbeddedHost) -> Box<dyn Connection> {
    let mut c = h.connect().expect("connect");
    let ctx = context_element("ndr32", 0).expect("ctx");
    c.send(&bind_pdu(1, vec![ctx], PfcFlags::SINGLE, false))
        .expect("bind");
    assert!(matches!(
        classify(c.recv().expect("ack"), NdrSyntax::Ndr32),
        Answer::BindAck { .. }
    ));
    c
}

fn exchange(h: &EmbeddedHost, c: &mut dyn Connection, rng: &mut SplitMix64) {
    let spec = RequestSpec::for_product("Windows Server 2019 Datacenter", rng.uuid(), h.now())
        .expect("spec");
    let req = EncodedRequest::build(&spec, rng, NdrSyntax::Ndr32, 2, 0, 0).expect("req");
    c.send(&req.pdu).expect("send");
    let a = classify(c.recv().expect("recv"), NdrSyntax::Ndr32);
    assert!(matches!(a, Answer::Success { .. }), "{a:?}");
}

#[divan::bench(sample_count = 20, sample_size = 50)]
fn one_connection(b: divan::Bencher) {
    let h = host();
    let mut c = bound(&h);
    let mut rng = SplitMix64::new(1);
    b.bench_local(|| exchange(&h, c.as_mut(), &mut rng));
}

#[divan::bench(sample_count = 10, sample_size = 5)]
fn four_connections_x50(b: divan::Bencher) {
    let h = host();
    b.bench_local(|| {
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let h = &h;
                s.spawn(move || {
                    let mut c = bound(h);
                    let mut rng = SplitMix64::new(t);
                    for _ in 0..50 {
                        exchange(h, c.as_mut(), &mut rng);
                    }
                });
            }
        })
    });
}

#[divan::bench(sample_count = 20, sample_size = 20)]
fn new_connection_per_exchange(b: divan::Bencher) {
    let h = host();
    let mut rng = SplitMix64::new(2);
    b.bench_local(|| {
        let mut c = bound(&h);
        exchange(&h, c.as_mut(), &mut rng);
        c.close();
    });
}
