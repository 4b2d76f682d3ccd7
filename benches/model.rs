//! `KmsHost::handle` throughput with a populated table (decisions per second).

use divan::{black_box, Bencher};
use kmsspec::model::{ActivationRequest, HostConfig, KmsHost, Timestamp};
use uuid::{uuid, Uuid};

const WIN10: Uuid = uuid!("58e2134f-8e11-4d17-9cb2-91069c151148");

fn main() {
    divan::main();
}

/// Renewals and new clients against a host already holding 50 live CMIDs.
#[divan::bench(args = [50, 1000])]
fn handle_populated(bencher: Bencher, distinct: u128) {
    let mut host = KmsHost::new(HostConfig::default()).expect("default config");
    let t0 = Timestamp(1_704_067_200);
    for i in 0..50u128 {
        host.handle(
            &ActivationRequest::genuine(WIN10, Uuid::from_u128(i), t0),
            t0,
        );
    }
    let reqs: Vec<ActivationRequest> = (0..distinct)
        .map(|i| ActivationRequest::genuine(WIN10, Uuid::from_u128(i), t0))
        .collect();
    let mut i = 0usize;
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| {
            i = (i + 1) % reqs.len();
            let now = t0.plus(i as i64);
            black_box(host.handle(black_box(&reqs[i]), now))
        });
}
