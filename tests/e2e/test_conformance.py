# SPDX-License-Identifier: Apache-2.0
"""The eight upstream TCPRoute conformance tests (reference/gateway-api.md §5.1), run against
nftgate in a sandbox: upstream's base/manifests.yaml and tests/<name>.yaml unmodified, plus
what a cluster would have made from them:

- for each Service backed by a Deployment (same namespace, selector matching the pod
  template's labels) that some TCPRoute (or UDPRoute, test_udp_conformance.py) references:
  `replicas` pods running echo servers on the Service's targetPorts (UDP ones: udp_server.py,
  CoreDNS: its DNS stand-in), and the EndpointSlice the cluster would write for them;
- creationTimestamp on the objects of a test that depends on creation order, and the second
  route that the upstream Go test creates later (TCPRouteMultipleRoutesAttachment);
- the deletion of the ReferenceGrant (TCPRouteReferenceGrant), by re-applying without it.

Each test asserts on the wire what the upstream test asserts, and in `nftgate status -o json`
(same inputs) the conditions and attachedRoutes it expects. The GatewayClass is the literal
"{GATEWAY_CLASS_NAME}" of the manifests, claimed with --gateway-class.
"""
import json
import os
from pathlib import Path

import pytest
import yaml

from netns import NODE_V4, REPO

SHARED = Path(os.environ.get("NFTGATE_SHARED", REPO.parent / "shared"))
CONFORMANCE = SHARED / "upstream" / "gateway-api" / "conformance"
BASE = CONFORMANCE / "base" / "manifests.yaml"
CLASS = "{GATEWAY_CLASS_NAME}"
INFRA = "gateway-conformance-infra"

pytestmark = pytest.mark.skipif(not BASE.is_file(),
                                reason="upstream conformance manifests not found at %s "
                                "(set NFTGATE_SHARED)" % CONFORMANCE)


def upstream_yaml(name):
    return CONFORMANCE / "tests" / (name + ".yaml")


def docs_of(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


# ---- what a cluster would add -------------------------------------------------------------


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


ROUTE_KINDS = ("TCPRoute", "UDPRoute")


def backed_services(docs):
    """(Service doc, replicas, Deployment doc) for each Service a Deployment backs and a
    TCPRoute or UDPRoute references."""
    referenced = set()
    for d in docs:
        if d["kind"] not in ROUTE_KINDS:
            continue
        rns = d["metadata"].get("namespace", "default")
        for rule in d["spec"].get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                if ref.get("kind", "Service") == "Service" and not ref.get("group"):
                    referenced.add((ref.get("namespace", rns), ref["name"]))
    out = []
    for svc in (d for d in docs if d["kind"] == "Service"):
        ns = svc["metadata"].get("namespace", "default")
        if (ns, svc["metadata"]["name"]) not in referenced:
            continue
        for dep in (d for d in docs if d["kind"] == "Deployment"):
            tmpl = dep["spec"]["template"]["metadata"].get("labels") or {}
            if dep["metadata"].get("namespace", "default") == ns and \
                    matches(svc["spec"].get("selector"), tmpl):
                out.append((svc, dep["spec"].get("replicas", 1), dep))
                break
    return out


def is_coredns(dep):
    """A Deployment of CoreDNS: its pods get the DNS stand-in (udp_server.py --dns)."""
    return any("/coredns/coredns" in c.get("image", "")
               for c in dep["spec"]["template"]["spec"].get("containers", []))


def make_backends(sb, docs):
    """Starts the pods and returns the EndpointSlices for them; pod name -> Service name."""
    slices = []
    for k, (svc, replicas, dep) in enumerate(backed_services(docs)):
        ns, name = svc["metadata"].get("namespace", "default"), svc["metadata"]["name"]
        ports = [p for p in svc["spec"]["ports"] if isinstance(p.get("targetPort"), int)]
        tcp = sorted({p["targetPort"] for p in ports if p.get("protocol", "TCP") != "UDP"})
        udp = sorted({p["targetPort"] for p in ports if p.get("protocol") == "UDP"})
        endpoints = []
        for i in range(replicas):
            pod = "%s-%d" % (name, i)
            addr = "10.245.%d.%d" % (k + 1, 10 + i)
            sb.add_pod(pod, v4=[addr], ports=tcp, service=name,
                       udp_ports=[] if is_coredns(dep) else udp,
                       dns_ports=udp if is_coredns(dep) else [])
            endpoints.append({"addresses": [addr], "conditions": {"ready": True},
                              "targetRef": {"kind": "Pod", "name": pod, "namespace": ns}})
        slices.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name + "-e2e", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": p.get("name", ""), "protocol": p.get("protocol", "TCP"),
                       "port": p["targetPort"]} for p in ports],
            "endpoints": endpoints,
        })
    return slices


def write_yaml(path, docs):
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


class Conformance:
    """One upstream test in one sandbox: inputs, backends, apply and status."""

    def __init__(self, sb, name, node_local=(), test_docs=None, node_local_udp=()):
        """test_docs replaces the upstream test file by what a cluster would hold instead;
        node_local (TCP) and node_local_udp ports get a server on the node itself."""
        self.sb = sb
        if test_docs is None:
            self.inputs = [BASE, upstream_yaml(name)]
            test_docs = docs_of(upstream_yaml(name))
        else:
            self.inputs = [BASE, write_yaml(sb.tmp / (name + ".yaml"), test_docs)]
        docs = docs_of(BASE) + test_docs
        self.endpoints = write_yaml(sb.tmp / "endpointslices.yaml", make_backends(sb, docs))
        for port in node_local:
            sb.start_node_local(port)
        for port in node_local_udp:
            sb.start_node_local_udp(port)
        sb.ready()

    def paths(self):
        return self.inputs + [self.endpoints]

    def apply(self):
        args = []
        for p in self.paths():
            args += ["-f", p]
        return self.sb.nftgate("apply", *args, "--state-dir", self.sb.state_dir,
                               "--gateway-class", CLASS)

    def status(self):
        args = []
        for p in self.paths():
            args += ["-f", p]
        r = self.sb.nftgate("status", *args, "-o", "json", "--gateway-class", CLASS,
                            ns=self.sb.client)
        return Status(json.loads(r.stdout))


class Status:
    """`nftgate status -o json`: a List of objects with a Gateway API status."""

    def __init__(self, doc):
        self.items = doc.get("items", doc if isinstance(doc, list) else [])

    def obj(self, kind, name, namespace=INFRA):
        for it in self.items:
            m = it.get("metadata", {})
            if it.get("kind") == kind and m.get("name") == name and \
                    m.get("namespace") == namespace:
                return it
        raise AssertionError("no status for %s %s/%s in %s" % (
            kind, namespace, name,
            [(i.get("kind"), i.get("metadata", {}).get("name")) for i in self.items]))

    def listener(self, gateway, listener, namespace=INFRA):
        for ls in self.obj("Gateway", gateway, namespace)["status"].get("listeners", []):
            if ls["name"] == listener:
                return ls
        raise AssertionError("Gateway %s has no listener status %s" % (gateway, listener))

    def parents(self, route, kind="TCPRoute", namespace=INFRA):
        return self.obj(kind, route, namespace)["status"].get("parents", [])

    def parent(self, route, gateway, section=None, kind="TCPRoute", namespace=INFRA):
        for p in self.parents(route, kind, namespace):
            ref = p["parentRef"]
            if ref["name"] == gateway and ref.get("sectionName") == section:
                return p
        raise AssertionError("%s %s has no parent status for %s/%s: %s"
                             % (kind, route, gateway, section,
                                self.parents(route, kind, namespace)))


def cond(conditions, ctype):
    for c in conditions:
        if c["type"] == ctype:
            return (c["status"], c["reason"])
    raise AssertionError("no %s condition in %s" % (ctype, conditions))


def assert_route(st, route, gateway, section, accepted, resolved, kind="TCPRoute",
                 namespace=INFRA):
    p = st.parent(route, gateway, section, kind, namespace)
    assert p["controllerName"] == "nftgate.io/agent", p
    # The parentRef echoed with group and kind filled in, as conformance compares it.
    assert p["parentRef"].get("group") == "gateway.networking.k8s.io", p["parentRef"]
    assert p["parentRef"].get("kind") == "Gateway", p["parentRef"]
    assert cond(p["conditions"], "Accepted") == accepted, p
    if resolved:
        assert cond(p["conditions"], "ResolvedRefs") == resolved, p


def assert_gateway_ready(st, gateway, listeners, kind="TCPRoute"):
    """Gateway Accepted and Programmed; each listener's attachedRoutes, its conditions True
    and kind among its supportedKinds."""
    conds = st.obj("Gateway", gateway)["status"]["conditions"]
    assert cond(conds, "Accepted")[0] == "True", conds
    assert cond(conds, "Programmed")[0] == "True", conds
    for name, attached in listeners.items():
        ls = st.listener(gateway, name)
        assert ls["attachedRoutes"] == attached, ls
        for t in ("Accepted", "Programmed", "ResolvedRefs"):
            assert cond(ls["conditions"], t)[0] == "True", ls
        assert {"group": "gateway.networking.k8s.io", "kind": kind} in \
            ls.get("supportedKinds", []), ls


def only_backend(sb, tally, service):
    assert tally.answered == tally.n and set(tally.by_service(sb)) == {service}, tally


# ---- the eight tests ------------------------------------------------------------------


def test_tcproute_parentref_attach_all(sandbox):
    c = Conformance(sandbox, "tcproute-parentref-attach-all")
    c.apply()
    ports = [9310, 9311, 9312, 9313]
    for t in sandbox.probe_many([(NODE_V4, p) for p in ports], count=10):
        only_backend(sandbox, t, "tcp-echo-attach-all")
    st = c.status()
    assert_route(st, "tcp-route-attach-all", "tcp-attach-all-gateway", None,
                 ("True", "Accepted"), ("True", "ResolvedRefs"))
    assert_gateway_ready(st, "tcp-attach-all-gateway",
                         {"one": 1, "two": 1, "three": 1, "four": 1})


def test_tcproute_parentref_port_and_section_name(sandbox):
    c = Conformance(sandbox, "tcproute-parentref-port-and-section-name")
    c.apply()
    one, two, three = sandbox.probe_many([(NODE_V4, 9300), (NODE_V4, 9301), (NODE_V4, 9302)],
                                         count=10)
    only_backend(sandbox, one, "tcp-echo-one")
    only_backend(sandbox, two, "tcp-echo-two")
    only_backend(sandbox, three, "tcp-echo-three")
    st = c.status()
    gw = "tcp-multi-listener-gateway"
    assert_route(st, "tcp-route-by-port", gw, None, ("True", "Accepted"), None)
    assert_route(st, "tcp-route-by-section", gw, "two", ("True", "Accepted"), None)
    assert_route(st, "tcp-route-by-section-and-port", gw, "three", ("True", "Accepted"), None)
    assert_gateway_ready(st, gw, {"one": 1, "two": 1, "three": 1})


def test_tcproute_invalid_non_tcp_listener(sandbox):
    # Nothing is forwarded on the HTTP listener's port: a local process there still answers.
    c = Conformance(sandbox, "tcproute-invalid-non-tcp-listener", node_local=[5300])
    c.apply()
    t = sandbox.probe(NODE_V4, 5300, count=10)
    assert t.pods == {"node-local": 10}, t
    st = c.status()
    assert_route(st, "tcp-route", "tcp-mixed-protocol-gateway", "only-allow-http-routes",
                 ("False", "NotAllowedByListeners"), None)
    assert st.listener("tcp-mixed-protocol-gateway",
                       "only-allow-http-routes")["attachedRoutes"] == 0


def test_tcproute_invalid_backendref_nonexistent(sandbox):
    c = Conformance(sandbox, "tcproute-invalid-backendref-nonexistent", node_local=[9300])
    c.apply()
    t = sandbox.probe(NODE_V4, 9300, count=20)
    assert t.reset == 20 and not t.pods, t
    st = c.status()
    assert_route(st, "tcp-route-invalid-backend-ref-nonexistent", "tcp-gateway-invalid-backend",
                 "tcp", ("True", "Accepted"), ("False", "BackendNotFound"))
    assert_gateway_ready(st, "tcp-gateway-invalid-backend", {"tcp": 1})


def test_tcproute_invalid_cross_namespace_backend_ref(sandbox):
    c = Conformance(sandbox, "tcproute-invalid-cross-namespace-backend-ref", node_local=[9321])
    # The backend pod exists and runs: only the missing grant keeps traffic from it.
    assert any(p.service == "tcp-invalid-xns-backend" for p in sandbox.pods.values())
    c.apply()
    t = sandbox.probe(NODE_V4, 9321, count=20)
    assert t.reset == 20 and not t.pods, t
    st = c.status()
    gw = "tcp-invalid-cross-namespace-backend-ref-gateway"
    assert_route(st, "tcp-invalid-cross-namespace-backend-ref", gw, "tcp",
                 ("True", "Accepted"), ("False", "RefNotPermitted"))
    assert_gateway_ready(st, gw, {"tcp": 1})


def test_tcproute_reference_grant(sandbox):
    c = Conformance(sandbox, "tcproute-reference-grant", node_local=[9320])
    c.apply()
    t = sandbox.probe(NODE_V4, 9320, count=20)
    only_backend(sandbox, t, "tcp-reference-grant-backend")
    st = c.status()
    gw = "tcp-reference-grant-gateway"
    assert_route(st, "tcp-reference-grant", gw, "tcp", ("True", "Accepted"),
                 ("True", "ResolvedRefs"))
    assert_gateway_ready(st, gw, {"tcp": 1})

    # Delete the grant: access is revoked on the wire and in status.
    kept = [d for d in docs_of(upstream_yaml("tcproute-reference-grant"))
            if d["kind"] != "ReferenceGrant"]
    c.inputs = [BASE, write_yaml(sandbox.tmp / "without-grant.yaml", kept)]
    c.apply()
    t = sandbox.probe(NODE_V4, 9320, count=20)
    assert t.reset == 20 and not t.pods, t
    assert_route(c.status(), "tcp-reference-grant", gw, "tcp", ("True", "Accepted"),
                 ("False", "RefNotPermitted"))


def test_tcproute_weighted_routing(sandbox):
    c = Conformance(sandbox, "tcproute-weighted-routing")
    c.apply()
    sandbox.probe_weighted(NODE_V4, 9300,
                           {"tcp-backend-v1": 0.70, "tcp-backend-v2": 0.30, "tcp-backend-v3": 0})
    st = c.status()
    assert_route(st, "tcp-weighted-route", "tcp-weighted-gateway", "tcp",
                 ("True", "Accepted"), ("True", "ResolvedRefs"))


def test_tcproute_multiple_routes_attachment(sandbox):
    name = "tcproute-multiple-routes-attachment"
    # The API server stamps creationTimestamp; the Go test creates the newer route after
    # the manifests. Its name sorts before the older one's, so only time decides.
    docs = docs_of(upstream_yaml(name))
    for d in docs:
        d["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    newer = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
        "metadata": {"name": "tcproute-attach-newer", "namespace": INFRA,
                     "creationTimestamp": "2026-01-01T00:00:02Z"},
        "spec": {"parentRefs": [{"name": "tcp-multi-route-attach-gateway",
                                 "sectionName": "tcp"}],
                 "rules": [{"backendRefs": [{"name": "tcp-attach-backend-2", "port": 3000}]}]},
    }
    c = Conformance(sandbox, name, test_docs=docs + [newer])
    c.apply()
    t = sandbox.probe(NODE_V4, 9310, count=100)
    only_backend(sandbox, t, "tcp-attach-backend-1")
    st = c.status()
    gw = "tcp-multi-route-attach-gateway"
    assert_route(st, "tcproute-attach-older", gw, "tcp", ("True", "Accepted"), None)
    assert_route(st, "tcproute-attach-newer", gw, "tcp", ("True", "Accepted"), None)
    assert_gateway_ready(st, gw, {"tcp": 2})
