# SPDX-License-Identifier: Apache-2.0
"""The kernel counters after real traffic (docs/layout.md, Counters): per backendRef (share
counters s<id>_*) and per route (route counters r<id>_*), the connections forwarded, the
connections reset, and the packets and bytes of both directions. The counts are checked
against what the client saw and an independent count kept by a foreign table in the node
namespace (the forward hook, split by conntrack direction), not against numbers nftgate
computes; a route's counters must equal the sum of its shares'."""
import json
import time

from netns import EXAMPLE, MANIFESTS, NODE_V4, NODE_V6, manifest_paths

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


def route_of(comment):
    """The route a counter's comment names: "ns/name" for a TCPRoute ("route ns/name ..."),
    "udproute ns/name" for a UDPRoute, so that routes of one name and both kinds differ;
    None for a comment that names no route (a listener that rejects as a whole)."""
    word, name = (comment.split() + ["", ""])[:2]
    if word not in ("route", "udproute"):
        return None
    return name if word == "route" else "udproute " + name


def split(c):
    """Our counters as (shares, routes): kind -> [(comment, packets, bytes)], and
    route (route_of()) -> kind -> (packets, bytes) with the kinds conn, rej, traffic."""
    shares, routes = {}, {}
    for (table, name), (comment, packets, nbytes) in c.items():
        if table != "nftgate":
            continue
        kind = name.rsplit("_", 1)[1]
        if name.startswith("r"):
            assert len(comment.split()) == 2, (name, comment)
            route = route_of(comment)
            assert route, (name, comment)
            assert kind not in routes.setdefault(route, {}), (name, c)
            routes[route][kind] = (packets, nbytes)
        else:
            assert name.startswith("s"), name
            shares.setdefault(kind, []).append((comment, packets, nbytes))
    return shares, routes


def share_sums(shares, route):
    """kind -> (packets, bytes) summed over the share counters whose comment names route."""
    sums = {}
    for kind, vals in shares.items():
        for comment, packets, nbytes in vals:
            if route_of(comment) == route:
                p, b = sums.get(kind, (0, 0))
                sums[kind] = (p + packets, b + nbytes)
    return sums


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
    by_kind, routes = split(c)
    for kind, vals in by_kind.items():
        for comment, _, _ in vals:
            assert comment.startswith("route default/half rule 0 ref "), (kind, comment)
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
    # the route's own counters: one of each kind, equal to the client's and the forward
    # hook's counts and to the sum of the route's shares
    assert list(routes) == ["default/half"], routes
    half = routes["default/half"]
    assert sorted(half) == ["conn", "rej", "traffic"], half
    assert half["conn"][0] == answered, (half, t4, t6)
    assert half["rej"][0] == reset, (half, t4, t6)
    assert half["traffic"] == (orig[1] + reply[1], orig[2] + reply[2]), (half, orig, reply)
    assert half == share_sums(by_kind, "default/half"), (half, by_kind)


def test_counters_count_from_zero_per_share(sandbox):
    """Two routes, two listeners: each backendRef's counters see only its own connections."""
    paths = [EXAMPLE]
    sandbox.build(paths)
    sandbox.apply(*paths)
    foo, bar = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8090)], count=7)
    assert foo.answered == 7 and bar.answered == 7, (foo, bar)
    extra = sandbox.probe(NODE_V4, 8090, count=4)
    assert extra.answered == 4, extra
    shares, routes = split(settled(sandbox))
    conn = {v[0].split()[1]: v[1] for v in shares["conn"]}
    assert conn == {"default/tcp-app-1": 7, "default/tcp-app-2": 11}, conn
    assert {r: k["conn"][0] for r, k in routes.items()} == conn, routes
    for r in conn:
        assert routes[r] == share_sums(shares, r), (r, routes, shares)


def test_route_counters_survive_reapply(sandbox, tmp_path):
    """A route that persists keeps its counters' names and values through a re-apply, even
    when its backendRef changes (new share counters from zero); a route that no longer
    carries traffic has no counters."""
    sandbox.build([EXAMPLE])
    sandbox.apply(EXAMPLE)
    foo, bar = sandbox.probe_many([(NODE_V4, 8080), (NODE_V4, 8090)], count=5)
    assert foo.answered == 5 and bar.answered == 5, (foo, bar)
    before = settled(sandbox)
    _, routes = split(before)
    assert routes["default/tcp-app-1"]["conn"][0] == 5, routes
    assert routes["default/tcp-app-2"]["conn"][0] == 5, routes
    names = {(comment, name) for (table, name), (comment, _, _) in before.items()
             if table == "nftgate" and name.startswith("r")}

    # tcp-app-2 now goes to my-foo-service: its share is new, the route is not
    sandbox.apply(EXAMPLE / "gateway.yaml", EXAMPLE / "services.yaml",
                  MANIFESTS / "reapply" / "routes.yaml")
    after = settled(sandbox)
    assert names == {(comment, name) for (table, name), (comment, _, _) in after.items()
                     if table == "nftgate" and name.startswith("r")}
    for (table, name), v in before.items():
        if table == "nftgate" and (name.startswith("r") or "tcp-app-1" in v[0]):
            assert after[(table, name)] == v, (name, v, after.get((table, name)))
    bar2 = sandbox.probe(NODE_V4, 8090, count=3)
    assert bar2.by_service(sandbox) == {"my-foo-service": 3}, bar2
    shares, routes = split(settled(sandbox))
    app2 = share_sums(shares, "default/tcp-app-2")
    assert app2["conn"][0] == 3, shares
    assert routes["default/tcp-app-2"]["conn"][0] == 5 + 3, routes
    assert routes["default/tcp-app-1"]["conn"][0] == 5, routes

    # without tcp-app-2, listener bar has no route: it resets, and no route counter names
    # tcp-app-2
    only = tmp_path / "routes.yaml"
    only.write_text((MANIFESTS / "reapply" / "routes.yaml").read_text().split("---")[0])
    sandbox.apply(EXAMPLE / "gateway.yaml", EXAMPLE / "services.yaml", only)
    assert sandbox.probe(NODE_V4, 8090, count=2).reset == 2
    shares, routes = split(settled(sandbox))
    assert sorted(routes) == ["default/tcp-app-1"], routes
    assert routes["default/tcp-app-1"]["conn"][0] == 5, routes
    rejected = [v for v in shares.get("rej", []) if "default/my-tcp-gateway/bar" in v[0]]
    assert len(rejected) == 1 and rejected[0][1] == 2, shares
