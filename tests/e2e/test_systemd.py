# SPDX-License-Identifier: Apache-2.0
"""The systemd unit, without touching the host's systemd: `make install` into a DESTDIR,
`systemd-analyze verify` of the installed unit (a copy whose ExecStart names the installed
binary, with the installed man page on MANPATH), `systemd-analyze security --offline=yes`
at or under the exposure recorded in docs/daemon.md, the settings the daemon's contract
depends on, and that CAP_NET_ADMIN alone (the unit's CapabilityBoundingSet) is enough to
program the kernel, in a network namespace this test creates.

Skipped, with the reason, when systemd-analyze is absent; the kernel case also needs root.
"""
import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
UNIT = REPO / "systemd" / "nftgate.service"
DOC = REPO / "docs" / "daemon.md"
EXAMPLE = REPO / "examples" / "basic-tcp"
BIN = Path(os.environ.get("NFTGATE_BIN", REPO / "build" / "nftgate")).resolve()
_counter = itertools.count(1)

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="needs systemd-analyze (apt-get install systemd)")


def unit_settings(text):
    """[Service]-style key=value pairs, repeated keys kept in order."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out.setdefault(k, []).append(v)
    return out


@pytest.fixture
def installed(tmp_path):
    """`make install` into a fresh DESTDIR, reusing the binary under test as built."""
    if BIN.name != "nftgate" or not os.access(BIN, os.X_OK):
        pytest.skip("%s is not built (run make)" % BIN)
    dest = tmp_path / "dest"
    build = BIN.parent
    # -o: take the binary as it is; the test must not rebuild anything.
    subprocess.run(["make", "-s", "-C", str(REPO), "-o", str(build / "nftgate"),
                    "BUILD=%s" % build, "DESTDIR=%s" % dest, "install"],
                   check=True, capture_output=True, text=True)
    return dest


def verify_copy(dest, tmp_path):
    """The installed unit with ExecStart pointing into DESTDIR, ready for verify."""
    text = (dest / "lib/systemd/system/nftgate.service").read_text()
    text = text.replace("/usr/local/sbin/nftgate", str(dest / "usr/local/sbin/nftgate"))
    copy = tmp_path / "nftgate.service"
    copy.write_text(text)
    return copy


def test_make_install_lays_out_unit_binary_and_config(installed):
    unit = (installed / "lib/systemd/system/nftgate.service").read_text()
    assert "ExecStart=/usr/local/sbin/nftgate run -f /etc/nftgate/manifests $NFTGATE_ARGS" in unit
    assert os.access(installed / "usr/local/sbin/nftgate", os.X_OK)
    assert (installed / "usr/local/share/man/man8/nftgate.8").is_file()
    env = installed / "etc/nftgate/nftgate.env"
    assert 'NFTGATE_ARGS=""' in env.read_text()
    assert (installed / "etc/nftgate/manifests/README").is_file()
    # A second install keeps the admin's edits.
    env.write_text('NFTGATE_ARGS="--log-format json"\n')
    subprocess.run(["make", "-s", "-C", str(REPO), "-o", str(BIN), "BUILD=%s" % BIN.parent,
                    "DESTDIR=%s" % installed, "install"], check=True, capture_output=True)
    assert env.read_text() == 'NFTGATE_ARGS="--log-format json"\n'


def test_install_rewrites_paths(tmp_path):
    if BIN.name != "nftgate" or not os.access(BIN, os.X_OK):
        pytest.skip("%s is not built (run make)" % BIN)
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "-C", str(REPO), "-o", str(BIN), "BUILD=%s" % BIN.parent,
                    "DESTDIR=%s" % dest, "BINDIR=/opt/ng/bin", "SYSCONFDIR=/opt/ng/etc",
                    "install"], check=True, capture_output=True)
    s = unit_settings((dest / "lib/systemd/system/nftgate.service").read_text())
    assert s["ExecStart"] == ["/opt/ng/bin/nftgate run -f /opt/ng/etc/nftgate/manifests "
                              "$NFTGATE_ARGS"]
    assert s["EnvironmentFile"] == ["-/opt/ng/etc/nftgate/nftgate.env"]
    assert (dest / "opt/ng/etc/nftgate/nftgate.env").is_file()


def test_systemd_analyze_verify_accepts_the_unit(installed, tmp_path):
    copy = verify_copy(installed, tmp_path)
    env = dict(os.environ, MANPATH=str(installed / "usr/local/share/man"))
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr
    # And it does check: a unit naming a binary that is not there is refused.
    bad = tmp_path / "broken" / "nftgate.service"
    bad.parent.mkdir()
    bad.write_text(copy.read_text().replace(str(installed / "usr/local/sbin/nftgate"),
                                            str(tmp_path / "absent")))
    r = subprocess.run(["systemd-analyze", "verify", str(bad)], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not executable" in r.stderr


def documented_exposure():
    m = re.search(r"Overall exposure level for nftgate\.service: (\d+\.\d) OK", DOC.read_text())
    assert m, "docs/daemon.md must quote the measured exposure line"
    return float(m.group(1))


def test_security_exposure_is_at_most_the_documented_score():
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        str(UNIT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = re.search(r"Overall exposure level for nftgate\.service: (\d+\.\d) (\S+)", r.stdout)
    assert m, r.stdout
    score, verdict = float(m.group(1)), m.group(2)
    assert verdict == "OK"
    assert score <= documented_exposure() <= 2.0, r.stdout


def test_unit_keeps_the_daemon_contract():
    s = unit_settings(UNIT.read_text())
    assert s["Type"] == ["notify"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["StateDirectory"] == ["nftgate"]
    assert s["WatchdogSec"] and s["WatchdogSec"][0] != "0"
    assert s["CapabilityBoundingSet"] == ["CAP_NET_ADMIN"]
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["ProtectHome"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["RestrictAddressFamilies"] == ["AF_NETLINK AF_UNIX AF_INET AF_INET6"]
    assert "@system-service" in s["SystemCallFilter"]
    assert s["EnvironmentFile"] == ["-/etc/nftgate/nftgate.env"]
    # Rules stay in place on stop; the host's network namespace and user namespace are
    # the ones nftgate must program, so neither may be private.
    for absent in ("ExecStop", "ExecStopPost", "PrivateNetwork", "PrivateUsers", "User",
                   "DynamicUser"):
        assert absent not in s, absent


def _netns_or_skip():
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a network namespace")
    for tool in ("ip", "nft", "setpriv"):
        if not shutil.which(tool):
            pytest.skip("needs the '%s' command" % tool)
    if not os.access(BIN, os.X_OK):
        pytest.skip("%s is not built (run make)" % BIN)


@pytest.fixture
def netns(tmp_path):
    _netns_or_skip()
    name = "ngs-%d-%d" % (os.getpid(), next(_counter))
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def capped_apply(ns, state, caps):
    """`nftgate apply` as root with only caps in the bounding set, no new privileges:
    what the unit's CapabilityBoundingSet= and NoNewPrivileges= leave the daemon."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, "setpriv", "--bounding-set=-all" + caps,
         "--inh-caps=-all", "--no-new-privs", str(BIN), "apply", "-f", str(EXAMPLE),
         "--state-dir", str(state)], capture_output=True, text=True, timeout=60)


def test_cap_net_admin_alone_programs_the_kernel(netns, tmp_path):
    r = capped_apply(netns, tmp_path / "state", ",+net_admin")
    assert r.returncode == 0, r.stderr
    listing = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                              "nftgate"], capture_output=True, text=True, check=True).stdout
    assert "8080" in listing and "8090" in listing


def test_without_cap_net_admin_the_kernel_refuses(netns, tmp_path):
    r = capped_apply(netns, tmp_path / "state", "")
    assert r.returncode == 1, r.stderr
    assert "CAP_NET_ADMIN" in r.stderr
