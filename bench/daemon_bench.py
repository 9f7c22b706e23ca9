#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmarks of `nftgate run` (root only): change latency, commit cost, memory, restarts.

For each size N (gen_routes.py manifests, --per-file K objects per file), in network
namespaces this script creates and deletes (the host's ruleset is never touched), one
daemon is started on an empty namespace and measured:

  cold start    spawn to the first "reconcile" log line (a full replace), against a cold
                `nftgate apply` of the same inputs (baseline, fresh namespaces);
  no change     the same bytes written again (atomic rename) and SIGHUP: messages sent
                (goal: zero), against a warm `nftgate apply` (a full apply, nothing changed);
  address       --changes times: one endpoint's address replaced in one slice file (a pod
                rolled). Timed from just before the rename of the changed file to (a) the
                daemon's "reconcile" line (written after the kernel acknowledged the
                commit) and (b) the kernel's own NEWGEN notification naming the daemon's pid,
                read by `nft monitor` in the namespace, which also shows the new address
                arrive. p50/p99 of both, of the line's ms (layout + delta + commit) and
                its messages, against a warm `nftgate apply`;
  not ready     --unready-changes times: one endpoint of a route not touched before marked
                ready: false (the listener's slot count changes, the first one adds a chain);
  commit        --traced-changes more address changes under `perf trace -e sendmsg`: the
                duration of the batch's sendmsg() is the kernel's work (nfnetlink runs the
                whole transaction, commit included, inside it), against the same measure
                for a cold and a warm `nftgate apply`;
  memory        VmRSS and VmHWM (/proc/PID/status) when ready and after the changes, each
                once the daemon has been idle 1.5 s (it gives freed memory back 1 s after
                the last reconcile), against the peak RSS of a cold `nftgate apply`;
  restart       --restarts times: SIGTERM (the committed record is written) and start again,
                then kill -9 and start again (no record: the table is dumped); spawn to the
                first "reconcile" line, against cold `nftgate apply` and the cold start.
Finally the daemon is stopped, its table listed, a warm `nftgate apply` of the same inputs
run over it, and the two listings compared (counter values, handles and element order left
out): the incremental result must equal a full apply; a difference is printed.

Goals from the issue (reported, never enforced): at 10k x 10, p99 write-to-live <= 10 ms,
one change's kernel commit <= 0.5 ms and a few messages, RSS <= 64 MiB, no-change: 0 messages.

    daemon_bench.py [--nftgate build/nftgate] [--sizes 1000,10000] [--changes 200]
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import apply_bench as ab  # noqa: E402
import gen_routes  # noqa: E402
import read_resolve_bench as rr  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import nft_listing  # noqa: E402

GOAL_P99_MS = 10.0
GOAL_COMMIT_MS = 0.5
GOAL_RSS_MIB = 64.0
GOAL_N = 10000
IDLE_S = 1.5   # steady state: the daemon gives memory back 1 s after the last reconcile
APPLY_RE = re.compile(r"one transaction of (\d+) messages \((\d+) bytes\) committed in "
                      r"([\d.]+) ms")
PERF_RE = re.compile(r"\(\s*([\d.]+) ms\):.*?\b(sendmsg|epoll_wait)\(.*=\s*(-?\d+)")
GEN_RE = re.compile(r"^# new generation (\d+) by process (\d+)")


def pct(v, p):
    """The p-th percentile (nearest rank) of v."""
    s = sorted(v)
    return s[max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def stats(v):
    if not v:
        return None
    return {"n": len(v), "p50": statistics.median(v), "p99": pct(v, 99), "min": min(v),
            "max": max(v), "mean": statistics.fmean(v)}


class Lines:
    """A process we started, its output lines (stderr or stdout) read by a thread, each
    stamped with time.monotonic() when it arrived; waits are bounded."""

    def __init__(self, argv, stream="stderr", parse=None, procs=None):
        self.parse = parse or (lambda s: s)
        pipe = {"stdout": subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
                "stderr": subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL}
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, text=True,
                                     start_new_session=True, **pipe)
        if procs is not None:
            procs.append(self.proc)
        self.src = self.proc.stdout if stream == "stdout" else self.proc.stderr
        self.items = []   # (arrival, parsed, raw)
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.src:
            t = time.monotonic()
            with self.cond:
                self.items.append((t, self.parse(line), line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.items)

    def wait(self, pred, since=0, timeout=30.0, what="a line"):
        """(arrival, parsed) of the first item at index >= since that pred accepts."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                for i in range(i, len(self.items)):
                    if pred(self.items[i][1]):
                        return self.items[i][:2]
                i = len(self.items)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise RuntimeError("no %s within %.0f s (exit status %s); last lines:\n%s"
                                       % (what, timeout, self.proc.poll(), self.tail()))
                self.cond.wait(min(left, 1.0))

    def tail(self, n=20):
        with self.cond:
            return "".join(raw for _, _, raw in self.items[-n:])

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Signals our process (by its pid) and waits; SIGKILL after timeout."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=10)
        self.reader.join(timeout=5)
        return rc


def json_line(s):
    try:
        return json.loads(s)
    except ValueError:
        return {"msg": "(not json)", "line": s}


class Daemon(Lines):
    def __init__(self, a, ns, d, state, procs):
        argv = ns.cmd([a.nftgate, "run", "--log-format", "json", "--state-dir", state,
                       "--table", a.table, "-f", d])
        super().__init__(argv, "stderr", json_line, procs)
        self.pid = self.proc.pid   # nsenter execs the daemon: the same pid
        self.nftgate = a.nftgate

    def ready(self, timeout):
        """Seconds from spawn to the first "reconcile" line (and to "adopted"), its fields."""
        t, e = self.wait(lambda e: e.get("msg") in ("reconcile", "reconcile failed"), 0,
                         timeout, "first reconcile")
        if e["msg"] != "reconcile":
            raise RuntimeError("the daemon's first reconcile failed:\n" + self.tail())
        ta, _ = self.wait(lambda e: e.get("msg") == "adopted", 0, 1, "adopted line")
        return {"s": t - self.t_spawn, "adopted_s": ta - self.t_spawn, "msgs": e["msgs"],
                "ms": e["ms"], "replaced": e["replaced"], "changes": e["changes"]}

    def reconciled(self, since, timeout):
        t, e = self.wait(lambda e: e.get("msg") in ("reconcile", "reconcile failed") or
                         e.get("msg", "").startswith("input error"), since, timeout,
                         "reconcile")
        if e["msg"] != "reconcile":
            raise RuntimeError("expected a reconcile, got:\n" + self.tail())
        return t, e

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.pid, encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])   # utime + stime

    def wait_idle(self, timeout=120.0, quiet=0.2):
        """Bounded: until the daemon has used no CPU for `quiet` seconds (work a SIGHUP
        starts after its reconcile line, the drift check's dump, is then over)."""
        deadline = time.monotonic() + timeout
        last, since = self.cpu_ticks(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon did not go idle within %.0f s" % timeout)
            time.sleep(0.02)
            now = self.cpu_ticks()
            if now != last:
                last, since = now, time.monotonic()

    def memory(self):
        """VmRSS and VmHWM in MiB, read only once the pid is the daemon itself."""
        exe = os.readlink("/proc/%d/exe" % self.pid)
        if os.path.realpath(exe) != os.path.realpath(self.nftgate):
            raise RuntimeError("pid %d runs %s, not the daemon" % (self.pid, exe))
        out = {}
        with open("/proc/%d/status" % self.pid, encoding="ascii") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0]) / 1024.0
        return out


class Inputs:
    """The manifests of one size and the endpoint edits made to them: every edit rewrites one
    slice file, through a temporary file outside the watched directory and a rename."""

    def __init__(self, a, n, d, tmpdir):
        self.a, self.n, self.d, self.tmpdir = a, n, d, tmpdir
        self.rnd = random.Random(20261202 + n)
        self.addr = {}
        self.unready = set()
        self.serial = 0
        self.texts = {}

    def slice_file(self, i):
        k = self.a.per_file
        return "slices.yaml" if k <= 0 else "slices-%04d.yaml" % (i // k)

    def text(self, name):
        if name not in self.texts:
            with open(os.path.join(self.d, name), encoding="ascii") as f:
                self.texts[name] = f.read()
        return self.texts[name]

    def address(self, i, j):
        return self.addr.get((i, j)) or gen_routes.pod_addr(i, j, self.a.endpoints)

    def next_address(self):
        # 172.16.0.0/12, never .0 or .255: a pod address no generated slice uses
        self.serial += 1
        c = self.serial
        return "172.%d.%d.%d" % (16 + c // (256 * 254), (c // 254) % 256, c % 254 + 1)

    def write(self, name, text):
        """Writes text as `name` by rename; returns time.monotonic() just before the rename."""
        tmp = os.path.join(self.tmpdir, name)
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
        t0 = time.monotonic()
        os.replace(tmp, os.path.join(self.d, name))
        self.texts[name] = text
        return t0

    def _edit(self, name, old, new):
        t = self.text(name)
        if t.count(old) != 1:
            raise RuntimeError("%s: %r found %d times" % (name, old, t.count(old)))
        return t.replace(old, new)

    def change_address(self):
        while True:   # an endpoint marked not ready is not in the table: left alone
            i, j = self.rnd.randrange(self.n), self.rnd.randrange(self.a.endpoints)
            if i not in self.unready:
                break
        old, new = self.address(i, j), self.next_address()
        name = self.slice_file(i)
        text = self._edit(name, '["%s"]' % old, '["%s"]' % new)
        self.addr[(i, j)] = new
        return name, text, new

    def change_unready(self):
        while True:
            i = self.rnd.randrange(self.n)
            if i not in self.unready:
                break
        self.unready.add(i)
        name = self.slice_file(i)
        t = self.text(name)
        at = t.index('["%s"]' % self.address(i, 0))
        k = t.index("ready: true", at)
        return name, t[:k] + "ready: false" + t[k + len("ready: true"):], None

    def same(self):
        name = self.slice_file(self.rnd.randrange(self.n))
        return name, self.text(name), None


# ---- kernel views -----------------------------------------------------------------------


class Monitor(Lines):
    """`nft monitor` in the namespace: the kernel's notifications, each commit ending with a
    NEWGEN line that names the committing process."""

    def __init__(self, a, ns, procs):
        super().__init__(ns.cmd([a.nft, "monitor"]), "stdout", None, procs)

    def wait_ready(self, a, ns, timeout=180.0):
        """Bounded: commits (adds and deletes) a foreign table until the monitor reports it,
        so it is subscribed. nft monitor first lists the ruleset (seconds at 10k), and a
        commit during that listing restarts it: the waits between probes double."""
        deadline = time.monotonic() + timeout
        wait = 0.5
        while True:
            m = self.mark()
            subprocess.run(ns.cmd([a.nft, "add table inet nftgate_bench_probe; "
                                   "delete table inet nftgate_bench_probe"]), check=True)
            try:
                self.wait(lambda s: "nftgate_bench_probe" in s, m, wait, "monitor line")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
            wait = min(wait * 2, 32.0)

    def newgen(self, pid, since, timeout):
        """Arrival of the first NEWGEN by pid at index >= since, and the lines before it."""
        t, line = self.wait(lambda s: bool(GEN_RE.match(s)) and
                            GEN_RE.match(s).group(2) == str(pid), since, timeout,
                            "new generation by %d" % pid)
        with self.cond:
            block = [raw for _, _, raw in self.items[since:]]
        return t, block


class PerfTrace(Lines):
    """`perf trace -p PID -e sendmsg,epoll_wait`: each syscall's duration (kernel
    timestamps) and return value, streamed on stderr."""

    def __init__(self, pid, procs):
        super().__init__(["perf", "trace", "-p", str(pid), "-e", "sendmsg,epoll_wait"],
                         "stderr", self._parse, procs)

    @staticmethod
    def _parse(line):
        m = PERF_RE.search(line)
        return (m.group(2), float(m.group(1)), int(m.group(3))) if m else None

    def wait_ready(self, d, timeout=20.0):
        """Bounded: pokes the daemon's inotify watch (a hidden file it ignores) until perf
        shows the loop waking up."""
        poke = os.path.join(d, ".nftgate-bench-poke")
        deadline = time.monotonic() + timeout
        m = self.mark()
        while True:
            with open(poke, "w"):
                pass
            os.unlink(poke)
            try:
                self.wait(lambda x: x is not None and x[0] == "epoll_wait", m, 0.5,
                          "perf trace line")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise

    def sendmsgs(self):
        with self.cond:
            return [(x[1], x[2]) for _, x, _ in self.items if x and x[0] == "sendmsg"]


def perf_available():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "trace", "-e", "sendmsg", "--", "true"], capture_output=True)
    return r.returncode == 0


def canonical_listing(a, ns):
    """The table in a canonical order (tests/e2e/nft_listing.py), or None and nft's error."""
    r = subprocess.run(ns.cmd([a.nft, "-j", "list", "table", "inet", a.table]),
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr
    return nft_listing.canonical(r.stdout), ""


# ---- baselines ----------------------------------------------------------------------------


def timed_apply(a, ns, d, state, work, perf):
    """One `nftgate apply` in ns: wall, CPU and peak RSS (rr.spawn_timed), its messages and
    commit ms (its own output), and with perf the duration of its batch's sendmsg()."""
    out = os.path.join(work, "apply.out")
    argv = ns.cmd([a.nftgate, "apply", "-f", d, "--state-dir", state, "--table", a.table])
    ptrace = os.path.join(work, "apply.perf")
    if perf:
        argv = ["perf", "trace", "-e", "sendmsg", "-o", ptrace, "--"] + argv
    r = rr.spawn_timed(argv, out)
    if r.status != 0:
        rr.fail("nftgate apply in %s" % ns.name, r)
    with open(out, encoding="utf-8") as f:
        text = f.read()
    m = APPLY_RE.search(text)
    res = {"wall": r.wall, "cpu": r.cpu, "rss_mib": r.rss_kib / 1024.0,
           "msgs": int(m.group(1)) if m else None, "bytes": int(m.group(2)) if m else None,
           "commit_ms": float(m.group(3)) if m else None, "sendmsg_ms": None}
    if perf and m:
        with open(ptrace, encoding="utf-8", errors="replace") as f:
            for line in f:
                p = PERF_RE.search(line)
                if p and p.group(2) == "sendmsg" and int(p.group(3)) == res["bytes"]:
                    res["sendmsg_ms"] = float(p.group(1))
    return res


def baselines(a, d, work):
    """--restarts rounds of: a cold apply into a fresh namespace, then a warm apply over it;
    the last round under perf trace (its walls are not used)."""
    rounds = {"cold": [], "warm": []}
    traced = {}
    state = os.path.join(work, "state-apply")
    for k in range(a.restarts + (1 if a.perf else 0)):
        perf = a.perf and k == a.restarts
        with ab.Netns() as ns:
            shutil.rmtree(state, ignore_errors=True)
            os.makedirs(state)
            cold = timed_apply(a, ns, d, state, work, perf)
            warm = timed_apply(a, ns, d, state, work, perf)
        if perf:
            traced = {"cold": cold, "warm": warm}
        else:
            rounds["cold"].append(cold)
            rounds["warm"].append(warm)
    shutil.rmtree(state, ignore_errors=True)
    res = {}
    for key, rs in rounds.items():
        res[key] = {f: statistics.median(r[f] for r in rs)
                    for f in ("wall", "cpu", "commit_ms") if all(r[f] is not None for r in rs)}
        res[key]["rss_mib"] = max(r["rss_mib"] for r in rs)
        res[key]["msgs"] = rs[0]["msgs"]
        res[key]["bytes"] = rs[0]["bytes"]
        # the traced run's sendmsg and, from the same run, apply's own commit time
        res[key]["sendmsg_ms"] = traced[key]["sendmsg_ms"] if traced else None
        res[key]["traced_commit_ms"] = traced[key]["commit_ms"] if traced else None
    return res


# ---- the daemon -----------------------------------------------------------------------------


def change_series(a, dm, mon, inp, make, count, label):
    """count edits made by make(), one at a time: each waits for its reconcile line and,
    with a monitor, for the kernel's NEWGEN by the daemon."""
    rows = []
    for k in range(count):
        name, text, new_addr = make()
        m, mm = dm.mark(), mon.mark() if mon else 0
        t0 = inp.write(name, text)
        t_log, e = dm.reconciled(m, a.timeout)
        row = {"log_ms": (t_log - t0) * 1e3, "ms": e["ms"], "msgs": e["msgs"],
               "bytes": e["bytes"], "replaced": e["replaced"], "changes": e["changes"]}
        if mon and e["msgs"]:
            t_gen, block = mon.newgen(dm.pid, mm, 10.0)
            row["kernel_ms"] = (t_gen - t0) * 1e3
            if new_addr and not any(l.startswith("add element inet %s endpoint4" % a.table)
                                    and new_addr + " " in l for l in block):
                raise RuntimeError("%s: the kernel's notifications before NEWGEN lack %s:\n%s"
                                   % (label, new_addr, "".join(block[-20:])))
        rows.append(row)
        if a.verbose:
            print("  %s %d: %.1f ms to the log line, %s" % (label, k, row["log_ms"], e),
                  flush=True)
    return rows


def summarize_changes(rows):
    out = {"n": len(rows)}
    for f in ("log_ms", "kernel_ms", "ms", "msgs", "bytes"):
        v = [r[f] for r in rows if f in r]
        out[f] = stats(v)
    out["outside_ms"] = stats([r["log_ms"] - r["ms"] for r in rows])
    out["replaced"] = sum(1 for r in rows if r["replaced"])
    out["example"] = rows[-1]["changes"] if rows else ""
    return out


def traced_changes(a, dm, inp, procs):
    pt = PerfTrace(dm.pid, procs)
    try:
        pt.wait_ready(inp.d)
        rows = change_series(a, dm, None, inp, inp.change_address, a.traced_changes, "traced")
        # perf reads its ring buffers periodically: wait (bounded) for the last sendmsgs
        sizes = set(r["bytes"] for r in rows)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                sum(1 for _, b in pt.sendmsgs() if b in sizes) < len(rows):
            time.sleep(0.05)
    finally:
        pt.stop(signal.SIGINT, 20)
    sends = pt.sendmsgs()
    durations, at = [], 0
    for r in rows:
        for k in range(at, len(sends)):
            if sends[k][1] == r["bytes"]:
                durations.append(sends[k][0])
                at = k + 1
                break
    return {"sendmsg_ms": stats(durations), "matched": len(durations), "n": len(rows),
            "changes": summarize_changes(rows)}


def restarts(a, ns, d, state, procs, dm):
    """--restarts x (SIGTERM, start) then --restarts x (kill -9, start); returns the last
    daemon (running) and the timings."""
    res = {"term": [], "kill": [], "stop_s": [], "rss_restart": None}
    for sig, key in ((signal.SIGTERM, "term"), (signal.SIGKILL, "kill")):
        for _ in range(a.restarts):
            t = time.monotonic()
            rc = dm.stop(sig, 60)
            if sig == signal.SIGTERM:
                res["stop_s"].append(time.monotonic() - t)
                if rc != 0:
                    raise RuntimeError("the daemon exited %s on SIGTERM:\n%s" % (rc, dm.tail()))
            dm = Daemon(a, ns, d, state, procs)
            res[key].append(dm.ready(a.timeout))
            if res["rss_restart"] is None:
                res["rss_restart"] = dm.memory()
    return dm, res


def verify(a, ns, d, state, work, dm, inp):
    """Stops the daemon, lists its table, runs a warm full apply over it, lists again."""
    if dm.stop(signal.SIGTERM, 60) != 0:
        return "the daemon did not exit 0 on SIGTERM", None
    inc, err = canonical_listing(a, ns)
    if inc is None:
        return "listing failed: " + err, None
    missing = [v for v in list(inp.addr.values())[-20:]
               if not any(re.search(re.escape(v) + r"(?!\d)", line) for line in inc)]
    full = timed_apply(a, ns, d, state, work, False)
    after, err = canonical_listing(a, ns)
    if after is None:
        return "listing failed: " + err, full
    if missing:
        return "the table lacks written addresses %s" % missing[:5], full
    if inc == after:
        return "identical (%d objects)" % len(inc), full
    only_inc = sorted(set(inc) - set(after))
    only_full = sorted(set(after) - set(inc))
    path = os.path.join(work, "listing-diff-%d.txt" % inp.n)
    with open(path, "w", encoding="utf-8") as f:
        f.write("only after the daemon:\n%s\nonly after the full apply:\n%s\n" % (
            "\n".join(only_inc), "\n".join(only_full)))
    a.keep_work = True
    return "DIFFERENT: %d objects only in the daemon's table, %d only after the full apply " \
        "(in %s)" % (len(only_inc), len(only_full), path), full


def bench_size(a, n, work):
    d = os.path.join(work, "n%d" % n)
    tmpdir = os.path.join(work, "tmp-%d" % n)
    os.makedirs(tmpdir, exist_ok=True)
    gen_s = rr.generate(n, d, a)
    files = rr.manifest_files(d)
    print("N=%d: %d files, %.1f MiB, generated in %.2f s" % (
        n, len(files), sum(os.path.getsize(f) for f in files) / 1048576.0, gen_s), flush=True)
    res = {"n": n, "files": len(files)}
    res["apply"] = baselines(a, d, work)
    print("N=%d: baselines: cold apply %.3f s, warm apply %.3f s (%d messages)" % (
        n, res["apply"]["cold"]["wall"], res["apply"]["warm"]["wall"],
        res["apply"]["warm"]["msgs"] or 0), flush=True)
    state = os.path.join(work, "state-run-%d" % n)
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    inp = Inputs(a, n, d, tmpdir)
    procs = []
    with ab.Netns() as ns:
        subprocess.run(["ip", "-n", ns.name, "link", "set", "lo", "up"], check=True)
        try:
            dm = Daemon(a, ns, d, state, procs)
            res["cold_start"] = dm.ready(a.timeout)
            dm.wait_idle(quiet=IDLE_S)
            res["rss_ready"] = dm.memory()
            print("N=%d: daemon ready in %.3f s (%d messages)" % (
                n, res["cold_start"]["s"], res["cold_start"]["msgs"]), flush=True)
            rows = change_series(a, dm, None, inp, inp.same, a.nochange_changes, "same")
            res["same"] = summarize_changes(rows)
            hup = []
            for _ in range(3):
                dm.wait_idle()
                m = dm.mark()
                t0 = time.monotonic()
                dm.proc.send_signal(signal.SIGHUP)
                t, e = dm.reconciled(m, a.timeout)
                hup.append({"log_ms": (t - t0) * 1e3, "ms": e["ms"], "msgs": e["msgs"],
                            "bytes": e["bytes"], "replaced": e["replaced"],
                            "changes": e["changes"]})
            res["hup"] = summarize_changes(hup)
            dm.wait_idle()
            mon = Monitor(a, ns, procs)
            try:
                mon.wait_ready(a, ns)
                t = time.monotonic()
                rows = change_series(a, dm, mon, inp, inp.change_address, a.changes, "address")
                res["address"] = summarize_changes(rows)
                res["address"]["series_s"] = time.monotonic() - t
                print("N=%d: %d address changes in %.1f s" % (
                    n, len(rows), res["address"]["series_s"]), flush=True)
                rows = change_series(a, dm, mon, inp, inp.change_unready, a.unready_changes,
                                     "unready")
                res["unready"] = summarize_changes(rows)
            finally:
                mon.stop(signal.SIGTERM, 10)
            res["commit"] = traced_changes(a, dm, inp, procs) if a.perf and \
                a.traced_changes else None
            dm.wait_idle(quiet=IDLE_S)
            res["rss_after"] = dm.memory()
            dm, res["restart"] = restarts(a, ns, d, state, procs, dm)
            print("N=%d: restarts done" % n, flush=True)
            if a.verify:
                res["listing"], res["full_after"] = verify(a, ns, d, state, work, dm, inp)
                print("N=%d: the daemon's table vs a full apply over it: %s" % (
                    n, res["listing"]), flush=True)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
    if not a.keep:
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)
    return res


# ---- the report -------------------------------------------------------------------------------


def f3(x):
    return "-" if x is None else "%.3f" % x


def f1(x):
    return "-" if x is None else "%.1f" % x


def report(results, a):
    print()
    print(rr.machine_line())
    print("nftgate run, lean slices, %d endpoints per route, --per-file %d; baselines: "
          "median of %d nftgate apply runs in fresh namespaces" % (
              a.endpoints, a.per_file, a.restarts))
    print()
    print("write -> live (ms): from just before the rename to the daemon's reconcile line "
          "(log) and to the kernel's NEWGEN for the daemon's commit seen by nft monitor "
          "(kernel); ms = the line's build + commit time; outside = log - ms (debounce, "
          "read, resolve)")
    rows = [("N", "change", "count", "log p50", "log p99", "kernel p50", "kernel p99",
             "ms p50", "ms p99", "outside p50", "msgs p50", "msgs max", "/ warm apply s")]
    for r in results:
        for key, label in (("address", "address"), ("unready", "not ready"),
                           ("same", "no change"), ("hup", "SIGHUP")):
            s = r.get(key)
            if not s or not s["n"]:
                continue
            k = s["kernel_ms"] or {}
            rows.append((r["n"], label, s["n"], f1(s["log_ms"]["p50"]), f1(s["log_ms"]["p99"]),
                         f1(k.get("p50")), f1(k.get("p99")), f1(s["ms"]["p50"]),
                         f1(s["ms"]["p99"]), f1(s["outside_ms"]["p50"]),
                         "%d" % s["msgs"]["p50"], "%d" % s["msgs"]["max"],
                         "%.3f" % (s["log_ms"]["p50"] / 1e3 / r["apply"]["warm"]["wall"])))
    rr.print_table(rows)
    print()
    print("one change's kernel time: the batch's sendmsg() under perf trace (nfnetlink runs "
          "the transaction and its commit inside it); apply: the same measure in one traced "
          "run, with apply's own 'committed in' (send + replies) of that run")
    rows = [("N", "change msgs", "sendmsg p50 ms", "p99 ms", "max ms", "warm apply msgs",
             "warm sendmsg ms", "(its commit ms)", "cold sendmsg ms", "(its commit ms)",
             "change/warm msgs", "change/warm kernel")]
    for r in results:
        c, w, cold = r.get("commit"), r["apply"]["warm"], r["apply"]["cold"]
        cs = c["sendmsg_ms"] if c else None
        ch = c["changes"] if c else r["address"]
        if not ch["n"]:
            continue
        msgs = ch["msgs"]["p50"]
        rows.append((r["n"], "%d" % msgs, f3(cs and cs["p50"]), f3(cs and cs["p99"]),
                     f3(cs and cs["max"]), w["msgs"], f3(w["sendmsg_ms"]),
                     f1(w["traced_commit_ms"]), f3(cold["sendmsg_ms"]),
                     f1(cold["traced_commit_ms"]),
                     "%.5f" % (msgs / w["msgs"]) if w["msgs"] else "-",
                     "%.5f" % (cs["p50"] / w["sendmsg_ms"]) if cs and w["sendmsg_ms"] else "-"))
    rr.print_table(rows)
    for r in results:
        if r.get("commit") and r["commit"]["matched"] != r["commit"]["n"]:
            print("(N=%d: %d of %d traced changes had no sendmsg of their size in the trace)"
                  % (r["n"], r["commit"]["n"] - r["commit"]["matched"], r["commit"]["n"]))
    print()
    print("memory (MiB): the daemon's VmRSS/VmHWM when first ready, after the changes, and "
          "after a restart; cold apply's peak RSS (GNU time)")
    rows = [("N", "ready RSS", "after RSS", "after HWM", "restarted RSS", "cold apply peak",
             "after RSS / apply peak")]
    for r in results:
        rows.append((r["n"], f1(r["rss_ready"].get("VmRSS")), f1(r["rss_after"].get("VmRSS")),
                     f1(r["rss_after"].get("VmHWM")),
                     f1((r["restart"]["rss_restart"] or {}).get("VmRSS")),
                     f1(r["apply"]["cold"]["rss_mib"]),
                     "%.2f" % (r["rss_after"]["VmRSS"] / r["apply"]["cold"]["rss_mib"])))
    rr.print_table(rows)
    print()
    print("start to ready (s): spawn to the first reconcile line; adoption = the table found "
          "and taken over; baseline cold nftgate apply (wall)")
    rows = [("N", "cold start", "msgs", "restart (record)", "to adopted", "replaced",
             "restart (kill -9)", "replaced", "SIGTERM exit", "cold apply", "warm apply",
             "record/cold apply", "kill -9/cold apply", "cold start/cold apply")]

    def med(v):
        return statistics.median(v) if v else None

    for r in results:
        rs, ap = r["restart"], r["apply"]
        term, kill = med([x["s"] for x in rs["term"]]), med([x["s"] for x in rs["kill"]])
        ad = med([x["adopted_s"] for x in rs["term"]])
        rows.append((r["n"], f3(r["cold_start"]["s"]), r["cold_start"]["msgs"], f3(term),
                     f3(ad), "%d/%d" % (sum(x["replaced"] for x in rs["term"]), len(rs["term"])),
                     f3(kill),
                     "%d/%d" % (sum(x["replaced"] for x in rs["kill"]), len(rs["kill"])),
                     f3(med(rs["stop_s"])), f3(ap["cold"]["wall"]), f3(ap["warm"]["wall"]),
                     "%.2f" % (term / ap["cold"]["wall"]) if term else "-",
                     "%.2f" % (kill / ap["cold"]["wall"]) if kill else "-",
                     "%.2f" % (r["cold_start"]["s"] / ap["cold"]["wall"])))
    rr.print_table(rows)
    print("each restart: s, messages (a restart that adopts sends 0; 'replaced' ones sent the "
          "whole table); median of those that adopted:")
    for r in results:
        for key in ("term", "kill"):
            ok = [x["s"] for x in r["restart"][key] if not x["replaced"]]
            print("  N=%d %s: %s; adopted: %s s" % (
                r["n"], "record" if key == "term" else "kill -9",
                ", ".join("%.3f s %d" % (x["s"], x["msgs"]) for x in r["restart"][key]),
                f3(med(ok))))
    print()
    for r in results:
        for key, label in (("term", "restart after SIGTERM"), ("kill", "restart after kill -9")):
            for x in r["restart"][key]:
                if x["msgs"]:
                    print("N=%d: %s (s=%.3f) sent %d messages: %s" % (r["n"], label, x["s"], x["msgs"],
                                                             x["changes"]))
        if r["address"]["n"]:
            print("N=%d: one address change: %s" % (r["n"], r["address"]["example"]))
        if r.get("unready") and r["unready"]["n"]:
            print("N=%d: not-ready changes: messages %d..%d" % (
                r["n"], r["unready"]["msgs"]["min"], r["unready"]["msgs"]["max"]))
        if "listing" in r:
            print("N=%d: the daemon's table vs a full apply over it: %s" % (r["n"], r["listing"]))
    by_n = {r["n"]: r for r in results}
    if GOAL_N not in by_n:
        print("goals (at %d routes) not measured: add %d to --sizes" % (GOAL_N, GOAL_N))
        return
    r = by_n[GOAL_N]
    if not r["address"]["n"]:
        print("goals not measured: --changes 0")
        return
    p99 = r["address"]["log_ms"]["p99"]
    print("goal: N=%d write-to-live p99 <= %.0f ms: %.1f ms (log line), %s" % (
        GOAL_N, GOAL_P99_MS, p99, "met" if p99 <= GOAL_P99_MS else "NOT met"))
    c = r.get("commit")
    if c and c["sendmsg_ms"]:
        k = c["sendmsg_ms"]["p50"]
        print("goal: N=%d one change's kernel commit <= %.1f ms: p50 %.3f ms, p99 %.3f ms, "
              "%d messages, %s" % (GOAL_N, GOAL_COMMIT_MS, k, c["sendmsg_ms"]["p99"],
                                   c["changes"]["msgs"]["p50"],
                                   "met" if c["sendmsg_ms"]["p99"] <= GOAL_COMMIT_MS
                                   else "NOT met"))
    rss = r["rss_after"]["VmRSS"]
    print("goal: N=%d steady-state RSS <= %.0f MiB: %.1f MiB (HWM %.1f), %s" % (
        GOAL_N, GOAL_RSS_MIB, rss, r["rss_after"]["VmHWM"],
        "met" if rss <= GOAL_RSS_MIB else "NOT met"))
    z = max(r["same"]["msgs"]["max"], r["hup"]["msgs"]["max"])
    print("goal: N=%d re-apply with nothing changed sends 0 messages: %d, %s" % (
        GOAL_N, z, "met" if z == 0 else "NOT met"))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nftgate", default="build/nftgate")
    ap.add_argument("--nft", default=shutil.which("nft") or "/usr/sbin/nft")
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated route counts")
    ap.add_argument("--changes", type=int, default=200, help="address changes per size")
    ap.add_argument("--unready-changes", type=int, default=20,
                    help="endpoints marked not ready per size")
    ap.add_argument("--traced-changes", type=int, default=30,
                    help="address changes under perf trace per size (0: none)")
    ap.add_argument("--nochange-changes", type=int, default=10,
                    help="rewrites of a file with the same bytes per size")
    ap.add_argument("--restarts", type=int, default=3,
                    help="restarts of each kind, and apply baseline runs, per size")
    ap.add_argument("--table", default="nftgate")
    ap.add_argument("--endpoints", type=int, default=10, help="ready endpoints per Service")
    ap.add_argument("--shape", choices=("lean", "full"), default="lean",
                    help="endpoint fields, see gen_routes.py")
    ap.add_argument("--per-file", type=int, default=100,
                    help="objects per manifest file (0: one file per kind); a change rewrites "
                    "one slice file")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="bound of every wait for the daemon, in seconds")
    ap.add_argument("--no-perf", dest="perf", action="store_false",
                    help="skip the perf trace measures")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the final listing comparison")
    ap.add_argument("--workdir", help="where to generate (default: a fresh temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep the manifests")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every change")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("daemon_bench.py needs root (it creates network namespaces)")
    a.nftgate = os.path.abspath(a.nftgate)
    if not os.access(a.nftgate, os.X_OK):
        sys.exit("no executable %s (run `make` first)" % a.nftgate)
    if a.perf and not perf_available():
        print("note: `perf trace` does not work here: the kernel commit times are skipped",
              file=sys.stderr)
        a.perf = False
    # SIGTERM unwinds like Ctrl-C: our processes are killed, every namespace deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in a.sizes.split(",") if s]
    work = a.workdir or tempfile.mkdtemp(prefix="nftgate-bench-")
    os.makedirs(work, exist_ok=True)
    a.keep_work = a.keep or bool(a.workdir)
    t = time.monotonic()
    try:
        results = [bench_size(a, n, work) for n in sizes]
    finally:
        if not a.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept %s" % work)
    report(results, a)
    print("(the whole run took %.0f s)" % (time.monotonic() - t))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"args": {k: v for k, v in vars(a).items()}, "results": results}, f,
                      indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
