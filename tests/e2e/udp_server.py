#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny UDP backend for the end-to-end tests: it plays one pod, as echo_server.py does for TCP.

Every datagram on a --port gets one datagram back naming the pod, the peer the pod saw and
the local port (`pod=foo-1 peer=198.51.100.2:40000 port=7000`, the fields of echo_server.py's
greeting). A datagram that is a decimal number N gets ` seq=N` appended, so that a client
sending a stream on one flow can match answers to requests.

On a --dns port it is the tests' stand-in for CoreDNS `whoami`: a query (header and one
question, parsed by hand) for any name and type gets a valid response with one TXT record
whose text is the pod name; what does not parse as a query is ignored.

Runs inside a pod network namespace. Each socket is bound to the IPv6 wildcard with
IPV6_V6ONLY off, so one socket per port serves IPv4 and IPv6. When every port is bound it
prints `listening` on stdout; the harness still checks readiness with a datagram.
"""
import argparse
import selectors
import signal
import socket
import struct
import sys

from echo_server import peer_text  # the same peer text as the TCP pods' greeting

DNS_TXT, DNS_IN = 16, 1


def bind(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s.bind((host, port))
    s.setblocking(False)
    return s


def source_of(anc):
    """Ancillary data that sends the answer from the address the datagram was sent to: a
    wildcard socket would otherwise pick the route's source, and on a node with several
    addresses a connected client would drop an answer from another one."""
    for level, kind, data in anc:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 16:
            # in6_pktinfo: the address, and interface 0 so that routing picks the way out
            return [(level, kind, data[:16] + struct.pack("=I", 0))]
    return []


def dns_question_end(msg):
    """The offset just past the first question of a DNS query, or None if msg is not one."""
    if len(msg) < 12:
        return None
    flags, qdcount = struct.unpack("!HH", msg[2:6])
    if flags & 0x8000 or qdcount < 1:  # a response, or no question
        return None
    off = 12
    while True:
        if off >= len(msg):
            return None
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0:  # a compression pointer has no place in the first name of a query
            return None
        off += 1 + n
    if off + 4 > len(msg):
        return None
    return off + 4


def dns_answer(msg, text):
    """A response to query msg holding its first question and one TXT record `text`."""
    end = dns_question_end(msg)
    if end is None:
        return None
    qid, flags = struct.unpack("!HH", msg[:4])
    # QR=1, the query's opcode and RD, AA=1, RCODE=0
    rflags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100)
    header = struct.pack("!HHHHHH", qid, rflags, 1, 1, 0, 0)
    data = text.encode()[:255]
    rdata = bytes([len(data)]) + data
    # the owner name is a pointer to the question's name at offset 12
    answer = struct.pack("!HHHIH", 0xC00C, DNS_TXT, DNS_IN, 0, len(rdata)) + rdata
    return header + msg[12:end] + answer


class Server:
    def __init__(self, name):
        self.name = name
        self.sel = selectors.DefaultSelector()

    def add(self, sock, dns):
        self.sel.register(sock, selectors.EVENT_READ, (sock.getsockname()[1], dns))

    def reply(self, data, addr, port, dns):
        if dns:
            return dns_answer(data, self.name)
        line = "pod=%s peer=%s port=%d" % (self.name, peer_text(addr), port)
        text = data.strip()
        if text.isdigit() and len(text) <= 20:
            line += " seq=%s" % text.decode()
        return (line + "\n").encode()

    def serve(self, sock, port, dns):
        # Drain what is queued: a burst of datagrams is answered in one wakeup.
        while True:
            try:
                data, anc, _, addr = sock.recvmsg(2048, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # An ICMP error for an earlier answer (the client went away): not ours.
                continue
            out = self.reply(data, addr, port, dns)
            if out is None:
                continue
            try:
                sock.sendmsg([out], source_of(anc), 0, addr)
            except OSError:
                pass

    def run(self):
        while True:
            for key, _ in self.sel.select():
                port, dns = key.data
                self.serve(key.fileobj, port, dns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="the pod name put in every answer")
    ap.add_argument("--port", type=int, action="append", default=[],
                    help="a UDP port answered with the pod line (repeatable)")
    ap.add_argument("--dns", type=int, action="append", default=[],
                    help="a UDP port answered as a DNS server (repeatable)")
    ap.add_argument("--host", default="::",
                    help="address to bind (default :: = every address, both families)")
    a = ap.parse_args()
    if not a.port and not a.dns:
        ap.error("give at least one --port or --dns")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = Server(a.name)
    for port in a.port:
        srv.add(bind(a.host, port), False)
    for port in a.dns:
        srv.add(bind(a.host, port), True)
    print("listening", flush=True)
    try:
        srv.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
