# SPDX-License-Identifier: Apache-2.0
"""`nftgate status` on the unmodified upstream TCPRoute conformance manifests: the conditions,
reasons, attachedRoutes and supportedKinds each upstream test expects
(reference/gateway-api.md §5.1). No root needed: status never touches the kernel.

Environment: NFTGATE_BIN (default build/nftgate), NFTGATE_SHARED (default <repo>/../shared).
"""
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NFTGATE_SHARED", REPO.parent / "shared"))
UPSTREAM = SHARED / "upstream" / "gateway-api"
BASE = UPSTREAM / "conformance" / "base" / "manifests.yaml"
TESTS = UPSTREAM / "conformance" / "tests"
NFTGATE = Path(os.environ.get("NFTGATE_BIN", REPO / "build" / "nftgate"))
CLASS = "{GATEWAY_CLASS_NAME}"
INFRA = "gateway-conformance-infra"
GROUP = "gateway.networking.k8s.io"
CONTROLLER = "nftgate.io/agent"


@pytest.fixture(autouse=True)
def _inputs_present():
    if not NFTGATE.is_file():
        pytest.skip("%s is not built (run make)" % NFTGATE)
    if not BASE.is_file():
        pytest.skip("upstream manifests not found under %s (set NFTGATE_SHARED)" % UPSTREAM)


def run_status(*paths, fmt="json", classes=(CLASS,)):
    cmd = [str(NFTGATE), "status", "-o", fmt]
    for c in classes:
        cmd += ["--gateway-class", c]
    for p in paths:
        cmd += ["-f", str(p)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr)
    doc = json.loads(p.stdout) if fmt == "json" else yaml.safe_load(p.stdout)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    return doc


def index(doc):
    return {(i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]): i
            for i in doc["items"]}


def conformance(test, extra=None):
    paths = [BASE, TESTS / (test + ".yaml")] + ([extra] if extra else [])
    return index(run_status(*paths))


def cond(conds, ctype):
    found = [c for c in conds if c["type"] == ctype]
    assert len(found) == 1, "want one %s condition in %s" % (ctype, conds)
    return found[0]


def assert_cond(conds, ctype, status, reason):
    c = cond(conds, ctype)
    assert (c["status"], c["reason"]) == (status, reason), c
    assert isinstance(c["observedGeneration"], int)
    assert c["lastTransitionTime"].endswith("Z")
    return c


def gateway(items, name, ns=INFRA):
    return items[("Gateway", ns, name)]


def listener(gw, name):
    found = [l for l in gw["status"]["listeners"] if l["name"] == name]
    assert len(found) == 1, gw["status"]["listeners"]
    return found[0]


def assert_gateway_ready(gw):
    """GatewayAndTCPRoutesMustBeAccepted: Gateway and every listener accepted and programmed."""
    gen = gw["metadata"]["generation"]
    assert assert_cond(gw["status"]["conditions"], "Accepted", "True", "Accepted")[
        "observedGeneration"] == gen
    assert_cond(gw["status"]["conditions"], "Programmed", "True", "Programmed")
    for l in gw["status"]["listeners"]:
        assert_cond(l["conditions"], "Accepted", "True", "Accepted")
        assert_cond(l["conditions"], "Programmed", "True", "Programmed")
        assert_cond(l["conditions"], "ResolvedRefs", "True", "ResolvedRefs")
        assert l["supportedKinds"] == [{"group": GROUP, "kind": "TCPRoute"}]


def route_parent(items, name, gw_name, ns=INFRA):
    r = items[("TCPRoute", ns, name)]
    parents = [p for p in r["status"]["parents"] if p["parentRef"]["name"] == gw_name]
    assert len(parents) == 1, r["status"]
    p = parents[0]
    # §4.1: conformance matches group and kind pointers, so they must be written
    assert p["parentRef"]["group"] == GROUP
    assert p["parentRef"]["kind"] == "Gateway"
    assert p["parentRef"]["namespace"] == ns
    assert p["controllerName"] == CONTROLLER
    for c in p["conditions"]:
        assert c["observedGeneration"] == r["metadata"]["generation"]
    return p


def assert_route_ok(items, name, gw_name):
    p = route_parent(items, name, gw_name)
    assert_cond(p["conditions"], "Accepted", "True", "Accepted")
    assert_cond(p["conditions"], "ResolvedRefs", "True", "ResolvedRefs")
    return p


def test_parentref_attach_all():
    items = conformance("tcproute-parentref-attach-all")
    gw = gateway(items, "tcp-attach-all-gateway")
    assert_gateway_ready(gw)
    for name in ("one", "two", "three", "four"):
        assert listener(gw, name)["attachedRoutes"] == 1
    p = assert_route_ok(items, "tcp-route-attach-all", "tcp-attach-all-gateway")
    assert "sectionName" not in p["parentRef"] and "port" not in p["parentRef"]


def test_parentref_port_and_section_name():
    items = conformance("tcproute-parentref-port-and-section-name")
    gw = gateway(items, "tcp-multi-listener-gateway")
    assert_gateway_ready(gw)
    for name in ("one", "two", "three"):
        assert listener(gw, name)["attachedRoutes"] == 1
    p = assert_route_ok(items, "tcp-route-by-port", "tcp-multi-listener-gateway")
    assert p["parentRef"]["port"] == 9300 and "sectionName" not in p["parentRef"]
    p = assert_route_ok(items, "tcp-route-by-section", "tcp-multi-listener-gateway")
    assert p["parentRef"]["sectionName"] == "two" and "port" not in p["parentRef"]
    p = assert_route_ok(items, "tcp-route-by-section-and-port", "tcp-multi-listener-gateway")
    assert (p["parentRef"]["sectionName"], p["parentRef"]["port"]) == ("three", 9302)


def test_invalid_non_tcp_listener():
    items = conformance("tcproute-invalid-non-tcp-listener")
    p = route_parent(items, "tcp-route", "tcp-mixed-protocol-gateway")
    assert_cond(p["conditions"], "Accepted", "False", "NotAllowedByListeners")
    gw = gateway(items, "tcp-mixed-protocol-gateway")
    l = listener(gw, "only-allow-http-routes")
    assert l["attachedRoutes"] == 0
    # §1.6: unsupported protocol listener
    assert l["supportedKinds"] == []
    assert_cond(l["conditions"], "Accepted", "False", "UnsupportedProtocol")
    assert_cond(gw["status"]["conditions"], "Accepted", "False", "ListenersNotValid")


def test_invalid_backendref_nonexistent():
    items = conformance("tcproute-invalid-backendref-nonexistent")
    assert_gateway_ready(gateway(items, "tcp-gateway-invalid-backend"))
    assert listener(gateway(items, "tcp-gateway-invalid-backend"), "tcp")["attachedRoutes"] == 1
    p = route_parent(items, "tcp-route-invalid-backend-ref-nonexistent",
                     "tcp-gateway-invalid-backend")
    assert_cond(p["conditions"], "Accepted", "True", "Accepted")
    c = assert_cond(p["conditions"], "ResolvedRefs", "False", "BackendNotFound")
    assert "nonexistent-service" in c["message"]


def test_invalid_cross_namespace_backend_ref():
    items = conformance("tcproute-invalid-cross-namespace-backend-ref")
    gw = gateway(items, "tcp-invalid-cross-namespace-backend-ref-gateway")
    assert_gateway_ready(gw)
    assert listener(gw, "tcp")["attachedRoutes"] == 1
    p = route_parent(items, "tcp-invalid-cross-namespace-backend-ref",
                     "tcp-invalid-cross-namespace-backend-ref-gateway")
    assert_cond(p["conditions"], "Accepted", "True", "Accepted")
    assert_cond(p["conditions"], "ResolvedRefs", "False", "RefNotPermitted")


def test_reference_grant():
    items = conformance("tcproute-reference-grant")
    assert_gateway_ready(gateway(items, "tcp-reference-grant-gateway"))
    assert_route_ok(items, "tcp-reference-grant", "tcp-reference-grant-gateway")


def test_reference_grant_deleted(tmp_path):
    """The upstream test deletes the grant and expects RefNotPermitted."""
    docs = list(yaml.safe_load_all((TESTS / "tcproute-reference-grant.yaml").read_text()))
    kept = [d for d in docs if d and d.get("kind") != "ReferenceGrant"]
    assert len(kept) == len([d for d in docs if d]) - 1
    copy = tmp_path / "tcproute-reference-grant-without-grant.yaml"
    copy.write_text(yaml.safe_dump_all(kept))
    items = index(run_status(BASE, copy))
    p = route_parent(items, "tcp-reference-grant", "tcp-reference-grant-gateway")
    assert_cond(p["conditions"], "Accepted", "True", "Accepted")
    assert_cond(p["conditions"], "ResolvedRefs", "False", "RefNotPermitted")


def test_weighted_routing():
    items = conformance("tcproute-weighted-routing")
    assert_gateway_ready(gateway(items, "tcp-weighted-gateway"))
    assert listener(gateway(items, "tcp-weighted-gateway"), "tcp")["attachedRoutes"] == 1
    assert_route_ok(items, "tcp-weighted-route", "tcp-weighted-gateway")


def test_multiple_routes_attachment(tmp_path):
    """The upstream test creates a second route on the same listener later: both Accepted,
    attachedRoutes 2, supportedKinds lists TCPRoute."""
    newer = tmp_path / "newer-route.yaml"
    newer.write_text(yaml.safe_dump({
        "apiVersion": GROUP + "/v1alpha2",
        "kind": "TCPRoute",
        "metadata": {"name": "tcproute-attach-newer", "namespace": INFRA},
        "spec": {
            "parentRefs": [{"name": "tcp-multi-route-attach-gateway", "sectionName": "tcp"}],
            "rules": [{"backendRefs": [{"name": "tcp-attach-backend-2", "port": 3000}]}],
        },
    }))
    items = conformance("tcproute-multiple-routes-attachment", newer)
    gw = gateway(items, "tcp-multi-route-attach-gateway")
    assert_gateway_ready(gw)
    l = listener(gw, "tcp")
    assert l["attachedRoutes"] == 2
    assert {"group": GROUP, "kind": "TCPRoute"} in l["supportedKinds"]
    assert_route_ok(items, "tcproute-attach-older", "tcp-multi-route-attach-gateway")
    assert_route_ok(items, "tcproute-attach-newer", "tcp-multi-route-attach-gateway")


def test_base_gateways_are_refused_listeners():
    """The base Gateways only have HTTP/HTTPS listeners, which nftgate does not serve."""
    items = index(run_status(BASE))
    gw = gateway(items, "same-namespace")
    assert_cond(gw["status"]["conditions"], "Accepted", "False", "ListenersNotValid")
    for l in gw["status"]["listeners"]:
        assert_cond(l["conditions"], "Accepted", "False", "UnsupportedProtocol")
        assert l["supportedKinds"] == [] and l["attachedRoutes"] == 0
    # a class claimed by name has no object, so no GatewayClass status
    assert not [k for k in items if k[0] == "GatewayClass"]


def example_inputs():
    local = REPO / "examples" / "basic-tcp"
    if local.is_dir() and any(local.glob("*.yaml")):
        return [local], ()
    return [UPSTREAM / "examples" / "basic-tcp.yaml"], ("my-tcp-gateway-class",)


def test_example_basic_tcp():
    paths, classes = example_inputs()
    items = index(run_status(*paths, classes=classes))
    gw = gateway(items, "my-tcp-gateway", ns="default")
    assert_gateway_ready(gw)
    assert listener(gw, "foo")["attachedRoutes"] == 1
    assert listener(gw, "bar")["attachedRoutes"] == 1
    for route, section in (("tcp-app-1", "foo"), ("tcp-app-2", "bar")):
        p = route_parent(items, route, "my-tcp-gateway", ns="default")
        assert p["parentRef"]["sectionName"] == section
        assert_cond(p["conditions"], "Accepted", "True", "Accepted")


def strip_times(doc):
    for item in doc["items"]:
        st = item["status"]
        lists = [st.get("conditions", [])]
        lists += [l["conditions"] for l in st.get("listeners", [])]
        lists += [p["conditions"] for p in st.get("parents", [])]
        for conds in lists:
            for c in conds:
                c.pop("lastTransitionTime")
    return doc


def test_yaml_and_json_agree():
    """YAML output loads with PyYAML into exactly the JSON document (strings such as "True"
    stay strings, numbers stay numbers)."""
    paths = [BASE, TESTS / "tcproute-weighted-routing.yaml"]
    as_json = run_status(*paths, fmt="json")
    as_yaml = run_status(*paths, fmt="yaml")
    times = {c["lastTransitionTime"] for i in as_yaml["items"]
             for c in i["status"].get("conditions", [])}
    assert len(times) == 1 and all(isinstance(t, str) for t in times)
    assert strip_times(as_yaml) == strip_times(as_json)
