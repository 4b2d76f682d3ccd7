//! Deterministic multi-day scenarios with a fake clock (no sleeping).

use kmsspec::model::catalog::APP_WINDOWS;
use kmsspec::model::time::{DAY, HOUR};
use kmsspec::model::*;
use uuid::{uuid, Uuid};

const WIN10: Uuid = uuid!("58e2134f-8e11-4d17-9cb2-91069c151148");
const T0: Timestamp = Timestamp(1_704_067_200);

fn answer_to(client: &mut KmsClient, d: &Decision, now: Timestamp) -> ClientOutcome {
    let r = match d.answer() {
        Some(a) => HostResponse {
            hresult: 0,
            current_count: a.current_count,
            activation_interval: a.activation_interval,
            renewal_interval: a.renewal_interval,
        },
        None => HostResponse {
            hresult: d.hresult(),
            current_count: 0,
            activation_interval: 0,
            renewal_interval: 0,
        },
    };
    client.on_response(&r, now)
}

/// 25 clients arrive over a week; each retries every 2 h until activated and renews every 7
/// days; client 0 stops renewing after day 7 and the count falls 30 days after its last contact.
#[test]
fn twenty_five_clients_over_a_week_then_one_stops_renewing() {
    let mut host = KmsHost::new(HostConfig::default()).unwrap();
    let ids: Vec<Uuid> = (0..25u128).map(|i| Uuid::from_u128(0xAB00 + i)).collect();
    let arrive: Vec<Timestamp> = (0..25).map(|i| T0.plus(i * 7 * DAY / 25)).collect();
    let mut clients: Vec<Option<(KmsClient, Timestamp)>> = vec![None; 25];
    let mut activated_at = vec![None; 25];
    let mut t = T0;
    let end = T0.plus(36 * DAY); // stop before client 0 expires (host time never runs back)
    let mut last_contact_0 = T0;
    while t <= end {
        for i in 0..25 {
            if clients[i].is_none() && t >= arrive[i] {
                clients[i] = Some((KmsClient::new(25, t), t));
            }
            let Some((c, next)) = clients[i].as_mut() else {
                continue;
            };
            if t < *next || (i == 0 && t > T0.plus(7 * DAY)) {
                continue;
            }
            let d = host.handle(&ActivationRequest::genuine(WIN10, ids[i], t), t);
            let o = answer_to(c, &d, t);
            if i == 0 {
                last_contact_0 = t;
            }
            if o.activated && activated_at[i].is_none() {
                activated_at[i] = Some(t);
            }
            *next = c.next_contact(t);
        }
        t = t.plus(HOUR);
    }
    // Nobody activates before the 25th client arrives; everyone does within 2 h after.
    let last = arrive[24];
    for (i, a) in activated_at.iter().enumerate() {
        let a = a.unwrap_or_else(|| panic!("client {i} never activated"));
        assert!(
            a >= last && a <= last.plus(3 * HOUR),
            "client {i} activated at {a:?}"
        );
    }
    // The count falls to 24 exactly 30 days after client 0's last contact.
    let gone = last_contact_0.plus(30 * DAY);
    assert_eq!(host.count(&APP_WINDOWS, gone.plus(-1)), 25);
    assert_eq!(host.count(&APP_WINDOWS, gone), 24);
    // A fresh client now sees 25 again and activates; a 26th distinct client sees 26.
    let d = host.handle(
        &ActivationRequest::genuine(WIN10, Uuid::from_u128(1), gone),
        gone,
    );
    assert_eq!(d.answer().unwrap().current_count, 25);
    assert!(d.answer().unwrap().client_activates);
}

/// A server-only host (cache 10) grows to 50 when the first client OS asks; counts from server
/// and client requests combine in the Windows table.
#[test]
fn server_only_host_grows_cache_when_a_client_arrives() {
    let s2019 = uuid!("8449b1fb-f0ea-497a-99ab-66ca96e9a0f5");
    let mut host = KmsHost::new(HostConfig::default()).unwrap();
    let mut t = T0;
    for i in 0..12u128 {
        host.handle(&ActivationRequest::genuine(s2019, Uuid::from_u128(i), t), t);
        t = t.plus(DAY);
    }
    assert_eq!(
        (host.cache_size(&APP_WINDOWS), host.count(&APP_WINDOWS, t)),
        (10, 10)
    );
    let d = host.handle(
        &ActivationRequest::genuine(WIN10, Uuid::from_u128(100), t),
        t,
    );
    assert_eq!(host.cache_size(&APP_WINDOWS), 50);
    assert_eq!(d.answer().unwrap().current_count, 11);
    // 31 days of silence: everything expires, the cache stays 50.
    let later = t.plus(31 * DAY);
    assert_eq!(host.count(&APP_WINDOWS, later), 0);
    assert_eq!(host.cache_size(&APP_WINDOWS), 50);
}

/// An activated client that cannot reach the host for 180 days drops to out-of-tolerance grace,
/// then to notification 30 days later.
#[test]
fn client_lapses_after_180_days_without_renewal() {
    let mut c = KmsClient::new(5, T0);
    let r = HostResponse {
        hresult: 0,
        current_count: 5,
        activation_interval: 120,
        renewal_interval: 10_080,
    };
    assert!(c.on_response(&r, T0).activated);
    let mut t = T0;
    while t < T0.plus(180 * DAY) {
        t = c.next_contact(t);
        c.on_no_response(t);
    }
    assert!(matches!(
        c.state(T0.plus(180 * DAY)),
        LicenseState::OutOfTolerance { .. }
    ));
    assert_eq!(c.state(T0.plus(210 * DAY)), LicenseState::Notification);
}
