# SPDX-License-Identifier: Apache-2.0
"""`nftgate run`: the daemon in the node namespace, watching a directory of manifests.

Readiness and progress are read from the daemon's own JSON log lines (one per reconcile,
with the messages it sent), never from sleeps: every wait polls a condition with a bound.
"""
import json
import os
import queue
import random
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

import nft_listing
from netns import EXAMPLE, NODE_V4, NODE_V6, nftgate_binary

FOO_PODS = {"foo-1": ("10.244.1.10", "fd00:244:1::10"), "foo-2": ("10.244.1.11", "fd00:244:1::11"),
            "foo-3": ("10.244.1.12", "fd00:244:1::12")}
BAR_PODS = {"bar-1": ("10.244.2.10", "fd00:244:2::10")}


class Daemon:
    """One `nftgate run` in the node namespace, its JSON log lines collected by a thread."""

    def __init__(self, sb, paths, extra=(), binary=None):
        self.sb = sb
        cmd = ["ip", "netns", "exec", sb.node, str(binary or nftgate_binary()), "run",
               "--log-format", "json", "--state-dir", sb.state_dir]
        for p in paths:
            cmd += ["-f", str(p)]
        cmd += list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        sb.procs.append(self.proc)
        self.events = []
        self.raw = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.raw.append(line)
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.events.append({"msg": "(not json)", "line": line})
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.events)

    def wait(self, pred, since=0, timeout=15.0, what="a log line"):
        """The first event at index >= since that pred accepts; fails after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events[since:]:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no %s within %.0fs; log:\n%s" % (
                        what, timeout, "".join(self.raw[-40:])))
                self.cond.wait(left)

    def reconcile(self, since=0, timeout=15.0):
        return self.wait(lambda e: e.get("msg") in ("reconcile",), since, timeout, "reconcile")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return rc

    def log_text(self):
        with self.cond:
            return "".join(self.raw)


def slice_doc(service, family, port, pods, not_ready=()):
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "%s-ipv%d" % (service, family),
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv%d" % family,
        "ports": [{"name": "tcp", "protocol": "TCP", "port": port}],
        "endpoints": [{"addresses": [addrs[0 if family == 4 else 1]],
                       "conditions": {"ready": name not in not_ready},
                       "targetRef": {"kind": "Pod", "name": name}}
                      for name, addrs in sorted(pods.items())],
    }


def service_doc(name, target):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"name": "tcp", "protocol": "TCP", "port": 6000,
                                "targetPort": target}]}}


def write_yaml(path, docs):
    """Writes atomically (temporary file + rename), as editors and kubectl-like tools do."""
    tmp = path.with_name(".%s.tmp" % path.name)
    tmp.write_text(yaml.safe_dump_all(docs))
    os.replace(tmp, path)


def write_backends(d, foo, bar=BAR_PODS, not_ready=()):
    write_yaml(d / "foo.yaml", [service_doc("my-foo-service", 7000),
                                slice_doc("my-foo-service", 4, 7000, foo, not_ready),
                                slice_doc("my-foo-service", 6, 7000, foo, not_ready)])
    write_yaml(d / "bar.yaml", [service_doc("my-bar-service", 7001),
                                slice_doc("my-bar-service", 4, 7001, bar),
                                slice_doc("my-bar-service", 6, 7001, bar)])


@pytest.fixture
def inputs():
    d = Path(tempfile.mkdtemp(prefix="nftgate-run-"))
    shutil.copy(EXAMPLE / "gateway.yaml", d / "gateway.yaml")
    shutil.copy(EXAMPLE / "routes.yaml", d / "routes.yaml")
    write_backends(d, {k: FOO_PODS[k] for k in ("foo-1", "foo-2")})
    yield d
    shutil.rmtree(d, ignore_errors=True)


def add_pods(sb):
    for name, (v4, v6) in sorted(FOO_PODS.items()):
        sb.add_pod(name, [v4], [v6], [7000], "my-foo-service")
    for name, (v4, v6) in BAR_PODS.items():
        sb.add_pod(name, [v4], [v6], [7001], "my-bar-service")
    sb.ready()


def start(sb, inputs, *extra, binary=None):
    d = Daemon(sb, [inputs], extra, binary)
    d.reconcile()
    return d


def pods_answering(sb, port, host=NODE_V4, count=40):
    t = sb.probe(host, port, count=count)
    assert t.answered == count, t
    return set(t.pods)


def wait_pods(sb, port, want, host=NODE_V4, timeout=10.0):
    """Polls (bounded) until exactly the pods `want` answer on port."""
    deadline = time.monotonic() + timeout
    while True:
        got = pods_answering(sb, port, host)
        if got == want or time.monotonic() > deadline:
            assert got == want, (got, want)
            return
        time.sleep(0.05)


def listing(sb):
    """The table's content in a canonical order (nft_listing.canonical)."""
    return "\n".join(nft_listing.canonical(sb.nft("-j", "list", "table", "inet",
                                                    "nftgate").stdout))


# ---- the basics --------------------------------------------------------------------------


def test_run_forwards_and_follows_endpoint_edits(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    assert pods_answering(sandbox, 8080) == {"foo-1", "foo-2"}
    assert pods_answering(sandbox, 8090) == {"bar-1"}
    assert pods_answering(sandbox, 8080, NODE_V6) == {"foo-1", "foo-2"}

    # add a pod
    m = d.mark()
    write_backends(inputs, FOO_PODS)
    e = d.reconcile(m)
    assert e["msgs"] > 0 and not e["replaced"], e
    wait_pods(sandbox, 8080, {"foo-1", "foo-2", "foo-3"})
    wait_pods(sandbox, 8080, {"foo-1", "foo-2", "foo-3"}, NODE_V6)

    # remove one
    m = d.mark()
    write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-1", "foo-3")})
    d.reconcile(m)
    wait_pods(sandbox, 8080, {"foo-1", "foo-3"})

    # mark one not ready
    m = d.mark()
    write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-1", "foo-3")}, not_ready={"foo-3"})
    d.reconcile(m)
    wait_pods(sandbox, 8080, {"foo-1"})
    assert pods_answering(sandbox, 8090) == {"bar-1"}
    assert d.stop() == 0


def test_one_endpoint_change_is_a_few_messages(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    m = d.mark()
    write_backends(inputs, FOO_PODS)
    e = d.reconcile(m)
    # docs/layout.md: an endpoint change is at most BEGIN, END, and a delete and an add
    # in each of endpoint4/6 and slot_any4/6, the listener's two elements, and a new pick
    # chain per family (NEWCHAIN + 3 rules): 2 + 2*6 + 2*4 = 22
    assert 0 < e["msgs"] <= 22, e
    m = d.mark()
    os.utime(inputs / "foo.yaml")  # re-read, same objects: nothing to send
    e = d.reconcile(m)
    assert e["msgs"] == 0, e
    assert d.stop() == 0


def test_table_of_the_previous_layout_is_replaced_with_its_counters(sandbox, inputs):
    """A table the nftgate before UDP listeners wrote (listener maps keyed by port alone):
    the daemon's first reconcile replaces it in full (its set definitions differ) and the
    counters that persist keep their values, carried by name."""
    add_pods(sandbox)
    script = sandbox.nftgate("apply", "--dry-run", "-f", inputs).stdout
    old = nft_listing.pre_udp_layout(script)
    assert "type inet_service : verdict" in old
    old, n = re.subn(r'(\tcounter (s[0-9a-f_]+_conn) \{\n\t\tcomment "[^"]*"\n)',
                     r"\1\t\tpackets 7 bytes 700\n", old)
    assert n > 0
    sandbox.exec(sandbox.node, ["nft", "-f", "-"], input=old)
    d = start(sandbox, inputs)
    e = d.reconcile()
    assert e["replaced"], e
    doc = json.loads(sandbox.nft("-j", "list", "counters", "table", "inet", "nftgate").stdout)
    carried = {o["counter"]["name"]: (o["counter"]["packets"], o["counter"]["bytes"])
               for o in doc["nftables"] if "counter" in o}
    assert sum(v == (7, 700) for v in carried.values()) == n, carried
    assert "inet_proto . inet_service : verdict" in sandbox.nft("list", "table", "inet",
                                                                 "nftgate").stdout
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert d.stop() == 0


def test_other_tables_commits_do_not_refuse_the_next_batch(sandbox, inputs):
    """Another program commits its own tables (as kube-proxy does): the notifications say
    our table was left alone, so the next reconcile is fenced with the new generation and
    goes through at the first attempt, without reading the table again."""
    add_pods(sandbox)
    d = start(sandbox, inputs)
    for k, pods in enumerate(({k: FOO_PODS[k] for k in ("foo-1",)}, FOO_PODS)):
        # their notifications are queued (and read) as nft returns, before the file
        # event that follows and its 20 ms debounce
        sandbox.nft("add", "table", "ip", "ngt-other%d" % k)
        sandbox.nft("delete", "table", "ip", "ngt-other%d" % k)
        m = d.mark()
        write_backends(inputs, pods)
        e = d.reconcile(m)
        assert e["attempts"] == 1 and 0 < e["msgs"] <= 22, e
    with d.cond:
        assert not [x for x in d.events if x.get("msg") == "table changed by another "
                    "program"], d.log_text()
    assert d.stop() == 0


def test_bad_file_keeps_its_last_good_objects(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    m = d.mark()
    (inputs / "bar.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: [broken\n")
    err = d.wait(lambda e: e.get("msg", "").startswith("input error"), m, what="input error")
    assert err["file"].endswith("bar.yaml") and err["line"] > 0, err
    bar = err["file"]
    assert metric(http_get(sandbox, "/metrics")[1], "nftgate_input_errors", file=bar) >= 1
    # the broken file's Service and slices still carry 8090
    assert pods_answering(sandbox, 8090) == {"bar-1"}
    # the other files still apply
    m = d.mark()
    write_yaml(inputs / "foo.yaml", [service_doc("my-foo-service", 7000),
                                     slice_doc("my-foo-service", 4, 7000, FOO_PODS),
                                     slice_doc("my-foo-service", 6, 7000, FOO_PODS)])
    d.reconcile(m)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2", "foo-3"})
    assert pods_answering(sandbox, 8090) == {"bar-1"}
    # fixed: applies again
    m = d.mark()
    write_backends(inputs, FOO_PODS, bar={})
    d.reconcile(m)
    t = sandbox.probe(NODE_V4, 8090, count=10)
    assert t.answered == 0 and t.reset == 10, t
    assert metric(http_get(sandbox, "/metrics")[1], "nftgate_input_errors", file=bar) == 0
    # broken again (its error line may be held back as a repeat: poll the metric), then
    # deleted: its objects go, and so does its input_errors series
    (inputs / "bar.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: [broken\n")
    deadline = time.monotonic() + 10
    while not metric(http_get(sandbox, "/metrics")[1], "nftgate_input_errors", file=bar):
        assert time.monotonic() < deadline, "no input_errors for the broken file"
        time.sleep(0.05)
    m = d.mark()
    (inputs / "bar.yaml").unlink()
    d.reconcile(m)
    text = http_get(sandbox, "/metrics")[1]
    assert metric(text, "nftgate_input_errors", file=bar) is None, text
    assert metric(text, "nftgate_input_errors", file=str(inputs / "foo.yaml")) == 0, text
    assert d.stop() == 0


def test_rename_over_delete_and_recreate(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    # rename over (what write_yaml does) was covered; delete the routes file: no route
    m = d.mark()
    routes = (inputs / "routes.yaml").read_text()
    (inputs / "routes.yaml").unlink()
    d.reconcile(m)
    t = sandbox.probe(NODE_V4, 8080, count=10)
    assert t.answered == 0 and t.reset == 10, t
    m = d.mark()
    (inputs / "routes.yaml").write_text(routes)
    d.reconcile(m)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert d.stop() == 0


def test_sighup_rereads_and_sigterm_leaves_rules(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    m = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    e = d.reconcile(m)
    assert e["msgs"] == 0, e   # nothing changed: nothing sent
    before = listing(sandbox)
    assert d.stop() == 0
    assert listing(sandbox) == before
    assert pods_answering(sandbox, 8080) == {"foo-1", "foo-2"}


def test_restart_adopts_without_sending_anything(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    write_backends(inputs, FOO_PODS)
    m = d.mark()
    d.reconcile(m)
    before = listing(sandbox)
    assert d.stop() == 0
    d2 = Daemon(sandbox, [inputs])
    e = d2.reconcile()
    assert e["msgs"] == 0 and not e["replaced"], e
    assert listing(sandbox) == before
    assert d2.stop(signal.SIGKILL) == -signal.SIGKILL
    d3 = Daemon(sandbox, [inputs])   # after kill -9: no record, the table is dumped
    e = d3.reconcile()
    assert e["msgs"] == 0, e
    assert listing(sandbox) == before
    assert d3.stop() == 0


def fnv64(data):
    """FNV-1a 64, the snapshot file's checksum (nft/snapshot.c)."""
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


RECORD_HEADER = 8 + 4 + 36 + 8 + 8   # magic, version, boot id, netns cookie, checksum


def dirty_objref_padding(record):
    """The committed record with "h" in the padding after each objref's set name, the bytes
    an nftgate that left a batch's later pages unzeroed wrote there (libmnl does not zero
    padding), the snapshot's checksum made good again. Returns (bytes, names dirtied)."""
    snap = bytearray(record[RECORD_HEADER:])
    n = 0
    for name in (b"share_conn", b"share_traffic", b"route_conn", b"route_traffic"):
        pad = -len(name) % 4
        attr = struct.pack("<HH", 4 + len(name), 4) + name   # NFTA_OBJREF_SET_NAME
        at = snap.find(attr + b"\0" * pad)
        while at >= 0:
            snap[at + len(attr):at + len(attr) + pad] = b"h" * pad
            n += 1
            at = snap.find(attr + b"\0" * pad, at + 1)
    snap[-8:] = struct.pack(">Q", fnv64(snap[:-8]))
    return bytes(record[:RECORD_HEADER]) + bytes(snap), n


def test_restart_adopts_a_record_whatever_its_padding_holds(sandbox, inputs):
    """A restart after SIGTERM replaced the table it had written itself, now and then: the
    committed record's objref set names, read back through libnftnl, ran into padding
    bytes that were not zero ("route_traffich"), so the table looked reshaped. A record
    with such bytes (one written before the fix may still be on disk) is adopted: nothing
    sent."""
    add_pods(sandbox)
    d = start(sandbox, inputs)
    before = listing(sandbox)
    assert d.stop() == 0
    rec = Path(sandbox.state_dir) / "nftgate.committed"
    data, n = dirty_objref_padding(rec.read_bytes())
    assert n >= 4, n   # share_ and route_ conn and traffic, in the rules that count
    rec.write_bytes(data)
    d2 = Daemon(sandbox, [inputs])
    adopted = d2.wait(lambda e: e.get("msg") == "adopted", what="adopted")
    e = d2.reconcile()
    assert e["msgs"] == 0 and not e["replaced"], e
    # the record is what was adopted (a dump has no such bytes): the run's rollback point
    # holds its messages
    point = (Path(sandbox.state_dir) / adopted["rollback_point"]).read_bytes()
    assert b"route_traffichhh" in point
    assert listing(sandbox) == before
    assert d2.stop() == 0


def pick_chains(sb):
    return set(re.findall(r"chain (pick_\w+)", sb.nft("list", "table", "inet", "nftgate").stdout))


def wanted_pick_chains(sb, inputs):
    return set(re.findall(r"chain (pick_\w+)", sb.nftgate("apply", "--dry-run", "-f", inputs).stdout))


def test_restart_before_stale_chains_are_collected_adopts(sandbox, inputs):
    """A daemon stopped (SIGTERM, then kill -9) between a commit that left a pick chain
    unused and the transaction that deletes it leaves that chain in the table: the next
    start adopts the table (nothing sent, no replace) and then deletes the chain the way
    the running daemon would have."""
    add_pods(sandbox)
    two = {k: FOO_PODS[k] for k in ("foo-1", "foo-2")}
    cur = two
    d = start(sandbox, inputs)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for _ in range(5):   # bounded: the collection may win the race to the signal
            cur = FOO_PODS if cur is two else two   # the slot count moves: a new pick chain
            m = d.mark()
            write_backends(inputs, cur)
            e = d.reconcile(m)
            assert not e["replaced"] and "chains +" in e["changes"], e
            d.stop(sig)
            stale = pick_chains(sandbox) - wanted_pick_chains(sandbox, inputs)
            d = Daemon(sandbox, [inputs])
            d.wait(lambda e: e.get("msg") == "adopted", what="adopted")
            e = d.reconcile()
            assert e["msgs"] == 0 and not e["replaced"], (sig, e)
            if stale:
                break
        assert stale, "every collection ran before the signal"
        deadline = time.monotonic() + 15
        while pick_chains(sandbox) != wanted_pick_chains(sandbox, inputs):
            assert time.monotonic() < deadline, (pick_chains(sandbox), stale)
            time.sleep(0.05)
        assert not any(x.get("replaced") for x in d.events), d.log_text()
    wait_pods(sandbox, 8080, set(cur))
    incremental = listing(sandbox)
    assert d.stop() == 0
    sandbox.apply(inputs)   # a full apply of the same inputs finds the same table
    assert listing(sandbox) == incremental


def test_empty_inputs_refused_unless_allowed(sandbox):
    empty = Path(tempfile.mkdtemp(prefix="nftgate-empty-"))
    try:
        r = sandbox.nftgate("run", "-f", empty, "--state-dir", sandbox.state_dir, check=False)
        assert r.returncode == 2, r
        assert "no Gateway API object" in r.stderr, r.stderr
    finally:
        shutil.rmtree(empty)


def test_inputs_emptied_at_runtime_are_held(sandbox, inputs):
    """Every Gateway API object removed while running: held as a start refuses it, the
    table and its traffic as they were, /readyz says why; the objects back, it goes on."""
    add_pods(sandbox)
    d = start(sandbox, inputs)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    before = listing(sandbox)
    kept = {n: (inputs / n).read_text() for n in ("gateway.yaml", "routes.yaml")}
    m = d.mark()
    for n in kept:
        (inputs / n).unlink()
    d.wait(lambda e: e.get("msg", "").startswith("the inputs hold no Gateway API object"), m,
           what="the hold")
    assert listing(sandbox) == before
    assert pods_answering(sandbox, 8080) == {"foo-1", "foo-2"}
    code, body = http_get(sandbox, "/readyz")
    assert code == 503 and "no Gateway API object" in body, (code, body)
    with d.cond:
        assert not [e for e in d.events[m:] if e.get("msg") == "reconcile"], d.log_text()
    for n, text in kept.items():            # dot files are not read: then one burst
        (inputs / ("." + n)).write_text(text)
    m = d.mark()
    for n in kept:
        os.replace(inputs / ("." + n), inputs / n)
    e = d.reconcile(m)
    assert e["msgs"] == 0, e                 # the table was held as those objects made it
    assert http_get(sandbox, "/readyz")[0] == 200
    assert listing(sandbox) == before
    assert d.stop() == 0


def test_second_daemon_on_one_state_dir_is_refused(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    r = sandbox.nftgate("run", "-f", inputs, "--state-dir", sandbox.state_dir,
                        "--listen", "127.0.0.1:10267", check=False, timeout=20)
    assert r.returncode == 1 and "in use by nftgate run" in r.stderr, r
    assert d.stop() == 0


# ---- drift ---------------------------------------------------------------------------------


def test_foreign_edit_is_repaired(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    before = listing(sandbox)
    m = d.mark()
    sandbox.nft("flush", "map", "inet", "nftgate", "endpoint4")
    e = d.wait(lambda x: x.get("msg") == "drift repaired", m, what="drift repair")
    assert e["msgs"] > 0 and not e["replaced"], e
    assert listing(sandbox) == before
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert d.stop() == 0


def test_deleted_table_is_recreated(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    before = listing(sandbox)
    m = d.mark()
    sandbox.nft("delete", "table", "inet", "nftgate")
    e = d.wait(lambda x: x.get("msg") == "drift repaired", m, what="drift repair")
    assert e["replaced"], e
    assert listing(sandbox) == before
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert d.stop() == 0


# ---- held connections ------------------------------------------------------------------------


def held_pair(sb):
    return [sb.hold(NODE_V4, 8080), sb.hold(NODE_V6, 8080)]


def assert_held(held):
    for i, h in enumerate(held):
        text = "ping-%d-%d" % (i, random.randrange(1 << 30))
        got = h.echo(text)
        assert got.endswith(text), (got, text)


def test_held_connections_survive_churn_and_restarts(sandbox, inputs, tmp_path):
    for name, (v4, v6) in sorted(FOO_PODS.items()):
        sandbox.add_pod(name, [v4], [v6], [7000], "my-foo-service", echo=True)
    for name, (v4, v6) in BAR_PODS.items():
        sandbox.add_pod(name, [v4], [v6], [7001], "my-bar-service", echo=True)
    sandbox.ready()
    d = start(sandbox, inputs)
    held = held_pair(sandbox)
    greet = [h.greeting for h in held]
    assert_held(held)
    # (a) 1,000 unrelated changes: bar's endpoints come and go
    for i in range(1000):
        m = d.mark()
        write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-1", "foo-2")},
                       bar=BAR_PODS if i % 2 else {})
        d.reconcile(m)
    assert_held(held)
    # (b) kill -9 and restart
    assert d.stop(signal.SIGKILL) == -signal.SIGKILL
    d = start(sandbox, inputs)
    assert_held(held)
    # (c) upgrade: a new binary (a copy, elsewhere) takes over
    new = tmp_path / "nftgate-new"
    shutil.copy(nftgate_binary(), new)
    assert d.stop() == 0
    d = start(sandbox, inputs, binary=new)
    assert_held(held)
    # (d) a foreign edit repaired
    m = d.mark()
    sandbox.nft("flush", "map", "inet", "nftgate", "slot_any4")
    d.wait(lambda x: x.get("msg") == "drift repaired", m, what="drift repair")
    assert_held(held)
    assert [h.greeting for h in held] == greet
    for h in held:
        h.close()
    assert d.stop() == 0


# ---- property: incremental equals full ------------------------------------------------------


def weighted_inputs(d, w_foo, w_bar):
    """A third listener (web:8100) whose route splits between the two Services."""
    docs = list(yaml.safe_load_all((EXAMPLE / "gateway.yaml").read_text()))
    gw = [x for x in docs if x and x["kind"] == "Gateway"][0]
    gw["spec"]["listeners"].append({"name": "web", "protocol": "TCP", "port": 8100,
                                    "allowedRoutes": {"kinds": [{"kind": "TCPRoute"}]}})
    write_yaml(d / "gateway.yaml", docs)
    write_yaml(d / "weighted.yaml", [{
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
        "metadata": {"name": "split"},
        "spec": {"parentRefs": [{"name": "my-tcp-gateway", "sectionName": "web"}],
                 "rules": [{"backendRefs": [
                     {"name": "my-foo-service", "port": 6000, "weight": w_foo},
                     {"name": "my-bar-service", "port": 6000, "weight": w_bar}]}]}}])


def test_random_changes_equal_a_full_apply(sandbox, inputs):
    """100 random changes (endpoints, readiness, weights, a backend emptied and filled), seeded;
    then the traffic split holds on the wire and a full replace of the same inputs finds
    nothing to change in the table."""
    add_pods(sandbox)
    weighted_inputs(inputs, 3, 1)
    d = start(sandbox, inputs)
    rnd = random.Random(20261202)
    for _ in range(100):
        foo = {k: v for k, v in FOO_PODS.items() if rnd.random() < 0.6}
        bar = BAR_PODS if rnd.random() < 0.7 else {}
        nr = {k for k in foo if rnd.random() < 0.2}
        m = d.mark()
        if rnd.random() < 0.2:
            weighted_inputs(inputs, rnd.randrange(0, 5), rnd.randrange(1, 5))
        write_backends(inputs, foo, bar, nr)
        d.reconcile(m)
    # a known last state: 3:1 over foo (3 pods) and bar (1 pod)
    m = d.mark()
    weighted_inputs(inputs, 3, 1)
    write_backends(inputs, FOO_PODS)
    d.reconcile(m)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2", "foo-3"})
    sandbox.probe_weighted(NODE_V4, 8100, {"my-foo-service": 0.75, "my-bar-service": 0.25})
    # and with bar emptied, its quarter is reset, not redistributed
    m = d.mark()
    write_backends(inputs, FOO_PODS, bar={})
    d.reconcile(m)
    t = sandbox.probe(NODE_V4, 8100, count=400)
    assert t.answered + t.reset == 400, t
    assert abs(t.reset / 400 - 0.25) <= 0.07, t
    assert set(t.by_service(sandbox)) == {"my-foo-service"}, t
    # pick chains no listener uses any more are deleted 1 s after the commit that left
    # them (docs/layout.md, "Incremental updates"): wait for that, bounded
    want = set(re.findall(r"chain (pick_\w+)", sandbox.nftgate(
        "apply", "--dry-run", "-f", inputs).stdout))
    deadline = time.monotonic() + 15
    while True:
        have = set(re.findall(r"chain (pick_\w+)", sandbox.nft(
            "list", "table", "inet", "nftgate").stdout))
        if have == want or time.monotonic() > deadline:
            assert have == want, (have, want)
            break
        time.sleep(0.05)
    incremental = listing(sandbox)
    assert d.stop() == 0
    # a full replace of the same inputs (it keeps the ids found in the table) changes nothing
    sandbox.apply(inputs)
    full = listing(sandbox)
    if full != incremental:
        import difflib
        diff = "\n".join(difflib.unified_diff(incremental.splitlines(), full.splitlines(),
                                               "incremental", "full apply", lineterm=""))
        raise AssertionError("the incremental table differs from a full apply:\n" + diff)


# ---- health, metrics, systemd notification ------------------------------------------------


def http_get(sb, path):
    """GET from the daemon's endpoint inside the node namespace: (status, body)."""
    r = sb.exec(sb.node, ["curl", "-s", "-o", "-", "-w", "\n%{http_code}",
                          "http://127.0.0.1:10266" + path], check=False, timeout=20)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def metric(text, name, **labels):
    """The value of one sample of the Prometheus text `text`, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        got = {}
        if "{" in head:
            for part in head[head.index("{") + 1:-1].split('",'):
                k, _, v = part.partition('="')
                got[k] = v.rstrip('"')
        if all(got.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


def test_metrics_report_what_the_kernel_counted(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    assert http_get(sandbox, "/healthz")[0] == 200
    assert http_get(sandbox, "/readyz")[0] == 200
    t = sandbox.probe(NODE_V4, 8080, count=25)
    assert t.answered == 25, t
    code, text = http_get(sandbox, "/metrics")
    assert code == 200, text
    backend = dict(protocol="TCP", namespace="default", route="tcp-app-1",
                   gateway="default/my-tcp-gateway", listener="foo",
                   backend="default/my-foo-service:6000")
    assert metric(text, "nftgate_backend_connections_total", **backend) == 25, text
    route = {k: backend[k] for k in ("protocol", "namespace", "route", "gateway", "listener")}
    assert metric(text, "nftgate_route_connections_total", **route) == 25, text
    assert metric(text, "nftgate_backend_packets_total", **backend) >= 25 * 2
    assert metric(text, "nftgate_objects", kind="TCPRoute") == 2
    assert metric(text, "nftgate_last_sync_timestamp_seconds") > 0
    assert metric(text, "nftgate_reconcile_netlink_messages_count") >= 1
    # the kernel's own counter says the same
    out = sandbox.nft("-j", "list", "counters", "table", "inet", "nftgate").stdout
    counters = [c["counter"] for c in json.loads(out)["nftables"] if "counter" in c]
    conn = [c for c in counters if c["comment"].startswith("route default/tcp-app-1 rule 0")
            and c["name"].endswith("_conn")]
    assert [c["packets"] for c in conn] == [25], conn
    assert d.stop() == 0


def test_not_ready_while_an_input_never_parsed(sandbox, inputs):
    add_pods(sandbox)
    (inputs / "bar.yaml").write_text("kind: Service\nmetadata: {name: x\n")
    d = Daemon(sandbox, [inputs])
    d.wait(lambda e: e.get("msg", "").startswith("input error"), what="input error")
    # poll /readyz (bounded): the server answers once it is up
    deadline = time.monotonic() + 10
    while http_get(sandbox, "/readyz")[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    code, body = http_get(sandbox, "/readyz")
    assert code == 503 and "never parsed" in body, (code, body)
    m = d.mark()
    write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-1", "foo-2")})
    d.reconcile(m)
    assert http_get(sandbox, "/readyz")[0] == 200
    assert pods_answering(sandbox, 8090) == {"bar-1"}
    assert d.stop() == 0


def test_sd_notify_ready_after_the_first_sync(sandbox, inputs, tmp_path):
    import socket
    add_pods(sandbox)
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(15)
    try:
        os.environ["NOTIFY_SOCKET"] = path
        d = Daemon(sandbox, [inputs])
    finally:
        del os.environ["NOTIFY_SOCKET"]
    got = []
    while not any("READY=1" in g for g in got):
        got.append(sock.recv(4096).decode())
    e = d.reconcile()        # READY=1 came with (not before) the first sync
    assert e["msgs"] > 0
    ready = [g for g in got if "READY=1" in g][0]
    assert "STATUS=" in ready, got
    d.proc.send_signal(signal.SIGTERM)
    stopping = []
    while not any("STOPPING=1" in g for g in stopping):
        stopping.append(sock.recv(4096).decode())
    assert d.proc.wait(timeout=10) == 0
    sock.close()


def test_apply_and_rollback_refused_while_run_owns_the_table(sandbox, inputs):
    add_pods(sandbox)
    d = start(sandbox, inputs)
    r = sandbox.apply(inputs, check=False)
    assert r.returncode == 1 and "in use by nftgate run" in r.stderr, r
    r = sandbox.nftgate("rollback", "--state-dir", sandbox.state_dir, check=False)
    assert r.returncode == 1 and "stop it first" in r.stderr, r
    r = sandbox.nftgate("apply", "--dry-run", "-f", inputs, check=False)
    assert r.returncode == 0 and "table inet nftgate" in r.stdout, r
    assert d.stop() == 0
    # once stopped, rollback takes the table back to before the run: here, no table
    r = sandbox.nftgate("rollback", "--state-dir", sandbox.state_dir, check=False)
    assert r.returncode == 0, r
    assert sandbox.nft("list", "table", "inet", "nftgate", check=False).returncode != 0


# ---- at scale ------------------------------------------------------------------------------


def test_one_endpoint_change_at_1000_routes_is_a_few_messages(sandbox, tmp_path):
    """docs/layout.md, "Incremental updates": an endpoint added or removed costs at most 22
    messages whatever the number of routes; a re-read with nothing changed costs none."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "gen_routes", Path(__file__).resolve().parents[2] / "bench" / "gen_routes.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(1000, str(tmp_path), per_route=10, per_file=100)
    d = Daemon(sandbox, [tmp_path])
    first = d.reconcile(timeout=60)
    assert first["msgs"] > 1000, first     # the first sync programs every route
    victim = sorted(tmp_path.glob("slices-*.yaml"))[3]
    docs = list(yaml.safe_load_all(victim.read_text()))
    for doc, change in ((docs[7], "remove"), (docs[7], "add")):
        if change == "remove":
            removed = doc["endpoints"].pop(4)
        else:
            doc["endpoints"].insert(4, removed)
        m = d.mark()
        write_yaml(victim, docs)
        e = d.reconcile(m, timeout=60)
        assert 0 < e["msgs"] <= 22 and not e["replaced"], e
        # the slot count of a 10-endpoint share changes with its endpoints: both the
        # endpoint and the slot elements move, and nothing else
        assert "endpoint4" in e["changes"] and "slot_any4" in e["changes"], e
        assert "counters" not in e["changes"], e
    m = d.mark()
    write_yaml(victim, docs)                 # same content again
    e = d.reconcile(m, timeout=60)
    assert e["msgs"] == 0, e
    assert d.stop() == 0


def test_backend_scaled_to_zero_and_back_is_element_updates(sandbox, inputs):
    """A backend losing its last ready endpoint turns its share into resets: an element
    update (the reason is on the reset slots), never a full replace."""
    add_pods(sandbox)
    d = start(sandbox, inputs)
    for bar in ({}, BAR_PODS):
        m = d.mark()
        write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-1", "foo-2")}, bar=bar)
        e = d.reconcile(m)
        assert not e["replaced"] and 0 < e["msgs"] <= 22, e
    assert pods_answering(sandbox, 8090) == {"bar-1"}
    assert d.stop() == 0
