#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Time `nftgate status -o json -f DIR` (read + validate + resolve + emit) at several sizes.

For each size N the manifests come from gen_routes.py (N TCPRoutes, N Services, N
EndpointSlices of 10 ready endpoints, N/64 Gateways). Every command runs as its own process,
k times, with its output thrown away; the table shows the median wall time, the median CPU time
and the largest peak RSS. Baselines measured in the same run on the same files:
  cat             reading the bytes (page cache, process start);
  libyaml events  bench/yaml_events.c: libyaml's parser over every file, building nothing,
                  the floor for any libyaml-based reader;
  PyYAML          CSafeLoader (libyaml's C parser building Python objects), once per size.
nftgate's wall time is shown as a ratio to each baseline.

Targets from the issue (reported, never enforced): 10,000 routes read and resolved in under
1 s wall time and under 200 MiB peak RSS; the 10k/1k ratio shows how the work grows (10 is
linear).

    read_resolve_bench.py [--nftgate build/nftgate] [--sizes 1000,10000] [--runs 5]
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_SECONDS = 1.0
TARGET_RSS_MIB = 200
TARGET_N = 10000
GNU_TIME = "/usr/bin/time"

PYYAML_PARSE = ("import sys, yaml\n"
                "for f in sys.argv[1:]:\n"
                "    with open(f, 'rb') as fh:\n"
                "        for _ in yaml.load_all(fh, Loader=yaml.CSafeLoader): pass\n")

CHECK_STATUS = ("import json, sys\n"
                "t = open(sys.argv[1], encoding='utf-8').read()\n"
                "try:\n"
                "    json.loads(t)\n"
                "    ok = 'valid JSON'\n"
                "except ValueError as e:\n"
                "    ok = 'NOT JSON (%s)' % e\n"
                "print('status output %.1f MiB, %s, \"Accepted\" x%d, \"False\" x%d' % (\n"
                "    len(t) / 1048576.0, ok, t.count('\"Accepted\"'), t.count('\"False\"')))\n")


class Run:
    """One finished command: wall and CPU (user + sys) seconds, peak RSS in KiB, exit status."""

    def __init__(self, wall, cpu, rss_kib, status, stderr):
        self.wall, self.cpu, self.rss_kib = wall, cpu, rss_kib
        self.status, self.stderr = status, stderr


def have_gnu_time():
    return os.access(GNU_TIME, os.X_OK)


def spawn_timed(argv, stdout_path=os.devnull):
    """Runs argv to completion, stdin from /dev/null, stdout to stdout_path; returns a Run.

    Peak RSS: a child this interpreter spawns inherits the interpreter's own high-water mark in
    ru_maxrss (the kernel keeps the larger of the pre-exec and post-exec peaks), so the peak
    comes from GNU time, a tiny process that forks the command itself. Without GNU time it
    falls back to wait4's ru_maxrss, which is then never below this interpreter's peak (see
    rss_floor_kib)."""
    with tempfile.NamedTemporaryFile(prefix="nftgate-bench-") as err, \
            tempfile.NamedTemporaryFile(prefix="nftgate-bench-", mode="r") as tm:
        cmd = argv
        if have_gnu_time():
            cmd = [GNU_TIME, "-q", "-f", "%M", "-o", tm.name, "--"] + argv
        fa = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
              (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
              (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        t0 = time.perf_counter()
        # Its own process group, so an interruption can stop the command and not just time.
        pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=fa, setpgroup=0)
        try:
            _, wstatus, ru = os.wait4(pid, 0)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): stop our child before the caller cleans up.
            os.killpg(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            raise
        wall = time.perf_counter() - t0
        rss = ru.ru_maxrss
        if cmd is not argv:
            text = tm.read().split()
            rss = int(text[-1]) if text and text[-1].isdigit() else rss
        err.seek(0)
        msg = err.read().decode(errors="replace")
    return Run(wall, ru.ru_utime + ru.ru_stime, rss, os.waitstatus_to_exitcode(wstatus), msg)


def rss_floor_kib():
    """The smallest peak RSS spawn_timed can report: that of /bin/true."""
    return spawn_timed(["true"]).rss_kib


def fail(what, r):
    sys.exit("%s failed with status %d:\n%s" % (what, r.status, r.stderr[-4000:]))


def summarize(rs):
    return {"wall": statistics.median(r.wall for r in rs),
            "min": min(r.wall for r in rs),
            "cpu": statistics.median(r.cpu for r in rs),
            "rss_mib": max(r.rss_kib for r in rs) / 1024.0,
            "walls": [round(r.wall, 4) for r in rs]}


def measure(argv, runs, what):
    """Median wall, median CPU and max RSS of `runs` runs; exits when any run fails."""
    return measure_rounds({what: (argv, runs)}, runs)[what]


def measure_rounds(cmds, rounds):
    """cmds: {key: (argv, runs)}. Runs every command once per round, in turn, so a burst of
    load from elsewhere hits all of them alike rather than one; a command stops after its
    own `runs`. Returns {key: summary}; exits when any run fails."""
    rs = {key: [] for key in cmds}
    for k in range(rounds):
        for key, (argv, runs) in cmds.items():
            if k >= runs:
                continue
            r = spawn_timed(argv)
            if r.status != 0:
                fail(" ".join(argv[:3]), r)
            rs[key].append(r)
    return {key: summarize(v) for key, v in rs.items() if v}


def generate(n, d, a):
    """Runs gen_routes.py in its own process so this one stays small (see spawn_timed)."""
    cmd = [sys.executable, os.path.join(HERE, "gen_routes.py"), str(n), d,
           "--endpoints", str(a.endpoints), "--per-file", str(a.per_file), "--shape", a.shape]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def manifest_files(d):
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".yaml")]


def build_yaml_events(work, cc="cc"):
    """Compiles bench/yaml_events.c into work; returns its path, or None when it fails."""
    out = os.path.join(work, "yaml_events")
    r = subprocess.run([cc, "-O2", "-std=gnu11", "-o", out, os.path.join(HERE, "yaml_events.c"),
                        "-lyaml"], capture_output=True, text=True)
    if r.returncode != 0:
        print("note: libyaml baseline skipped, cannot build it:\n" + r.stderr, file=sys.stderr)
        return None
    return out


def check_status_output(nftgate, d, n, work):
    """Runs status once outside the timings and summarises its output (in a child, to keep
    this process small), to show each timed run did a full resolve and not an early error."""
    out = os.path.join(work, "status-%d.json" % n)
    r = spawn_timed([nftgate, "status", "-o", "json", "-f", d], out)
    if r.status != 0:
        fail("nftgate status -f %s" % d, r)
    res = subprocess.run([sys.executable, "-c", CHECK_STATUS, out], capture_output=True,
                         text=True, check=True)
    os.unlink(out)
    return res.stdout.strip()


def bench_size(a, n, work, yaml_events):
    d = os.path.join(work, "n%d" % n)
    gen_s = generate(n, d, a)
    files = manifest_files(d)
    size_mib = sum(os.path.getsize(f) for f in files) / 1048576.0
    print("N=%d: generated %d files, %.1f MiB (%s endpoints) in %.2f s; %s" % (
        n, len(files), size_mib, a.shape, gen_s,
        check_status_output(a.nftgate, d, n, work)), flush=True)
    res = {"n": n, "mib": size_mib, "cmds": {}}
    cmds = res["cmds"]
    todo = {"cat": (["cat"] + files, a.runs)}
    if yaml_events:
        todo["libyaml"] = ([yaml_events] + files, a.runs)
    if a.pyyaml_runs:
        todo["pyyaml"] = ([a.python, "-c", PYYAML_PARSE] + files, a.pyyaml_runs)
    todo["status"] = ([a.nftgate, "status", "-o", "json", "-f", d], a.runs)
    if a.dry_run:
        todo["dry"] = ([a.nftgate, "apply", "--dry-run", "-f", d], a.runs)
    cmds.update(measure_rounds(todo, max(a.runs, a.pyyaml_runs)))
    if not a.keep:
        shutil.rmtree(d)
    return res


LABELS = [("cat", "cat (read bytes)"), ("libyaml", "libyaml events only"),
          ("pyyaml", "PyYAML CSafeLoader"), ("status", "nftgate status -o json"),
          ("dry", "nftgate apply --dry-run")]
BASES = [("cat", "/cat"), ("libyaml", "/libyaml"), ("pyyaml", "/pyyaml")]


def machine_line():
    """nproc, kernel and load average: the context every table needs, the load because the
    benchmarks measure wall time and anything else running skews it."""
    return "machine: %d CPUs, kernel %s, load average %.2f %.2f %.2f" % (
        (os.cpu_count() or 0,) + (os.uname().release,) + os.getloadavg())


def print_table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))


def report(results, a, floor_kib):
    bases = [b for b in BASES if any(b[0] in r["cmds"] for r in results)]
    rows = [("N", "command", "wall s", "min s", "cpu s", "peak MiB") +
            tuple(h for _, h in bases)]
    for r in results:
        c = r["cmds"]
        for key, label in LABELS:
            if key not in c:
                continue
            m = c[key]
            rows.append((r["n"], label, "%.3f" % m["wall"], "%.3f" % m["min"], "%.3f" % m["cpu"],
                         "%.1f" % m["rss_mib"]) +
                        tuple("%.2f" % (m["wall"] / c[b]["wall"]) if b in c else "-"
                              for b, _ in bases))
    print()
    print(machine_line())
    print("read + resolve: median (and min) wall of %d runs (PyYAML: %d), median CPU, max peak"
          " RSS; %s endpoints;"
          " input MiB: %s" % (a.runs, a.pyyaml_runs, a.shape,
                              ", ".join("%d: %.1f" % (r["n"], r["mib"]) for r in results)))
    if not have_gnu_time():
        print("(no %s: peak RSS is wait4's and never below %.1f MiB)" % (GNU_TIME,
                                                                     floor_kib / 1024.0))
    print_table(rows)
    by_n = {r["n"]: r["cmds"] for r in results}
    sizes = sorted(by_n)
    for lo, hi in zip(sizes, sizes[1:]):
        for key, label in LABELS:
            if key in by_n[lo] and key in by_n[hi] and key != "cat":
                print("%s: %d/%d wall ratio %.2f (linear: %.1f)" % (
                    label, hi, lo, by_n[hi][key]["wall"] / by_n[lo][key]["wall"], hi / lo))
    if TARGET_N not in by_n:
        print("targets (%d routes: < %.1f s, < %d MiB) not measured: add %d to --sizes" % (
            TARGET_N, TARGET_SECONDS, TARGET_RSS_MIB, TARGET_N))
        return
    s = by_n[TARGET_N]["status"]
    print("target: %d routes read and resolved in < %.1f s: %.3f s, %s" % (
        TARGET_N, TARGET_SECONDS, s["wall"], "met" if s["wall"] < TARGET_SECONDS else "NOT met"))
    print("target: %d routes in < %d MiB: %.1f MiB, %s" % (
        TARGET_N, TARGET_RSS_MIB, s["rss_mib"],
        "met" if s["rss_mib"] < TARGET_RSS_MIB else "NOT met"))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nftgate", default="build/nftgate")
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated route counts")
    ap.add_argument("--runs", type=int, default=5, help="runs of each command per size")
    ap.add_argument("--pyyaml-runs", type=int, default=1,
                    help="runs of the (slow) PyYAML baseline per size; 0 skips it")
    ap.add_argument("--endpoints", type=int, default=10, help="ready endpoints per Service")
    ap.add_argument("--shape", choices=("lean", "full"), default="lean",
                    help="endpoint fields, see gen_routes.py")
    ap.add_argument("--per-file", type=int, default=0, help="objects per manifest file (0: one)")
    ap.add_argument("--no-dry-run", dest="dry_run", action="store_false",
                    help="do not also time `nftgate apply --dry-run`")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the PyYAML baseline")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"), help="compiler for yaml_events.c")
    ap.add_argument("--workdir", help="where to generate (default: a fresh temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated manifests")
    ap.add_argument("--json", help="also write the results to this file")
    a = ap.parse_args(argv)
    a.nftgate = os.path.abspath(a.nftgate)
    if not os.access(a.nftgate, os.X_OK):
        sys.exit("no executable %s (run `make` first)" % a.nftgate)
    sizes = [int(s) for s in a.sizes.split(",") if s]
    work = a.workdir or tempfile.mkdtemp(prefix="nftgate-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        yaml_events = build_yaml_events(work, a.cc)
        floor = rss_floor_kib()
        results = [bench_size(a, n, work, yaml_events) for n in sizes]
    finally:
        if not a.workdir and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(results, a, floor)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"shape": a.shape, "runs": a.runs, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
