#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny TCP backend for the end-to-end tests: it plays one pod.

Every accepted connection first gets one line naming the pod and the peer address the pod
saw (`pod=foo-1 peer=198.51.100.2:40000 port=7000`). In the default mode the connection is
then closed; with --echo it stays open and every line the client sends comes back, so a test
can hold a connection across a re-apply.

Runs inside a pod network namespace (`ip netns exec NS python3 echo_server.py ...`). It
listens on the IPv6 wildcard with IPV6_V6ONLY off, so one socket per port serves IPv4 and
IPv6. When every port is listening it prints `listening` on stdout; the harness still checks
readiness by connecting.
"""
import argparse
import selectors
import signal
import socket
import sys


def peer_text(addr):
    host, port = addr[0], addr[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def listen(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((host, port))
    s.listen(512)
    s.setblocking(False)
    return s


class Server:
    def __init__(self, name, echo):
        self.name = name
        self.echo = echo
        self.sel = selectors.DefaultSelector()
        self.buffers = {}

    def add_listener(self, sock):
        self.sel.register(sock, selectors.EVENT_READ, ("listen", sock.getsockname()[1]))

    def accept(self, lsock, port):
        try:
            conn, addr = lsock.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        line = "pod=%s peer=%s port=%d\n" % (self.name, peer_text(addr), port)
        conn.setblocking(True)
        try:
            conn.sendall(line.encode())
        except OSError:
            conn.close()
            return
        if not self.echo:
            conn.close()
            return
        conn.setblocking(False)
        self.buffers[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, ("conn", port))

    def drop(self, conn):
        self.sel.unregister(conn)
        self.buffers.pop(conn, None)
        conn.close()

    def serve_conn(self, conn):
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(conn)
            return
        if not data:
            self.drop(conn)
            return
        buf = self.buffers[conn] + data
        *lines, rest = buf.split(b"\n")
        self.buffers[conn] = rest
        try:
            conn.setblocking(True)
            for line in lines:
                conn.sendall(line + b"\n")
            conn.setblocking(False)
        except OSError:
            self.drop(conn)

    def run(self):
        while True:
            for key, _ in self.sel.select():
                what, port = key.data
                if what == "listen":
                    self.accept(key.fileobj, port)
                else:
                    self.serve_conn(key.fileobj)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="the pod name put in every greeting")
    ap.add_argument("--port", type=int, action="append", required=True,
                    help="a port to listen on (repeatable)")
    ap.add_argument("--host", default="::",
                    help="address to bind (default :: = every address, both families)")
    ap.add_argument("--echo", action="store_true",
                    help="keep connections open and echo each line back")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = Server(a.name, a.echo)
    for port in a.port:
        srv.add_listener(listen(a.host, port))
    print("listening", flush=True)
    try:
        srv.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
