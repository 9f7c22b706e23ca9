# SPDX-License-Identifier: Apache-2.0
"""The kernel data plane, end to end: the real binary against the real kernel, each test in
its own network namespace (created with `ip netns add`, deleted afterwards even on failure).

What it checks: the dry-run script and `apply` give the same `nft list table` for several
plans; the bytecode is nft's own, also for every golden plan (tests/golden, UDP listeners
included) and its set types; a table of the layout before UDP listeners is replaced with
its counters; `nft list ruleset` / `nft -j list ruleset` keep working;
rollback walks back through history to "no table", exactly, and starts with the feature
probe; a damaged snapshot is refused without touching the kernel; foreign tables are never
touched; a refused transaction and an input error change nothing; the state directory's
modes and history limit; counters survive a re-apply. What only a fault shows (a refusal,
lost replies, a process killed between its snapshot and its commit, another committer
between the generation read and the send) goes through build/tests/nftgate-faults, the same
commands with test seams (tests/faults/nftgate_faults.c); nftgate itself has none. Traffic
is the business of tests/e2e/test_traffic*.py.
"""
import itertools
import json
import re
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import nft_listing

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MANIFESTS = HERE / "manifests"
GOLDEN = REPO / "tests" / "golden"
EXAMPLE = REPO / "examples" / "basic-tcp"
BIN = Path(os.environ.get("NFTGATE_BIN", REPO / "build" / "nftgate"))
# built beside it by `make e2e` / `make e2e-asan` (make BUILD=... faults)
FAULTS = Path(os.environ.get("NFTGATE_FAULTS_BIN", BIN.parent / "tests" / "nftgate-faults"))
_counter = itertools.count(1)

# Two foreign tables: one of another family, and an inet one whose name starts like ours
# and whose nat chain hooks the same port.
FOREIGN = """table ip foreign {
	counter seen { }
	set admins { type ipv4_addr; elements = { 192.0.2.7 } }
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr @admins tcp dport 22 counter name "seen" accept
	}
}
table inet nftgatex {
	map ports { type inet_service : verdict; elements = { 8080 : accept } }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport vmap @ports
	}
}
"""


def foreign_tables(ns):
    return (ns.nft("list", "table", "ip", "foreign").stdout +
            ns.nft("list", "table", "inet", "nftgatex").stdout)

# name -> nftgate arguments; every plan shape the layout has
PLANS = {
    "example": ["-f", str(EXAMPLE)],
    "weights": ["-f", str(MANIFESTS / "common"), "-f", str(MANIFESTS / "weights")],
    "reject-shares": ["-f", str(MANIFESTS / "common"), "-f", str(MANIFESTS / "half-invalid")],
    "addresses": ["-f", str(MANIFESTS / "common"), "-f", str(MANIFESTS / "addresses")],
    "conflicted": ["-f", str(MANIFESTS / "common"), "-f", str(MANIFESTS / "conflicted")],
    "no-route": ["-f", str(MANIFESTS / "common"), "-f", str(MANIFESTS / "no-route")],
    "masquerade-never": ["-f", str(EXAMPLE), "--masquerade=never"],
    "renamed-table": ["-f", str(EXAMPLE), "--table", "edge-gw"],
    "tcp-udp": ["-f", str(MANIFESTS / "common"), "-f", str(MANIFESTS / "udp-kernel")],
}
# Plans with UDP listeners, and an element their dry run must hold: a model that lost UDP
# listeners fails here instead of passing on a TCP-only table.
UDP_PLANS = {"tcp-udp": "udp . 8080 "}


def assert_udp_read(plan, script):
    if plan in UDP_PLANS:
        assert UDP_PLANS[plan] in script, "no UDP listener in the dry run of %s" % plan


def _why_not_runnable():
    if os.geteuid() != 0:
        return "needs root: creates network namespaces"
    if not shutil.which("ip") or not shutil.which("nft"):
        return "needs the ip and nft commands (iproute2, nftables)"
    if not os.access(BIN, os.X_OK):
        return "%s is not built (run make)" % BIN
    return None


class Netns:
    """A fresh network namespace and a private state directory; close() removes both."""

    def __init__(self):
        self.name = "ngk-%d-%d" % (os.getpid(), next(_counter))
        self.tmp = Path(tempfile.mkdtemp(prefix="nftgate-kernel-"))
        self.state = self.tmp / "state"
        try:
            subprocess.run(["ip", "netns", "add", self.name], check=True)
            self.exec("ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()  # a half-made namespace is removed too
            raise

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def exec(self, *cmd, env=None, check=True, input=None):
        e = dict(os.environ)
        e.pop("NFTGATE_FAULTS", None)
        e.update(env or {})
        p = subprocess.run(["ip", "netns", "exec", self.name, *cmd], capture_output=True,
                           text=True, env=e, input=input, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s" % (" ".join(cmd), p.returncode,
                                                           p.stdout, p.stderr))
        return p

    def nft(self, *args, check=True, input=None):
        return self.exec("nft", *args, check=check, input=input)

    def nftgate(self, *args, env=None, check=False):
        extra = [] if args[0] == "version" else ["--state-dir", str(self.state)]
        return self.exec(str(BIN), *args, *extra, env=env, check=check)

    def faults(self, faults, *args):
        """The same command through the test binary, with the seams `faults` names."""
        if not os.access(FAULTS, os.X_OK):
            pytest.skip("%s is not built (make BUILD=%s faults)" % (FAULTS, BIN.parent))
        return self.exec(str(FAULTS), *args, "--state-dir", str(self.state),
                         env={"NFTGATE_FAULTS": faults}, check=False)

    def pending(self):
        return sorted(p.name for p in self.state.glob("*.pending")) if self.state.exists() \
            else []

    def ruleset(self):
        return self.nft("list", "ruleset").stdout

    def table(self, name="nftgate"):
        return self.nft("list", "table", "inet", name).stdout

    def snapshots(self):
        return sorted(p.name for p in self.state.glob("*.snap")) if self.state.exists() else []


@pytest.fixture
def ns():
    why = _why_not_runnable()
    if why:
        pytest.skip(why)
    n = Netns()
    try:
        yield n
    finally:
        n.close()


def dry_run(args):
    p = subprocess.run([str(BIN), "apply", "--dry-run", *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def table_of(args):
    return args[args.index("--table") + 1] if "--table" in args else "nftgate"


def snapshot_path(p):
    """How an apply took its pre-apply snapshot, from its summary line."""
    assert p.returncode == 0, p.stderr
    if " from the committed record in " in p.stdout:
        return "record"
    assert " by dump in " in p.stdout, p.stdout
    return "dump"


def listings_still_work(ns):
    assert ns.nft("list", "ruleset").returncode == 0
    doc = json.loads(ns.nft("-j", "list", "ruleset").stdout)
    assert any("table" in o for o in doc["nftables"])


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_dry_run_lists_like_apply(ns, plan):
    args, table = PLANS[plan], table_of(PLANS[plan])
    script = dry_run(args)
    assert_udp_read(plan, script)
    assert script.startswith("table inet %s\ndelete table inet %s\ntable inet %s {\n" %
                             (table, table, table))
    ns.nft("-f", "-", input=script)
    via_nft = ns.table(table)
    # loading it again replaces, it does not fail or duplicate
    ns.nft("-f", "-", input=script)
    assert ns.table(table) == via_nft
    ns.nft("delete", "table", "inet", table)
    p = ns.nftgate("apply", *args)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("applied table inet %s: " % table)
    assert "committed in" in p.stdout
    assert ns.table(table) == via_nft
    listings_still_work(ns)


def rule_blocks(text, table):
    blocks, cur = [], None
    for line in text.splitlines():
        if line.startswith("inet %s " % table):
            cur = [line.rstrip()]
            blocks.append(cur)
        elif line.startswith("  [") and cur is not None:
            cur.append(line.rstrip())
        else:
            cur = None
    return ["\n".join(b) for b in blocks if len(b) > 1]


@pytest.mark.parametrize("plan", ["example", "addresses", "reject-shares", "tcp-udp"])
def test_bytecode_is_nfts_own(ns, plan):
    args = PLANS[plan]
    script = dry_run(args)
    assert_udp_read(plan, script)
    p = ns.nft("--debug=netlink", "-f", "-", input=script)
    theirs = rule_blocks(p.stdout, "nftgate")
    ours = ns.nftgate("apply", *args, "--debug=netlink")
    assert ours.returncode == 0, ours.stderr
    mine = rule_blocks(ours.stderr, "nftgate")
    assert len(mine) >= 20
    assert mine == theirs


def set_types(listing):
    """Each set's name and `type ...` line, in order, from a listing or a script."""
    return re.findall(r"^\t(?:map|set) (\S+) \{\n\t\ttype ([^\n]+)$", listing, re.M)


# The golden plans hold shapes no YAML input gives yet (UDP listeners before UDPRoute is
# read, a TCP and a UDP listener on one port): their text goes to nft as it is.
@pytest.mark.parametrize("golden", sorted(p.stem for p in GOLDEN.glob("*.nft")))
def test_golden_bytecode_and_set_types_are_nfts_own(ns, golden):
    script = (GOLDEN / (golden + ".nft")).read_text()
    table = re.match(r"table inet (\S+)\n", script).group(1)
    p = ns.nft("--debug=netlink", "-f", "-", input=script)
    theirs = rule_blocks(p.stdout, table)
    mine = rule_blocks((GOLDEN / (golden + ".netlink")).read_text(), table)
    assert len(mine) >= 20
    assert mine == theirs
    listed = ns.table(table)
    assert len(set_types(script)) == 17
    assert set_types(listed) == set_types(script)
    listings_still_work(ns)


def test_table_of_the_previous_layout_is_replaced_with_its_counters(ns):
    """A table the nftgate before UDP listeners wrote (listener maps keyed by port alone):
    apply replaces it in full, whatever the set definitions were, and the counters that
    persist keep their values, carried by name."""
    old = nft_listing.pre_udp_layout(dry_run(PLANS["example"]))
    assert "type inet_service : verdict" in old
    ns.nft("-f", "-", input=old)
    count_some_connections(ns)
    before = counters(ns)
    assert sorted(v for k, v in before.items() if k.endswith("_conn")) == [0, 0, 5, 5]
    p = ns.nftgate("apply", *PLANS["example"])
    assert p.returncode == 0, p.stderr
    assert counters(ns) == before
    got = ns.table()
    ns.nft("delete", "table", "inet", "nftgate")
    ns.nft("-f", "-", input=dry_run(PLANS["example"]))
    fresh = ns.table()
    strip = re.compile(r"packets \d+ bytes \d+")
    assert strip.sub("", got) == strip.sub("", fresh)
    assert "type inet_proto . inet_service : verdict" in got


def endpoint_marks(text):
    """The endpoint4 elements ("0x.... : addr . port") of a listing or a dry-run script."""
    m = re.search(r"map endpoint4 \{.*?elements = \{(.*?)\}", text, re.S)
    return sorted(e.strip() for e in m.group(1).split(",")) if m else []


def test_dry_run_over_a_live_table_numbers_as_apply_would(ns):
    """An endpoint removed from the middle of a share leaves the others their marks
    (docs/layout.md); a dry run as root reads the table (never writes it) and prints the
    marks apply would keep, where a fresh numbering (unprivileged: it cannot read) differs."""
    import yaml
    assert ns.nftgate("apply", "-f", str(EXAMPLE)).returncode == 0
    docs = list(yaml.safe_load_all((EXAMPLE / "services.yaml").read_text()))
    for d in docs:
        if d and d.get("kind") == "EndpointSlice" and d["metadata"]["name"].endswith("foo-service-ipv4"):
            d["endpoints"].pop(0)
    inputs = ns.tmp / "inputs"
    inputs.mkdir()
    for name in ("gateway.yaml", "routes.yaml"):
        shutil.copy(EXAMPLE / name, inputs / name)
    (inputs / "services.yaml").write_text(yaml.safe_dump_all(docs))
    for p in (ns.tmp, inputs):               # readable by the unprivileged run below
        os.chmod(p, 0o755)
    for p in inputs.iterdir():
        os.chmod(p, 0o644)
    assert ns.nftgate("apply", "-f", str(inputs)).returncode == 0
    before, table = ns.ruleset(), ns.table()
    script = ns.exec(str(BIN), "apply", "--dry-run", "-f", str(inputs)).stdout
    assert ns.ruleset() == before            # read, never written
    assert endpoint_marks(script) == endpoint_marks(table) != []
    if shutil.which("setpriv"):
        fresh = ns.exec("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", str(BIN), "apply", "--dry-run", "-f",
                        str(inputs)).stdout
        assert endpoint_marks(fresh) != endpoint_marks(table)
    ns.nft("-f", "-", input=script)
    assert ns.table() == table


def test_dry_run_needs_no_privilege():
    if not shutil.which("setpriv") or os.geteuid() != 0:
        pytest.skip("needs setpriv and root to drop privileges")
    tmp = Path(tempfile.mkdtemp(prefix="nftgate-dry-"))
    try:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=-all", str(BIN), "apply", "--dry-run", "-f",
                            str(EXAMPLE), "--state-dir", str(tmp / "never")],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert "table inet nftgate {" in p.stdout
        assert not (tmp / "never").exists()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_permission_error_is_clear(ns):
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv")
    p = ns.exec("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", str(BIN), "apply", "-f", str(EXAMPLE), "--state-dir",
                str(ns.tmp / "nobody"), check=False)
    assert p.returncode == 1
    assert "CAP_NET_ADMIN" in p.stderr


def test_rollback_walks_history_to_no_table(ns):
    ns.nft("-f", "-", input=FOREIGN)
    foreign = foreign_tables(ns)
    states = [ns.ruleset()]
    for i, plan in enumerate(("example", "weights", "masquerade-never", "reject-shares")):
        p = ns.nftgate("apply", *PLANS[plan])
        assert p.returncode == 0, p.stderr
        # the first apply finds no record; each later one its predecessor's
        assert snapshot_path(p) == ("record" if i else "dump")
        states.append(ns.ruleset())
        assert foreign_tables(ns) == foreign
    assert len(ns.snapshots()) == 4
    # each rollback restores the ruleset before the apply it undoes, counters included
    for want in reversed(states[:-1]):
        p = ns.nftgate("rollback")
        assert p.returncode == 0, p.stderr
        assert ns.ruleset() == want
        listings_still_work(ns)
        # what rollback committed is recorded: an apply right after it needs no dump,
        # and undoing that apply comes back to the same ruleset
        if want != states[0]:
            assert snapshot_path(ns.nftgate("apply", *PLANS["example"])) == "record"
            assert ns.nftgate("rollback").returncode == 0
            assert ns.ruleset() == want
    assert ns.nft("list", "table", "inet", "nftgate", check=False).returncode != 0
    assert foreign_tables(ns) == foreign
    assert ns.snapshots() == []
    p = ns.nftgate("rollback")
    assert p.returncode == 1
    assert "nothing to roll back" in p.stderr
    assert ns.ruleset() == states[0]


def test_rollback_probes_the_kernel_first(ns):
    """Like apply, rollback starts with the feature probe: without CAP_NET_ADMIN it says so
    before it looks at the state directory (which here is readable and empty)."""
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv")
    state = ns.tmp / "nobody"
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)
    os.chmod(ns.tmp, 0o711)
    p = ns.exec("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", str(BIN), "rollback", "--state-dir", str(state), check=False)
    assert p.returncode == 1
    assert "permission denied: nftgate needs CAP_NET_ADMIN" in p.stderr, p.stderr
    assert "nothing to roll back" not in p.stderr


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_rollback_of_a_damaged_snapshot_changes_nothing(ns, damage):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    assert ns.nftgate("apply", *PLANS["weights"]).returncode == 0
    before, snaps = ns.ruleset(), ns.snapshots()
    newest = ns.state / snaps[-1]
    data = newest.read_bytes()
    assert len(data) > 64
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip":
        data = data[:40] + bytes([data[40] ^ 0x55]) + data[41:]
    else:
        data = b""
    newest.write_bytes(data)
    p = ns.nftgate("rollback")
    assert p.returncode == 1
    assert snaps[-1] in p.stderr and "the kernel was not touched" in p.stderr, p.stderr
    assert ns.ruleset() == before
    assert ns.snapshots() == snaps
    # moved away, the one before it still works
    newest.unlink()
    assert ns.nftgate("rollback").returncode == 0
    assert ns.nft("list", "table", "inet", "nftgate", check=False).returncode != 0


def test_rollback_with_nothing(ns):
    p = ns.nftgate("rollback")
    assert p.returncode == 1
    assert "nothing to roll back" in p.stderr
    assert ns.ruleset() == ""


def test_rollback_of_renamed_table_leaves_default_alone(ns):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.table()
    assert ns.nftgate("apply", *PLANS["renamed-table"]).returncode == 0
    # two nftgate tables side by side, each with its own history
    assert ns.table() == before
    assert "table inet edge-gw {" in ns.table("edge-gw")
    assert ns.nftgate("rollback", "--table", "edge-gw").returncode == 0
    assert ns.nft("list", "table", "inet", "edge-gw", check=False).returncode != 0
    assert ns.table() == before


@pytest.mark.parametrize("fail_at", [1, 3, 9, 40])
def test_refused_transaction_changes_nothing(ns, fail_at):
    ns.nft("-f", "-", input=FOREIGN)
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before, snaps = ns.ruleset(), ns.snapshots()
    p = ns.faults("fail-at=%d" % fail_at, "apply", *PLANS["weights"])
    assert p.returncode == 1
    assert "inserted as a test fault" in p.stderr
    assert "route default/" in p.stderr          # the refusal names the route
    assert "nothing was changed" in p.stderr
    assert ns.ruleset() == before
    assert ns.snapshots() == snaps               # a refused apply leaves no history
    assert ns.pending() == []


def test_no_test_hook_in_nftgate(ns):
    """The variable that once made every apply fail does nothing to nftgate itself, and
    no name of a test switch is in the binary."""
    env = {"NFTGATE_TEST_FAIL_AT": "3", "NFTGATE_FAULTS": "fail-at=3,kill-after-save"}
    p = ns.nftgate("apply", *PLANS["example"], env=env)
    assert p.returncode == 0, p.stderr
    assert "table inet nftgate {" in ns.table()
    strings = subprocess.run(["strings", str(BIN)], capture_output=True, text=True,
                             check=True).stdout
    assert "NFTGATE_TEST_FAIL_AT" not in strings
    assert "NFTGATE_FAULTS" not in strings


def test_input_error_exits_2_and_changes_nothing(ns):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before, snaps = ns.ruleset(), ns.snapshots()
    bad = ns.tmp / "bad.yaml"
    bad.write_text((EXAMPLE / "routes.yaml").read_text().replace("port: 6000", "port: 70000"))
    p = ns.nftgate("apply", "-f", str(EXAMPLE / "gateway.yaml"), "-f",
                   str(EXAMPLE / "services.yaml"), "-f", str(bad))
    assert p.returncode == 2
    assert "bad.yaml:" in p.stderr
    p = ns.nftgate("apply", "-f", str(ns.tmp / "missing.yaml"))
    assert p.returncode == 2
    assert ns.ruleset() == before
    assert ns.snapshots() == snaps


def test_state_dir_modes_and_limit(ns):
    ns.state = ns.tmp / "deep" / "state"
    for i in range(12):
        plan = "example" if i % 2 else "weights"
        assert ns.nftgate("apply", *PLANS[plan]).returncode == 0
    assert stat.S_IMODE(ns.state.stat().st_mode) == 0o700
    snaps = ns.snapshots()
    assert len(snaps) == 10
    assert snaps[0].endswith("0000000003.snap") and snaps[-1].endswith("0000000012.snap")
    for s in snaps:
        assert stat.S_IMODE((ns.state / s).stat().st_mode) == 0o600
    assert not [p for p in ns.state.iterdir() if p.name.startswith(".")]


def test_state_dir_writable_by_others_is_refused(ns):
    ns.state.mkdir(mode=0o700)
    os.chmod(ns.state, 0o1777)
    for cmd in (["apply", *PLANS["example"]], ["rollback"]):
        p = ns.nftgate(*cmd)
        assert p.returncode == 1
        assert "writable by group or others" in p.stderr, p.stderr
    assert ns.ruleset() == ""
    assert ns.snapshots() == []


def counters(ns):
    doc = json.loads(ns.nft("-j", "list", "counters", "table", "inet", "nftgate").stdout)
    return {o["counter"]["name"]: o["counter"]["packets"] for o in doc["nftables"]
            if "counter" in o}


def test_counters_survive_reapply(ns):
    """Connections from the node itself to a listener DNAT (and are counted) even when the
    pod is unreachable: a blackhole route makes connect() fail right after the NAT."""
    ns.exec("ip", "addr", "add", "192.0.2.50/32", "dev", "lo")
    ns.exec("ip", "route", "add", "blackhole", "10.244.0.0/16")
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    knock = ("import socket\nfor i in range(5):\n s=socket.socket()\n s.settimeout(0.5)\n"
             " try: s.connect(('192.0.2.50', 8080))\n except OSError: pass\n s.close()\n")
    ns.exec("/usr/bin/python3", "-c", knock)
    first = counters(ns)
    conn = [v for k, v in first.items() if k.endswith("_conn") and v]
    assert conn and set(conn) == {5}, first   # the share's (and its route's) connections
    # re-apply with the other route changed: the share that persists keeps its counts
    p = ns.nftgate("apply", *PLANS["example"], "--masquerade=never")
    assert p.returncode == 0, p.stderr
    assert counters(ns) == first


# ---- the committed record: re-applies take their snapshot without dumping the sets ----

KNOCK = ("import socket\nfor i in range(5):\n s=socket.socket()\n s.settimeout(0.5)\n"
         " try: s.connect(('192.0.2.50', 8080))\n except OSError: pass\n s.close()\n")


def count_some_connections(ns):
    """Five connections from the node to listener 8080, DNATed and counted; a blackhole
    route makes each connect() fail right after the NAT, so no pod is needed."""
    ns.exec("ip", "addr", "add", "192.0.2.50/32", "dev", "lo")
    ns.exec("ip", "route", "add", "blackhole", "10.244.0.0/16")
    ns.exec("/usr/bin/python3", "-c", KNOCK)


def record_file(ns, table="nftgate"):
    return ns.state / ("%s.committed" % table)


def test_reapply_snapshot_from_record_rolls_back_exactly(ns):
    assert snapshot_path(ns.nftgate("apply", *PLANS["example"])) == "dump"
    assert record_file(ns).exists()
    count_some_connections(ns)
    after_first = ns.ruleset()
    first_counts = counters(ns)
    assert 5 in [v for k, v in first_counts.items() if k.endswith("_conn")], first_counts
    # nothing changed since our commit: only the counters are read from the kernel
    assert snapshot_path(ns.nftgate("apply", *PLANS["example"], "--masquerade=never")) == \
        "record"
    assert counters(ns) == first_counts          # carried over from the record's snapshot
    assert snapshot_path(ns.nftgate("apply", *PLANS["weights"])) == "record"
    assert ns.nftgate("rollback").returncode == 0
    assert ns.nftgate("rollback").returncode == 0
    assert ns.ruleset() == after_first           # counters included
    assert counters(ns) == first_counts


def test_foreign_change_forces_a_dump(ns):
    assert snapshot_path(ns.nftgate("apply", *PLANS["example"])) == "dump"
    ns.nft("add", "table", "ip", "other")
    before = ns.table()
    assert snapshot_path(ns.nftgate("apply", *PLANS["weights"])) == "dump"
    assert ns.nftgate("rollback").returncode == 0
    # (a rollback re-creates our table, so `list ruleset` now shows it after "other")
    assert ns.table() == before
    assert ns.nft("list", "table", "ip", "other").stdout == "table ip other {\n}\n"


@pytest.mark.parametrize("edit,path", [
    (["add", "element", "inet", "nftgate", "share_masq", "{ 0x00abc000 }"], "dump"),
    (["add", "rule", "inet", "nftgate", "listeners", "tcp", "dport", "1", "counter"], "dump"),
    # resetting counters is not a commit (the generation stays): the record is still right
    # about everything but counter values, which are always read from the kernel
    (["reset", "counters", "table", "inet", "nftgate"], "record"),
])
def test_edit_of_our_table_forces_a_dump(ns, edit, path):
    assert snapshot_path(ns.nftgate("apply", *PLANS["example"])) == "dump"
    count_some_connections(ns)
    ns.nft(*edit)
    edited = ns.table()
    assert snapshot_path(ns.nftgate("apply", *PLANS["weights"])) == path
    assert ns.nftgate("rollback").returncode == 0
    assert ns.table() == edited


@pytest.mark.parametrize("damage", ["flip-header", "flip-body", "truncate", "empty", "garbage"])
def test_damaged_record_means_a_dump(ns, damage):
    assert snapshot_path(ns.nftgate("apply", *PLANS["example"])) == "dump"
    before = ns.ruleset()
    f = record_file(ns)
    data = f.read_bytes()
    if damage == "flip-header":
        data = data[:20] + bytes([data[20] ^ 0x01]) + data[21:]
    elif damage == "flip-body":
        data = data[:-100] + bytes([data[-100] ^ 0x01]) + data[-99:]
    elif damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "empty":
        data = b""
    else:
        data = os.urandom(len(data))
    f.write_bytes(data)
    p = ns.nftgate("apply", *PLANS["weights"])
    assert snapshot_path(p) == "dump"
    assert p.stderr == ""
    assert ns.nftgate("rollback").returncode == 0
    assert ns.ruleset() == before
    # the apply wrote a good record again
    assert snapshot_path(ns.nftgate("apply", *PLANS["weights"])) == "record"


def test_record_of_another_netns_is_not_used(ns):
    """Generations are per network namespace and both namespaces here count alike; the
    record names its namespace, so a shared state dir cannot lend one netns's content to
    the other."""
    other = Netns()
    try:
        other.state = ns.state
        assert snapshot_path(ns.nftgate("apply", *PLANS["example"])) == "dump"
        # one foreign commit brings the other netns to the record's generation
        other.nft("add", "table", "ip", "x")
        p = other.nftgate("apply", *PLANS["weights"])
        assert snapshot_path(p) == "dump"
        assert other.nftgate("rollback").returncode == 0
        assert other.ruleset() == "table ip x {\n}\n"
    finally:
        other.close()


def test_generation_moves_by_one_per_commit(ns):
    """The claim the record rests on: a batch fenced with generation g leaves g + 1."""
    gens = []
    for plan in ("example", "weights", "example"):
        p = ns.nftgate("apply", *PLANS[plan])
        assert p.returncode == 0, p.stderr
        gens.append(int(p.stdout.split(", generation ")[1].split(";")[0]))
        ns.nft("list", "ruleset")                # reads do not move it
    assert gens[1] == gens[0] + 1 and gens[2] == gens[1] + 1
    ns.nft("add", "table", "ip", "x")            # any commit does
    p = ns.nftgate("apply", *PLANS["weights"])
    assert int(p.stdout.split(", generation ")[1].split(";")[0]) == gens[2] + 2


# ---- history is what committed: faults between the snapshot and the commit ----

def test_lost_replies_of_a_commit_are_found_out(ns):
    """The replies to an apply that committed are lost: the table says it committed, so
    the apply succeeds and its snapshot is history."""
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.ruleset()
    p = ns.faults("lose-replies", "apply", *PLANS["weights"])
    assert p.returncode == 0, p.stderr
    assert "outcome is unknown" in p.stderr and "it committed" in p.stderr, p.stderr
    assert "listen_any4" in ns.table() and ns.ruleset() != before
    assert len(ns.snapshots()) == 2 and ns.pending() == []
    assert ns.nftgate("rollback").returncode == 0
    assert ns.ruleset() == before


def test_lost_replies_of_a_refusal_change_nothing(ns):
    """Refused, and the replies lost: the generation has not moved, so nothing committed;
    exit 1 and no history, as for any refusal."""
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before, snaps = ns.ruleset(), ns.snapshots()
    p = ns.faults("lose-replies,fail-at=3", "apply", *PLANS["weights"])
    assert p.returncode == 1, p.stderr
    assert "nothing was committed" in p.stderr, p.stderr
    assert ns.ruleset() == before
    assert ns.snapshots() == snaps and ns.pending() == []


def test_unknown_outcome_exits_3_and_keeps_the_snapshot(ns):
    """Refused, the replies lost, and someone else commits right after: the generation
    moved and the table is not what was sent, so nobody can tell whether the apply
    committed. Exit 3, and the snapshot is kept as history (rollback restores it)."""
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before, snaps = ns.table(), ns.snapshots()
    p = ns.faults("lose-replies,fail-at=3,commit-after-send", "apply", *PLANS["weights"])
    assert p.returncode == 3, p.stderr
    assert "the outcome is unknown" in p.stderr and "kept as history" in p.stderr, p.stderr
    assert ns.table() == before
    assert len(ns.snapshots()) == len(snaps) + 1 and ns.pending() == []
    assert ns.nftgate("rollback").returncode == 0
    assert ns.table() == before


def test_lost_replies_of_a_rollback_are_found_out(ns):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.ruleset()
    assert ns.nftgate("apply", *PLANS["weights"]).returncode == 0
    p = ns.faults("lose-replies", "rollback")
    assert p.returncode == 0, p.stderr
    assert "it committed" in p.stderr, p.stderr
    assert ns.ruleset() == before
    assert len(ns.snapshots()) == 1


def test_killed_applies_leave_no_history(ns):
    """kill -9 after the snapshot is saved and before the commit, over and over: none of
    those snapshots becomes history, none pushes real history out of the window, and
    rollback undoes the last apply that committed."""
    plans = ("example", "weights")
    states = [ns.ruleset()]
    for plan in plans:
        assert ns.nftgate("apply", *PLANS[plan]).returncode == 0
        states.append(ns.ruleset())
    for i in range(13):
        p = ns.faults("kill-after-save", "apply", *PLANS["reject-shares"])
        assert p.returncode == -9 or p.returncode == 137, p
        assert ns.ruleset() == states[-1]
        assert len(ns.pending()) == 1             # the next run settles it
        if i % 3 == 2:
            ns.nft("add", "table", "ip", "other%d" % i)   # the generation moves too
            ns.nft("delete", "table", "ip", "other%d" % i)
        if i % 2:
            p = ns.nftgate("apply", *PLANS[plans[-1]])    # the same content again
            assert p.returncode == 0, p.stderr
            assert "removed" in p.stderr and ".pending" in p.stderr, p.stderr
            states.append(ns.ruleset())
    p = ns.nftgate("rollback")                     # settles the last one, then rolls back
    assert p.returncode == 0, p.stderr
    assert ns.pending() == []
    # every snapshot left is an apply that committed, and walking them back ends at "no
    # table" after the two real applies and the re-applies
    assert len(ns.snapshots()) == len(states) - 2
    while ns.snapshots():
        assert ns.nftgate("rollback").returncode == 0
    assert ns.ruleset() == states[0]


def test_apply_killed_between_snapshot_and_commit_is_not_history(ns):
    """The plain binary, SIGKILLed right after its snapshot is published (strace stops it
    at the fsync of the directory that follows the rename; nothing was sent yet): the next
    rollback must undo the last apply that committed, not "restore" the current table."""
    if not shutil.which("strace"):
        pytest.skip("needs strace")
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.ruleset()
    assert ns.nftgate("apply", *PLANS["weights"]).returncode == 0
    after = ns.ruleset()
    env = {"ASAN_OPTIONS": "detect_leaks=0"}      # LeakSanitizer cannot run under ptrace
    ns.exec("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync", "-e",
            "inject=fsync:signal=SIGKILL:when=2", str(BIN), "apply", *PLANS["reject-shares"],
            "--state-dir", str(ns.state), env=env, check=False)
    assert ns.ruleset() == after                  # killed before its transaction
    p = ns.nftgate("rollback")
    assert p.returncode == 0, p.stderr
    assert ns.ruleset() == before
    assert ns.pending() == [] and len(ns.snapshots()) == 1


def test_apply_killed_after_its_commit_is_history(ns):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.ruleset()
    p = ns.faults("kill-after-commit", "apply", *PLANS["weights"])
    assert p.returncode in (-9, 137), p
    assert ns.ruleset() != before and len(ns.pending()) == 1
    p = ns.nftgate("rollback")
    assert p.returncode == 0, p.stderr
    assert "is history now" in p.stderr, p.stderr
    assert ns.ruleset() == before
    assert ns.pending() == [] and len(ns.snapshots()) == 1


def test_pending_snapshot_of_a_running_apply_is_left_alone(ns):
    """An apply stopped between its snapshot and its commit holds the table's lock: a second
    apply waits for it instead of taking the first's pending snapshot for a dead one's.
    Continued, the first commits, then the second; both snapshots are history."""
    if not os.access(FAULTS, os.X_OK):
        pytest.skip("%s is not built" % FAULTS)
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    e = dict(os.environ, NFTGATE_FAULTS="stop-after-save")
    first = subprocess.Popen(["ip", "netns", "exec", ns.name, str(FAULTS), "apply",
                              *PLANS["weights"], "--state-dir", str(ns.state)], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        for _ in range(6000):                     # until it stopped itself (bounded)
            assert first.poll() is None, first.communicate()
            with open("/proc/%d/stat" % first.pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "T":
                    break
            time.sleep(0.005)
        else:
            raise AssertionError("the first apply never reached its seam")
        assert len(ns.pending()) == 1
        second = subprocess.Popen(["ip", "netns", "exec", ns.name, str(BIN), "apply",
                                   *PLANS["reject-shares"], "--state-dir", str(ns.state)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # it cannot finish while the first holds the lock: give it ample time to try
        try:
            second.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        assert second.poll() is None, second.communicate()
        assert len(ns.pending()) == 1
    finally:
        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "applied table inet nftgate" in out
    out2, err2 = second.communicate(timeout=60)
    assert second.returncode == 0, err2
    assert "removed" not in err2 and "history now" not in err2, err2
    assert ns.pending() == [] and len(ns.snapshots()) == 3


# ---- rollback under a moving generation ----

def test_rollback_retries_when_the_generation_moves(ns):
    """Another commit between rollback's generation read and its send makes the kernel
    refuse the batch (ERESTART); rollback reads again, 5 attempts in all."""
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.ruleset()
    assert ns.nftgate("apply", *PLANS["weights"]).returncode == 0
    after, snaps = ns.table(), ns.snapshots()
    p = ns.faults("restarts=5", "rollback")
    assert p.returncode == 1, p.stderr
    assert "gave up after 5 attempts" in p.stderr, p.stderr
    assert ns.table() == after and ns.snapshots() == snaps
    p = ns.faults("restarts=4", "rollback")
    assert p.returncode == 0, p.stderr
    assert ns.ruleset() == before and ns.snapshots() == snaps[:1]
    # apply retries the same way
    assert ns.faults("restarts=4", "apply", *PLANS["weights"]).returncode == 0
    assert ns.table() == after


def gen_of(p):
    """The generation an apply's summary reports."""
    assert p.returncode == 0, p.stderr
    return int(p.stdout.split(", generation ")[1].split(";")[0])


def test_rollback_succeeds_while_another_table_churns(ns):
    """Another process commits to its own table in a loop: rollback's fenced transaction
    may meet a moved generation, and must retry instead of failing (it reads the fence
    only once the batch is built, so that the window is short even under ASan)."""
    states = []
    for plan in ("example", "weights", "reject-shares", "addresses") * 3:
        states.append(ns.nft("list", "table", "inet", "nftgate", check=False).stdout)
        last = ns.nftgate("apply", *PLANS[plan])
        assert last.returncode == 0, last.stderr
    assert len(ns.snapshots()) == 10
    churn = subprocess.Popen(["ip", "netns", "exec", ns.name, "sh", "-c",
                              "while :; do nft add table ip churn; nft delete table ip churn;"
                              " done"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        for want in reversed(states[2:]):         # every snapshot the window kept
            p = ns.nftgate("rollback")
            assert p.returncode == 0, p.stderr
            assert ns.nft("list", "table", "inet", "nftgate", check=False).stdout == want
    finally:
        os.killpg(churn.pid, signal.SIGTERM)
        churn.wait(timeout=30)
    assert ns.snapshots() == []
    # the churn did commit meanwhile: more than the 10 rollbacks and this apply
    assert gen_of(ns.nftgate("apply", *PLANS["example"])) - gen_of(last) > 11


# ---- a state directory shared between namespaces ----

def test_snapshot_of_another_netns_is_refused(ns):
    """apply in A, apply in B, apply in A, then rollback in B: the newest snapshot is A's;
    restoring it would install A's listeners in B. Refused, B unchanged; A rolls back."""
    b = Netns()
    try:
        b.state = ns.state
        assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
        a_first = ns.ruleset()
        assert b.nftgate("apply", *PLANS["weights"]).returncode == 0
        in_b = b.ruleset()
        assert ns.nftgate("apply", *PLANS["reject-shares"]).returncode == 0
        p = b.nftgate("rollback")
        assert p.returncode == 1, p.stderr
        assert "another network namespace" in p.stderr, p.stderr
        assert ns.snapshots()[-1] in p.stderr
        assert b.ruleset() == in_b
        assert len(ns.snapshots()) == 3
        assert ns.nftgate("rollback").returncode == 0
        assert ns.ruleset() == a_first
    finally:
        b.close()


# ---- what the state directory may hold ----

def test_fifo_as_newest_snapshot_is_refused(ns):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before = ns.ruleset()
    fifo = ns.state / "nftgate.0000000009.snap"
    os.mkfifo(fifo, 0o600)
    p = subprocess.run(["ip", "netns", "exec", ns.name, str(BIN), "rollback", "--state-dir",
                        str(ns.state)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p.stderr
    assert fifo.name in p.stderr and "not a regular file" in p.stderr, p.stderr
    assert ns.ruleset() == before


# ---- --table: the longest name that can be applied, and one byte more ----

def test_longest_table_name_applies_one_more_is_refused(ns):
    longest = "t" * 227                           # 255 - len(".<19 digits>.pending")
    p = ns.nftgate("apply", *PLANS["example"], "--table", longest)
    assert p.returncode == 0, p.stderr
    assert "table inet %s {" % longest in ns.table(longest)
    before = ns.ruleset()
    for name in ("t" * 228, "t" * 255, "t" * 256, "t" + "." * 75 + "tt"):
        p = ns.nftgate("apply", *PLANS["weights"], "--table", name)
        assert p.returncode == 2, (len(name), p.stderr)
        assert "227" in p.stderr or "255" in p.stderr, p.stderr
    assert ns.ruleset() == before
    assert ns.nftgate("rollback", "--table", longest).returncode == 0
    assert ns.ruleset() == ""
    # a name with bytes the file names escape (3 bytes each) fits when it fits escaped
    dotted = "t" + "." * 75 + "t"                  # 227 once escaped
    assert ns.nftgate("apply", *PLANS["example"], "--table", dotted).returncode == 0
    assert ns.nftgate("rollback", "--table", dotted).returncode == 0


# ---- inputs without any Gateway API object ----

def test_empty_inputs_are_refused_unless_allowed(ns):
    assert ns.nftgate("apply", *PLANS["example"]).returncode == 0
    before, snaps = ns.ruleset(), ns.snapshots()
    empty_file = ns.tmp / "empty.yaml"
    empty_file.write_text("")
    empty_dir = ns.tmp / "nothing"
    empty_dir.mkdir()
    services = ns.tmp / "services.yaml"
    services.write_text((EXAMPLE / "services.yaml").read_text())
    for args in (["-f", str(empty_file)], ["-f", str(empty_dir)], ["-f", str(services)],
                 ["-f", str(empty_dir), "--dry-run"]):
        p = ns.nftgate("apply", *args)
        assert p.returncode == 2, p.stderr
        assert "no Gateway API object" in p.stderr and "--allow-empty" in p.stderr, p.stderr
        assert p.stdout == ""
    p = ns.nftgate("apply", "-f", str(services))
    assert "services.yaml:" in p.stderr and "Service" in p.stderr, p.stderr
    assert ns.ruleset() == before and ns.snapshots() == snaps
    # status only prints: an empty input gives an empty list
    p = ns.exec(str(BIN), "status", "-f", str(empty_dir), check=False)
    assert p.returncode == 0, p.stderr
    assert "items: []" in p.stdout, p.stdout
    p = ns.nftgate("apply", "-f", str(empty_dir), "--allow-empty")
    assert p.returncode == 0, p.stderr
    assert "0 listeners" in p.stdout
    assert "listen_any4" in ns.table()            # the table stays, without listeners
    assert ns.nftgate("rollback").returncode == 0
    assert ns.ruleset() == before
