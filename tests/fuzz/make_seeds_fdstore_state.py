#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz target `fdstore_state` (tests/fuzz/corpus/fdstore_state/).

Input (fuzz_fdstore_state.c): the bytes of the fd store's state memfd, as
daemon/fdstore_state.c lays it out (little endian): a 64-byte header
(magic "DMABUFDS", version, header and record sizes, slots, next id, page
size, backend name, CRC-32 of bytes 0..59) and 192-byte slots: buffer
records ("DBR2"; "DBR1" in a version 1 state), import records ("DBI2"),
free slots (zero). Seeds: valid version 2 and version 1 states, and each
way a state is refused (checksums, versions, sizes, fields).
Usage: make_seeds_fdstore_state.py [OUTDIR]
"""
import os
import struct
import sys
import zlib

PAGE = 4096


def header(nslots, next_id, version=2, page=PAGE, backend=b"memfd", hsize=64, rsize=192,
           bad_crc=False):
    h = b"DMABUFDS" + struct.pack("<IIIIQI", version, hsize, rsize, nslots, next_id, page)
    h += backend.ljust(20, b"\0")[:20] + struct.pack("<I", 0)
    crc = zlib.crc32(h) ^ (1 if bad_crc else 0)
    return h + struct.pack("<I", crc)


def seal(body, magic, bad_crc=False):
    """body: bytes 8..191 of a record."""
    assert len(body) == 184
    crc = zlib.crc32(body) ^ (1 if bad_crc else 0)
    return struct.pack("<II", magic, crc) + body


def buffer_rec(bid, size, pid=4242, uid=1000, gid=1000, charged=None, transfers=0,
               comm=b"client", label=b"frame", attr=0, flags=0, version=2, bad_crc=False,
               offset=0):
    cu, cg = charged if charged else (uid, gid)
    b = struct.pack("<QQQQQIIiIII", bid, size, offset, 1700000000000000, 123456, attr, flags,
                    pid, uid, gid, 0)
    b += comm.ljust(16, b"\0")[:16] + label.ljust(64, b"\0")[:64]
    if version >= 2:
        b += struct.pack("<III", cu, cg, transfers) + bytes(28)
        magic = 0x32524244
    else:
        b += bytes(40)
        magic = 0x31524244
    return seal(b, magic, bad_crc)


def import_rec(bid, pid=4343, uid=1001, gid=1001, start=777, when=1700000000000001,
               comm=b"consumer", bad_crc=False):
    b = struct.pack("<QQQiIII", bid, when, start, pid, uid, gid, 0)
    b += comm.ljust(16, b"\0")[:16] + bytes(128)
    return seal(b, 0x32494244, bad_crc)


FREE = bytes(192)


def state(slots, next_id=10, **kw):
    return header(len(slots), next_id, **kw) + b"".join(slots)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fdstore_state")
    os.makedirs(out, exist_ok=True)
    v1 = dict(version=1)
    seeds = {
        "empty_v2": state([FREE, FREE]),
        "one_buffer": state([buffer_rec(1, 2 * PAGE), FREE], next_id=2),
        "shared": state([buffer_rec(3, 8 << 20), import_rec(3), import_rec(3, pid=4444, uid=1002,
                                                                           when=1700000000000005),
                         FREE], next_id=4),
        "charge_kept": state([buffer_rec(5, 4 << 20, uid=1002, gid=1002, charged=(1001, 1001),
                                         transfers=2), import_rec(5)], next_id=6),
        "v1_migrated": state([buffer_rec(1, PAGE, version=1), buffer_rec(2, 3 * PAGE, version=1),
                              FREE], next_id=3, **v1),
        "v1_with_v2_record": state([buffer_rec(1, PAGE)], next_id=2, **v1),
        "v1_with_import": state([buffer_rec(1, PAGE, version=1), import_rec(1)], next_id=2, **v1),
        "v2_with_v1_record": state([buffer_rec(1, PAGE, version=1)], next_id=2),
        "version_3": state([buffer_rec(1, PAGE)], next_id=2, version=3),
        "version_0": state([FREE], version=0),
        "bad_header_crc": state([buffer_rec(1, PAGE)], next_id=2, bad_crc=True),
        "bad_record_crc": state([buffer_rec(1, PAGE, bad_crc=True), import_rec(1, bad_crc=True)],
                                next_id=2),
        "foreign_backend": state([buffer_rec(1, PAGE)], next_id=2, backend=b"kmod"),
        "other_page": state([buffer_rec(1, 16384)], next_id=2, page=16384),
        "truncated": header(4, 5) + buffer_rec(1, PAGE),
        "short_header": header(1, 2)[:40],
        "zero_slots": header(0, 1),
        "huge_slots": header(0xFFFFFFFF, 2) + FREE,
        "id_past_next": state([buffer_rec(9, PAGE), import_rec(9)], next_id=5),
        "odd_size": state([buffer_rec(1, PAGE + 1)], next_id=2),
        "zero_pid": state([buffer_rec(1, PAGE, pid=0), import_rec(1, pid=0)], next_id=2),
        "label_control": state([buffer_rec(1, PAGE, label=b"a\x01b")], next_id=2),
        "unterminated": state([buffer_rec(1, PAGE, comm=b"x" * 16, label=b"y" * 64),
                               import_rec(1, comm=b"z" * 16)], next_id=2),
        "attr_flags": state([buffer_rec(1, PAGE, attr=7, flags=0xFFFF)], next_id=2),
        "dup_ids": state([buffer_rec(1, PAGE), buffer_rec(1, PAGE)], next_id=2),
        "lone_import": import_rec(1) + FREE,
        "lone_buffer": buffer_rec(1, PAGE) + FREE,
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
