#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A throwaway network for the end-to-end tests, made of network namespaces.

Topology (every address lives only inside the namespaces; nothing on the host changes):

    client ns                      node ns                              pod ns (one per pod)
    eth0 198.51.100.2/24  <-veth->  cl0 198.51.100.1/24 (+ extras)
         fd00:c::2/64                   fd00:c::1/64
                                    pN  10.244.0.1/32, fd00:244::1/128 <-veth-> eth0 <pod addrs>/32,/128
                                        route <pod addr> dev pN                  default via the node

The node forwards (its own ip_forward / IPv6 forwarding, set inside its namespace) and is
where nftgate runs. Each pod runs echo_server.py on its TCP ports and udp_server.py on its UDP
ports (and DNS ports, the stand-in for CoreDNS). Namespaces are named
"ngt-<pid>-<n>-<role>" so that concurrent runs never collide, and Sandbox.close() (also
called by the context manager on any failure) kills every process it started and deletes
every namespace it created.

The same file, run as a script inside a namespace, is the traffic client:
    netns.py probe --count N HOST:PORT...  -> one JSON object per target (who answered, resets)
    netns.py wait --deadline S HOST:PORT... -> exits 0 once every target accepts a connection
    netns.py hold HOST:PORT                -> keeps one connection; echoes stdin lines through it
    netns.py probe-udp --count N [--per-flow K] HOST:PORT... -> the same, for UDP datagrams
    netns.py probe-dns --count N HOST:PORT... -> DNS queries; the TXT answer is the pod name
    netns.py wait-udp --deadline S [--dns T]... HOST:PORT... -> exits 0 once every target answers
    netns.py stream --interval S HOST:PORT -> one flow: a datagram every S seconds, one JSON
                                              line per answer; "mark" on stdin prints the next seq
"""
import argparse
import errno
import ipaddress
import itertools
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ECHO_SERVER = HERE / "echo_server.py"
UDP_SERVER = HERE / "udp_server.py"
PYTHON = sys.executable or "/usr/bin/python3"
MANIFESTS = HERE / "manifests"
EXAMPLE = REPO / "examples" / "basic-tcp"

CLIENT_V4, NODE_V4 = "198.51.100.2", "198.51.100.1"
CLIENT_V6, NODE_V6 = "fd00:c::2", "fd00:c::1"
NODE_POD_V4, NODE_POD_V6 = "10.244.0.1", "fd00:244::1"  # the node's end of every pod link

_counter = itertools.count(1)

# ICMP errors (port unreachable among them) are rate limited per namespace, per peer and in
# total; the UDP tests count one per rejected datagram, so the namespaces that send them (the
# node, and the pods for the harness's own checks) limit no ICMP type at all. TCP is unaffected.
NO_ICMP_LIMITS = ["net.ipv4.icmp_ratemask=0", "net.ipv6.icmp.ratemask=0"]


def nftgate_binary():
    return Path(os.environ.get("NFTGATE_BIN", REPO / "build" / "nftgate"))


def run(cmd, check=True, input=None, timeout=60):
    """Runs cmd (a list); on failure raises with the command and its stderr."""
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\nstdout: %s\nstderr: %s"
                           % (p.returncode, " ".join(map(str, cmd)), p.stdout, p.stderr))
    return p


def manifest_paths(*names):
    """The common class and backends plus scenario directories under tests/e2e/manifests."""
    return [MANIFESTS / "common"] + [MANIFESTS / n for n in names]


def yaml_files(paths):
    """What nftgate reads for each -f path: a file, or a directory's *.yaml/*.yml/*.json."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml", ".json"))
        else:
            out.append(p)
    return out


def load_docs(paths):
    import yaml  # python3-yaml; only the test process needs it, not the in-namespace client
    docs = []
    for f in yaml_files(paths):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def target_text(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def family_of(addr):
    return 6 if ipaddress.ip_address(addr).version == 6 else 4


class Pod:
    """One backend pod: a namespace, its addresses, its ports, and its echo server."""

    def __init__(self, name, ns, v4, v6, ports, service=None, echo=False, udp_ports=(),
                 dns_ports=()):
        self.name, self.ns = name, ns
        self.v4, self.v6 = list(v4), list(v6)
        self.ports = list(ports)          # TCP
        self.udp_ports = list(udp_ports)  # UDP, answered with the pod line
        self.dns_ports = list(dns_ports)  # UDP, answered as a DNS server
        self.service = service
        self.echo = echo
        self.proc = None
        self.udp_proc = None

    @property
    def addrs(self):
        return self.v4 + self.v6


class Tally:
    """What N connections (or UDP datagrams) to one target saw: which pod answered each, and
    the failures."""

    def __init__(self, d):
        self.target = d["target"]
        self.n = d["n"]
        self.pods = d["pods"]            # pod name -> connections it answered
        self.peers = d["peers"]          # pod name -> peer addresses it reported
        self.ports = d["ports"]          # pod name -> the local ports it was reached on
        self.reset = d["reset"]          # refused or reset (TCP RST)
        self.timeout = d["timeout"]      # no answer in time
        self.eof = d["eof"]              # accepted, then closed without a greeting
        self.other = d["other"]          # error text -> count
        self.proto = d.get("proto", "tcp")
        self.flows = d.get("flows", self.n)  # UDP: source ports used (n datagrams over them)
        self.unreachable = d.get("unreachable", 0)  # UDP: ICMP port unreachable (ECONNREFUSED)

    @property
    def answered(self):
        return sum(self.pods.values())

    def by_service(self, sandbox):
        out = {}
        for name, n in self.pods.items():
            pod = sandbox.pods.get(name)
            svc = pod.service if pod else name
            out[svc] = out.get(svc, 0) + n
        return out

    def __repr__(self):
        if self.proto == "udp":
            return ("Tally(udp %s n=%d flows=%d pods=%s unreachable=%d timeout=%d other=%s)"
                    % (self.target, self.n, self.flows, self.pods, self.unreachable,
                       self.timeout, self.other))
        return ("Tally(%s n=%d pods=%s reset=%d timeout=%d eof=%d other=%s)"
                % (self.target, self.n, self.pods, self.reset, self.timeout, self.eof, self.other))


class Sandbox:
    """client, node and pod namespaces wired by veth pairs. Use as a context manager."""

    def __init__(self, node_extra_v4=(), node_extra_v6=()):
        n = next(_counter)
        self.prefix = "ngt-%d-%d-" % (os.getpid(), n)
        self.client = self.prefix + "client"
        self.node = self.prefix + "node"
        self.node_extra_v4 = list(node_extra_v4)
        self.node_extra_v6 = list(node_extra_v6)
        self.namespaces = []
        self.procs = []
        self.pods = {}
        self.local_servers = []
        self._tmp = tempfile.TemporaryDirectory(prefix=self.prefix)
        self.tmp = Path(self._tmp.name)
        self.state_dir = self.tmp / "state"
        self.state_dir.mkdir()

    # -- lifetime ----------------------------------------------------------------------

    def __enter__(self):
        try:
            self._make_core()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _add_ns(self, name):
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)

    def _ip_batch(self, ns, lines):
        run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n")

    def _make_core(self):
        self._add_ns(self.client)
        self._add_ns(self.node)
        # Forwarding and DAD are per-namespace sysctls: set inside the node/client namespaces only.
        run(["ip", "netns", "exec", self.node, "sysctl", "-qw",
             "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
             "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
            + NO_ICMP_LIMITS)
        node = ["link set lo up",
                "link add cl0 type veth peer name eth0 netns " + self.client,
                "link set cl0 up",
                "addr add %s/24 dev cl0" % NODE_V4,
                "addr add %s/64 dev cl0 nodad" % NODE_V6]
        node += ["addr add %s/24 dev cl0" % a for a in self.node_extra_v4]
        node += ["addr add %s/64 dev cl0 nodad" % a for a in self.node_extra_v6]
        self._ip_batch(self.node, node)
        self._ip_batch(self.client, [
            "link set lo up", "link set eth0 up",
            "addr add %s/24 dev eth0" % CLIENT_V4,
            "addr add %s/64 dev eth0 nodad" % CLIENT_V6,
            "route add default via %s" % NODE_V4,
            "route add default via %s" % NODE_V6])

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
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    f.close()
        self.procs = []
        for ns in reversed(self.namespaces):
            # Anything still running inside a namespace we made is ours (a stray client).
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", ns], check=False)
        self.namespaces = []
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    # -- pods and servers --------------------------------------------------------------

    def add_pod(self, name, v4=(), v6=(), ports=(), service=None, echo=False, udp_ports=(),
                dns_ports=()):
        """Creates the pod namespace and link and starts its servers (TCP on ports, UDP on
        udp_ports, DNS over UDP on dns_ports); call ready() after."""
        if name in self.pods:
            raise ValueError("pod %s twice" % name)
        idx = len(self.pods)
        ns = "%spod%d" % (self.prefix, idx)
        link = "p%d" % idx
        pod = Pod(name, ns, v4, v6, ports, service, echo, udp_ports, dns_ports)
        self._add_ns(ns)
        run(["ip", "netns", "exec", ns, "sysctl", "-qw"] + NO_ICMP_LIMITS)
        node = ["link add %s type veth peer name eth0 netns %s" % (link, ns),
                "link set %s up" % link,
                "addr add %s/32 dev %s" % (NODE_POD_V4, link),
                "addr add %s/128 dev %s nodad" % (NODE_POD_V6, link)]
        node += ["route add %s/32 dev %s" % (a, link) for a in pod.v4]
        node += ["route add %s/128 dev %s" % (a, link) for a in pod.v6]
        self._ip_batch(self.node, node)
        lines = ["link set lo up", "link set eth0 up"]
        lines += ["addr add %s/32 dev eth0" % a for a in pod.v4]
        lines += ["addr add %s/128 dev eth0 nodad" % a for a in pod.v6]
        lines += ["route add %s/32 dev eth0" % NODE_POD_V4,
                  "route add default via %s dev eth0 onlink" % NODE_POD_V4,
                  "route add %s/128 dev eth0" % NODE_POD_V6,
                  "route add default via %s dev eth0" % NODE_POD_V6]
        self._ip_batch(ns, lines)
        self.pods[name] = pod
        if pod.ports:
            pod.proc = self.start_server(ns, name, pod.ports, echo=echo)
        if pod.udp_ports or pod.dns_ports:
            pod.udp_proc = self.start_udp_server(ns, name, pod.udp_ports, pod.dns_ports)
        return pod

    def start_server(self, ns, name, ports, echo=False, host="::"):
        """Starts echo_server.py in ns; returns the Popen (stopped by close())."""
        cmd = ["ip", "netns", "exec", ns, PYTHON, str(ECHO_SERVER), "--name", name,
               "--host", host]
        for port in ports:
            cmd += ["--port", str(port)]
        if echo:
            cmd.append("--echo")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        self.procs.append(p)
        p.ns, p.ports, p.name, p.host, p.announced = ns, list(ports), name, host, False
        p.udp_ports, p.dns_ports = [], []
        return p

    def start_udp_server(self, ns, name, ports, dns_ports=(), host="::"):
        """Starts udp_server.py in ns; returns the Popen (stopped by close())."""
        cmd = ["ip", "netns", "exec", ns, PYTHON, str(UDP_SERVER), "--name", name,
               "--host", host]
        for port in ports:
            cmd += ["--port", str(port)]
        for port in dns_ports:
            cmd += ["--dns", str(port)]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        self.procs.append(p)
        p.ns, p.ports, p.name, p.host, p.announced = ns, [], name, host, False
        p.udp_ports, p.dns_ports = list(ports), list(dns_ports)
        return p

    def start_node_local(self, port, name="node-local"):
        """A process listening on port on every address of the node itself: what a connection
        reaches if nftgate lets it fall through."""
        p = self.start_server(self.node, name, [port])
        self.local_servers.append(p)
        return p

    def start_node_local_udp(self, port, name="node-local"):
        """The UDP twin of start_node_local: a process answering datagrams to port on every
        address of the node, what a datagram reaches if nftgate lets it fall through."""
        p = self.start_udp_server(self.node, name, [port])
        self.local_servers.append(p)
        return p

    def _await_announcements(self, deadline):
        pending = [p for p in self.procs if p.stdout and not p.announced
                   and hasattr(p, "ports")]
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("servers not listening in time: %s"
                                   % [p.name for p in pending])
            ready, _, _ = select.select([p.stdout for p in pending], [], [], left)
            for p in pending:
                if p.stdout in ready:
                    line = p.stdout.readline()
                    if line.strip() != b"listening":
                        raise RuntimeError("server %s in %s failed: %s %s" % (
                            p.name, p.ns, line, p.stderr.read() if p.poll() is not None else ""))
                    p.announced = True
            pending = [p for p in pending if not p.announced]

    def ready(self, timeout=10.0):
        """Waits (bounded) until every server accepts connections: each pod address/port is
        connected to from the node namespace, which also proves the node can route to it."""
        deadline = time.monotonic() + timeout
        self._await_announcements(deadline)
        targets = []
        for pod in self.pods.values():
            for a in pod.addrs:
                targets += [target_text(a, port) for port in pod.ports]
        for p in self.local_servers:
            targets += [target_text("127.0.0.1", port) for port in p.ports]
        if targets:
            left = max(0.5, deadline - time.monotonic())
            self.exec(self.node, [PYTHON, __file__, "wait", "--deadline", "%.1f" % left]
                      + targets, timeout=left + 10)
        self._ready_udp(deadline)

    def _ready_udp(self, deadline):
        """Every UDP and DNS port of every pod and node-local server answers a datagram sent
        from the node namespace."""
        udp, dns = [], []
        for pod in self.pods.values():
            for a in pod.addrs:
                udp += [target_text(a, port) for port in pod.udp_ports]
                dns += [target_text(a, port) for port in pod.dns_ports]
        for p in self.local_servers:
            udp += [target_text("127.0.0.1", port) for port in p.udp_ports]
        if not udp and not dns:
            return
        left = max(0.5, deadline - time.monotonic())
        cmd = [PYTHON, __file__, "wait-udp", "--deadline", "%.1f" % left]
        for t in dns:
            cmd += ["--dns", t]
        self.exec(self.node, cmd + udp, timeout=left + 10)

    # -- running things ----------------------------------------------------------------

    def exec(self, ns, cmd, check=True, input=None, timeout=60):
        return run(["ip", "netns", "exec", ns] + [str(c) for c in cmd], check=check,
                   input=input, timeout=timeout)

    def nft(self, *args, check=True):
        return self.exec(self.node, ["nft"] + list(args), check=check)

    def nftgate(self, *args, check=True, ns=None, timeout=60):
        """Runs build/nftgate in the node namespace (or ns); returns the CompletedProcess."""
        return self.exec(ns or self.node, [nftgate_binary()] + [str(a) for a in args],
                         check=check, timeout=timeout)

    def apply(self, *paths, extra=(), check=True):
        args = ["apply"]
        for p in paths:
            args += ["-f", p]
        args += ["--state-dir", self.state_dir] + list(extra)
        return self.nftgate(*args, check=check)

    def probe(self, host, port, count=20, src=None, timeout=2.0):
        """count sequential connections from src (default: the client namespace) to
        host:port; returns a Tally."""
        return self.probe_many([(host, port)], count, src, timeout)[0]

    def probe_weighted(self, host, port, expected, count=500, tolerance=0.05):
        """count connections to host:port; every one must be answered and each Service's
        share must be within tolerance of expected (a Service -> fraction mapping; 0 means
        none at all). Selection is random per connection: at 500 connections 5 points is
        ~2.4 sigma, so one retry (as the upstream harness retries until it converges) keeps
        false failures rare. Returns the last Tally."""
        return self._weighted(lambda: self.probe(host, port, count=count), count, expected,
                              tolerance)

    def _weighted(self, probe, count, expected, tolerance):
        """probe() (count answers wanted) twice at most, until each Service's share of the
        answers is within tolerance of expected."""
        for _ in range(2):
            t = probe()
            by = t.by_service(self)
            assert t.answered == count, t
            for svc, want in expected.items():
                if want == 0:
                    assert by.get(svc, 0) == 0, "weight 0 got traffic: %s" % t
            got = {svc: by.get(svc, 0) / count for svc in expected}
            if all(abs(got[s] - w) <= tolerance for s, w in expected.items()):
                return t
        raise AssertionError("expected shares %s within %.2f, got %s (%s)"
                             % (expected, tolerance, got, t))

    def probe_many(self, targets, count=20, src=None, timeout=2.0):
        cmd = [PYTHON, __file__, "probe", "--count", str(count), "--timeout", str(timeout)]
        cmd += [target_text(h, p) for h, p in targets]
        budget = len(targets) * count * (timeout + 0.5) + 30
        out = self.exec(src or self.client, cmd, timeout=budget).stdout
        return [Tally(d) for d in json.loads(out)]

    def probe_udp(self, host, port, count=20, src=None, timeout=1.0, per_flow=1):
        """count UDP flows (each its own socket, so its own source port) from src (default:
        the client namespace) to host:port, per_flow datagrams each, every one waiting for its
        answer; returns a Tally over count * per_flow datagrams (unreachable: ICMP port
        unreachable, timeout: no answer within timeout)."""
        return self.probe_udp_many([(host, port)], count, src, timeout, per_flow)[0]

    def probe_udp_many(self, targets, count=20, src=None, timeout=1.0, per_flow=1):
        cmd = [PYTHON, __file__, "probe-udp", "--count", str(count), "--timeout", str(timeout),
               "--per-flow", str(per_flow)]
        cmd += [target_text(h, p) for h, p in targets]
        budget = len(targets) * count * per_flow * (timeout + 0.5) + 30
        out = self.exec(src or self.client, cmd, timeout=budget).stdout
        return [Tally(d) for d in json.loads(out)]

    def probe_udp_weighted(self, host, port, expected, count=500, tolerance=0.05):
        """probe_weighted over UDP: count flows of one datagram (a backend is picked per flow),
        every one answered, shares within tolerance of expected (0: none), one retry."""
        return self._weighted(lambda: self.probe_udp(host, port, count=count), count, expected,
                              tolerance)

    def probe_dns(self, host, port, count=5, src=None, timeout=2.0, qname="foo.bar.com"):
        """count DNS queries (TXT qname, each from its own socket) to host:port; returns a
        Tally whose pods are the TXT texts of the valid responses (the stand-in answers its
        pod name); other["bad-response"] counts answers that are not a valid response."""
        cmd = [PYTHON, __file__, "probe-dns", "--count", str(count), "--timeout", str(timeout),
               "--qname", qname, target_text(host, port)]
        out = self.exec(src or self.client, cmd, timeout=count * (timeout + 0.5) + 30).stdout
        return Tally(json.loads(out)[0])

    def stream(self, host, port, interval=0.01, src=None):
        """One UDP flow from src (default: the client) to host:port, a datagram every interval
        seconds from one source port, kept until close() (see Stream)."""
        cmd = ["ip", "netns", "exec", src or self.client, PYTHON, __file__, "stream",
               "--interval", str(interval), target_text(host, port)]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        return Stream(p)

    def hold(self, host, port, src=None):
        """Opens one long-lived connection (see Held)."""
        cmd = ["ip", "netns", "exec", src or self.client, PYTHON, __file__, "hold",
               target_text(host, port)]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        return Held(p)

    # -- building from manifests -------------------------------------------------------

    def add_pods_from_slices(self, docs, echo=False, services=None):
        """Creates one pod per EndpointSlice endpoint (merged across slices by targetRef name,
        so a dual-stack pod is one namespace with both addresses), listening on the slice's
        ports. Not-ready endpoints get a pod and a server too: tests prove they get nothing."""
        pods = {}
        for d in docs:
            if not d or d.get("kind") != "EndpointSlice":
                continue
            svc = (d.get("metadata", {}).get("labels") or {}).get("kubernetes.io/service-name")
            if services is not None and svc not in services:
                continue
            slice_ports = [p for p in d.get("ports") or [] if p.get("port")]
            ports = [p["port"] for p in slice_ports if p.get("protocol", "TCP") != "UDP"]
            udp = [p["port"] for p in slice_ports if p.get("protocol") == "UDP"]
            for i, ep in enumerate(d.get("endpoints") or []):
                ref = (ep.get("targetRef") or {}).get("name")
                for a in ep["addresses"]:
                    key = ref or "%s-%s" % (svc, a)
                    pod = pods.setdefault(key, {"v4": [], "v6": [], "ports": set(),
                                                "udp_ports": set(), "service": svc})
                    pod["v6" if family_of(a) == 6 else "v4"].append(a)
                    pod["ports"].update(ports)
                    pod["udp_ports"].update(udp)
        for name, p in sorted(pods.items()):
            self.add_pod(name, p["v4"], p["v6"], sorted(p["ports"]), p["service"], echo=echo,
                         udp_ports=sorted(p["udp_ports"]))
        return pods


    def build(self, paths, echo=False, services=None, node_local=(), node_local_udp=()):
        """Pods from the EndpointSlices in paths, servers on the node for node_local (TCP) and
        node_local_udp ports, then waits until everything answers. Returns the documents."""
        docs = load_docs(paths)
        self.add_pods_from_slices(docs, echo=echo, services=services)
        for port in node_local:
            self.start_node_local(port)
        for port in node_local_udp:
            self.start_node_local_udp(port)
        self.ready()
        return docs


class Held:
    """One connection kept open by `netns.py hold` in the client namespace."""

    def __init__(self, proc):
        self.proc = proc
        self.greeting = self._line(10)

    def _line(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise RuntimeError("held connection: no answer within %ss" % timeout)
        return self.proc.stdout.readline().strip()

    def echo(self, text, timeout=5):
        """Sends one line through the held connection; returns what came back."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._line(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)


class Stream:
    """One UDP flow kept by `netns.py stream`: a numbered datagram every interval seconds from
    one source port; a reader thread collects one event per answer (seq, pod) or error."""

    def __init__(self, proc):
        import threading
        self.proc = proc
        self.events = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.sport = self._wait(lambda e: "sport" in e, 10, "the stream's start")["sport"]

    def _read(self):
        try:
            for line in self.proc.stdout:
                with self.cond:
                    try:
                        self.events.append(json.loads(line))
                    except ValueError:
                        self.events.append({"bad": line})
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass  # Sandbox.close() closed the pipe under us
        with self.cond:
            self.events.append({"exited": True})
            self.cond.notify_all()

    def _wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or any("exited" in e for e in self.events):
                    raise AssertionError("stream: no %s within %ss; last events: %s"
                                         % (what, timeout, self.events[-10:]))
                self.cond.wait(left)

    def mark(self):
        """The seq of the next datagram the stream sends: answers to it and later ones were
        sent after this call."""
        with self.cond:
            n = sum(1 for e in self.events if "mark" in e)
        self.proc.stdin.write("mark\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + 10
        with self.cond:
            while True:
                marks = [e["mark"] for e in self.events if "mark" in e]
                if len(marks) > n:
                    return marks[n]
                left = deadline - time.monotonic()
                if left <= 0 or any("exited" in e for e in self.events):
                    raise AssertionError("stream: no mark within 10s; last events: %s"
                                         % self.events[-10:])
                self.cond.wait(left)

    def answers(self, since=0):
        """(seq, pod) of every answer to a datagram numbered since or later, in arrival order."""
        with self.cond:
            return [(e["seq"], e["pod"]) for e in self.events
                    if "pod" in e and e.get("seq", -1) >= since]

    def errors(self, since=0):
        with self.cond:
            return [e for e in self.events if "error" in e and e.get("next", 0) >= since]

    def wait_answers(self, since, n, timeout=10.0):
        """At least n answers to datagrams numbered since or later (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.answers(since)
            if len(got) >= n:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("stream: %d answers since seq %d within %ss, wanted %d; "
                                     "last events: %s" % (len(got), since, timeout, n,
                                                          self.events[-10:]))
            with self.cond:
                self.cond.wait(min(left, 0.1))

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)


# ---- the in-namespace client -----------------------------------------------------------


def parse_target(t):
    if t.startswith("["):
        host, _, port = t[1:].partition("]:")
    else:
        host, _, port = t.rpartition(":")
    return host, int(port)


def connect(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(256)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()


def probe_one(host, port, count, timeout):
    res = {"target": target_text(host, port), "n": count, "pods": {}, "peers": {},
           "ports": {}, "reset": 0, "timeout": 0, "eof": 0, "other": {}}
    for _ in range(count):
        try:
            s = connect(host, port, timeout)
            try:
                line = read_line(s)
            finally:
                s.close()
        except (ConnectionRefusedError, ConnectionResetError):
            res["reset"] += 1
            continue
        except socket.timeout:
            res["timeout"] += 1
            continue
        except OSError as e:
            key = errno.errorcode.get(e.errno, str(e))
            res["other"][key] = res["other"].get(key, 0) + 1
            continue
        fields = fields_of(line)
        if "pod" not in fields:
            res["eof"] += 1
            continue
        count_answer(res, fields)
    return res


def udp_socket(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def fields_of(text):
    return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)


def count_answer(res, fields):
    pod = fields["pod"]
    res["pods"][pod] = res["pods"].get(pod, 0) + 1
    peer = fields.get("peer", "")
    peer_host = parse_target(peer)[0] if peer else ""
    peers = res["peers"].setdefault(pod, [])
    if peer_host not in peers:
        peers.append(peer_host)
    ports = res["ports"].setdefault(pod, [])
    if int(fields.get("port", 0)) not in ports:
        ports.append(int(fields.get("port", 0)))


FAILED = object()


def udp_try(res, ask):
    """ask() once: its answer, or FAILED after counting in res an ICMP unreachable, a timeout
    or another socket error."""
    try:
        return ask()
    except ConnectionRefusedError:
        res["unreachable"] += 1
    except socket.timeout:
        res["timeout"] += 1
    except OSError as e:
        key = errno.errorcode.get(e.errno, str(e))
        res["other"][key] = res["other"].get(key, 0) + 1
    return FAILED


def udp_tally(host, port, count, per_flow):
    return {"target": target_text(host, port), "n": count * per_flow, "flows": count,
            "proto": "udp", "pods": {}, "peers": {}, "ports": {}, "reset": 0, "timeout": 0,
            "eof": 0, "unreachable": 0, "other": {}}


def udp_exchange(s, seq, timeout):
    """Sends datagram seq on connected socket s; the fields of its answer. An answer to an
    earlier datagram (late) is skipped; ECONNREFUSED (ICMP port unreachable) and
    socket.timeout propagate."""
    s.send(b"%d" % seq)
    deadline = time.monotonic() + timeout
    while True:
        s.settimeout(max(0.001, deadline - time.monotonic()))
        fields = fields_of(s.recv(2048).decode(errors="replace"))
        if fields.get("seq") == str(seq) or "seq" not in fields:
            return fields
        if time.monotonic() >= deadline:
            raise socket.timeout()


def probe_udp_one(host, port, count, per_flow, timeout):
    res = udp_tally(host, port, count, per_flow)
    seq = 0
    for _ in range(count):
        try:
            s = udp_socket(host, port, timeout)
        except OSError as e:
            key = errno.errorcode.get(e.errno, str(e))
            res["other"][key] = res["other"].get(key, 0) + per_flow
            continue
        with s:
            for _ in range(per_flow):
                seq += 1
                fields = udp_try(res, lambda: udp_exchange(s, seq, timeout))
                if fields is FAILED:
                    continue
                if "pod" not in fields:
                    res["other"]["garbage"] = res["other"].get("garbage", 0) + 1
                    continue
                count_answer(res, fields)
    return res


def cmd_probe_udp(a):
    out = [probe_udp_one(*parse_target(t), a.count, a.per_flow, a.timeout) for t in a.targets]
    json.dump(out, sys.stdout)
    return 0


# -- DNS, written out by hand: a header and one question is all the stand-in understands --

def dns_query(qid, qname, qtype=16):
    """A recursive query for qname (TXT by default) with id qid."""
    name = b"".join(bytes([len(label)]) + label.encode()
                    for label in qname.rstrip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, 1)


def dns_skip_name(msg, off):
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += 1 + n


def dns_txt_answer(query, msg):
    """The text of the first TXT answer of response msg to query, or None if msg is not a
    valid answer to it (id, QR, RCODE, the question echoed, at least one TXT record)."""
    try:
        qid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
        if qid != struct.unpack("!H", query[:2])[0] or not flags & 0x8000 or flags & 0xF:
            return None
        if qd != 1 or an < 1 or msg[12:len(query)] != query[12:]:
            return None
        off = len(query)
        for _ in range(an):
            off = dns_skip_name(msg, off)
            rtype, rclass, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            off += rdlen
            if len(rdata) != rdlen:
                return None
            if rtype == 16 and rclass == 1 and rdata and rdata[0] + 1 <= rdlen:
                return rdata[1:1 + rdata[0]].decode(errors="replace")
        return None
    except (struct.error, IndexError):
        return None


def dns_ask(host, port, qid, qname, timeout):
    """One query from its own socket; the TXT text, or None for a response that is not
    valid. Raises ConnectionRefusedError / socket.timeout / OSError."""
    q = dns_query(qid, qname)
    with udp_socket(host, port, timeout) as s:
        s.send(q)
        return dns_txt_answer(q, s.recv(4096))


def cmd_probe_dns(a):
    host, port = parse_target(a.targets[0])
    res = udp_tally(host, port, a.count, 1)
    for i in range(a.count):
        txt = udp_try(res, lambda: dns_ask(host, port, 0x4e00 + i, a.qname, a.timeout))
        if txt is FAILED:
            continue
        if txt is None:
            res["other"]["bad-response"] = res["other"].get("bad-response", 0) + 1
            continue
        res["pods"][txt] = res["pods"].get(txt, 0) + 1
    json.dump([res], sys.stdout)
    return 0


def cmd_wait_udp(a):
    deadline = time.monotonic() + a.deadline
    targets = [(t, False) for t in a.targets] + [(t, True) for t in a.dns]
    for t, dns in targets:
        host, port = parse_target(t)
        while True:
            try:
                if dns:
                    why = dns_ask(host, port, 1, "ready.test", 0.2) is None and "bad response"
                else:
                    with udp_socket(host, port, 0.2) as s:
                        why = "pod" not in udp_exchange(s, 0, 0.2) and "bad answer"
            except OSError as e:
                why = e
            if not why:
                break
            if time.monotonic() > deadline:
                print("no UDP answer in time: %s (%s)" % (t, why), file=sys.stderr)
                return 1
            # Bounded poll: the server is starting (refused) or the answer was lost.
            time.sleep(0.02)
    return 0


def cmd_stream(a):
    host, port = parse_target(a.target)
    s = udp_socket(host, port, None)
    s.setblocking(False)
    print(json.dumps({"sport": s.getsockname()[1]}), flush=True)
    seq, next_send = 0, time.monotonic()
    stdin = sys.stdin.fileno()
    while True:
        now = time.monotonic()
        if now >= next_send:
            try:
                s.send(b"%d" % seq)
            except OSError as e:  # a pending ICMP error is reported on send as well
                print(json.dumps({"error": errno.errorcode.get(e.errno, str(e)), "next": seq}),
                      flush=True)
            seq += 1
            next_send += a.interval
            if next_send < now:  # fell behind (a slow scheduler): no catching-up burst
                next_send = now + a.interval
            continue
        r, _, _ = select.select([s, stdin], [], [], next_send - now)
        if s in r:
            try:
                f = fields_of(s.recv(2048).decode(errors="replace"))
                print(json.dumps({"seq": int(f.get("seq", -1)), "pod": f.get("pod"),
                                  "peer": f.get("peer")}), flush=True)
            except OSError as e:
                key = errno.errorcode.get(e.errno, str(e))
                print(json.dumps({"error": "unreachable" if e.errno == errno.ECONNREFUSED
                                  else key, "next": seq}), flush=True)
        if stdin in r:
            line = sys.stdin.readline()
            if not line:
                return 0
            if line.strip() == "mark":
                print(json.dumps({"mark": seq}), flush=True)


def cmd_probe(a):
    out = [probe_one(*parse_target(t), a.count, a.timeout) for t in a.targets]
    json.dump(out, sys.stdout)
    return 0


def cmd_wait(a):
    deadline = time.monotonic() + a.deadline
    for t in a.targets:
        host, port = parse_target(t)
        while True:
            try:
                connect(host, port, 1.0).close()
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    print("not reachable in time: %s (%s)" % (t, e), file=sys.stderr)
                    return 1
                # Bounded poll: the server is starting; retry shortly.
                time.sleep(0.02)
    return 0


def cmd_hold(a):
    host, port = parse_target(a.target)
    try:
        s = connect(host, port, 5.0)
        f = s.makefile("rwb", buffering=0)
        print(f.readline().decode().strip(), flush=True)
    except OSError as e:
        print("error %s" % e, flush=True)
        return 1
    for line in sys.stdin:
        try:
            f.write(line.encode())
            back = f.readline().decode().strip()
            print(back if back else "error eof", flush=True)
        except OSError as e:
            print("error %s" % e, flush=True)
    s.close()
    return 0


def main():
    ap = argparse.ArgumentParser(description="traffic client run inside a namespace")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("targets", nargs="+")
    w = sub.add_parser("wait")
    w.add_argument("--deadline", type=float, default=10.0)
    w.add_argument("targets", nargs="+")
    h = sub.add_parser("hold")
    h.add_argument("target")
    u = sub.add_parser("probe-udp")
    u.add_argument("--count", type=int, default=20)
    u.add_argument("--per-flow", type=int, default=1)
    u.add_argument("--timeout", type=float, default=1.0)
    u.add_argument("targets", nargs="+")
    d = sub.add_parser("probe-dns")
    d.add_argument("--count", type=int, default=5)
    d.add_argument("--timeout", type=float, default=2.0)
    d.add_argument("--qname", default="foo.bar.com")
    d.add_argument("targets", nargs=1)
    wu = sub.add_parser("wait-udp")
    wu.add_argument("--deadline", type=float, default=10.0)
    wu.add_argument("--dns", action="append", default=[])
    wu.add_argument("targets", nargs="*")
    st = sub.add_parser("stream")
    st.add_argument("--interval", type=float, default=0.01)
    st.add_argument("target")
    a = ap.parse_args()
    return {"probe": cmd_probe, "wait": cmd_wait, "hold": cmd_hold,
            "probe-udp": cmd_probe_udp, "probe-dns": cmd_probe_dns, "wait-udp": cmd_wait_udp,
            "stream": cmd_stream}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
