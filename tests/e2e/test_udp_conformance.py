# SPDX-License-Identifier: Apache-2.0
"""The nine upstream UDPRoute conformance tests (reference/gateway-api.md §5.2), run as
test_conformance.py runs the TCPRoute ones, with its harness: upstream's base/manifests.yaml
and tests/<name>.yaml unmodified, the pods and EndpointSlices a cluster would have made from
them (UDP servers on the UDP targetPorts; for base's `coredns` Deployment, udp_server.py's DNS
stand-in for CoreDNS `whoami`, answering a TXT record with its pod name), the later route of
UDPRouteMultipleRoutesAttachment, and the grant's deletion for UDPRouteReferenceGrant.

On the wire a UDP listener that cannot forward answers every datagram with ICMP port
unreachable (the TCP twins' reset) and never lets one reach a process on the node; each
probe flow is its own source port, so a backend is chosen per datagram.
"""
from netns import NODE_V4
from test_conformance import (BASE, INFRA, Conformance, assert_gateway_ready, docs_of,
                              upstream_yaml, write_yaml)
from test_conformance import assert_route as _assert_route
from test_conformance import pytestmark  # noqa: F401 (skipped without the upstream manifests)

UDP = "UDPRoute"


def assert_route(st, route, gateway, section, accepted, resolved):
    _assert_route(st, route, gateway, section, accepted, resolved, kind=UDP)


def assert_ready(st, gateway, listeners):
    assert_gateway_ready(st, gateway, listeners, kind=UDP)


def only_backend(sb, tally, service):
    assert tally.answered == tally.n and set(tally.by_service(sb)) == {service}, tally


def all_unreachable(tally):
    """Every datagram answered by ICMP port unreachable: no pod, no local process."""
    assert tally.unreachable == tally.n and not tally.pods, tally


# ---- the nine tests ------------------------------------------------------------------------


def test_udproute_simple(sandbox):
    # The coredns stand-in behind port 5300 answers a query for foo.bar.com (upstream asks
    # CoreDNS, whose whoami zone answers it) through the Gateway.
    c = Conformance(sandbox, "udproute-simple", node_local_udp=[5300])
    c.apply()
    t = sandbox.probe_dns(NODE_V4, 5300, count=10, qname="foo.bar.com")
    assert t.pods == {"coredns-0": 10}, t
    st = c.status()
    assert_route(st, "udp-coredns", "udp-gateway", "coredns", ("True", "Accepted"),
                 ("True", "ResolvedRefs"))
    assert_ready(st, "udp-gateway", {"coredns": 1})


def test_udproute_parentref_attach_all_listeners(sandbox):
    c = Conformance(sandbox, "udproute-parentref-attach-all-listeners")
    c.apply()
    ports = [5310, 5311, 5312]
    for t in sandbox.probe_udp_many([(NODE_V4, p) for p in ports], count=10):
        only_backend(sandbox, t, "udp-echo-attach-all")
    st = c.status()
    assert_route(st, "udp-route-attach-all", "udp-attach-all-listeners-gateway", None,
                 ("True", "Accepted"), ("True", "ResolvedRefs"))
    assert_ready(st, "udp-attach-all-listeners-gateway", {"udp-1": 1, "udp-2": 1, "udp-3": 1})


def test_udproute_parentref_port_and_section_name(sandbox):
    c = Conformance(sandbox, "udproute-parentref-port-and-section-name")
    c.apply()
    by_port, by_section, both = sandbox.probe_udp_many(
        [(NODE_V4, 5300), (NODE_V4, 5301), (NODE_V4, 5302)], count=10)
    only_backend(sandbox, by_port, "udp-echo-by-port")
    only_backend(sandbox, by_section, "udp-echo-by-section")
    only_backend(sandbox, both, "udp-echo-by-section-and-port")
    st = c.status()
    gw = "udp-multi-listener-gateway"
    assert_route(st, "udp-route-by-port", gw, None, ("True", "Accepted"), None)
    assert_route(st, "udp-route-by-section", gw, "by-section", ("True", "Accepted"), None)
    assert_route(st, "udp-route-by-section-and-port", gw, "by-section-and-port",
                 ("True", "Accepted"), None)
    assert_ready(st, gw, {"by-port": 1, "by-section": 1, "by-section-and-port": 1})


def test_udproute_not_allowed_by_listeners(sandbox):
    # The Gateway's only listener is TLS on 443: nothing is forwarded on 443/udp, so a local
    # process there still answers (as the TCP twin's HTTP listener leaves 5300 alone).
    c = Conformance(sandbox, "udproute-not-allowed-by-listeners", node_local_udp=[443])
    c.apply()
    t = sandbox.probe_udp(NODE_V4, 443, count=10)
    assert t.pods == {"node-local": 10}, t
    st = c.status()
    assert_route(st, "udproute-not-allowed-by-listeners", "udproute-tls-only-gateway", "tls",
                 ("False", "NotAllowedByListeners"), None)
    assert st.listener("udproute-tls-only-gateway", "tls")["attachedRoutes"] == 0


def test_udproute_invalid_backendref_nonexistent(sandbox):
    c = Conformance(sandbox, "udproute-invalid-backendref-nonexistent", node_local_udp=[5300])
    c.apply()
    all_unreachable(sandbox.probe_udp(NODE_V4, 5300, count=20))
    st = c.status()
    assert_route(st, "udp-route-invalid-backend-ref-nonexistent", "udp-gateway-invalid-backend",
                 "udp", ("True", "Accepted"), ("False", "BackendNotFound"))
    assert_ready(st, "udp-gateway-invalid-backend", {"udp": 1})


def test_udproute_invalid_cross_namespace_backend_ref(sandbox):
    # Unlike the TCP twin, upstream defines no Service udp-echo-no-reference-grant at all:
    # the missing grant is reported first (RefNotPermitted), whether or not it exists.
    c = Conformance(sandbox, "udproute-invalid-cross-namespace-backend-ref", node_local_udp=[5300])
    c.apply()
    all_unreachable(sandbox.probe_udp(NODE_V4, 5300, count=20))
    st = c.status()
    gw = "udp-gateway-invalid-cross-namespace-backend-ref"
    assert_route(st, "udp-route-invalid-cross-namespace-backend-ref", gw, "udp",
                 ("True", "Accepted"), ("False", "RefNotPermitted"))
    assert_ready(st, gw, {"udp": 1})


def test_udproute_reference_grant(sandbox):
    c = Conformance(sandbox, "udproute-reference-grant", node_local_udp=[5300])
    # The backend pod runs in the other namespace's Service: only the grant lets traffic in.
    assert any(p.service == "udp-echo-reference-grant" for p in sandbox.pods.values())
    c.apply()
    only_backend(sandbox, sandbox.probe_udp(NODE_V4, 5300, count=20), "udp-echo-reference-grant")
    st = c.status()
    gw = "udp-gateway-reference-grant"
    assert_route(st, "udp-route-reference-grant", gw, "udp", ("True", "Accepted"),
                 ("True", "ResolvedRefs"))
    assert_ready(st, gw, {"udp": 1})

    # Delete the grant: access is revoked on the wire and in status.
    kept = [d for d in docs_of(upstream_yaml("udproute-reference-grant"))
            if d["kind"] != "ReferenceGrant"]
    c.inputs = [BASE, write_yaml(sandbox.tmp / "without-grant.yaml", kept)]
    c.apply()
    all_unreachable(sandbox.probe_udp(NODE_V4, 5300, count=20))
    assert_route(c.status(), "udp-route-reference-grant", gw, "udp", ("True", "Accepted"),
                 ("False", "RefNotPermitted"))


def test_udproute_weighted_routing(sandbox):
    c = Conformance(sandbox, "udproute-weighted-routing")
    c.apply()
    sandbox.probe_udp_weighted(NODE_V4, 5300,
                               {"udp-backend-v1": 0.70, "udp-backend-v2": 0.30,
                                "udp-backend-v3": 0})
    st = c.status()
    assert_route(st, "udp-weighted-route", "udp-weighted-gateway", "udp",
                 ("True", "Accepted"), ("True", "ResolvedRefs"))
    assert_ready(st, "udp-weighted-gateway", {"udp": 1})


def test_udproute_multiple_routes_attachment(sandbox):
    name = "udproute-multiple-routes-attachment"
    # As for the TCP twin: creationTimestamps, and the newer route the Go test creates later
    # on the same listener, to the other backend; its name sorts before the older one's.
    docs = docs_of(upstream_yaml(name))
    for d in docs:
        d["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    newer = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "UDPRoute",
        "metadata": {"name": "udproute-attach-newer", "namespace": INFRA,
                     "creationTimestamp": "2026-01-01T00:00:02Z"},
        "spec": {"parentRefs": [{"name": "udp-multi-route-attach-gateway",
                                 "sectionName": "udp"}],
                 "rules": [{"backendRefs": [{"name": "udp-attach-backend-2", "port": 8080}]}]},
    }
    c = Conformance(sandbox, name, test_docs=docs + [newer])
    # both backends run: only the older route decides which one answers
    assert {p.service for p in sandbox.pods.values()} >= {"udp-attach-backend-1",
                                                           "udp-attach-backend-2"}
    c.apply()
    only_backend(sandbox, sandbox.probe_udp(NODE_V4, 5301, count=100), "udp-attach-backend-1")
    st = c.status()
    gw = "udp-multi-route-attach-gateway"
    assert_route(st, "udproute-attach-older", gw, "udp", ("True", "Accepted"), None)
    assert_route(st, "udproute-attach-newer", gw, "udp", ("True", "Accepted"), None)
    assert_ready(st, gw, {"udp": 2})
