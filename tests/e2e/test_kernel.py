# SPDX-License-Identifier: Apache-2.0
"""The kernel data plane, end to end: the real binary against the real kernel, each test in
its own network namespace (created with `ip netns add`, deleted afterwards even on failure).

What it checks: the dry-run script and `apply` give the same `nft list table` for several
plans; the bytecode is nft's own; `nft list ruleset` / `nft -j list ruleset` keep working;
rollback walks back through history to "no table", exactly, and starts with the feature
probe; a damaged snapshot is refused without touching the kernel; foreign tables are never
touched; a refused transaction (forced with the NFTGATE_TEST_FAIL_AT test hook) and an input
error change nothing; the state directory's modes and history limit; counters survive a
re-apply. Traffic is the business of tests/e2e/test_traffic*.py.
"""
import itertools
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MANIFESTS = HERE / "manifests"
EXAMPLE = REPO / "examples" / "basic-tcp"
BIN = Path(os.environ.get("NFTGATE_BIN", REPO / "build" / "nftgate"))
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
}


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
        e.pop("NFTGATE_TEST_FAIL_AT", None)
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


@pytest.mark.parametrize("plan", ["example", "addresses", "reject-shares"])
def test_bytecode_is_nfts_own(ns, plan):
    args = PLANS[plan]
    p = ns.nft("--debug=netlink", "-f", "-", input=dry_run(args))
    theirs = rule_blocks(p.stdout, "nftgate")
    ours = ns.nftgate("apply", *args, "--debug=netlink")
    assert ours.returncode == 0, ours.stderr
    mine = rule_blocks(ours.stderr, "nftgate")
    assert len(mine) >= 20
    assert mine == theirs


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
        if shutil.which("strace"):
            # LeakSanitizer cannot run under ptrace: an ASan build (NFTGATE_BIN) skips it here
            env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
            s = subprocess.run(["strace", "-f", "-e", "trace=socket", str(BIN), "apply",
                                "--dry-run", "-f", str(EXAMPLE)], capture_output=True, text=True,
                               env=env)
            assert s.returncode == 0
            assert "AF_NETLINK" not in s.stderr
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
    p = ns.nftgate("apply", *PLANS["weights"], env={"NFTGATE_TEST_FAIL_AT": str(fail_at)})
    assert p.returncode == 1
    assert "NFTGATE_TEST_FAIL_AT" in p.stderr
    assert "route default/" in p.stderr          # the refusal names the route
    assert "nothing was changed" in p.stderr
    assert ns.ruleset() == before
    assert ns.snapshots() == snaps               # a refused apply leaves no history


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
