# SPDX-License-Identifier: Apache-2.0
"""What the pods see and what survives a change: masquerade on (default) and off, and a
re-apply that leaves established connections alone."""
import pytest

from netns import (CLIENT_V4, CLIENT_V6, EXAMPLE, MANIFESTS, NODE_POD_V4, NODE_POD_V6,
                   NODE_V4, NODE_V6)


def peers(tally):
    return {p for ps in tally.peers.values() for p in ps}


@pytest.mark.parametrize("flag,masquerade", [
    (None, True), ("--masquerade=always", True), ("--masquerade=never", False)])
def test_masquerade(sandbox, flag, masquerade):
    sandbox.build([EXAMPLE])
    sandbox.apply(EXAMPLE, extra=[flag] if flag else [])
    t4, t6 = sandbox.probe_many([(NODE_V4, 8080), (NODE_V6, 8080)], count=10)
    assert t4.by_service(sandbox) == {"my-foo-service": 10}, t4
    assert t6.by_service(sandbox) == {"my-foo-service": 10}, t6
    if masquerade:
        # The node's address on the pod link: replies return through the node.
        assert peers(t4) == {NODE_POD_V4}, t4.peers
        assert peers(t6) == {NODE_POD_V6}, t6.peers
    else:
        # The client's own address; the pods route back via the node, which un-DNATs.
        assert peers(t4) == {CLIENT_V4}, t4.peers
        assert peers(t6) == {CLIENT_V6}, t6.peers


def test_reapply_keeps_established_connections(sandbox):
    sandbox.build([EXAMPLE], echo=True)
    sandbox.apply(EXAMPLE)
    held4 = sandbox.hold(NODE_V4, 8080)
    held6 = sandbox.hold(NODE_V6, 8080)
    for h in (held4, held6):
        assert h.greeting.startswith("pod=foo-"), h.greeting
        assert h.echo("before") == "before"
    assert sandbox.probe(NODE_V4, 8090, count=10).by_service(sandbox) == {"my-bar-service": 10}

    # Another route changes: 8090 now goes to my-foo-service.
    sandbox.apply(EXAMPLE / "gateway.yaml", EXAMPLE / "services.yaml",
                  MANIFESTS / "reapply" / "routes.yaml")
    changed = sandbox.probe(NODE_V4, 8090, count=20)
    assert changed.by_service(sandbox) == {"my-foo-service": 20}, changed

    for h in (held4, held6):
        assert h.echo("after") == "after"
        assert h.echo("and again") == "and again"
        h.close()
