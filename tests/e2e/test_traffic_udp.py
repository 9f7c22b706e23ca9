# SPDX-License-Identifier: Apache-2.0
"""UDP through the kernel: UDPRoutes on UDP listeners (tests/e2e/manifests/udp-*.yaml, the
UDP twin of examples/basic-tcp) over IPv4 and IPv6, from a client and from the node itself; a
UDP and a TCP listener sharing a port; the counters after real datagrams; and the inputs that
cannot forward (udp-bad.yaml): a rejecting UDP listener answers ICMP port unreachable, never
lets a datagram reach a process on the node, and the rest of the inputs still applies.

Every probe flow is its own source port unless per_flow says otherwise: the kernel picks a
backend per flow (per conntrack entry), as it picks one per TCP connection."""
import json

from netns import MANIFESTS, NODE_V4, NODE_V6
from test_conformance import Status, cond
from test_traffic_counters import AUDIT, settled, share_sums, split

CLASS = MANIFESTS / "common" / "class.yaml"
BACKENDS = MANIFESTS / "udp-backends.yaml"
GATEWAY = MANIFESTS / "udp-gateway.yaml"
BAD = MANIFESTS / "udp-bad.yaml"
PATHS = [CLASS, BACKENDS, GATEWAY]
ALL = PATHS + [BAD]


def prepare(sb, paths=PATHS, node_local=(), node_local_udp=()):
    sb.build(paths, node_local=node_local, node_local_udp=node_local_udp)
    return sb.apply(*paths)


def status(sb, paths):
    args = []
    for p in paths:
        args += ["-f", p]
    r = sb.nftgate("status", *args, "-o", "json", ns=sb.client)
    return Status(json.loads(r.stdout))


def pods_of(sb, service):
    return {p.name for p in sb.pods.values() if p.service == service}


def assert_all_to(sb, tally, service, port):
    """Every datagram answered by service's pods, all of them used, on the pod port."""
    assert tally.by_service(sb) == {service: tally.n}, tally
    assert set(tally.pods) == pods_of(sb, service), tally
    assert {p for ports in tally.ports.values() for p in ports} == {port}, tally.ports


def all_unreachable(tally):
    assert tally.unreachable == tally.n and not tally.pods, tally


def line_of(path, text):
    """The 1-based line of path holding text (which must occur once)."""
    lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, (path, text, lines)
    return lines[0]


# ---- forwarding ------------------------------------------------------------------------------


def test_udp_ipv4(sandbox):
    prepare(sandbox)
    foo, bar, svc_port = sandbox.probe_udp_many(
        [(NODE_V4, 8053), (NODE_V4, 8054), (NODE_V4, 6000)], count=40)
    # Pods serve 7100/7101 only: the Service port 6000 is never used on the wire.
    assert_all_to(sandbox, foo, "udp-foo", 7100)
    assert_all_to(sandbox, bar, "udp-bar", 7101)
    all_unreachable(svc_port)


def test_udp_ipv6(sandbox):
    prepare(sandbox)
    foo, bar = sandbox.probe_udp_many([(NODE_V6, 8053), (NODE_V6, 8054)], count=40)
    assert_all_to(sandbox, foo, "udp-foo", 7100)
    assert_all_to(sandbox, bar, "udp-bar", 7101)


def test_udp_several_datagrams_per_flow_stay_on_one_pod(sandbox):
    prepare(sandbox)
    for host in (NODE_V4, NODE_V6):
        t = sandbox.probe_udp(host, 8053, count=1, per_flow=10)
        assert t.answered == 10 and len(t.pods) == 1 and set(t.pods) <= {"uf-1", "uf-2"}, t


def test_udp_from_the_node_itself(sandbox):
    # A local process holds 8053/udp on every node address, loopback included: a datagram to
    # the node's own address is forwarded to a foo pod, one to loopback is not (as for TCP).
    prepare(sandbox, node_local_udp=[8053])
    own4, own6, bar4, lo4, lo6 = sandbox.probe_udp_many(
        [(NODE_V4, 8053), (NODE_V6, 8053), (NODE_V4, 8054), ("127.0.0.1", 8053),
         ("::1", 8053)], count=20, src=sandbox.node)
    assert own4.by_service(sandbox) == {"udp-foo": 20}, own4
    assert own6.by_service(sandbox) == {"udp-foo": 20}, own6
    assert bar4.by_service(sandbox) == {"udp-bar": 20}, bar4
    assert lo4.pods == {"node-local": 20}, lo4
    assert lo6.pods == {"node-local": 20}, lo6


def test_udp_forwards_only_once_applied(sandbox):
    # Sanity of the sandbox: before the apply, 8053/udp on the node is the local process.
    sandbox.build(PATHS, node_local_udp=[8053])
    before = sandbox.probe_udp(NODE_V4, 8053, count=5)
    assert before.pods == {"node-local": 5}, before
    sandbox.apply(*PATHS)
    after = sandbox.probe_udp(NODE_V4, 8053, count=20)
    assert after.by_service(sandbox) == {"udp-foo": 20}, after


def test_udp_and_tcp_listeners_on_one_port(sandbox):
    # foo (UDP 8053) -> udp-foo, foo-tcp (TCP 8053) -> tcp-twin: distinct listeners.
    prepare(sandbox)
    for host in (NODE_V4, NODE_V6):
        udp = sandbox.probe_udp(host, 8053, count=20)
        tcp = sandbox.probe(host, 8053, count=20)
        assert udp.by_service(sandbox) == {"udp-foo": 20}, udp
        assert tcp.by_service(sandbox) == {"tcp-twin": 20}, tcp
        assert tcp.ports == {"tt-1": [7102]}, tcp.ports
    # TCP on UDP-only 8054 is not a listener: nothing of ours answers it
    assert sandbox.probe(NODE_V4, 8054, count=3).answered == 0


def test_udp_status(sandbox):
    prepare(sandbox)
    st = status(sandbox, PATHS)
    for route, section in (("udp-app-1", "foo"), ("udp-app-2", "bar")):
        p = st.parent(route, "udp-gw", section, kind="UDPRoute", namespace="default")
        assert cond(p["conditions"], "Accepted") == ("True", "Accepted"), p
        assert cond(p["conditions"], "ResolvedRefs") == ("True", "ResolvedRefs"), p
    for name, kind in (("foo", "UDPRoute"), ("bar", "UDPRoute"), ("foo-tcp", "TCPRoute")):
        ls = st.listener("udp-gw", name, namespace="default")
        assert ls["attachedRoutes"] == 1, ls
        assert ls["supportedKinds"] == [{"group": "gateway.networking.k8s.io", "kind": kind}], ls


# ---- counters --------------------------------------------------------------------------------


def share(shares, kind, route, backend):
    """The one share counter of kind whose comment names route and backend."""
    found = [v for v in shares.get(kind, []) if route in v[0] and backend in v[0]]
    assert len(found) == 1, (kind, route, backend, shares)
    return found[0]


def test_udp_counters(sandbox):
    """After N datagrams in M flows the share's _conn counter counts M (one per flow, on its
    first datagram) and _traffic at least the N requests and N replies, all of which the forward
    hook saw; a rejecting listener's _rej counts every datagram it refused."""
    prepare(sandbox, paths=ALL)
    sandbox.exec(sandbox.node, ["nft", "-f", "-"], input=AUDIT)
    flows, per_flow = 8, 5
    n = flows * per_flow
    t4, t6 = sandbox.probe_udp_many([(NODE_V4, 8054), (NODE_V6, 8054)], count=flows // 2,
                                    per_flow=per_flow)
    assert t4.by_service(sandbox) == {"udp-bar": n // 2}, t4
    assert t6.by_service(sandbox) == {"udp-bar": n // 2}, t6
    rejected = sandbox.probe_udp(NODE_V4, 8057, count=6, per_flow=2)
    all_unreachable(rejected)

    c = settled(sandbox)
    shares, routes = split(c)
    _, conn, _ = share(shares, "conn", "default/udp-app-2", "udp-bar")
    assert conn == flows, (shares, t4, t6)
    _, packets, nbytes = share(shares, "traffic", "default/udp-app-2", "udp-bar")
    assert packets >= 2 * n, shares
    orig, reply = c[("audit", "original")], c[("audit", "reply")]
    assert orig[1] == n and reply[1] == n, (orig, reply)
    assert (packets, nbytes) == (orig[1] + reply[1], orig[2] + reply[2]), (shares, orig, reply)
    _, rej, _ = share(shares, "rej", "default/udp-missing", "no-such-service")
    assert rej == rejected.n, (shares, rejected)
    # the route's own counters are the sums of its shares, as for TCP
    route = "udproute default/udp-app-2"
    assert routes[route] == share_sums(shares, route), routes
    assert routes[route]["conn"][0] == flows, routes


# ---- what cannot forward ---------------------------------------------------------------------


def test_udp_listener_without_backend_is_unreachable(sandbox):
    # udp-missing's listener (8057) rejects: ICMP port unreachable for every datagram, over
    # both families, and never the local process on 8057; loopback is not ours.
    prepare(sandbox, paths=ALL, node_local_udp=[8057])
    t4, t6, side = sandbox.probe_udp_many([(NODE_V4, 8057), (NODE_V6, 8057), (NODE_V4, 8054)],
                                          count=20)
    all_unreachable(t4)
    all_unreachable(t6)
    assert side.by_service(sandbox) == {"udp-bar": 20}, side
    lo = sandbox.probe_udp("127.0.0.1", 8057, count=3, src=sandbox.node)
    assert lo.pods == {"node-local": 3}, lo
    p = status(sandbox, ALL).parent("udp-missing", "udp-bad-gw", "missing", kind="UDPRoute",
                                    namespace="default")
    assert cond(p["conditions"], "Accepted") == ("True", "Accepted"), p
    assert cond(p["conditions"], "ResolvedRefs") == ("False", "BackendNotFound"), p


def test_udp_route_on_a_tcp_listener_is_not_allowed(sandbox):
    # udp-on-tcp names the TCP listener tcp-only (8055): not attached, and nothing is forwarded
    # for it, so 8055/udp stays the node's own process.
    prepare(sandbox, paths=ALL, node_local_udp=[8055])
    t = sandbox.probe_udp(NODE_V4, 8055, count=10)
    assert t.pods == {"node-local": 10}, t
    st = status(sandbox, ALL)
    p = st.parent("udp-on-tcp", "udp-bad-gw", "tcp-only", kind="UDPRoute", namespace="default")
    assert cond(p["conditions"], "Accepted") == ("False", "NotAllowedByListeners"), p
    assert st.listener("udp-bad-gw", "tcp-only", namespace="default")["attachedRoutes"] == 0


def test_udp_backend_without_udp_port(sandbox):
    # tcp-only has port 6000 for TCP only: udp-to-tcp-only's backendRef is reported at its
    # line, its listener (8056) rejects, and everything else still applies.
    sandbox.build(ALL, node_local_udp=[8056])
    r = sandbox.apply(*ALL, check=False)
    assert r.returncode == 0, r.stderr
    where = "%s:%d: " % (BAD, line_of(BAD, "- {name: tcp-only, port: 6000}"))
    diag = [line for line in r.stderr.splitlines() if line.startswith(where)]
    assert diag and "UDPRoute default/udp-to-tcp-only" in diag[0], r.stderr
    assert "tcp-only" in diag[0][len(where):].replace("udp-to-tcp-only", ""), diag
    bad4, bad6, foo, bar = sandbox.probe_udp_many(
        [(NODE_V4, 8056), (NODE_V6, 8056), (NODE_V4, 8053), (NODE_V6, 8054)], count=20)
    all_unreachable(bad4)
    all_unreachable(bad6)
    assert foo.by_service(sandbox) == {"udp-foo": 20}, foo
    assert bar.by_service(sandbox) == {"udp-bar": 20}, bar
    # the TCP backend's pod is never reached over TCP through this listener either
    assert not sandbox.probe(NODE_V4, 8056, count=3).pods
    p = status(sandbox, ALL).parent("udp-to-tcp-only", "udp-bad-gw", "no-udp-port",
                                    kind="UDPRoute", namespace="default")
    assert cond(p["conditions"], "Accepted") == ("True", "Accepted"), p
    assert cond(p["conditions"], "ResolvedRefs") == ("False", "BackendNotFound"), p
