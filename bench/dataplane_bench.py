#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Data plane benchmark (root): client -> node -> backend, one topology per path and scale.

Each case gets three network namespaces it creates and deletes (client 198.51.100.2 --
node 198.51.100.1 / 192.0.2.1 -- backend 192.0.2.2), nginx (tiny static answer, keepalive
off) and iperf3 in the backend. NAT paths forward node port 8080 -> backend :80 and 8081 ->
:5201, with masquerade on, so replies return through the node in every path (the backend's
default route is the node in direct routing too). Rounds are interleaved: for each round,
every case is measured once per metric; median and min-max over rounds are reported.

    dataplane_bench.py [--nftgate build/nftgate] [--rounds 5] [--seconds 5] [--quick]
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
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_routes  # noqa: E402

CLIENT, NODE_C, NODE_B, BACKEND = "198.51.100.2", "198.51.100.1", "192.0.2.1", "192.0.2.2"
HTTP, IPERF = 80, 5201
L_HTTP, L_IPERF = 8080, 8081

# The paths, data-driven: kind picks the node setup; scaled ones run at every --scales value.
PATHS = [
    {"key": "direct", "label": "direct routing (the limit)", "kind": "direct", "scaled": False},
    {"key": "nftgate", "label": "nftgate", "kind": "nftgate", "scaled": True, "apply_args": []},
    {"key": "nftdnat", "label": "hand-written nft DNAT", "kind": "nftdnat", "scaled": True},
    {"key": "iptables", "label": "iptables-nft, kube-proxy style", "kind": "iptables",
     "scaled": True},
    {"key": "haproxy", "label": "HAProxy mode tcp", "kind": "haproxy", "scaled": False},
    {"key": "nftgate-nofast", "label": "nftgate, fast path off", "kind": "nftgate",
     "scaled": True, "apply_args": ["--fast-path=off"], "needs": "--fast-path",
     "missing": "n/a: nftgate has no fast path option yet"},
]


def sh(cmd, check=True, input=None, timeout=300):
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout,
                                                       p.stderr))
    return p


def nx(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


class Topo:
    """client -- node -- backend namespaces, servers in the backend; close() undoes it all."""
    count = 0

    def __init__(self, a, name):
        Topo.count += 1
        self.a, self.name = a, name
        p = "ndp-%d-%d-" % (os.getpid(), Topo.count)
        self.c, self.n, self.b = p + "c", p + "n", p + "b"
        self.ns, self.procs = [], []
        self.tmp = tempfile.mkdtemp(prefix=p)
        os.chmod(self.tmp, 0o755)
        for ns in (self.c, self.n, self.b):
            sh(["ip", "netns", "add", ns])
            self.ns.append(ns)
        sh(nx(self.n, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]))
        for ns in (self.c, self.b):   # namespace sysctls only: room for many short connections
            sh(nx(ns, ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000",
                       "net.ipv4.tcp_tw_reuse=1", "net.core.somaxconn=4096"]))
        batch = ["link set lo up",
                 "link add cl0 type veth peer name eth0 netns " + self.c,
                 "link add be0 type veth peer name eth0 netns " + self.b,
                 "link set cl0 up", "link set be0 up",
                 "addr add %s/24 dev cl0" % NODE_C, "addr add %s/24 dev be0" % NODE_B]
        sh(["ip", "-n", self.n, "-batch", "-"], input="\n".join(batch) + "\n")
        for ns, addr, gw in ((self.c, CLIENT, NODE_C), (self.b, BACKEND, NODE_B)):
            sh(["ip", "-n", ns, "-batch", "-"], input="link set lo up\nlink set eth0 up\n"
               "addr add %s/24 dev eth0\nroute add default via %s\n" % (addr, gw))
        self.start_servers()

    def spawn(self, ns, argv, **kw):
        p = subprocess.Popen(nx(ns, argv), stdin=subprocess.DEVNULL, start_new_session=True,
                             stdout=kw.get("stdout", subprocess.DEVNULL),
                             stderr=kw.get("stderr", subprocess.DEVNULL))
        self.procs.append(p)
        return p

    def start_servers(self):
        conf = os.path.join(self.tmp, "nginx.conf")
        t = self.tmp
        with open(conf, "w") as f:
            f.write("worker_processes %d;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
                    "events { worker_connections 8192; }\nhttp { access_log off; "
                    "keepalive_timeout 0; client_body_temp_path %s/b; proxy_temp_path %s/p; "
                    "fastcgi_temp_path %s/f; uwsgi_temp_path %s/u; scgi_temp_path %s/s;\n"
                    "server { listen %d backlog=4096; location / { return 200 \"ok\\n\"; } } }\n"
                    % (min(2, os.cpu_count() or 1), t, t, t, t, t, t, t, HTTP))
        self.spawn(self.b, ["nginx", "-c", conf])
        self.spawn(self.b, ["iperf3", "-s", "-p", str(IPERF)])
        self.wait_listen(self.b, [HTTP, IPERF])

    def wait_listen(self, ns, ports, bound=10.0):
        end = time.monotonic() + bound
        while time.monotonic() < end:
            out = sh(nx(ns, ["ss", "-Hltn"])).stdout
            if all((":%d " % p) in out for p in ports):
                return
            time.sleep(0.05)
        raise RuntimeError("%s: ports %s not listening in time" % (self.name, ports))

    def target(self):
        return (BACKEND, HTTP, IPERF) if self.direct else (NODE_C, L_HTTP, L_IPERF)

    def probe(self, bound=10.0):
        host, port, _ = self.target()
        end = time.monotonic() + bound
        while time.monotonic() < end:
            p = sh(nx(self.c, [self.a.client, host, str(port), "1"]), check=False)
            if p.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("%s: no answer through %s:%d" % (self.name, host, port))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        for ns in reversed(self.ns):
            for pid in sh(["ip", "netns", "pids", ns], check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- node setups ------------------------------------------------------------------------------


def own_manifests(d):
    docs = ["apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: bench\n"
            "  namespace: default\nspec:\n  gatewayClassName: %s\n  listeners:\n"
            "    - {name: web, protocol: TCP, port: %d}\n    - {name: bulk, protocol: TCP, port: %d}\n"
            % (gen_routes.CLASS, L_HTTP, L_IPERF)]
    for name, port in (("web", HTTP), ("bulk", IPERF)):
        docs.append("apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata:\n"
                    "  name: %s\n  namespace: default\nspec:\n  parentRefs:\n    - {name: bench, "
                    "sectionName: %s}\n  rules:\n    - backendRefs:\n        - {name: %s, port: %d}\n"
                    % (name, name, name, port))
        docs.append("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: default\n"
                    "spec:\n  ports:\n    - {name: tcp, protocol: TCP, port: %d, targetPort: %d}\n"
                    % (name, port, port))
        docs.append("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
                    "  name: %s-1\n  namespace: default\n  labels:\n"
                    "    kubernetes.io/service-name: %s\naddressType: IPv4\nports:\n"
                    "  - {name: tcp, protocol: TCP, port: %d}\nendpoints:\n"
                    "  - addresses: [\"%s\"]\n    conditions: {ready: true}\n"
                    % (name, name, port, BACKEND))
    with open(os.path.join(d, "zz-bench.yaml"), "w") as f:
        f.write("---\n".join(docs))


def routes_dir(a, n):
    """gen_routes.py output for n other routes plus our two listeners, cached per n."""
    d = os.path.join(a.work, "routes-%d" % n)
    if not os.path.isdir(d):
        sh([sys.executable, os.path.join(HERE, "gen_routes.py"), str(n), d, "--per-file", "100"])
        own_manifests(d)
    return d


def setup_nftgate(a, t, n, extra):
    state = os.path.join(t.tmp, "state")
    os.makedirs(state)
    sh(nx(t.n, [a.nftgate, "apply", "-f", routes_dir(a, n), "--state-dir", state] + extra))


def setup_nftdnat(a, t, n):
    rules = []
    for i in range(n):   # the others first: ours is the last rule walked, as a listener added late
        rules.append("ip daddr %s tcp dport %d dnat to %s:%d" % (
            NODE_C, gen_routes.FIRST_PORT + i, gen_routes.pod_addr(i, 0, 10), gen_routes.POD_PORT))
    rules += ["ip daddr %s tcp dport %d dnat to %s:%d" % (NODE_C, L_HTTP, BACKEND, HTTP),
              "ip daddr %s tcp dport %d dnat to %s:%d" % (NODE_C, L_IPERF, BACKEND, IPERF)]
    text = ("table ip handnat {\n chain prerouting { type nat hook prerouting priority dstnat;\n"
            + "\n".join("  " + r for r in rules) + "\n }\n chain postrouting { type nat hook "
            "postrouting priority srcnat; ct status dnat masquerade\n }\n}\n")
    sh(nx(t.n, ["nft", "-f", "-"]), input=text)


def setup_iptables(a, t, n):
    chains, rules = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"], []
    rules += ["-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
              "-A OUTPUT -j KUBE-SERVICES", "-A POSTROUTING -j KUBE-POSTROUTING",
              "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
              "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
              "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
              "-A KUBE-POSTROUTING -j MASQUERADE --random-fully"]

    def svc(tag, match, eps, port, chain="KUBE-SERVICES"):
        s, chains_ = "KUBE-SVC-" + tag, ["KUBE-SVC-" + tag]
        rules.append("-A %s %s -j %s" % (chain, match, s))
        for k, ep in enumerate(eps):
            sep = "KUBE-SEP-%s-%d" % (tag, k)
            chains_.append(sep)
            left = len(eps) - k
            prob = "" if left == 1 else "-m statistic --mode random --probability %.11f " % (1.0 / left)
            rules.append("-A %s %s-j %s" % (s, prob, sep))
            rules.append("-A %s -s %s/32 -j KUBE-MARK-MASQ" % (sep, ep))
            rules.append("-A %s -p tcp -j DNAT --to-destination %s:%d" % (sep, ep, port))
        chains.extend(chains_)

    for i in range(n):   # other services, ClusterIP style: one rule each in KUBE-SERVICES
        vip = "10.96.%d.%d" % (i >> 8, i & 255)
        svc("O%d" % i, "-d %s/32 -p tcp --dport %d" % (vip, gen_routes.SERVICE_PORT),
            [gen_routes.pod_addr(i, 0, 10)], gen_routes.POD_PORT)
    rules.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    for tag, lp, bp in (("WEB", L_HTTP, HTTP), ("BULK", L_IPERF, IPERF)):
        ext = "KUBE-EXT-" + tag
        chains.append(ext)
        rules.append("-A KUBE-NODEPORTS -p tcp --dport %d -j %s" % (lp, ext))
        rules.append("-A %s -j KUBE-MARK-MASQ" % ext)
        svc(tag, "", [BACKEND], bp, chain=ext)
    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n" + "".join(":%s - [0:0]\n" % c for c in chains)
            + "\n".join(rules) + "\nCOMMIT\n")
    sh(nx(t.n, ["iptables-nft-restore"]), input=text, timeout=900)


def setup_haproxy(a, t):
    conf = os.path.join(t.tmp, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("global\n  maxconn 8000\n  nbthread %d\ndefaults\n  mode tcp\n  timeout connect 5s\n"
                "  timeout client 60s\n  timeout server 60s\n" % min(2, os.cpu_count() or 1))
        for name, lp, bp in (("web", L_HTTP, HTTP), ("bulk", L_IPERF, IPERF)):
            f.write("listen %s\n  bind %s:%d\n  server b %s:%d\n" % (name, NODE_C, lp, BACKEND, bp))
    t.spawn(t.n, ["haproxy", "-db", "-f", conf])
    t.wait_listen(t.n, [L_HTTP, L_IPERF])


class Churn:
    """nftgate run on the node; a thread replaces one endpoint address every interval."""

    def __init__(self, a, t, n):
        self.d = os.path.join(t.tmp, "manifests")
        shutil.copytree(routes_dir(a, n), self.d)
        state = os.path.join(t.tmp, "state")
        os.makedirs(state)
        self.log = open(os.path.join(t.tmp, "daemon.log"), "w+")
        t.spawn(t.n, [a.nftgate, "run", "-f", self.d, "--state-dir", state, "--listen",
                      "127.0.0.1:10266"], stderr=self.log)
        self.a, self.on, self.changes = a, threading.Event(), 0
        self.path = os.path.join(self.d, sorted(f for f in os.listdir(self.d)
                                                if f.startswith("slices"))[0])
        with open(self.path) as f:
            self.text = f.read()
        self.addr = '["%s"]' % gen_routes.pod_addr(0, 0, 10)
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def reconciles(self):
        with open(self.log.name) as f:
            return f.read().count("reconcile")

    def loop(self):
        alt = ['["10.250.0.1"]', self.addr]
        k = 0
        while not self.stop:
            if not self.on.wait(0.2):
                continue
            k += 1
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                f.write(self.text.replace(self.addr, alt[k % 2], 1))
            os.rename(tmp, self.path)
            self.changes += 1
            time.sleep(self.a.churn_ms / 1e3)


# ---- metrics ----------------------------------------------------------------------------------


def cpu_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]   # all but idle and iowait, in USER_HZ ticks


def m_connrate(a, t):
    host, port, _ = t.target()
    c0 = cpu_busy()
    p = sh(nx(t.c, ["wrk", "-t2", "-c%d" % a.conns, "-d%ds" % a.seconds, "-H", "Connection: close",
                    "http://%s:%d/" % (host, port)]), timeout=a.seconds + 60)
    c1 = cpu_busy()
    rate = errs = 0
    for line in p.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            rate = float(line.split()[1])
        if "Socket errors" in line or "Non-2xx" in line:
            errs += sum(int(x) for x in line.replace(",", " ").split() if x.isdigit())
    conns = rate * a.seconds
    cpu_us = (c1 - c0) * 1e6 / os.sysconf("SC_CLK_TCK") / conns if conns else None
    return {"conn_s": rate, "errors": errs, "cpu_us_per_conn": cpu_us}


def m_latency(a, t):
    host, port, _ = t.target()
    p = sh(nx(t.c, [a.client, host, str(port), str(a.latency_n)]), check=False, timeout=120)
    return json.loads(p.stdout)


def m_bulk(a, t):
    host, _, port = t.target()
    p = sh(nx(t.c, ["iperf3", "-c", host, "-p", str(port), "-t", str(a.seconds), "-J"]),
           timeout=a.seconds + 60)
    return {"gbit_s": json.loads(p.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9}


# ---- the run ----------------------------------------------------------------------------------


def cases(a):
    help_text = sh([a.nftgate, "apply", "--help"], check=False)
    help_text = help_text.stdout + help_text.stderr
    out, skipped = [], []
    for p in PATHS:
        if p.get("needs") and p["needs"] not in help_text:
            skipped.append((p["label"], p["missing"]))
            continue
        for n in (a.scales if p["scaled"] else [None]):
            out.append(dict(p, n=n, id="%s@%s" % (p["key"], n if n is not None else "-")))
    if not a.no_extra:
        out.append({"key": "unrelated", "label": "direct flow, nftgate table at %d routes loaded"
                    % max(a.scales), "kind": "unrelated", "n": max(a.scales),
                    "id": "unrelated@%d" % max(a.scales)})
        out.append({"key": "churn", "label": "nftgate run, one endpoint change every %d ms"
                    % a.churn_ms, "kind": "churn", "n": a.churn_n, "id": "churn@%d" % a.churn_n})
    return out, skipped


def build(a, c):
    t = Topo(a, c["id"])
    try:
        return setup(a, c, t)
    except BaseException:
        t.close()
        raise


def setup(a, c, t):
    t.direct = c["kind"] in ("direct", "unrelated")
    t.churn = None
    k = c["kind"]
    if k == "nftgate":
        setup_nftgate(a, t, c["n"], c.get("apply_args", []))
    elif k == "unrelated":
        setup_nftgate(a, t, c["n"], [])
    elif k == "nftdnat":
        setup_nftdnat(a, t, c["n"])
    elif k == "iptables":
        setup_iptables(a, t, c["n"])
    elif k == "haproxy":
        setup_haproxy(a, t)
    elif k == "churn":
        t.churn = Churn(a, t, c["n"])
    t.probe(bound=120.0 if k == "churn" else 10.0)
    return t


def stat(v):
    v = [x for x in v if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nftgate", default=os.path.join(HERE, "..", "build", "nftgate"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5, help="wrk and iperf3 duration")
    ap.add_argument("--conns", type=int, default=64, help="wrk connections")
    ap.add_argument("--latency-n", type=int, default=2000, help="sequential connections")
    ap.add_argument("--scales", default="1,1000,10000", help="other routes loaded")
    ap.add_argument("--churn-ms", type=int, default=10)
    ap.add_argument("--churn-n", type=int, default=1000, help="routes loaded in the churn case")
    ap.add_argument("--no-extra", action="store_true", help="skip the unrelated and churn cases")
    ap.add_argument("--quick", action="store_true", help="1 round, 2 s, scales 1,1000")
    ap.add_argument("--json", default="dataplane-bench.json")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("dataplane_bench.py needs root (it creates network namespaces)")
    if a.quick:
        a.rounds, a.seconds, a.latency_n, a.scales = 1, 2, 500, "1,1000"
    a.scales = [int(x) for x in a.scales.split(",")]
    a.nftgate = os.path.abspath(a.nftgate)
    for tool in ("wrk", "nginx", "iperf3", "haproxy", "iptables-nft-restore", "nft", "cc"):
        if not shutil.which(tool):
            sys.exit("missing %s: `make bench-dataplane` installs the packages" % tool)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    a.work = tempfile.mkdtemp(prefix="nftgate-dp-")
    a.client = os.path.join(a.work, "latency_client")
    sh(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", a.client,
        os.path.join(HERE, "latency_client.c")])
    todo, skipped = cases(a)
    topos, raw = [], {c["id"]: [] for c in todo}
    try:
        for c in todo:
            s = time.monotonic()
            topos.append((c, build(a, c)))
            print("set up %-22s %.1f s" % (c["id"], time.monotonic() - s), flush=True)
        for r in range(a.rounds):
            for c, t in topos:
                row = {}
                if t.churn:
                    t.churn.on.set()
                    before = t.churn.reconciles()
                row.update(m_connrate(a, t))
                row.update(m_latency(a, t))
                if t.churn:
                    t.churn.on.clear()
                    row["reconciles"] = t.churn.reconciles() - before
                else:
                    row.update(m_bulk(a, t))
                raw[c["id"]].append(row)
                print("round %d %-22s %s" % (r + 1, c["id"], json.dumps(row)), flush=True)
    finally:
        for c, t in topos:
            if t.churn:
                t.churn.stop = True
            t.close()
        shutil.rmtree(a.work, ignore_errors=True)
    report(a, todo, raw, skipped, time.monotonic() - t0)
    return 0


def report(a, todo, raw, skipped, took):
    keys = ("conn_s", "first_byte_p50_us", "first_byte_p99_us", "connect_p50_us", "gbit_s",
            "cpu_us_per_conn", "reconciles")
    summ = {cid: {k: stat([row.get(k) for row in rows]) for k in keys} for cid, rows in raw.items()}
    base = summ.get("direct@-")

    def cell(cid, k, fmt, ratio=True):
        s = summ[cid][k]
        if not s:
            return "-"
        txt = fmt % s["median"] + (" (" + fmt % s["min"] + "–" + fmt % s["max"] + ")"
                                   if s["n"] > 1 else "")
        b = base and base[k]
        if ratio and b and b["median"]:
            txt += " ×%.2f" % (s["median"] / b["median"])
        return txt

    print()
    print("machine: %d CPUs, kernel %s; %d rounds, wrk %d s -c%d, iperf3 %d s, %d sequential "
          "connections; took %.0f s" % (os.cpu_count(), os.uname().release, a.rounds, a.seconds,
                                       a.conns, a.seconds, a.latency_n, took))
    print("median (min–max) ×ratio to direct routing")
    print("| path | routes | new conn/s | first byte p50 µs | p99 µs | connect p50 µs | bulk Gbit/s "
          "| machine CPU µs/conn |")
    print("|---|---|---|---|---|---|---|---|")
    for c in todo:
        cid = c["id"]
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c["label"], c["n"] if c["n"] is not None else "-", cell(cid, "conn_s", "%.0f"),
            cell(cid, "first_byte_p50_us", "%.0f"), cell(cid, "first_byte_p99_us", "%.0f"),
            cell(cid, "connect_p50_us", "%.0f"), cell(cid, "gbit_s", "%.2f"),
            cell(cid, "cpu_us_per_conn", "%.1f")))
    for label, why in skipped:
        print("| %s | | %s | | | | | |" % (label, why))
    for c in todo:
        if c["kind"] == "churn" and summ[c["id"]]["reconciles"]:
            print("churn: %s daemon reconciles per %d s measurement (median)" % (
                summ[c["id"]]["reconciles"]["median"], a.seconds))
    with open(a.json, "w") as f:
        json.dump({"args": {k: v for k, v in vars(a).items()}, "skipped": skipped, "raw": raw,
                   "summary": summ, "took_s": took}, f, indent=1, default=str)
    print("raw numbers: %s" % a.json)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
