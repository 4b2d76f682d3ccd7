//! Property tests over random event sequences and clocks: the model's invariants.

use kmsspec::model::catalog::APP_WINDOWS;
use kmsspec::model::*;
use proptest::prelude::*;
use uuid::{uuid, Uuid};

const KMS: [Uuid; 3] = [
    uuid!("58e2134f-8e11-4d17-9cb2-91069c151148"), // Windows 10 (N 25)
    uuid!("8449b1fb-f0ea-497a-99ab-66ca96e9a0f5"), // Server 2019 (N 5)
    uuid!("7fde5219-fbfa-484a-82c9-34d1ad53e856"), // Windows 7 (N 25)
];
const T0: i64 = 1_704_067_200;

#[derive(Debug, Clone)]
struct Event {
    cmid: u8,
    kms: usize,
    advance: i64,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (
            0u8..80,
            0usize..3,
            prop_oneof![0i64..3600, 0i64..(40 * 86_400)],
        )
            .prop_map(|(cmid, kms, advance)| Event { cmid, kms, advance }),
        1..120,
    )
}

fn run(evs: &[Event]) -> Vec<Decision> {
    let mut h = KmsHost::new(HostConfig::default()).unwrap();
    let mut t = Timestamp(T0);
    evs.iter()
        .map(|e| {
            t = t.plus(e.advance);
            h.handle(
                &ActivationRequest::genuine(KMS[e.kms], Uuid::from_u128(e.cmid.into()), t),
                t,
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn count_never_exceeds_cache_and_cache_never_shrinks(evs in events()) {
        let mut h = KmsHost::new(HostConfig::default()).unwrap();
        let mut t = Timestamp(T0);
        let mut cache = 0;
        for e in &evs {
            t = t.plus(e.advance);
            let d = h.handle(&ActivationRequest::genuine(KMS[e.kms], Uuid::from_u128(e.cmid.into()), t), t);
            let c = d.answer().unwrap().current_count;
            let now_cache = h.cache_size(&APP_WINDOWS);
            prop_assert!(c <= now_cache);
            prop_assert!(now_cache >= cache);
            cache = now_cache;
        }
    }

    #[test]
    fn count_never_rises_on_repeated_cmid_and_falls_only_by_expiry(evs in events()) {
        let mut h = KmsHost::new(HostConfig::default()).unwrap();
        let mut t = Timestamp(T0);
        let mut prev: Option<u32> = None;
        for e in &evs {
            t = t.plus(e.advance);
            let id = Uuid::from_u128(e.cmid.into());
            let was_live = h.table(&APP_WINDOWS).unwrap().contains(&id, t);
            let before = h.count(&APP_WINDOWS, t); // expiries up to t already applied
            let d = h.handle(&ActivationRequest::genuine(KMS[e.kms], id, t), t);
            let c = d.answer().unwrap().current_count;
            if was_live {
                prop_assert_eq!(c, before, "repeated CMID changed the count");
            }
            prop_assert!(c >= before, "count fell without expiry");
            if let Some(p) = prev {
                if c < p {
                    prop_assert!(d.rules.contains(&rules::CNT_EXPIRY_30D) || before < p);
                }
            }
            prev = Some(c);
        }
    }

    #[test]
    fn client_never_activates_below_threshold(count in 0u32..60, n in 1u32..60, t in any::<i32>()) {
        let now = Timestamp(i64::from(t));
        let mut c = KmsClient::new(n, now);
        let r = HostResponse { hresult: 0, current_count: count, activation_interval: 120, renewal_interval: 10_080 };
        let o = c.on_response(&r, now);
        prop_assert_eq!(o.activated, count >= n);
        if count < n { prop_assert_eq!(o.hresult, decision::HR_NOT_ENOUGH_COUNT); }
    }

    #[test]
    fn mak_budget_never_negative_and_falls_by_one(budget in 0u64..20, reqs in prop::collection::vec(1usize..4, 0..30)) {
        let sku = Catalog::get().sku_by_name("Windows 7 Enterprise").unwrap().id;
        let mut s = ActivationService::new();
        let k = s.add_mak(KMS[2], budget);
        for n in reqs {
            let before = s.mak_remaining(k).unwrap();
            let ms: Vec<Machine> = (0..n).map(|i| Machine { id: Uuid::from_u128(i as u128), sku, is_vm: i % 2 == 0, was_kms_client: false }).collect();
            match s.activate_proxy(k, &ms) {
                Ok(r) => prop_assert_eq!(r.remaining, before - n as u64),
                Err(e) => { prop_assert_eq!(e, ServiceError::MakLimit); prop_assert_eq!(s.mak_remaining(k).unwrap(), before); }
            }
        }
    }

    #[test]
    fn replay_gives_same_decisions(evs in events()) {
        prop_assert_eq!(run(&evs), run(&evs));
    }

    #[test]
    fn random_clocks_never_panic(times in prop::collection::vec(any::<i64>(), 1..40), skew in any::<i64>()) {
        let mut h = KmsHost::new(HostConfig::default()).unwrap();
        for (i, t) in times.iter().enumerate() {
            let mut r = ActivationRequest::genuine(KMS[i % 3], Uuid::from_u128(i as u128), Timestamp(*t));
            r.client_time = Timestamp(t.saturating_add(skew));
            let _ = h.handle(&r, Timestamp(*t));
        }
        prop_assert!(h.count(&APP_WINDOWS, Timestamp(i64::MAX)) <= h.cache_size(&APP_WINDOWS));
    }
}
