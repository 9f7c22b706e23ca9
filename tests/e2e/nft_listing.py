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
