#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Seeds for fuzz_conntrack from what a real kernel answered ct_forget_udp().

Insert conntrack entries in a scratch network namespace (`conntrack -I ... -m MARK`), run
a program that calls ct_forget_udp() for MARK under

    strace -f -e trace=recvmsg -e read=all -xx -s 0 -o ct.strace ...

then `ct_seeds_from_strace.py ct.strace OUTDIR NAME MARK[/6] ...` writes NAME-dump (mode 1:
the dump and the deletes' ACKs, over the fake socket) and NAME-parse (mode 0: the same
datagrams, parsed only), in fuzz_conntrack's input format.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_from_strace import datagrams, messages  # noqa: E402


def main():
    path, outdir, name = sys.argv[1:4]
    marks = []
    for m in sys.argv[4:]:
        mark, _, fam = m.partition("/")
        marks.append(struct.pack("<IB", int(mark, 0), 1 if fam == "6" else 0))
    dgrams = datagrams(path)
    _, seq, pid = next(messages(dgrams[0]))
    for mode, suffix in ((1, "dump"), (0, "parse")):
        out = bytearray([mode]) + struct.pack("<II", seq, pid)
        out += bytes([len(marks)]) + b"".join(marks)
        for d in dgrams:
            out += struct.pack("<H", len(d)) + d
        with open(os.path.join(outdir, "%s-%s" % (name, suffix)), "wb") as f:
            f.write(out)


if __name__ == "__main__":
    main()
