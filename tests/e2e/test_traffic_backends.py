# SPDX-License-Identifier: Apache-2.0
"""Which pods get a listener's connections (reference/gateway-api.md §3.2-3.4, §7 traps 3-6):
ready endpoints only, weights per backendRef, an invalid backendRef's share reset and not
redistributed, and listeners without a usable route resetting instead of falling through to
whatever listens on the node. Backends: tests/e2e/manifests/common/backends.yaml."""
import pytest

from netns import MANIFESTS, NODE_V4, NODE_V6, manifest_paths


def prepare(sb, scenario, node_local=(), paths=None):
    paths = paths or manifest_paths(scenario)
    sb.build(paths, node_local=node_local)
    sb.apply(*paths)
    return paths


def within(share, expected, tolerance):
    return abs(share - expected) <= tolerance


def test_not_ready_endpoints_get_nothing(sandbox):
    prepare(sandbox, "not-ready")
    t = sandbox.probe(NODE_V4, 8080, count=100)
    # nr-down (ready: false) and nr-term (serving, terminating) run servers, yet get nothing.
    assert t.pods == {"nr-ready": 100}, t


def test_pod_port_is_the_slice_port_named_like_the_service_port(sandbox):
    prepare(sandbox, "named-port")
    t = sandbox.probe(NODE_V4, 8080, count=20)
    assert t.pods == {"m-1": 20}, t
    assert t.ports == {"m-1": [7011]}, t.ports


def test_other_family_without_endpoints_is_reset(sandbox):
    prepare(sandbox, "family", node_local=[8080])
    t4, t6 = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8080)], count=20)
    assert t4.pods == {"c-1": 20}, t4
    assert t6.reset == 20 and not t6.pods, t6


def test_weights_70_30_0(sandbox):
    prepare(sandbox, "weights")
    t = sandbox.probe_weighted(NODE_V4, 8080, {"svc-a": 0.70, "svc-b": 0.30, "svc-c": 0})
    # Weights are per backendRef; svc-a's share is then spread over both of its pods.
    assert set(t.pods) >= {"a-1", "a-2", "b-1"}, t


def test_invalid_backend_share_is_reset_not_redistributed(sandbox):
    prepare(sandbox, "half-invalid")
    n = 400
    for _ in range(2):
        t = sandbox.probe(NODE_V4, 8080, count=n)
        assert t.answered + t.reset == n, t
        assert set(t.by_service(sandbox)) <= {"svc-b"}, t
        if within(t.reset / n, 0.5, 0.075):
            break
    else:
        pytest.fail("expected ~50%% resets (missing Service's share), got %s" % t)
    # svc-b is IPv4 and IPv6: the other family splits the same way.
    t6 = sandbox.probe(NODE_V6, 8080, count=100)
    assert t6.answered + t6.reset == 100 and 20 <= t6.reset <= 80, t6


# Each of these leaves 8080 without a usable backend while a local process listens on 8080 on
# the node: every connection must be reset, none may reach the local process. 8090 still
# forwards to svc-b, proving the rest of the apply took effect.
@pytest.mark.parametrize("scenario", [
    "all-invalid",     # missing Service + Service without the referenced port
    "none-ready",      # the only endpoint is not ready
    "not-permitted",   # cross-namespace backendRef without ReferenceGrant
    "no-route",        # listener with no route attached
    "conflicted",      # two Gateways claim TCP 8080
])
def test_listener_without_usable_backend_resets(sandbox, scenario):
    prepare(sandbox, scenario, node_local=[8080])
    t4, t6, side = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8080), (NODE_V4, 8090)],
                                      count=20)
    assert t4.reset == 20 and not t4.pods, t4
    assert t6.reset == 20 and not t6.pods, t6
    assert side.by_service(sandbox) == {"svc-b": 20}, side
    # The local process is still there: loopback is not ours.
    lo = sandbox.probe("127.0.0.1", 8080, count=3, src=sandbox.node)
    assert lo.pods == {"node-local": 3}, lo


def test_reference_grant_opens_cross_namespace_backend(sandbox):
    paths = manifest_paths("grant")
    prepare(sandbox, "grant", node_local=[8080], paths=paths)
    with_grant = sandbox.probe(NODE_V4, 8080, count=20)
    assert with_grant.pods == {"x-1": 20}, with_grant
    # The grant deleted: re-apply without it revokes access.
    without = manifest_paths() + [MANIFESTS / "grant" / "gateway.yaml"]
    sandbox.apply(*without)
    revoked = sandbox.probe(NODE_V4, 8080, count=20)
    assert revoked.reset == 20 and not revoked.pods, revoked
