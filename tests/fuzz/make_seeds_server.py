#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz target `server` (tests/fuzz/corpus/server/).

Record framing (see fuzz_server.c): ctrl:u8, len:u16le, data. ctrl bits:
0-2 nfds, 3 memfds instead of /dev/null, 4 no drain, 5 connection 1,
6 close after, 7 oversize. Messages are hand-encoded protobuf
(proto/dmabufd.proto), so the seeds need no protobuf tooling.
Usage: make_seeds_server.py [OUTDIR]
"""
import os
import struct
import sys


def varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, v):
    return varint(field << 3) + varint(v)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint((field << 3) | 2) + varint(len(data)) + data


def request(rid, body_field, body):
    return f_varint(1, rid) + f_bytes(body_field, body)


def hello(rid=1, version=1, name="fuzz"):
    return request(rid, 10, f_varint(1, version) + f_bytes(2, name))


def alloc(rid, size, alignment=0, attribute=0, flags=0, label=""):
    body = f_varint(1, size)
    if alignment:
        body += f_varint(2, alignment)
    if attribute:
        body += f_varint(3, attribute)
    if flags:
        body += f_varint(4, flags)
    if label:
        body += f_bytes(5, label)
    return request(rid, 11, body)


def release(rid, buffer_id):
    return request(rid, 12, f_varint(1, buffer_id))


def list_(rid, start_after=0, max_entries=0):
    body = b""
    if start_after:
        body += f_varint(1, start_after)
    if max_entries:
        body += f_varint(2, max_entries)
    return request(rid, 13, body)


def stats(rid):
    return request(rid, 14, b"")


def f_fixed32(field, v):
    return varint((field << 3) | 5) + struct.pack("<I", v)


def f_fixed64(field, v):
    return varint((field << 3) | 1) + struct.pack("<Q", v)


def framebuffer(rid, width, height, fourcc, usage, modifier=0, label="fb"):
    body = f_varint(1, width) + f_varint(2, height) + f_fixed32(3, fourcc)
    if modifier:
        body += f_fixed64(4, modifier)
    body += f_varint(5, usage)
    if label:
        body += f_bytes(8, label)
    return request(rid, 15, body)


def fourcc(s):
    return struct.unpack("<I", s.encode())[0]


def share(rid, buffer_id, uids=(), single_use=False, expiry=0):
    body = f_varint(1, buffer_id)
    for u in uids:
        body += f_varint(2, u)
    if single_use:
        body += f_varint(5, 1)
    if expiry:
        body += f_varint(6, expiry)
    return request(rid, 16, body)


def import_(rid, token):
    return request(rid, 17, f_bytes(1, token))


def unshare(rid, token):
    return request(rid, 18, f_bytes(1, token))


def revoke(rid, buffer_id):
    return request(rid, 19, f_varint(1, buffer_id))


def accounting(rid, kind=0, start_after=0, max_entries=0):
    body = b""
    if kind:
        body += f_varint(1, kind)
    if start_after:
        body += f_varint(2, start_after)
    if max_entries:
        body += f_varint(3, max_entries)
    return request(rid, 20, body)


def rec(data, nfds=0, memfd=False, nodrain=False, conn=0, close=False, oversize=False):
    ctrl = (nfds & 7) | (8 if memfd else 0) | (16 if nodrain else 0) \
        | (32 if conn else 0) | (64 if close else 0) | (128 if oversize else 0)
    return struct.pack("<BH", ctrl, len(data)) + data


SEEDS = {
    "hello": [rec(hello())],
    "alloc_release": [rec(hello()), rec(alloc(2, 4096, label="seed")), rec(stats(3)),
                      rec(list_(4)), rec(release(5, 1)), rec(stats(6))],
    "alloc_then_close": [rec(hello()), rec(alloc(2, 8192)), rec(alloc(3, 65536)),
                         rec(alloc(4, 12345), close=True)],
    "two_clients": [rec(hello()), rec(hello(), conn=1),
                    rec(alloc(2, 4096)), rec(release(3, 1), conn=1),
                    rec(list_(4), conn=1), rec(alloc(5, 4096), conn=1),
                    rec(release(6, 2)), rec(release(7, 1))],
    "before_hello": [rec(alloc(1, 4096)), rec(stats(2)), rec(hello(3, version=7)),
                     rec(hello(4)), rec(hello(5))],
    "with_fds": [rec(hello()), rec(alloc(2, 4096), nfds=2, memfd=True),
                 rec(stats(3), nfds=7), rec(release(4, 1), nfds=1)],
    "oversize": [rec(hello()), rec(stats(2), oversize=True), rec(stats(3))],
    "garbage": [rec(hello()), rec(b"\xff" * 16), rec(b"\x9a\x06\x00\x08\x05"),
                rec(alloc(2, 4096)[:-3]), rec(b"\x08")],
    "backpressure": [rec(hello())] + [rec(stats(i), nodrain=True) for i in range(2, 40)]
                    + [rec(alloc(40, 4096), nodrain=True)] * 4 + [rec(list_(50))],
    "alloc_limits": [rec(hello()), rec(alloc(2, 0)), rec(alloc(3, (1 << 64) - 1)),
                     rec(alloc(4, 1 << 21)), rec(alloc(5, 4096, alignment=3)),
                     rec(alloc(6, 4096, alignment=1 << 30)),
                     rec(alloc(7, 4096, attribute=1)), rec(alloc(8, 4096, attribute=9)),
                     rec(alloc(9, 4096, flags=0xffffffff)),
                     rec(alloc(10, 4096, label="x" * 64)),
                     rec(alloc(11, 4096, label="bad\nlabel"))]
                    + [rec(alloc(20 + i, 128 * 1024)) for i in range(10)]
                    + [rec(stats(40))],
    "list_pages": [rec(hello())] + [rec(alloc(2 + i, 4096)) for i in range(8)]
                  + [rec(list_(20, 0, 3)), rec(list_(21, 3, 3)), rec(list_(22, 99, 1 << 31)),
                     rec(list_(23, (1 << 64) - 1))],
    "framebuffer": [rec(hello()), rec(framebuffer(2, 64, 64, fourcc("XR24"), 2)),
                    rec(framebuffer(3, 1279, 719, fourcc("NV12"), 1 | 8)),
                    rec(framebuffer(4, 33, 17, fourcc("YUYV"), 16)),
                    rec(framebuffer(5, 0, 64, fourcc("XR24"), 2)),
                    rec(framebuffer(6, 16385, 64, fourcc("XR24"), 2)),
                    rec(framebuffer(7, 64, 64, 0x12345678, 2)),
                    rec(framebuffer(8, 64, 64, fourcc("XR24"), 2, modifier=(1 << 56) | 1)),
                    rec(framebuffer(9, 64, 64, fourcc("XR24"), 0)),
                    rec(framebuffer(10, 4096, 4096, fourcc("AR24"), 2)),
                    rec(list_(11)), rec(release(12, 1)), rec(stats(13))],
    "share": [rec(hello()), rec(alloc(2, 4096)), rec(share(3, 1, uids=(0, 1000))),
              rec(share(4, 1, single_use=True, expiry=5)), rec(share(5, 99)),
              rec(list_(6)), rec(stats(7)), rec(release(8, 1))],
    "import": [rec(hello()), rec(hello(), conn=1), rec(alloc(2, 4096)), rec(share(3, 1)),
               rec(import_(4, b"\0" * 16), conn=1), rec(import_(5, b"short"), conn=1),
               rec(unshare(6, b"\1" * 16)), rec(revoke(7, 1)), rec(release(8, 1))],
    "accounting": [rec(hello()), rec(alloc(2, 4096)), rec(accounting(3)), rec(accounting(4, 1)),
                   rec(accounting(5, 2, 0, 500)), rec(accounting(6, 7, (1 << 64) - 1))],
    "protocol_errors": [rec(hello())] + [rec(b"\xff\xff")] * 20 + [rec(stats(2))],
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "server")
    os.makedirs(out, exist_ok=True)
    for name, records in SEEDS.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(b"".join(records))


if __name__ == "__main__":
    main()
