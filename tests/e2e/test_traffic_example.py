# SPDX-License-Identifier: Apache-2.0
"""The upstream basic-tcp example (examples/basic-tcp) with real TCP: 8080 lands on the foo
pods and 8090 on the bar pod, over IPv4 and IPv6, from a client and from the node itself, on
the pod ports of the EndpointSlices; rollback takes it away again."""
from netns import EXAMPLE, MANIFESTS, NODE_V4, NODE_V6


def pods_of(sb, service):
    return {p.name for p in sb.pods.values() if p.service == service}


def setup_example(sb, node_local=()):
    sb.build([EXAMPLE], node_local=node_local)
    sb.apply(EXAMPLE)


def assert_all_to(sb, tally, service, port):
    """Every connection answered by service's pods, all of them used, on the pod port."""
    assert tally.by_service(sb) == {service: tally.n}, tally
    assert set(tally.pods) == pods_of(sb, service), tally
    assert {p for ports in tally.ports.values() for p in ports} == {port}, tally.ports


def test_example_ipv4(sandbox):
    setup_example(sandbox)
    foo, bar, svc_port = sandbox.probe_many(
        [(NODE_V4, 8080), (NODE_V4, 8090), (NODE_V4, 6000)], count=40)
    # Pods listen on 7000/7001 only: the Service port 6000 is never used on the wire.
    assert_all_to(sandbox, foo, "my-foo-service", 7000)
    assert_all_to(sandbox, bar, "my-bar-service", 7001)
    assert svc_port.answered == 0 and svc_port.reset == svc_port.n, svc_port


def test_example_ipv6(sandbox):
    setup_example(sandbox)
    foo, bar = sandbox.probe_many([(NODE_V6, 8080), (NODE_V6, 8090)], count=40)
    assert_all_to(sandbox, foo, "my-foo-service", 7000)
    assert_all_to(sandbox, bar, "my-bar-service", 7001)


def test_example_from_the_node_itself(sandbox):
    # A local process holds 8080 on every node address, loopback included: a connection to
    # the node's own address is forwarded to a foo pod, one to loopback is not.
    setup_example(sandbox, node_local=[8080])
    own4, own6, lo4, lo6 = sandbox.probe_many(
        [(NODE_V4, 8080), (NODE_V6, 8080), ("127.0.0.1", 8080), ("::1", 8080)],
        count=20, src=sandbox.node)
    assert own4.by_service(sandbox) == {"my-foo-service": 20}, own4
    assert own6.by_service(sandbox) == {"my-foo-service": 20}, own6
    assert lo4.pods == {"node-local": 20}, lo4
    assert lo6.pods == {"node-local": 20}, lo6


def test_example_forwards_only_once_applied(sandbox):
    # Sanity of the sandbox itself: before the apply, 8080 on the node is the local process.
    sandbox.build([EXAMPLE], node_local=[8080])
    before = sandbox.probe(NODE_V4, 8080, count=5)
    assert before.pods == {"node-local": 5}, before
    sandbox.apply(EXAMPLE)
    after = sandbox.probe(NODE_V4, 8080, count=20)
    assert after.by_service(sandbox) == {"my-foo-service": 20}, after


def test_example_rollback(sandbox):
    setup_example(sandbox, node_local=[8080])
    assert sandbox.probe(NODE_V4, 8080, count=10).by_service(sandbox) == {"my-foo-service": 10}
    r = sandbox.nftgate("rollback", "--state-dir", sandbox.state_dir, check=False)
    assert r.returncode == 0, r.stderr
    after, bar = sandbox.probe_many([(NODE_V4, 8080), (NODE_V4, 8090)], count=10)
    assert after.pods == {"node-local": 10}, after
    assert bar.answered == 0, bar


def test_rollback_restores_the_previous_apply(sandbox):
    setup_example(sandbox)
    # Second apply: tcp-app-2 (8090) now goes to my-foo-service.
    sandbox.apply(EXAMPLE / "gateway.yaml", EXAMPLE / "services.yaml",
                  MANIFESTS / "reapply" / "routes.yaml")
    assert sandbox.probe(NODE_V4, 8090, count=10).by_service(sandbox) == {"my-foo-service": 10}
    r = sandbox.nftgate("rollback", "--state-dir", sandbox.state_dir, check=False)
    assert r.returncode == 0, r.stderr
    bar, foo = sandbox.probe_many([(NODE_V4, 8090), (NODE_V4, 8080)], count=10)
    assert bar.by_service(sandbox) == {"my-bar-service": 10}, bar
    assert foo.by_service(sandbox) == {"my-foo-service": 10}, foo
