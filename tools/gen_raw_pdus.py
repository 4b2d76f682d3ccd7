#!/usr/bin/env python3
"""Builds the hand-made DCE/RPC PDUs used by `raw` steps in specs/robustness.yaml.

Layouts from kms-protocol.md §1.2 (header), §1.6 (bind), §1.7 (identifiers), §1.10 (request).
Prints one `name: hex` line per PDU; the specs embed the hex (grouped for reading).
"""
import struct
import uuid

KMS_IF = uuid.UUID("51c82175-844e-4750-b0d8-ec255555bc06")
NDR32 = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
UNKNOWN_IF = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")

# V4 request message from kms-test-vectors.json deterministic_messages[0] (request_kms).
V4_KMS_HEX_FILE = None


def header(ptype, flags, frag_length, call_id, vers=5, minor=0, drep=b"\x10\0\0\0", auth_len=0):
    return struct.pack("<BBBB4sHHI", vers, minor, ptype, flags, drep, frag_length, auth_len, call_id)


def ctx(cid, iface=KMS_IF, ts=NDR32, ts_ver=2):
    return struct.pack("<HBB", cid, 1, 0) + iface.bytes_le + struct.pack("<HH", 1, 0) + ts.bytes_le + struct.pack("<I", ts_ver)


def bind_body(elems, n=None, reserved=0, reserved2=0):
    n = len(elems) if n is None else n
    return struct.pack("<HHIBBH", 5840, 5840, 0, n, reserved, reserved2) + b"".join(elems)


def bind(elems, ptype=11, flags=0x13, call_id=2, n=None, frag_length=None, **kw):
    hkw = {k: kw.pop(k) for k in list(kw) if k in ("vers", "minor", "drep", "auth_len")}
    body = bind_body(elems, n=n, **kw)
    fl = 16 + len(body) if frag_length is None else frag_length
    return header(ptype, flags, fl, call_id, **hkw) + body


def request(kms, ctx_id=0, opnum=0, call_id=2):
    stub = struct.pack("<II", len(kms), len(kms)) + kms
    body = struct.pack("<IHH", len(stub), ctx_id, opnum) + stub
    return header(0, 0x03, 16 + len(body), call_id) + body


def main():
    import json, os
    vec = os.environ.get("KMSSPEC_SHARED", "/work/shared") + "/spec/kms-test-vectors.json"
    kms = bytes.fromhex(json.load(open(vec))["deterministic_messages"][0]["request_kms"])
    assert len(kms) == 252
    pdus = {
        "bind_ndr32": bind([ctx(0)]),
        "bind_zero_elements": bind([]),
        "bind_frag_length_10": header(11, 0x03, 10, 2),
        "bind_frag_length_65535": bind([ctx(0)], frag_length=0xFFFF),
        "unknown_ptype_19": header(19, 0x03, 16, 2),
        "bind_rpc_vers_4": bind([ctx(0)], vers=4),
        "bind_rpc_vers_5_1": bind([ctx(0)], minor=1),
        "bind_reserved_nonzero": bind([ctx(0)], reserved=0xFF, reserved2=0xFFFF),
        "bind_count_3_one_element": bind([ctx(0)], n=3),
        "bind_10_elements": bind([ctx(i) for i in range(10)]),
        "bind_auth_length_8": bind([ctx(0)], auth_len=8),
        "alter_context_first": bind([ctx(0)], ptype=14, flags=0x03),
        "bind_unknown_interface": bind([ctx(0, iface=UNKNOWN_IF)]),
        "request_v4_before_bind": request(kms),
        "bind_then_request_v4": bind([ctx(0)]) + request(kms, call_id=3),
    }
    for name, b in pdus.items():
        print(f"{name} ({len(b)} bytes): {b.hex()}")


if __name__ == "__main__":
    main()
