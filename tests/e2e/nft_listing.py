# SPDX-License-Identifier: Apache-2.0
"""A table as `nft -j list table` prints it, in a form two tables compare in: counter
values, handles, and the order of objects and elements (which follows the order they were
created in, not what they are) left out; rules keep their order within their chain.
Shared by the end-to-end tests and bench/daemon_bench.py."""
import json


def canonical(nft_json):
    """The sorted lines of the listing nft_json (the text of `nft -j list table ...`)."""
    out, pos = [], {}
    for item in json.loads(nft_json)["nftables"]:
        (kind, body), = item.items()
        if kind == "metainfo":
            continue
        body = dict(body)
        body.pop("handle", None)
        if kind == "counter":
            body.pop("packets", None)
            body.pop("bytes", None)
        if kind == "rule":
            body["position"] = pos.setdefault(body["chain"], 0)
            pos[body["chain"]] += 1
        if "elem" in body:
            body["elem"] = sorted(json.dumps(e, sort_keys=True) for e in body["elem"])
        out.append(json.dumps({kind: body}, sort_keys=True))
    return sorted(out)


def pre_udp_layout(script):
    """The dry-run script of a TCP-only plan as the nftgate before UDP listeners wrote it:
    listener and slot maps keyed without the protocol (`inet_service`, not `inet_proto .
    inet_service`), TCP-only jumps and nat rules (for each TCP golden plan, this gives that
    nftgate's tests/golden/*.nft byte for byte). For the tests of an upgrade over such a
    table."""
    out = []
    for line in script.splitlines(keepends=True):
        if "meta l4proto udp" in line:
            continue                       # the UDP jumps and nat rules are new
        line = line.replace("inet_proto . ", "")
        line = line.replace("meta l4proto . th dport", "tcp dport")
        if line.lstrip("\t").startswith("tcp . ") or " . tcp . " in line:
            line = line.replace("tcp . ", "", 1)   # an element: [addr . ]tcp . port ...
        out.append(line)
    return "".join(out)
