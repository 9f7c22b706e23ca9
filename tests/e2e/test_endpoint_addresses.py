# SPDX-License-Identifier: Apache-2.0
"""Endpoint addresses the API server refuses, and the per-share endpoint limit.

An EndpointSlice pointing at the node's loopback (or link-local, unspecified, ...) would make
nftgate DNAT a listener's connections to a process that is bound to 127.0.0.1 precisely so
that nobody else reaches it. nftgate refuses such input as Kubernetes does (model/validate.c):
apply exits 2 with file:line, changes nothing, and a client on the listener port never
reaches the loopback-only server. The share-size limit (PLAN_MAX_SHARE_ENDPOINTS) is an input
error located at the backendRef, checked without root.
"""
import os
import subprocess
from pathlib import Path

import pytest

from netns import MANIFESTS, NODE_V4, NODE_V6

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NFTGATE = os.environ.get("NFTGATE_BIN", str(REPO / "build" / "nftgate"))

POD_PORT = 7100       # what the slice says the pod listens on; the loopback server's port
LISTENER = 8080

GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nftgate-e2e
  listeners:
    - {name: tcp, protocol: TCP, port: %d}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: tcp}]
  rules:
    - backendRefs: [{name: svc-lo, port: 6000}]
---
apiVersion: v1
kind: Service
metadata: {name: svc-lo, namespace: default}
spec:
  ports: [{name: tcp, protocol: TCP, port: 6000, targetPort: %d}]
""" % (LISTENER, POD_PORT)

# Line 10 holds the address: the error must name it.
SLICE = """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-lo-1
  namespace: default
  labels: {kubernetes.io/service-name: svc-lo}
addressType: %s
ports: [{name: tcp, protocol: TCP, port: %d}]
endpoints:
  - addresses: ["%s"]
    conditions: {ready: true}
"""
ADDRESS_LINE = 10


def write_input(tmp, family, address):
    (tmp / "gateway.yaml").write_text(GATEWAY)
    (tmp / "slice.yaml").write_text(SLICE % (family, POD_PORT, address))
    return [MANIFESTS / "common" / "class.yaml", tmp / "gateway.yaml", tmp / "slice.yaml"]


def run(*args):
    return subprocess.run([NFTGATE, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_loopback_endpoint_refused_and_never_reached(sandbox):
    sb = sandbox
    # A service on the node that only the node may use: bound to its loopback alone.
    sb.start_server(sb.node, "node-loopback", [POD_PORT], host="127.0.0.1")
    sb.ready()
    # Installed first: the same Gateway and route, the Service without endpoints, so the
    # listener resets. The refused apply must leave exactly this in place.
    paths = write_input(sb.tmp, "IPv4", "127.0.0.1")
    sb.apply(*paths[:2])
    before = sb.nft("-s", "list", "ruleset").stdout
    assert "table inet nftgate" in before

    r = sb.apply(*paths, check=False)
    assert r.returncode == 2, r
    want = ('%s:%d: EndpointSlice default/svc-lo-1: endpoints[0].addresses[0]: "127.0.0.1" may '
            'not be an endpoint address: it is in the loopback range' % (paths[2], ADDRESS_LINE))
    assert any(line.startswith(want) for line in r.stderr.splitlines()), r.stderr
    assert "nothing was changed" in r.stderr
    assert sb.nft("-s", "list", "ruleset").stdout == before

    # Nothing forwards the listener port to the loopback server, from outside or inside.
    t4, t6 = sb.probe_many([(NODE_V4, LISTENER), (NODE_V6, LISTENER)], count=5)
    on_node = sb.probe(NODE_V4, LISTENER, count=5, src=sb.node)
    for t in (t4, t6, on_node):
        assert not t.pods and t.reset == 5, t
    # ...while the server is there and answers on loopback, so the probes could have seen it.
    lo = sb.probe("127.0.0.1", POD_PORT, count=2, src=sb.node)
    assert lo.pods == {"node-loopback": 2}, lo


@pytest.mark.parametrize("family,address,why", [
    ("IPv4", "0.0.0.0", "it is unspecified"),
    ("IPv4", "169.254.169.254", "it is in the link-local range"),
    ("IPv4", "224.0.0.1", "it is in the link-local multicast range"),
    ("IPv6", "::1", "it is in the loopback range"),
    ("IPv6", "fe80::1", "it is in the link-local range"),
    ("IPv6", "::ffff:10.244.1.10", "it is an IPv4-mapped IPv6 address"),
])
def test_refused_addresses_are_located_input_errors(tmp_path, family, address, why):
    paths = write_input(tmp_path, family, address)
    for cmd in (["status"], ["apply", "--dry-run"]):
        r = run(*cmd, *sum((["-f", p] for p in paths), []))
        assert r.returncode == 2, r
        assert r.stdout == ""
        want = '%s:%d: EndpointSlice default/svc-lo-1: endpoints[0].addresses[0]: "%s" may ' \
               'not be an endpoint address: %s' % (tmp_path / "slice.yaml", ADDRESS_LINE,
                                                    address, why)
        assert any(line.startswith(want) for line in r.stderr.splitlines()), r.stderr


@pytest.mark.parametrize("family,address", [("IPv4", "10.244.1.10"), ("IPv6", "fd00::1"),
                                            ("IPv6", "2001:db8::1")])
def test_pod_addresses_still_accepted(tmp_path, family, address):
    paths = write_input(tmp_path, family, address)
    r = run("apply", "--dry-run", *sum((["-f", p] for p in paths), []))
    assert r.returncode == 0, r.stderr


def big_slices(n, per_slice=1000):
    """EndpointSlices of svc-lo holding n distinct IPv4 endpoints (1000 per slice at most,
    the API's limit)."""
    docs = []
    for s in range(0, n, per_slice):
        eps = "".join("  - {addresses: [10.%d.%d.%d]}\n" % (100 + k // 65536, k // 256 % 256,
                                                            k % 256)
                      for k in range(s, min(n, s + per_slice)))
        docs.append("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                    "metadata: {name: big-%d, namespace: default, labels: "
                    "{kubernetes.io/service-name: svc-lo}}\n"
                    "addressType: IPv4\nports: [{name: tcp, protocol: TCP, port: %d}]\n"
                    "endpoints:\n%s" % (s, POD_PORT, eps))
    return "---\n".join(docs)


def test_share_endpoint_limit_is_a_located_input_error(tmp_path):
    (tmp_path / "gateway.yaml").write_text(GATEWAY)
    (tmp_path / "slices.yaml").write_text(big_slices(4096))
    paths = [MANIFESTS / "common" / "class.yaml", tmp_path / "gateway.yaml",
             tmp_path / "slices.yaml"]
    args = sum((["-f", p] for p in paths), [])
    route_line = GATEWAY.splitlines().index("    - backendRefs: [{name: svc-lo, port: 6000}]") + 1
    for cmd in (["status"], ["apply", "--dry-run"]):
        r = run(*cmd, *args)
        assert r.returncode == 2, r
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert lines[0] == (
            "%s:%d: TCPRoute default/app: spec.rules[0].backendRefs[0]: Service default/svc-lo "
            "port 6000 has 4096 IPv4 endpoints; a backendRef can have at most 4095 per address "
            "family (limit PLAN_MAX_SHARE_ENDPOINTS)" % (tmp_path / "gateway.yaml", route_line)), \
            r.stderr
        assert lines[-1] == "nftgate: 1 input error; nothing was changed", r.stderr
    # one fewer fits
    (tmp_path / "slices.yaml").write_text(big_slices(4095))
    r = run("apply", "--dry-run", *args)
    assert r.returncode == 0, r.stderr
