# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the traffic and conformance tests: a fresh sandbox per test, skips with a
reason when the machine cannot run them (not root, no `ip netns`, binary not built)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import netns  # noqa: E402


def _why_not_runnable():
    if os.geteuid() != 0:
        return "needs root: creates network namespaces (run as root, e.g. sudo make e2e)"
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            return "needs the '%s' command (apt-get install iproute2 nftables)" % tool
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "'ip netns' does not work here"
    if not os.access(netns.nftgate_binary(), os.X_OK):
        return "%s is not built (run make)" % netns.nftgate_binary()
    return None


@pytest.fixture
def sandbox():
    """A new client/node namespace pair; pods are added by the test. Deleted afterwards."""
    why = _why_not_runnable()
    if why:
        pytest.skip(why)
    with netns.Sandbox() as sb:
        yield sb


@pytest.fixture
def sandbox_factory():
    """For tests that need options (extra node addresses): sandbox_factory(**kwargs)."""
    why = _why_not_runnable()
    if why:
        pytest.skip(why)
    made = []

    def make(**kw):
        sb = netns.Sandbox(**kw).__enter__()
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.close()

