#!/usr/bin/env python3
"""Generate harness/model/catalog.json from the shared kms-products.yaml.

Usage: python3 tools/gen_model_catalog.py [SHARED_DIR] > harness/model/catalog.json

Profiles (the YAML's sources disagree on the host-key hierarchy, kms-protocol.md section 9 item 8):
* "hierarchical" (primary): py-kms-SR data v1.7, whose broad down-level lists match the seed FAQ's
  table (a Windows 7 host key serves Vista and 7; Server 2008 R2 KMS_C serves groups A, B, C plus
  Vista and 7 clients). Host keys only present in py-kms-Org (Server 2022/2025, Office LTSC
  2021/2024) are added; the Server 2022/2025 keys are extended down-level over the Server 2019 key's
  list (flag "extended"), and placeholder KMS ids get the third-party ids beside them.
* "trimmed" (alternative): py-kms-Org data v2.0 as written.
"""
import json, sys, yaml

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
d = yaml.safe_load(open(f"{shared}/spec/kms-products.yaml"))

WIN = "55c92734-d682-4d71-983e-d6ec3f16059f"
O10 = "59a52881-a989-479d-af46-f275c6370663"
O13 = "0ff1ce15-a989-479d-af46-f275c6370663"

def s(x):
    return None if x is None else str(x)

apps = [{"id": a["id"], "name": a["vlmcsd_name"], "min_active_clients": a["min_active_clients"]}
        for a in d["application_ids"]]

kms = []
for k in d["kms_counted_ids"]:
    name = k.get("vlmcsd_name") or k.get("pykms_sr_name") or k.get("pykms_org_name")
    kms.append({"id": k["id"], "name": name, "app_id": k["app_id"], "threshold": k["n_count_policy"],
                "protocol": k["default_protocol"], "retail": k["is_retail"], "preview": k["is_preview"],
                "sources": k["in_sources"]})
known = {k["id"] for k in kms}
for t in d["third_party_reported"]["kms_counted_ids"]:
    if t["id"] in known:
        continue
    n = t["name"]
    app = O13 if n.startswith("Office") else WIN
    thr = 5 if ("Server" in n or app != WIN) else 25
    kms.append({"id": t["id"], "name": n, "app_id": app, "threshold": thr, "protocol": 6,
                "retail": False, "preview": False, "sources": ["third_party"]})

skus = [{"id": x["id"], "name": x["name"], "kms_id": x["kms_id"]} for x in d["sku_ids"]]

def key(c, activates, extended=False):
    return {"name": c["name"], "sku_id": c["csvlk_sku_id"] or None, "group_id": c.get("group_id"),
            "min_key_id": c.get("min_key_id"), "max_key_id": c.get("max_key_id"),
            "release_date": s(c.get("release_date")), "lab": bool(c.get("is_lab")) or "Lab" in c["name"],
            "preview": bool(c.get("is_preview")) or "Pre-Release" in c["name"],
            "extended": extended, "activates": activates}

# third-party ids standing beside py-kms-Org placeholders
REAL = {"10a7e9fb-ca8c-5352-88f5-91b8dbe13b22": ["b74263e4-0f92-46c6-bcf8-c11d5efe2959"],
        "4b83307d-7788-50ff-8d1f-1861915bdb9d": ["907f1f65-adcd-4a2e-95bc-4bf500bc6e58"],
        "1b4db7eb-4057-5ddf-91e0-36dec72071f5": ["a8973cb5-bf03-0a4c-9cef-703099645ab3"]}

primary = [key(c, list(c["activates_kms_ids"])) for c in d["csvlks_pykms_sr"]]
sr_names = {c["name"] for c in d["csvlks_pykms_sr"]}
s2019 = next(c for c in d["csvlks_pykms_sr"] if c["name"] == "Windows Server 2019")["activates_kms_ids"]
s2022_set = None
org_only = [c for c in d["csvlks_pykms_org"]
            if c["name"].startswith(("Windows Server 2022", "Windows Server 2025", "Office LTSC"))]
# Server 2022 before 2025 so the 2025 keys can extend over 2022's list
org_only.sort(key=lambda c: (0 if "2022" in c["name"] else 1, c["name"]))
for c in org_only:
    own = []
    for i in c["activates_kms_ids"]:
        own.append(i)
        own.extend(REAL.get(i, []))
    ext = False
    if c["name"].startswith("Windows Server 2022"):
        own = own + [i for i in s2019 if i not in own]
        s2022_set = own if c["name"] == "Windows Server 2022" else s2022_set
        ext = True
    elif c["name"].startswith("Windows Server 2025"):
        own = own + [i for i in (s2022_set or []) if i not in own]
        ext = True
    primary.append(key(c, own, ext))
trimmed = [key(c, list(c["activates_kms_ids"])) for c in d["csvlks_pykms_org"]]

builds = [{"build": b["build"], "platform_id": b["platform_id"], "release_date": s(b.get("release_date")),
           "use_for_epid": b["use_for_epid"], "may_be_server": b["may_be_server"], "ndr64": b["uses_ndr64"],
           "name": b["name"]} for b in d["win_builds_pykms_org"]]

out = {"generated_from": "spec/kms-products.yaml", "generator": "tools/gen_model_catalog.py",
       "applications": apps, "kms_ids": kms, "skus": skus,
       "host_keys": {"hierarchical": primary, "trimmed": trimmed},
       "host_builds": builds, "lcids": d["valid_lcids"]}
json.dump(out, sys.stdout, indent=1, sort_keys=False)
sys.stdout.write("\n")
