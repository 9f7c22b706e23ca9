# SPDX-License-Identifier: Apache-2.0
"""A removed UDP backend loses its flows at once: when an endpoint leaves, nftgate deletes the
conntrack entries carrying its mark after the commit, so the next datagram of a flow that was
going to it is translated afresh and lands on a remaining backend. Without the cleanup the
flow's entry would keep it on the removed pod, whose server keeps running here and would
answer: every test below would see it.

One flow is one source port: `netns.py stream` sends a numbered datagram every 10 ms from one
socket and reports which pod answered each. "After the change" means datagrams numbered from a
mark taken once `nftgate apply` has returned, or once the daemon logged the reconcile that
carried the change. A flow that does not go through a listener (client to a pod address,
routed) keeps its conntrack entry throughout. Backends: manifests/udp-backends.yaml (udp-foo:
uf-1 and uf-2 behind listener foo, 8053)."""
import re
import shutil

import pytest
import yaml

from netns import MANIFESTS, NODE_V4, NODE_V6
from test_daemon import Daemon, write_yaml

CLASS = MANIFESTS / "common" / "class.yaml"
BACKENDS = MANIFESTS / "udp-backends.yaml"
GATEWAY = MANIFESTS / "udp-gateway.yaml"
PATHS = [CLASS, BACKENDS, GATEWAY]
FOO = {"uf-1", "uf-2"}


def backends_without(pod):
    """udp-backends.yaml with pod's endpoints removed from every EndpointSlice."""
    docs = [d for d in yaml.safe_load_all(BACKENDS.read_text()) if d]
    for d in docs:
        if d["kind"] == "EndpointSlice":
            d["endpoints"] = [e for e in d["endpoints"] if e["targetRef"]["name"] != pod]
    return docs


def the_pod(stream, since=0, n=10):
    """The one pod answering the stream's datagrams from since on (at least n of them)."""
    got = {p for _, p in stream.wait_answers(since, n)}
    assert len(got) == 1 and got <= FOO, got
    return got.pop()


def assert_moved(stream, removed, kept, n=20):
    """Every answer to a datagram sent from now on comes from kept, none from removed."""
    m = stream.mark()
    after = stream.wait_answers(m, n)
    assert {p for _, p in after} == {kept}, (removed, kept, after)
    return m


def ct_entries(sb, sport):
    """The conntrack entries in the node namespace of UDP flows from source port sport:
    (id, the entry's addresses, ports, mark and id)."""
    out = sb.exec(sb.node, ["conntrack", "-L", "-p", "udp", "--sport", str(sport), "-o", "id"],
                  check=False).stdout
    entries = []
    for line in out.splitlines():
        m = re.search(r"\bid=(\d+)", line)
        if m:
            tuple_text = " ".join(w for w in line.split() if w.startswith(
                ("src=", "dst=", "sport=", "dport=", "mark=", "id=")))
            entries.append((m.group(1), tuple_text))
    return entries


class Bystander:
    """A flow from the client straight to a pod address (routed through the node, no
    listener): its conntrack entry must survive any cleanup."""

    def __init__(self, sb, pod):
        self.sb = sb
        self.addr = sb.pods[pod].v4[0]
        self.pod = pod
        self.stream = sb.stream(self.addr, 7100)
        assert the_pod(self.stream) == pod
        self.before = ct_entries(sb, self.stream.sport)
        assert len(self.before) == 1, self.before

    def check(self):
        m = self.stream.mark()
        assert {p for _, p in self.stream.wait_answers(m, 10)} == {self.pod}
        assert ct_entries(self.sb, self.stream.sport) == self.before


def start_flow(sb, host=NODE_V4):
    s = sb.stream(host, 8053)
    pod = the_pod(s)
    return s, pod, (FOO - {pod}).pop()


@pytest.mark.parametrize("host", [NODE_V4, NODE_V6])
def test_apply_moves_the_flow_of_a_removed_backend(sandbox, host):
    sandbox.build(PATHS)
    sandbox.apply(*PATHS)
    flow, removed, kept = start_flow(sandbox, host)
    bystander = Bystander(sandbox, removed)
    edited = sandbox.tmp / "udp-backends.yaml"
    edited.write_text(yaml.safe_dump_all(backends_without(removed)))
    sandbox.apply(CLASS, edited, GATEWAY)
    assert_moved(flow, removed, kept)
    bystander.check()
    # the other listener's flows are untouched by udp-foo's change
    assert sandbox.probe_udp(NODE_V4, 8054, count=5).by_service(sandbox) == {"udp-bar": 5}


@pytest.fixture
def udp_inputs(sandbox):
    d = sandbox.tmp / "inputs"
    d.mkdir()
    for p in PATHS:
        shutil.copy(p, d / p.name)
    return d


def test_daemon_moves_the_flow_of_a_removed_backend(sandbox, udp_inputs):
    sandbox.build(PATHS)
    d = Daemon(sandbox, [udp_inputs])
    d.reconcile()
    flow, removed, kept = start_flow(sandbox)
    bystander = Bystander(sandbox, removed)
    m = d.mark()
    write_yaml(udp_inputs / BACKENDS.name, backends_without(removed))
    e = d.reconcile(m)
    assert e["msgs"] > 0, e
    assert_moved(flow, removed, kept)
    bystander.check()
    assert d.stop() == 0


def test_restart_deletes_the_stale_entry_at_its_first_reconcile(sandbox, udp_inputs):
    sandbox.build(PATHS)
    d = Daemon(sandbox, [udp_inputs])
    d.reconcile()
    flow, removed, kept = start_flow(sandbox)
    bystander = Bystander(sandbox, removed)
    assert d.stop() == 0
    # Nobody watches: the slice changes, and the flow's entry keeps it on the removed pod
    # (the table is as the daemon left it).
    write_yaml(udp_inputs / BACKENDS.name, backends_without(removed))
    assert the_pod(flow, flow.mark()) == removed
    d2 = Daemon(sandbox, [udp_inputs])
    e = d2.reconcile()
    assert e["msgs"] > 0, e   # the adopted table is updated for the missing endpoint
    assert_moved(flow, removed, kept)
    bystander.check()
    assert d2.stop() == 0
