//! One test per model rule, named after it, with its source in a comment.
#![allow(clippy::field_reassign_with_default)]

use kmsspec::model::catalog::{APP_OFFICE_2013, APP_WINDOWS};
use kmsspec::model::decision::*;
use kmsspec::model::time::{DAY, HOUR};
use kmsspec::model::*;
use uuid::{uuid, Uuid};

const WIN10: Uuid = uuid!("58e2134f-8e11-4d17-9cb2-91069c151148");
const WIN7: Uuid = uuid!("7fde5219-fbfa-484a-82c9-34d1ad53e856");
const VISTA: Uuid = uuid!("212a64dc-43b1-4d3d-a30c-2fc69d2095c6");
const S2019: Uuid = uuid!("8449b1fb-f0ea-497a-99ab-66ca96e9a0f5");
const S2008R2_A: Uuid = uuid!("0fc6ccaf-ff0e-4fae-9d08-4370785bf7ed");
const S2008R2_B: Uuid = uuid!("ca87f5b6-cd46-40c0-b06d-8ecd57a4373f");
const S2008R2_C: Uuid = uuid!("b2ca2689-a9a8-42d7-938d-cf8e9f201958");
const S2008_A: Uuid = uuid!("33e156e4-b76f-4a52-9f91-f641dd95ac48");
const S2008_C: Uuid = uuid!("8a21fdf3-cbc5-44eb-83f3-fe284e6680a7");
const OFFICE2019: Uuid = uuid!("617d9eb1-ef36-4f82-86e0-a65ae07b96c6");
const T0: Timestamp = Timestamp(1_704_067_200); // 2024-01-01

fn cmid(i: u32) -> Uuid {
    Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 | u128::from(i))
}

fn host() -> KmsHost {
    KmsHost::new(HostConfig::default()).unwrap()
}

fn host_with(key: &str, profile: Profile) -> KmsHost {
    let mut cfg = HostConfig::default();
    cfg.profile = profile;
    cfg.keys = vec![InstalledKey {
        host_key: key.into(),
        epid: "x".into(),
        hwid: [0; 8],
    }];
    KmsHost::new(cfg).unwrap()
}

fn ask(h: &mut KmsHost, kms: Uuid, i: u32, t: Timestamp) -> Decision {
    h.handle(&ActivationRequest::genuine(kms, cmid(i), t), t)
}

fn count(d: &Decision) -> u32 {
    d.answer().expect("an answer").current_count
}

fn serves(h: &mut KmsHost, kms: Uuid) -> bool {
    ask(h, kms, 999, T0).hresult() == 0
}

#[test]
fn every_rule_is_registered_once_with_a_source() {
    let all = rules();
    for r in all {
        assert!(
            !r.source.is_empty() && r.statement.ends_with('.'),
            "{}",
            r.id
        );
        assert_eq!(all.iter().filter(|x| x.id == r.id).count(), 1, "{}", r.id);
    }
    assert_eq!(rule(rules::TIME_SKEW).unwrap().level, Level::Info);
}

// Source: seed FAQ — Windows client products activate at a count of at least 25.
#[test]
fn thr_client_25() {
    let mut h = host();
    for i in 1..=24 {
        let d = ask(&mut h, WIN10, i, T0);
        assert!(!d.answer().unwrap().client_activates);
        assert!(d.rules.contains(&rules::THR_CLIENT_25));
    }
    assert!(
        ask(&mut h, WIN10, 25, T0)
            .answer()
            .unwrap()
            .client_activates
    );
}

// Source: seed FAQ — Windows Server products activate at a count of at least 5.
#[test]
fn thr_server_5() {
    let mut h = host();
    for i in 1..=4 {
        assert!(!ask(&mut h, S2019, i, T0).answer().unwrap().client_activates);
    }
    let d = ask(&mut h, S2019, 5, T0);
    assert!(d.answer().unwrap().client_activates && d.rules.contains(&rules::THR_SERVER_5));
}

// Source: seed FAQ — physical and virtual computers both count.
#[test]
fn thr_vm_counts() {
    let mut h = host();
    let mut r = ActivationRequest::genuine(S2019, cmid(1), T0);
    r.is_vm = true;
    assert_eq!(count(&h.handle(&r, T0)), 1);
    assert_eq!(count(&ask(&mut h, S2019, 2, T0)), 2);
}

// Source: seed FAQ — no limit on how many clients one host activates.
#[test]
fn cnt_no_client_limit() {
    let mut h = host();
    for i in 0..2000 {
        let d = ask(&mut h, WIN10, i, T0);
        assert_eq!(d.hresult(), 0, "client {i} refused");
    }
}

// Source: Win7 Volume Activation Planning Guide §2.3 — distinct CMIDs; repeats do not count.
#[test]
fn cnt_distinct_cmid() {
    let mut h = host();
    assert_eq!(count(&ask(&mut h, WIN10, 1, T0)), 1);
    assert_eq!(count(&ask(&mut h, WIN10, 1, T0.plus(60))), 1);
    assert_eq!(count(&ask(&mut h, WIN10, 2, T0.plus(120))), 2);
}

// Source: Microsoft KMS activation planning — "the first client gets count 1".
#[test]
fn cnt_self_included() {
    let d = ask(&mut host(), WIN10, 1, T0);
    assert_eq!(count(&d), 1);
    assert!(d.rules.contains(&rules::CNT_SELF_INCLUDED));
}

// Source: Win7 Planning Guide §2.3 — a renewal restarts the CMID's 30 days.
#[test]
fn cnt_renew_refresh() {
    let mut h = host();
    ask(&mut h, WIN10, 1, T0);
    ask(&mut h, WIN10, 2, T0);
    let d = ask(&mut h, WIN10, 1, T0.plus(20 * DAY));
    assert!(d.rules.contains(&rules::CNT_RENEW_REFRESH));
    // day 35: CMID 2 expired, CMID 1 (renewed on day 20) still counts.
    assert_eq!(h.count(&APP_WINDOWS, T0.plus(35 * DAY)), 1);
}

// Source: Win7 Planning Guide §2.3 — not renewed within 30 days: dropped, count falls.
#[test]
fn cnt_expiry_30d() {
    let mut h = host();
    ask(&mut h, WIN10, 1, T0);
    ask(&mut h, WIN10, 2, T0.plus(DAY));
    assert_eq!(h.count(&APP_WINDOWS, T0.plus(30 * DAY - 1)), 2);
    assert_eq!(h.count(&APP_WINDOWS, T0.plus(30 * DAY)), 1);
    let d = ask(&mut h, WIN10, 3, T0.plus(32 * DAY));
    assert!(d.rules.contains(&rules::CNT_EXPIRY_30D));
    assert_eq!(count(&d), 1);
}

// Source: vlmcs.1 -a (INFO) — counts are kept per application.
#[test]
fn cnt_per_app() {
    let mut h = host();
    ask(&mut h, WIN10, 1, T0);
    ask(&mut h, WIN10, 2, T0);
    assert_eq!(count(&ask(&mut h, OFFICE2019, 3, T0)), 1);
    assert_eq!(h.count(&APP_WINDOWS, T0), 2);
    assert_eq!(h.count(&APP_OFFICE_2013, T0), 1);
}

// Source: Win7 Planning Guide §2.3 — cache 2× the highest threshold, 10 then 50, never shrinks.
#[test]
fn cache_2x_never_shrink() {
    let mut h = host();
    ask(&mut h, S2019, 1, T0);
    assert_eq!(h.cache_size(&APP_WINDOWS), 10);
    for i in 2..=20 {
        ask(&mut h, S2019, i, T0);
    }
    assert_eq!(h.count(&APP_WINDOWS, T0), 10);
    ask(&mut h, WIN10, 100, T0);
    assert_eq!(h.cache_size(&APP_WINDOWS), 50);
    ask(&mut h, S2019, 101, T0);
    assert_eq!(h.cache_size(&APP_WINDOWS), 50);
}

// Source: Microsoft "stores the 50 most recent contacts" — LRU replacement when full.
#[test]
fn cache_lru() {
    let mut h = host();
    for i in 1..=10 {
        ask(&mut h, S2019, i, T0.plus(i64::from(i)));
    }
    let d = ask(&mut h, S2019, 11, T0.plus(100));
    assert!(d.rules.contains(&rules::CACHE_LRU));
    assert_eq!(count(&d), 10);
    let t = h.table(&APP_WINDOWS).unwrap();
    assert!(!t.contains(&cmid(1), T0.plus(100)) && t.contains(&cmid(2), T0.plus(100)));
}

// Source: seed FAQ — a CSVLK activates up to six hosts, each up to 10 times.
#[test]
fn csvlk_6x10() {
    let mut s = ActivationService::new();
    let k = s.add_csvlk();
    for host in 0..6 {
        for n in 1..=10 {
            assert_eq!(s.activate_host(k, cmid(host),).unwrap(), n);
        }
    }
    assert_eq!(s.activate_host(k, cmid(0)), Err(ServiceError::CsvlkLimit));
    assert_eq!(
        s.activate_host(k, cmid(6)).unwrap_err().hresult(),
        Some(HR_CSVLK_LIMIT)
    );
    s.raise(k, 1).unwrap();
    assert_eq!(s.activate_host(k, cmid(0)), Ok(11));
}

// Source: seed FAQ — key groups: Server 2008/R2 A (Web, HPC), B (Standard, Enterprise),
// C (Datacenter, Itanium), with the "without Hyper-V" editions in their groups.
#[test]
fn key_groups() {
    let cat = Catalog::get();
    let group = |n: &str| cat.sku_by_name(n).unwrap().kms_id;
    assert_eq!(group("Windows Server 2008 R2 Web"), S2008R2_A);
    assert_eq!(group("Windows Server 2008 R2 HPC Edition"), S2008R2_A);
    assert_eq!(group("Windows Server 2008 R2 Standard"), S2008R2_B);
    assert_eq!(group("windows server 2008 r2 enterprise"), S2008R2_B);
    assert_eq!(group("Windows Server 2008 R2 Datacenter"), S2008R2_C);
    assert_eq!(
        group("Windows Server 2008 R2 for Itanium Enterprise"),
        S2008R2_C
    );
    assert_eq!(
        group("Windows Server 2008 Datacenter without Hyper-V"),
        S2008_C
    );
    assert_eq!(group("Windows Server 2008 Web"), S2008_A);
    assert_eq!(
        group("Windows 7 Enterprise"),
        group("Windows 7 Professional")
    );
}

// Source: seed FAQ — a MAK C does not activate Enterprise; a Windows 7 MAK does not activate Vista.
#[test]
fn mak_group_only() {
    let cat = Catalog::get();
    let sku = |n: &str| cat.sku_by_name(n).unwrap().id;
    let mut s = ActivationService::new();
    let mak_c = s.add_mak(S2008R2_C, 10);
    let m = |n: &str| Machine {
        id: cmid(1),
        sku: sku(n),
        is_vm: false,
        was_kms_client: false,
    };
    assert!(matches!(
        s.activate_mak(mak_c, &m("Windows Server 2008 R2 Enterprise")),
        Err(ServiceError::WrongKeyGroup { .. })
    ));
    assert!(s
        .activate_mak(mak_c, &m("Windows Server 2008 R2 Datacenter"))
        .is_ok());
    let mak7 = s.add_mak(WIN7, 10);
    assert!(s
        .activate_mak(mak7, &m("Windows Vista Enterprise"))
        .is_err());
    assert!(s.activate_mak(mak7, &m("Windows 7 Enterprise")).is_ok());
}

// Source: seed FAQ table; kms-products.yaml — host keys are hierarchical.
#[test]
fn hier_host_key() {
    let p = Profile::Hierarchical;
    let mut vista = host_with("Windows Vista (1 of 2)", p);
    assert!(serves(&mut vista, VISTA) && !serves(&mut vista, WIN7));
    let mut w7 = host_with("Windows 7", p);
    assert!(serves(&mut w7, VISTA) && serves(&mut w7, WIN7) && !serves(&mut w7, S2008R2_A));
    let mut a = host_with("Windows Server 2008 R2 A (Web & HPC)", p);
    assert!(serves(&mut a, S2008R2_A) && serves(&mut a, WIN7) && serves(&mut a, VISTA));
    assert!(serves(&mut a, S2008_A) && !serves(&mut a, S2008R2_B));
    let mut b = host_with("Windows Server 2008 R2 B (Standard & Enterprise)", p);
    assert!(serves(&mut b, S2008R2_B) && serves(&mut b, S2008R2_A) && !serves(&mut b, S2008R2_C));
    let mut c = host_with("Windows Server 2008 R2 C (Datacenter & Itanium)", p);
    assert!(serves(&mut c, S2008R2_C) && serves(&mut c, S2008_C) && serves(&mut c, WIN7));
    let mut s08 = host_with("Windows Server 2008 C (Datacenter & Itanium)", p);
    assert!(serves(&mut s08, S2008_C) && serves(&mut s08, VISTA) && !serves(&mut s08, WIN7));
    let d = ask(&mut s08, WIN7, 1, T0);
    assert_eq!(d.hresult(), HR_KMS_ID_MISMATCH);
    assert!(d.rules.contains(&rules::HR_0XC004F042));
    // later products: Server 2022 (extended) serves 2019 and Windows 10.
    let mut s22 = host_with("Windows Server 2022", p);
    assert!(serves(&mut s22, S2019) && serves(&mut s22, WIN10));
    // the alternative profile trims: Org's 2008 R2 C key serves only its own group.
    let mut c_trim = host_with("Windows Server 2008 R2 C (Datacenter)", Profile::Trimmed);
    assert!(serves(&mut c_trim, S2008R2_C) && !serves(&mut c_trim, WIN7));
}

// Source: rules-and-failures.md §2 PROD-1 — unknown KMS id: answer or 0xC004F042.
#[test]
fn hier_unknown_kms_id() {
    let mut h = host();
    let d = ask(&mut h, uuid!("00000000-1111-4222-8333-444444444444"), 1, T0);
    assert_eq!(d.hresult(), 0);
    assert_eq!(
        d.permits(Observed::Refuse {
            hresult: HR_KMS_ID_MISMATCH
        }),
        Ok(Some(rules::HIER_UNKNOWN_KMS_ID))
    );
    assert!(d
        .permits(Observed::Refuse {
            hresult: HR_INVALID_DATA
        })
        .is_err());
}

// Source: seed FAQ — Server 2003/Vista/2008 hosts need an update to serve 7 / 2008 R2.
#[test]
fn host_update_win7() {
    let mut cfg = HostConfig::default();
    cfg.keys[0].host_key = "Windows Server 2008 R2 C (Datacenter & Itanium)".into();
    cfg.host_build = 6002;
    cfg.updated_for_win7 = false;
    let mut old = KmsHost::new(cfg.clone()).unwrap();
    let d = ask(&mut old, WIN7, 1, T0);
    assert_eq!(d.hresult(), HR_KMS_ID_MISMATCH);
    assert!(d.rules.contains(&rules::HOST_UPDATE_WIN7));
    assert_eq!(ask(&mut old, VISTA, 2, T0).hresult(), 0);
    cfg.updated_for_win7 = true;
    assert_eq!(
        ask(&mut KmsHost::new(cfg).unwrap(), WIN7, 1, T0).hresult(),
        0
    );
}

// Source: seed FAQ — each activation or reactivation, physical or virtual, uses one; can be raised.
#[test]
fn mak_budget() {
    let sku = Catalog::get()
        .sku_by_name("Windows 7 Enterprise")
        .unwrap()
        .id;
    let mut s = ActivationService::new();
    let k = s.add_mak(WIN7, 2);
    let m = Machine {
        id: cmid(1),
        sku,
        is_vm: true,
        was_kms_client: false,
    };
    assert_eq!(s.activate_mak(k, &m), Ok(1));
    assert_eq!(s.activate_mak(k, &m), Ok(0)); // reactivation uses one too
    let e = s.activate_mak(k, &m).unwrap_err();
    assert_eq!(e.hresult(), Some(HR_MAK_LIMIT));
    s.raise(k, 1).unwrap();
    assert_eq!(s.activate_mak(k, &m), Ok(0));
    assert_eq!(s.mak_used(k), Some(3));
}

// Source: seed FAQ — proxy activation (VAMT) uses the same budget, one per machine.
#[test]
fn mak_proxy() {
    let sku = Catalog::get()
        .sku_by_name("Windows 7 Professional")
        .unwrap()
        .id;
    let mut s = ActivationService::new();
    let k = s.add_mak(WIN7, 5);
    let ms: Vec<Machine> = (0..3)
        .map(|i| Machine {
            id: cmid(i),
            sku,
            is_vm: false,
            was_kms_client: false,
        })
        .collect();
    assert_eq!(s.activate_proxy(k, &ms).unwrap().remaining, 2);
    assert_eq!(s.activate_mak(k, &ms[0]), Ok(1));
    assert_eq!(s.activate_proxy(k, &ms), Err(ServiceError::MakLimit));
    assert_eq!(s.mak_remaining(k), Some(1));
}

// Source: seed FAQ — a MAK can activate a machine first configured for KMS.
#[test]
fn mak_after_kms() {
    let sku = Catalog::get()
        .sku_by_name("Windows 7 Enterprise")
        .unwrap()
        .id;
    let mut s = ActivationService::new();
    let k = s.add_mak(WIN7, 1);
    let m = Machine {
        id: cmid(1),
        sku,
        is_vm: false,
        was_kms_client: true,
    };
    assert_eq!(s.activate_mak(k, &m), Ok(0));
}

// Source: seed FAQ — 30-day grace, then notification mode.
#[test]
fn client_grace_30d() {
    let mut c = KmsClient::new(25, T0);
    assert!(matches!(
        c.state(T0.plus(30 * DAY - 1)),
        LicenseState::Grace { .. }
    ));
    assert_eq!(c.state(T0.plus(30 * DAY)), LicenseState::Notification);
}

fn ok_response(count: u32) -> HostResponse {
    HostResponse {
        hresult: 0,
        current_count: count,
        activation_interval: 120,
        renewal_interval: 10_080,
    }
}

// Source: seed FAQ — activation valid 180 days.
#[test]
fn client_valid_180d() {
    let mut c = KmsClient::new(5, T0);
    assert!(c.on_response(&ok_response(5), T0).activated);
    assert!(c.is_activated(T0.plus(180 * DAY - 1)));
    assert!(!c.is_activated(T0.plus(180 * DAY)));
}

// Source: seed FAQ — renewal attempted every 7 days.
#[test]
fn client_renew_7d() {
    let mut c = KmsClient::new(5, T0);
    c.on_response(&ok_response(5), T0);
    assert_eq!(c.next_contact(T0), T0.plus(7 * DAY));
}

// Source: seed FAQ — retry every 2 hours while not activated.
#[test]
fn client_retry_2h() {
    let mut c = KmsClient::new(25, T0);
    let o = c.on_response(&ok_response(3), T0);
    assert!(!o.activated);
    assert_eq!(c.next_contact(T0), T0.plus(2 * HOUR));
}

// Source: seed FAQ; TechNet ff793418 — host intervals override the client's.
#[test]
fn int_override() {
    let mut c = KmsClient::new(25, T0);
    let r = HostResponse {
        hresult: 0,
        current_count: 1,
        activation_interval: 15,
        renewal_interval: 60,
    };
    c.on_response(&r, T0);
    assert_eq!(c.next_contact(T0), T0.plus(15 * 60));
    c.on_response(
        &HostResponse {
            current_count: 30,
            ..r
        },
        T0,
    );
    assert_eq!(c.next_contact(T0), T0.plus(60 * 60));
    let mut cfg = HostConfig::default();
    cfg.renewal_interval = 60;
    let d = KmsHost::new(cfg)
        .unwrap()
        .handle(&ActivationRequest::genuine(WIN10, cmid(1), T0), T0);
    assert_eq!(d.answer().unwrap().renewal_interval, 60);
}

// Source: Microsoft troubleshoot-activation-error-codes — count below threshold: 0xC004F038.
#[test]
fn hr_0xc004f038() {
    let mut c = KmsClient::new(25, T0);
    assert_eq!(
        c.on_response(&ok_response(24), T0),
        ClientOutcome {
            activated: false,
            hresult: HR_NOT_ENOUGH_COUNT
        }
    );
    assert_eq!(
        c.on_response(&ok_response(25), T0),
        ClientOutcome {
            activated: true,
            hresult: 0
        }
    );
    let d = ask(&mut host(), WIN10, 1, T0);
    assert!(d.rules.contains(&rules::HR_0XC004F038));
}

// Source: Microsoft troubleshoot-activation-error-codes — host cannot serve product: 0xC004F042.
#[test]
fn hr_0xc004f042() {
    let mut h = host_with("Office 2019", Profile::Hierarchical);
    let d = ask(&mut h, WIN10, 1, T0);
    assert_eq!(d.hresult(), HR_KMS_ID_MISMATCH);
    assert!(d.permits(Observed::Answer { count: 1 }).is_err());
    // app id not matching the KMS id's application
    let mut r = ActivationRequest::genuine(WIN10, cmid(2), T0);
    r.app_id = APP_OFFICE_2013;
    assert_eq!(host().handle(&r, T0).hresult(), HR_KMS_ID_MISMATCH);
}

// Source: kms-protocol.md §6.1 item 3, §6.4 — unsupported version: 0x8007000D.
#[test]
fn ver_unsupported() {
    let mut h = host();
    for v in [(7, 0), (6, 1), (3, 0), (0, 0)] {
        let mut r = ActivationRequest::genuine(WIN10, cmid(1), T0);
        r.protocol = v;
        let d = h.handle(&r, T0);
        assert_eq!(d.hresult(), HR_INVALID_DATA, "{v:?}");
        assert!(d.rules.contains(&rules::VER_UNSUPPORTED));
    }
    assert_eq!(h.count(&APP_WINDOWS, T0), 0);
}

// Source: Microsoft error-0xc004f06c article; ±4 h from implementations (INFO level).
#[test]
fn time_skew() {
    let mut r = ActivationRequest::genuine(WIN10, cmid(1), T0.plus(4 * HOUR + 1));
    let d = host().handle(&r, T0);
    assert_eq!(d.hresult(), 0);
    assert_eq!(
        d.permits(Observed::Refuse {
            hresult: HR_INVALID_TIMESTAMP
        }),
        Ok(Some(rules::TIME_SKEW))
    );
    let mut cfg = HostConfig::default();
    cfg.strict_time = true;
    let mut strict = KmsHost::new(cfg).unwrap();
    assert_eq!(strict.handle(&r, T0).hresult(), HR_INVALID_TIMESTAMP);
    r.client_time = T0.plus(4 * HOUR);
    assert_eq!(strict.handle(&r, T0).hresult(), 0);
}

// Source: rules-and-failures.md §2 CNT-3; kms-protocol.md §6.4 — N above 1000 is undocumented:
// the model answers, and allows the 0x8007000D refusal implementations give (INFO level).
#[test]
fn thr_n_large() {
    let mut r = ActivationRequest::genuine(WIN10, cmid(1), T0);
    r.required_count = 1001;
    let d = host().handle(&r, T0);
    assert_eq!(d.hresult(), 0);
    assert!(d.rules.contains(&rules::THR_N_LARGE));
    assert_eq!(
        d.permits(Observed::Refuse {
            hresult: HR_INVALID_DATA
        }),
        Ok(Some(rules::THR_N_LARGE))
    );
    r.required_count = 1000;
    let d = host().handle(&r, T0);
    assert!(!d.rules.contains(&rules::THR_N_LARGE));
    assert!(d
        .permits(Observed::Refuse {
            hresult: HR_INVALID_DATA
        })
        .is_err());
    assert_eq!(rule(rules::THR_N_LARGE).unwrap().level, Level::Info);
}

// Source: kms-protocol.md §4.6 item 7 — same ePID and HwId for one host-key family.
#[test]
fn epid_stable() {
    let mut h = host();
    let a = ask(&mut h, WIN10, 1, T0).answer().unwrap().clone();
    let b = ask(&mut h, S2019, 2, T0).answer().unwrap().clone();
    assert_eq!((a.epid.as_ref(), a.hwid), (b.epid.as_ref(), b.hwid));
    let o = ask(&mut h, OFFICE2019, 3, T0).answer().unwrap().clone();
    assert_ne!(a.epid, o.epid);
    let cat = Catalog::get();
    let parts = kmsspec::wire::kms::epid::Epid::parse(&a.epid).unwrap();
    assert!(cat.epid_consistent(Profile::Hierarchical, &parts, &WIN10));
    assert!(!cat.epid_consistent(Profile::Hierarchical, &parts, &OFFICE2019));
    // The same data through the wire layer's ePID check hook.
    use kmsspec::wire::kms::epid::{validate_with, EpidContext};
    let win10 = cat.epid_ranges_for(Profile::Hierarchical, WIN10);
    let office = cat.epid_ranges_for(Profile::Hierarchical, OFFICE2019);
    let ok = validate_with(
        &a.epid,
        EpidContext {
            now: None,
            catalog: Some(&win10),
        },
    );
    assert!(ok.iter().all(|c| c.passed), "{ok:?}");
    let bad = validate_with(
        &a.epid,
        EpidContext {
            now: None,
            catalog: Some(&office),
        },
    );
    assert!(bad.iter().any(|c| !c.passed), "{bad:?}");
}

// Unknown start: bounds from what is certain (distinct CMIDs seen; cache cap when asserted).
#[test]
fn observing_judges_counts_by_bounds() {
    let mut h = KmsHost::observing(HostConfig::default()).unwrap();
    let d = ask(&mut h, WIN10, 1, T0);
    let b = d.answer().unwrap().count_bounds;
    assert_eq!(b, CountBounds { min: 1, max: None });
    assert!(d.permits(Observed::Answer { count: 37 }).is_ok());
    ask(&mut h, WIN10, 2, T0);
    assert_eq!(
        h.judge_count(&APP_WINDOWS, 1, T0),
        Verdict::BelowMinimum { min: 2 }
    );
    let mut cfg = HostConfig::default();
    cfg.max_cache = Some(50);
    let mut capped = KmsHost::observing(cfg).unwrap();
    ask(&mut capped, WIN10, 1, T0);
    assert_eq!(
        capped.judge_count(&APP_WINDOWS, 51, T0),
        Verdict::AboveMaximum { max: 50 }
    );
}
