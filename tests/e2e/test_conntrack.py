# SPDX-License-Identifier: Apache-2.0
"""Stale UDP flows (docs/layout.md): after a commit removes or re-addresses an endpoint, the
UDP conntrack entries carrying exactly its mark, in its family, are deleted; TCP entries of
that mark, entries of other marks and unmarked ones stay.

No UDP listener is needed: the entries are made with `conntrack -I` in the node namespace,
each with the mark nftgate gave an endpoint (read from `nft list map ... endpoint4/6`), and
the cleanup is driven through the product: `nftgate apply`, `nftgate rollback`, and
`nftgate run` on a file change and on its first reconcile after a restart.
"""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from netns import CLIENT_V4, CLIENT_V6, EXAMPLE, NODE_V4, NODE_V6
from test_daemon import FOO_PODS, Daemon, service_doc, slice_doc, write_backends, write_yaml

FOO2_V4, FOO2_V6 = FOO_PODS["foo-2"]
FOO1_V4, FOO1_V6 = FOO_PODS["foo-1"]

pytestmark = pytest.mark.skipif(not shutil.which("conntrack"),
                                reason="needs the conntrack tool (apt-get install conntrack)")


@pytest.fixture
def inputs():
    d = Path(tempfile.mkdtemp(prefix="nftgate-ct-"))
    shutil.copy(EXAMPLE / "gateway.yaml", d / "gateway.yaml")
    shutil.copy(EXAMPLE / "routes.yaml", d / "routes.yaml")
    write_backends(d, {k: FOO_PODS[k] for k in ("foo-1", "foo-2")})
    yield d
    shutil.rmtree(d, ignore_errors=True)


def endpoint_marks(sb, family):
    """{pod address: mark} of endpoint4 or endpoint6."""
    out = sb.nft("-j", "list", "map", "inet", "nftgate", "endpoint%d" % family).stdout
    m = [o["map"] for o in json.loads(out)["nftables"] if "map" in o][0]
    return {data["concat"][0]: mark for mark, data in m.get("elem", [])}


def ct(sb, *args, check=True):
    return sb.exec(sb.node, ["conntrack"] + [str(a) for a in args], check=check)


def insert(sb, proto, src, dst, sport, dport, mark=None):
    args = ["-I", "-p", proto, "-s", src, "-d", dst, "--sport", sport, "--dport", dport,
            "--timeout", 100]
    if proto == "tcp":
        args += ["--state", "ESTABLISHED"]
    if mark is not None:
        args += ["-m", mark]
    ct(sb, *args)


def flows(sb):
    """Every conntrack entry of the node namespace as (family, proto, sport, mark)."""
    out = ct(sb, "-L", "-o", "extended", check=False).stdout
    got = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        kv = {}
        for x in f:
            if "=" in x:  # the first of each: the original direction
                kv.setdefault(*x.split("=", 1))
        got.add((f[0], f[2], int(kv["sport"]), int(kv.get("mark", 0))))
    return got


def plant(sb, mark4, mark6, other):
    """Entries for the endpoint of mark4/mark6 (UDP in both families, TCP) and ones that
    must survive whatever happens to it: another endpoint's UDP flow, an unmarked one.
    Returns the set flows() gives for them."""
    insert(sb, "udp", CLIENT_V4, NODE_V4, 40001, 8080, mark4)
    insert(sb, "tcp", CLIENT_V4, NODE_V4, 40002, 8080, mark4)
    insert(sb, "udp", CLIENT_V6, NODE_V6, 40003, 8080, mark6)
    insert(sb, "udp", CLIENT_V4, NODE_V4, 40004, 8080, other)
    insert(sb, "udp", CLIENT_V4, NODE_V4, 40005, 8080)
    return {("ipv4", "udp", 40001, mark4), ("ipv4", "tcp", 40002, mark4),
            ("ipv6", "udp", 40003, mark6), ("ipv4", "udp", 40004, other),
            ("ipv4", "udp", 40005, 0)}


def gone(planted, *sports):
    return {f for f in planted if f[2] not in sports}


def test_apply_deletes_udp_flows_of_removed_endpoints(sandbox, inputs):
    sandbox.apply(inputs)
    m4, m6 = endpoint_marks(sandbox, 4), endpoint_marks(sandbox, 6)
    assert m4[FOO2_V4] == m6[FOO2_V6]  # indexes are per family: one mark names both
    planted = plant(sandbox, m4[FOO2_V4], m6[FOO2_V6], m4[FOO1_V4])
    assert flows(sandbox) == planted

    # an apply that changes nothing of foo-2 deletes nothing
    out = sandbox.apply(inputs).stdout
    assert "conntrack:" not in out, out
    assert flows(sandbox) == planted

    # foo-2 leaves the IPv4 slice only: its IPv4 UDP flow goes; the IPv6 entry of the
    # same mark, the TCP one, the other endpoint's and the unmarked stay
    foo = {k: FOO_PODS[k] for k in ("foo-1", "foo-2")}
    write_yaml(inputs / "foo.yaml", [service_doc("my-foo-service", 7000),
                                     slice_doc("my-foo-service", 4, 7000,
                                               {"foo-1": FOO_PODS["foo-1"]}),
                                     slice_doc("my-foo-service", 6, 7000, foo)])
    out = sandbox.apply(inputs).stdout
    assert "conntrack: 1 UDP flow to removed backends deleted" in out, out
    assert FOO2_V4 not in endpoint_marks(sandbox, 4)
    assert flows(sandbox) == gone(planted, 40001)

    # and from IPv6: the IPv6 one goes
    write_backends(inputs, {"foo-1": FOO_PODS["foo-1"]})
    out = sandbox.apply(inputs).stdout
    assert "conntrack: 1 UDP flow to removed backends deleted" in out, out
    assert flows(sandbox) == gone(planted, 40001, 40003)


def test_apply_deletes_udp_flows_of_a_readdressed_endpoint(sandbox, inputs):
    """A pod replaced at another address takes the freed index: same mark, new data."""
    sandbox.apply(inputs)
    m4 = endpoint_marks(sandbox, 4)
    planted = plant(sandbox, m4[FOO2_V4], m4[FOO2_V4], m4[FOO1_V4])
    write_backends(inputs, {"foo-1": FOO_PODS["foo-1"],
                            "foo-2b": ("10.244.1.99", "fd00:244:1::99")})
    out = sandbox.apply(inputs).stdout
    assert endpoint_marks(sandbox, 4)["10.244.1.99"] == m4[FOO2_V4], "index not reused"
    assert "conntrack: 2 UDP flows to removed backends deleted" in out, out
    assert flows(sandbox) == gone(planted, 40001, 40003)


def test_rollback_deletes_udp_flows_of_endpoints_it_removes(sandbox, inputs):
    sandbox.apply(inputs)
    write_backends(inputs, FOO_PODS)
    sandbox.apply(inputs)
    m4, m6 = endpoint_marks(sandbox, 4), endpoint_marks(sandbox, 6)
    foo3_v4, foo3_v6 = FOO_PODS["foo-3"]
    planted = plant(sandbox, m4[foo3_v4], m6[foo3_v6], m4[FOO1_V4])
    out = sandbox.nftgate("rollback", "--state-dir", sandbox.state_dir).stdout
    assert "conntrack: 2 UDP flows to removed backends deleted" in out, out
    assert foo3_v4 not in endpoint_marks(sandbox, 4)
    assert flows(sandbox) == gone(planted, 40001, 40003)


def flows_deleted(d, since, n):
    return d.wait(lambda e: e.get("msg") == "conntrack: UDP flows to removed endpoints "
                  "deleted" and e.get("deleted") == n, since, what="%d UDP flows deleted" % n)


def test_run_deletes_udp_flows_on_a_file_change(sandbox, inputs):
    d = Daemon(sandbox, [inputs])
    d.reconcile()
    m4, m6 = endpoint_marks(sandbox, 4), endpoint_marks(sandbox, 6)
    planted = plant(sandbox, m4[FOO2_V4], m6[FOO2_V6], m4[FOO1_V4])
    m = d.mark()
    write_backends(inputs, {"foo-1": FOO_PODS["foo-1"]})
    d.reconcile(m)
    flows_deleted(d, m, 2)
    assert flows(sandbox) == gone(planted, 40001, 40003)
    assert d.stop() == 0
    assert not any(e.get("level") == "warn" and "UDP flows" in e.get("msg", "")
                   for e in d.events), d.log_text()


def test_run_deletes_udp_flows_of_endpoints_removed_while_it_was_down(sandbox, inputs):
    d = Daemon(sandbox, [inputs])
    d.reconcile()
    m4, m6 = endpoint_marks(sandbox, 4), endpoint_marks(sandbox, 6)
    assert d.stop() == 0
    # while it is down: foo-2 leaves, and its flows (made before) are still there
    write_backends(inputs, {"foo-1": FOO_PODS["foo-1"]})
    planted = plant(sandbox, m4[FOO2_V4], m6[FOO2_V6], m4[FOO1_V4])
    d2 = Daemon(sandbox, [inputs])
    d2.reconcile()
    flows_deleted(d2, 0, 2)
    assert flows(sandbox) == gone(planted, 40001, 40003)
    # the next start: nothing left to delete, nothing logged
    assert d2.stop() == 0
    d3 = Daemon(sandbox, [inputs])
    d3.reconcile()
    assert d3.stop() == 0
    assert not any("UDP flows" in e.get("msg", "") for e in d3.events), d3.log_text()
    assert flows(sandbox) == gone(planted, 40001, 40003)
