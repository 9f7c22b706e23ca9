# SPDX-License-Identifier: Apache-2.0
"""The kernel counters after real traffic (docs/layout.md, Counters): per backendRef, the
connections forwarded, the connections reset, and the packets and bytes of both directions;
per route, their sum. The packet and byte counts are checked against an independent count
kept by a foreign table in the node namespace (the forward hook, split by conntrack
direction), not against numbers nftgate computes."""
import json
import time

from netns import EXAMPLE, NODE_V4, NODE_V6, manifest_paths

AUDIT = """table inet audit {
	counter original { }
	counter reply { }
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct mark != 0 ct direction original counter name "original"
		ct mark != 0 ct direction reply counter name "reply"
	}
}
"""


def counters(sb):
    """name -> (comment, packets, bytes) of every named counter in the node namespace."""
    doc = json.loads(sb.nft("-j", "list", "counters").stdout)
    return {(c["table"], c["name"]): (c.get("comment", ""), c["packets"], c["bytes"])
            for c in (o["counter"] for o in doc["nftables"] if "counter" in o)}


def settled(sb, timeout=5.0):
    """Counters once two reads in a row agree (the last FIN/ACKs may still be in flight)."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        now = counters(sb)
        if now == last:
            return now
        last = now
        time.sleep(0.05)
    raise AssertionError("counters kept changing: %s" % last)


def test_counters_after_real_traffic(sandbox):
    paths = manifest_paths("half-invalid")
    sandbox.build(paths)
    sandbox.apply(*paths)
    sandbox.exec(sandbox.node, ["nft", "-f", "-"], input=AUDIT)
    t4, t6 = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8080)], count=60)
    for t in (t4, t6):
        assert t.answered + t.reset == t.n and t.answered and t.reset, t
    answered, reset = t4.answered + t6.answered, t4.reset + t6.reset

    c = settled(sandbox)
    ours = {name: v for (table, name), v in c.items() if table == "nftgate"}
    by_kind = {}
    for name, (comment, packets, nbytes) in ours.items():
        assert comment.startswith("route default/half rule 0 ref "), (name, comment)
        by_kind.setdefault(name.rsplit("_", 1)[1], []).append((comment, packets, nbytes))
    # one forwarding backendRef (svc-b), one invalid one (no-such-service)
    assert len(by_kind["conn"]) == 1 and "svc-b" in by_kind["conn"][0][0], by_kind
    assert len(by_kind["rej"]) == 1 and "no-such-service" in by_kind["rej"][0][0], by_kind
    assert len(by_kind["traffic"]) == 1 and "svc-b" in by_kind["traffic"][0][0], by_kind
    # a connection is counted once, on its first packet
    assert by_kind["conn"][0][1] == answered, (by_kind, t4, t6)
    assert by_kind["rej"][0][1] == reset, (by_kind, t4, t6)
    # per route: the sum over counters whose comment names the route
    route = sum(p for k in ("conn", "rej") for _, p, _ in by_kind[k])
    assert route == t4.n + t6.n
    # packets and bytes of both directions, equal to what the forward hook saw
    orig, reply = c[("audit", "original")], c[("audit", "reply")]
    assert orig[1] >= 3 * answered and reply[1] >= 2 * answered, (orig, reply)
    assert orig[2] > 0 and reply[2] > 0
    _, packets, nbytes = by_kind["traffic"][0]
    assert (packets, nbytes) == (orig[1] + reply[1], orig[2] + reply[2]), (by_kind, orig, reply)


def test_counters_count_from_zero_per_share(sandbox):
    """Two routes, two listeners: each backendRef's counters see only its own connections."""
    paths = [EXAMPLE]
    sandbox.build(paths)
    sandbox.apply(*paths)
    foo, bar = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8090)], count=7)
    assert foo.answered == 7 and bar.answered == 7, (foo, bar)
    extra = sandbox.probe(NODE_V4, 8090, count=4)
    assert extra.answered == 4, extra
    conn = {v[0].split()[1]: v[1] for (table, name), v in settled(sandbox).items()
            if table == "nftgate" and name.endswith("_conn")}
    assert conn == {"default/tcp-app-1": 7, "default/tcp-app-2": 11}, conn
