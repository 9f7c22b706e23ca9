# SPDX-License-Identifier: Apache-2.0
"""Which route and which addresses a listener serves: the older of two routes on one listener
carries the traffic (reference §2.4), and a Gateway with spec.addresses matches only those
addresses (DESIGN.md, kernel contract)."""
from netns import NODE_V4, NODE_V6, manifest_paths


def test_older_route_carries_all_traffic(sandbox):
    paths = manifest_paths("two-routes")
    sandbox.build(paths)
    sandbox.apply(*paths)
    t4, t6 = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8080)], count=100)
    # zzz-older (svc-a) is older by creationTimestamp; aaa-newer (svc-b) sorts first by name.
    assert t4.by_service(sandbox) == {"svc-a": 100}, t4
    assert t6.by_service(sandbox) == {"svc-a": 100}, t6


def test_gateway_addresses_match_only_those_addresses(sandbox_factory):
    sb = sandbox_factory(node_extra_v4=["198.51.100.3"], node_extra_v6=["fd00:c::3"])
    paths = manifest_paths("addresses")
    sb.build(paths, node_local=[8080])
    sb.apply(*paths)
    gw4, gw6, other4, other6 = sb.probe_many(
        [("198.51.100.3", 8080), ("fd00:c::3", 8080), (NODE_V4, 8080), (NODE_V6, 8080)],
        count=20)
    assert gw4.by_service(sb) == {"svc-a": 20}, gw4
    assert gw6.by_service(sb) == {"svc-a": 20}, gw6
    # The node's other addresses are not the Gateway's: 8080 there stays the local process.
    assert other4.pods == {"node-local": 20}, other4
    assert other6.pods == {"node-local": 20}, other6
    # Also from the node itself.
    own, own_other = sb.probe_many([("198.51.100.3", 8080), (NODE_V4, 8080)], count=10,
                                   src=sb.node)
    assert own.by_service(sb) == {"svc-a": 10}, own
    assert own_other.pods == {"node-local": 10}, own_other
