# SPDX-License-Identifier: Apache-2.0
"""The UDP half of the sandbox itself, without nftgate: udp_server.py answering as its pod,
probe_udp's tallies (answered, ICMP port unreachable, timeout), the DNS stand-in and probe,
node-local UDP servers, the stream helper, and pods made from UDP EndpointSlices. Every other
UDP test leans on these; they pass whatever nftgate does with UDP."""
import struct

import pytest

import udp_server
from netns import CLIENT_V4, CLIENT_V6, MANIFESTS, NODE_V4, dns_query, dns_txt_answer
from test_conformance import BASE, docs_of, make_backends, upstream_yaml

UDP_PATHS = [MANIFESTS / "common" / "class.yaml", MANIFESTS / "udp-backends.yaml"]


def test_direct_probe_answered_by_the_pod(sandbox):
    sandbox.add_pod("u-1", ["10.244.20.10"], ["fd00:244:20::10"], udp_ports=[7100, 7101])
    sandbox.add_pod("u-2", ["10.244.20.11"], udp_ports=[7100])
    sandbox.ready()
    a4, a6, b, other_port = sandbox.probe_udp_many(
        [("10.244.20.10", 7100), ("fd00:244:20::10", 7100), ("10.244.20.11", 7100),
         ("10.244.20.10", 7101)], count=10, per_flow=3)
    for t, pod in ((a4, "u-1"), (a6, "u-1"), (b, "u-2"), (other_port, "u-1")):
        assert t.n == 30 and t.flows == 10 and t.pods == {pod: 30}, t
        assert t.unreachable == 0 and t.timeout == 0 and not t.other, t
    # routed, not translated: the pod sees the client and is reached on the port asked for
    assert a4.peers == {"u-1": [CLIENT_V4]} and a4.ports == {"u-1": [7100]}, a4
    assert a6.peers == {"u-1": [CLIENT_V6]}, a6
    assert other_port.ports == {"u-1": [7101]}, other_port
    # the node's own output path reaches the pods as well
    own = sandbox.probe_udp("10.244.20.10", 7100, count=5, src=sandbox.node)
    assert own.pods == {"u-1": 5}, own


def test_closed_port_is_icmp_unreachable(sandbox):
    sandbox.add_pod("u-1", ["10.244.20.10"], ["fd00:244:20::10"], udp_ports=[7100])
    sandbox.ready()
    # 50 in a row: more than the kernel's default ICMP rate limits would let through
    t4, t6 = sandbox.probe_udp_many([("10.244.20.10", 7199), ("fd00:244:20::10", 7199)],
                                    count=50, timeout=2.0)
    for t in (t4, t6):
        assert t.unreachable == 50 and not t.pods and t.timeout == 0, t
    # the node itself (no process on 7199 there) answers ICMP for every datagram too
    node = sandbox.probe_udp(NODE_V4, 7199, count=50, timeout=2.0)
    assert node.unreachable == 50 and not node.pods, node


def test_dropped_datagram_is_a_timeout(sandbox):
    sandbox.add_pod("u-1", ["10.244.20.10"], udp_ports=[7100])
    sandbox.ready()
    sandbox.exec(sandbox.node, ["nft", "-f", "-"], input="""table inet ngt-drop {
	chain forward { type filter hook forward priority filter; udp dport 7100 drop; }
}
""")
    t = sandbox.probe_udp("10.244.20.10", 7100, count=3, timeout=0.3)
    assert t.timeout == 3 and t.unreachable == 0 and not t.pods, t


def test_dns_stand_in_answers_its_pod_name(sandbox):
    sandbox.add_pod("dns-0", ["10.244.20.53"], ["fd00:244:20::53"], dns_ports=[53])
    sandbox.ready()
    for host in ("10.244.20.53", "fd00:244:20::53"):
        t = sandbox.probe_dns(host, 53, count=5)
        assert t.pods == {"dns-0": 5} and not t.other and not t.timeout, t
    closed = sandbox.probe_dns("10.244.20.53", 54, count=2)
    assert closed.unreachable == 2 and not closed.pods, closed


def test_dns_answer_is_checked():
    q = dns_query(0x1234, "foo.bar.com")
    good = udp_server.dns_answer(q, "coredns-0")
    assert dns_txt_answer(q, good) == "coredns-0"
    # another id, a query echoed back, a truncated answer, an error RCODE: not valid answers
    assert dns_txt_answer(dns_query(0x1235, "foo.bar.com"), good) is None
    assert dns_txt_answer(q, q) is None
    assert dns_txt_answer(q, good[:-3]) is None
    servfail = good[:3] + bytes([good[3] | 2]) + good[4:]
    assert dns_txt_answer(q, servfail) is None
    # the server ignores what is not a query
    assert udp_server.dns_answer(good, "x") is None
    assert udp_server.dns_answer(b"\0" * 5, "x") is None
    header = struct.unpack("!HHHHHH", good[:12])
    assert header[0] == 0x1234 and header[1] & 0x8000 and header[2:4] == (1, 1), header


def test_node_local_udp_answers_from_the_address_asked(sandbox_factory):
    sb = sandbox_factory(node_extra_v4=["198.51.100.3"], node_extra_v6=["fd00:c::3"])
    sb.start_node_local_udp(8443)
    sb.ready()
    # a connected client drops an answer from another source address: each of these is
    # answered only because the server answers from the address the datagram was sent to
    out = sb.probe_udp_many([(NODE_V4, 8443), ("198.51.100.3", 8443), ("fd00:c::3", 8443)],
                            count=5)
    for t in out:
        assert t.pods == {"node-local": 5}, t
    lo = sb.probe_udp("127.0.0.1", 8443, count=3, src=sb.node)
    assert lo.pods == {"node-local": 3}, lo


def test_stream_is_one_flow(sandbox):
    sandbox.add_pod("u-1", ["10.244.20.10"], udp_ports=[7100])
    sandbox.ready()
    # conntrack tracks a namespace's packets once some rule there uses it
    sandbox.exec(sandbox.node, ["nft", "-f", "-"], input="""table inet ngt-ct {
	chain forward { type filter hook forward priority filter; ct state new accept; }
}
""")
    s = sandbox.stream("10.244.20.10", 7100, interval=0.01)
    first = s.wait_answers(0, 10)
    m = s.mark()
    later = s.wait_answers(m, 10)
    assert {p for _, p in first + later} == {"u-1"}, (first, later)
    assert all(seq >= m for seq, _ in later), later
    seqs = [seq for seq, _ in s.answers()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    # one conntrack entry on the node for the stream's source port
    ct = sandbox.exec(sandbox.node, ["conntrack", "-L", "-p", "udp", "--sport", str(s.sport)])
    assert len([line for line in ct.stdout.splitlines() if "dport=7100" in line]) == 1, ct.stdout
    s.close()


def test_pods_from_udp_slices(sandbox):
    docs = sandbox.build(UDP_PATHS)
    assert {n: (p.service, p.ports, p.udp_ports) for n, p in sandbox.pods.items()} == {
        "uf-1": ("udp-foo", [], [7100]), "uf-2": ("udp-foo", [], [7100]),
        "ub-1": ("udp-bar", [], [7101]), "tt-1": ("tcp-twin", [7102], []),
        "to-1": ("tcp-only", [7103], [])}, sandbox.pods
    assert sandbox.pods["uf-1"].addrs == ["10.244.11.10", "fd00:244:11::10"]
    assert any(d["kind"] == "Service" for d in docs)
    u6, tcp = sandbox.probe_udp("fd00:244:11::11", 7100, count=3), \
        sandbox.probe("10.244.13.10", 7102, count=3)
    assert u6.pods == {"uf-2": 3}, u6
    assert tcp.pods == {"tt-1": 3}, tcp
    # a TCP pod port is not served over UDP
    assert sandbox.probe_udp("10.244.13.10", 7102, count=2).unreachable == 2


@pytest.mark.skipif(not BASE.is_file(), reason="upstream conformance manifests not found "
                    "(set NFTGATE_SHARED)")
def test_conformance_backends_for_udp(sandbox):
    """make_backends for an upstream UDP test: UDP slices named and typed as the Service
    port, UDP servers on the targetPorts, and the coredns stand-in answering DNS on 53."""
    docs = docs_of(BASE) + docs_of(upstream_yaml("udproute-weighted-routing")) + \
        docs_of(upstream_yaml("udproute-simple"))
    slices = {s["metadata"]["labels"]["kubernetes.io/service-name"]: s
              for s in make_backends(sandbox, docs)}
    assert sorted(slices) == ["coredns", "udp-backend-v1", "udp-backend-v2", "udp-backend-v3"]
    assert slices["coredns"]["ports"] == [{"name": "udp-dns", "protocol": "UDP", "port": 53}]
    assert slices["udp-backend-v1"]["ports"] == [{"name": "udp", "protocol": "UDP",
                                                  "port": 8080}]
    sandbox.ready()
    dns_addr = slices["coredns"]["endpoints"][0]["addresses"][0]
    t = sandbox.probe_dns(dns_addr, 53, count=3)
    assert t.pods == {"coredns-0": 3}, t
    v2 = slices["udp-backend-v2"]["endpoints"][0]["addresses"][0]
    assert sandbox.probe_udp(v2, 8080, count=3).pods == {"udp-backend-v2-0": 3}
    # the UDP pods serve UDP only
    assert all(not p.ports for p in sandbox.pods.values()), sandbox.pods


def test_udp_server_reply_fields():
    # the server's reply text is the TCP greeting's fields, with seq when asked for one
    srv = udp_server.Server("p")
    assert srv.reply(b"7", ("::ffff:198.51.100.2", 4000), 7100, False) == \
        b"pod=p peer=198.51.100.2:4000 port=7100 seq=7\n"
    assert srv.reply(b"", ("fd00:c::2", 4000, 0, 0), 7100, False) == \
        b"pod=p peer=[fd00:c::2]:4000 port=7100\n"


def test_stream_sees_a_stale_entry_until_it_is_deleted(sandbox):
    """The premise of test_udp_flows.py, with a hand-written stand-in for nftgate's rules:
    after the DNAT changes, the flow's conntrack entry keeps it on the old pod; once the
    entries with the old mark are deleted it moves; a routed flow's entry is left alone."""
    from test_udp_flows import Bystander, assert_moved, ct_entries, the_pod

    sandbox.add_pod("uf-1", ["10.244.11.10"], udp_ports=[7100])
    sandbox.add_pod("uf-2", ["10.244.11.11"], udp_ports=[7100])
    sandbox.ready()

    def dnat(addr, mark):
        sandbox.exec(sandbox.node, ["nft", "-f", "-"], input="""table ip ngt-emu
delete table ip ngt-emu
table ip ngt-emu {
	chain pre {
		type nat hook prerouting priority dstnat;
		udp dport 8053 ct mark set %d dnat to %s:7100
	}
}
""" % (mark, addr))

    dnat("10.244.11.10", 1)
    flow = sandbox.stream(NODE_V4, 8053)
    assert the_pod(flow) == "uf-1"
    bystander = Bystander(sandbox, "uf-1")
    entry = [e for e in ct_entries(sandbox, flow.sport)]
    assert len(entry) == 1 and "mark=1" in entry[0][1], entry
    dnat("10.244.11.11", 2)
    assert the_pod(flow, flow.mark()) == "uf-1"  # stale: the rule alone does not move it
    sandbox.exec(sandbox.node, ["conntrack", "-D", "-p", "udp", "--mark", "1"])
    assert_moved(flow, "uf-1", "uf-2")
    bystander.check()
    flow.close()
    bystander.stream.close()
