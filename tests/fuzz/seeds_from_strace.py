#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Seeds for fuzz_netlink from what a real kernel answered nftgate.

Record an apply in a scratch network namespace, with every datagram nftgate receives dumped:

    ip netns add scratch
    strace -f -e trace=recvmsg -e read=all -xx -s 0 -o apply.strace \
        ip netns exec scratch build/nftgate apply -f examples/basic-tcp --state-dir DIR
    ip netns del scratch

then `seeds_from_strace.py apply.strace OUTDIR NAME` writes one seed per conversation, in
fuzz_netlink's input format (mode byte, first seq, port id, then u16-length-prefixed
datagrams): the feature probe's replies (mode 3), the snapshot's GETGEN and dumps (mode 1),
the GETOBJ replies of a snapshot taken from the committed record (mode 4), and the apply
batch's replies (modes 2 and 0).
"""
import re
import struct
import sys

NEWGEN = (10 << 8) | 15
NEWOBJ = (10 << 8) | 18
NLMSG_ERROR = 2


def datagrams(path):
    """Every datagram received, in order, as bytes."""
    out, cur = [], None
    for line in open(path):
        if re.search(r"recvmsg\(.*\) = \d+$", line.rstrip()):
            cur = bytearray()
            out.append(cur)
        elif cur is not None and line.lstrip().startswith("|"):
            hexpart = line.split("|")[1][7:56]
            cur.extend(bytes.fromhex(hexpart.replace(" ", "")))
        elif "recvmsg(" in line:
            cur = None
    return [bytes(d) for d in out if d]


def messages(d):
    off = 0
    while off + 16 <= len(d):
        ln, typ, flags, seq, pid = struct.unpack_from("<IHHII", d, off)
        if ln < 16:
            break
        yield typ, seq, pid
        off += (ln + 3) & ~3


def seed(mode, dgrams):
    typ, seq, pid = next(messages(dgrams[0]))
    out = bytearray([mode]) + struct.pack("<II", seq, pid)
    for d in dgrams:
        out += struct.pack("<H", len(d)) + d
    return bytes(out)


def main():
    path, outdir, name = sys.argv[1:4]
    ds = datagrams(path)
    gens = [i for i, d in enumerate(ds) if any(t == NEWGEN for t, _, _ in messages(d))]
    if len(gens) < 2:
        sys.exit("no snapshot conversation (two GETGEN replies) in " + path)
    last_gen_seq = next(s for t, s, _ in messages(ds[gens[1]]) if t == NEWGEN)
    end = next(i for i in range(gens[1], len(ds))
               if any(t == NLMSG_ERROR and s == last_gen_seq for t, s, _ in messages(ds[i])))
    take, batch = ds[gens[0]:end + 1], ds[end + 1:]
    seeds = {"probe": (3, ds[:gens[0]]), "take": (1, take)}
    objs = [d for d in take if any(t == NEWOBJ for t, _, _ in messages(d))]
    if objs:
        seeds["getobj"] = (4, objs)
    if batch:
        seeds["batch"] = (2, batch)
        seeds["replies"] = (0, batch)
    for what, (mode, dg) in seeds.items():
        if dg:
            with open("%s/%s-%s" % (outdir, name, what), "wb") as f:
                f.write(seed(mode, dg))


if __name__ == "__main__":
    main()
