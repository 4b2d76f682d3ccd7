//! The rule registry: every volume-activation rule the model encodes, with a stable id, a
//! one-sentence statement, where it is written and how strictly it binds a host.

use std::fmt;

/// How strictly a rule binds (RFC 2119 style); INFO rules never fail a host by themselves.
/// The same type grades cases in the suite and is printed in reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A conforming host or client must behave this way.
    Must,
    /// Expected behaviour with documented latitude.
    Should,
    /// Observed or undocumented behaviour; reported, never failed.
    Info,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Info => "INFO",
        })
    }
}

/// A stable rule identifier such as `THR-CLIENT-25`, cited by decisions, tests and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub &'static str);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One registered rule: id, statement, source and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id.
    pub id: RuleId,
    /// The rule in one sentence.
    pub statement: &'static str,
    /// Where it is written (seed FAQ, Microsoft docs, spec section).
    pub source: &'static str,
    /// How strictly it binds.
    pub level: Level,
}

macro_rules! rule_ids {
    ($($name:ident = $id:literal;)*) => {
        $(
            #[doc = concat!("Rule `", $id, "`.")]
            pub const $name: RuleId = RuleId($id);
        )*
    };
}

rule_ids! {
    THR_CLIENT_25 = "THR-CLIENT-25";
    THR_SERVER_5 = "THR-SERVER-5";
    THR_VM_COUNTS = "THR-VM-COUNTS";
    CNT_NO_CLIENT_LIMIT = "CNT-NO-CLIENT-LIMIT";
    CNT_DISTINCT_CMID = "CNT-DISTINCT-CMID";
    CNT_SELF_INCLUDED = "CNT-SELF-INCLUDED";
    CNT_RENEW_REFRESH = "CNT-RENEW-REFRESH";
    CNT_EXPIRY_30D = "CNT-EXPIRY-30D";
    CNT_PER_APP = "CNT-PER-APP";
    CACHE_2X_NEVER_SHRINK = "CACHE-2X-NEVER-SHRINK";
    CACHE_LRU = "CACHE-LRU";
    CSVLK_6X10 = "CSVLK-6x10";
    KEY_GROUPS = "KEY-GROUPS";
    MAK_GROUP_ONLY = "MAK-GROUP-ONLY";
    HIER_HOST_KEY = "HIER-HOST-KEY";
    HIER_UNKNOWN_KMS_ID = "HIER-UNKNOWN-KMS-ID";
    HOST_UPDATE_WIN7 = "HOST-UPDATE-WIN7";
    MAK_BUDGET = "MAK-BUDGET";
    MAK_PROXY = "MAK-PROXY";
    MAK_AFTER_KMS = "MAK-AFTER-KMS";
    CLIENT_GRACE_30D = "CLIENT-GRACE-30D";
    CLIENT_VALID_180D = "CLIENT-VALID-180D";
    CLIENT_RENEW_7D = "CLIENT-RENEW-7D";
    CLIENT_RETRY_2H = "CLIENT-RETRY-2H";
    INT_OVERRIDE = "INT-OVERRIDE";
    HR_0XC004F038 = "HR-0xC004F038";
    HR_0XC004F042 = "HR-0xC004F042";
    VER_UNSUPPORTED = "VER-UNSUPPORTED";
    TIME_SKEW = "TIME-SKEW";
    THR_N_LARGE = "THR-N-LARGE";
    EPID_STABLE = "EPID-STABLE";
}

const FAQ: &str = "seed: Microsoft FAQ on volume license keys";
const PLAN: &str =
    "Microsoft: KMS activation planning; Windows 7 Volume Activation Planning Guide (kms-protocol.md §6.9, rules-and-failures.md §1)";

static RULES: &[Rule] = &[
    Rule { id: THR_CLIENT_25, statement: "A host activates Windows client products (Vista, 7 and later) only once its count is at least 25.", source: FAQ, level: Level::Must },
    Rule { id: THR_SERVER_5, statement: "A host activates Windows Server products (and volume Office) once its count is at least 5.", source: FAQ, level: Level::Must },
    Rule { id: THR_VM_COUNTS, statement: "Physical and virtual computers both count toward the threshold (Vista SP2 / Server 2008 SP2 and later).", source: FAQ, level: Level::Must },
    Rule { id: CNT_NO_CLIENT_LIMIT, statement: "There is no limit on how many KMS clients one host activates.", source: FAQ, level: Level::Must },
    Rule { id: CNT_DISTINCT_CMID, statement: "The count is the number of distinct client machine ids seen in the last 30 days; a repeated CMID does not raise it.", source: PLAN, level: Level::Must },
    Rule { id: CNT_SELF_INCLUDED, statement: "The requesting client's CMID is added before the count is returned (the first client gets count 1).", source: "Microsoft: KMS activation planning (rules-and-failures.md §1)", level: Level::Must },
    Rule { id: CNT_RENEW_REFRESH, statement: "A renewal removes the CMID's record and creates a new one: its 30 days begin again.", source: "Windows 7 Volume Activation Planning Guide §2.3", level: Level::Must },
    Rule { id: CNT_EXPIRY_30D, statement: "A CMID not renewed within 30 days is dropped and the count falls by one.", source: "Windows 7 Volume Activation Planning Guide §2.3", level: Level::Must },
    Rule { id: CNT_PER_APP, statement: "Counts are kept per application (Windows, Office 2010, Office 2013+).", source: "vlmcs.1 -a; not found in Microsoft text (rules-and-failures.md §1)", level: Level::Info },
    Rule { id: CACHE_2X_NEVER_SHRINK, statement: "The host caches twice the highest threshold it was asked for (10 server-only, 50 once a client asks) and never shrinks the cache.", source: "Windows 7 Volume Activation Planning Guide §2.3", level: Level::Must },
    Rule { id: CACHE_LRU, statement: "When the cache is full a new CMID replaces the least recently seen one; the count stays at the cache size.", source: "Microsoft: 'stores the 50 most recent contacts' (kms-activation-planning.md)", level: Level::Should },
    Rule { id: CSVLK_6X10, statement: "A KMS host key activates up to six hosts, each up to 10 times; more is error 0xC004C008 until increased.", source: FAQ, level: Level::Must },
    Rule { id: KEY_GROUPS, statement: "Keys belong to product key groups, not editions (Server 2008/R2 groups A, B, C; one client group).", source: FAQ, level: Level::Must },
    Rule { id: MAK_GROUP_ONLY, statement: "A MAK activates only the editions of its own product key group.", source: FAQ, level: Level::Must },
    Rule { id: HIER_HOST_KEY, statement: "A KMS host key serves the KMS ids of its group and the groups below it; other products get 0xC004F042.", source: "seed FAQ table; kms-products.yaml host keys (kms-protocol.md §5.3)", level: Level::Must },
    Rule { id: HIER_UNKNOWN_KMS_ID, statement: "A KMS id unknown to the catalog may be answered or refused with 0xC004F042, never dropped.", source: "rules-and-failures.md §2 PROD-1", level: Level::Should },
    Rule { id: HOST_UPDATE_WIN7, statement: "Hosts on Windows Server 2003, Vista or Server 2008 need an update before they serve Windows 7 / Server 2008 R2 clients.", source: FAQ, level: Level::Must },
    Rule { id: MAK_BUDGET, statement: "A MAK has a predetermined number of activations; each activation or reactivation, physical or virtual, uses one; the count can be raised.", source: FAQ, level: Level::Must },
    Rule { id: MAK_PROXY, statement: "Independent and proxy (VAMT) activation use the same MAK budget, one per machine.", source: FAQ, level: Level::Must },
    Rule { id: MAK_AFTER_KMS, statement: "A MAK can activate a machine first configured for KMS.", source: FAQ, level: Level::Must },
    Rule { id: CLIENT_GRACE_30D, statement: "An unactivated volume client has a 30-day grace period, then enters notification mode.", source: FAQ, level: Level::Must },
    Rule { id: CLIENT_VALID_180D, statement: "A KMS activation is valid 180 days, a window reset by each successful renewal.", source: FAQ, level: Level::Must },
    Rule { id: CLIENT_RENEW_7D, statement: "An activated client attempts renewal every 7 days (10080 minutes) by default.", source: FAQ, level: Level::Must },
    Rule { id: CLIENT_RETRY_2H, statement: "An unactivated client retries every 2 hours (120 minutes) by default.", source: FAQ, level: Level::Must },
    Rule { id: INT_OVERRIDE, statement: "The activation and renewal intervals in the host's response override the client's.", source: "seed FAQ; TechNet ff793418", level: Level::Must },
    Rule { id: HR_0XC004F038, statement: "A client whose answer carries a count below its threshold stays unactivated with 0xC004F038.", source: "Microsoft: troubleshoot-activation-error-codes (kms-protocol.md §6.4)", level: Level::Must },
    Rule { id: HR_0XC004F042, statement: "A host that cannot serve the requested product answers 0xC004F042.", source: "Microsoft: troubleshoot-activation-error-codes (kms-protocol.md §6.4)", level: Level::Must },
    Rule { id: VER_UNSUPPORTED, statement: "A request with an unsupported protocol version (not 4.0, 5.0 or 6.0) gets 0x8007000D.", source: "kms-protocol.md §6.1 item 3, §6.4", level: Level::Must },
    Rule { id: THR_N_LARGE, statement: "How a host treats a RequiredClientCount above 1000 is undocumented; refusing it with 0x8007000D, as implementations do, is allowed.", source: "rules-and-failures.md §2 CNT-3; kms-protocol.md §6.1, §6.4 (vlmcsd: N > 1000 ⇒ 0x8007000D)", level: Level::Info },
    Rule { id: TIME_SKEW, statement: "A request time too far from the host's clock gets 0xC004F06C; the bound (default ±4 h) is not documented by Microsoft.", source: "Microsoft: error-0xc004f06c article; ±4 h from implementations (kms-protocol.md §6.5)", level: Level::Info },
    Rule { id: EPID_STABLE, statement: "A host answers every request of one host-key family with the same ePID and HwId.", source: "kms-protocol.md §4.6 item 7", level: Level::Should },
];

/// All rules the model encodes, for suites and reports to cite.
pub fn rules() -> &'static [Rule] {
    RULES
}

/// The registered rule with this id.
pub fn rule(id: RuleId) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}
