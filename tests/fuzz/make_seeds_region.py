#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz target `region` (tests/fuzz/corpus/region/).

Input (fuzz_region.c): npages u16le, options u8, then operations decoded by
region_fuzz_step() (region_fuzz_step.c): op u8 (bits 0-2 kind: 0/1 alloc, 2 claim,
3/4 free n-th, 5 reserve/unreserve (bit 7), 6 plan_for + apply,
7 plan_compact + apply; bit 4 movable), a u32be, b u32be (rd32 is big-endian).
Usage: make_seeds_region.py [OUTDIR]
"""
import os
import random
import struct
import sys


def op(kind, a=0, b=0, movable=False, high=False):
    code = kind | (0x10 if movable else 0) | (0x80 if high else 0)
    return struct.pack(">BII", code, a & 0xFFFFFFFF, b & 0xFFFFFFFF)


def header(npages, attr=0, flags=0):
    return struct.pack("<HB", (npages - 1) % 8192, attr | (flags << 2))


def seq(rng, n, npages):
    out = b""
    for _ in range(n):
        kind = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 7])
        out += op(kind, rng.randrange(npages * 2), rng.randrange(1 << 20),
                  movable=rng.random() < 0.5, high=rng.random() < 0.3)
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "region")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "alloc_free": header(64) + op(0, 3, 0) + op(0, 7, 0x100, movable=True) + op(3, 0) + op(3, 0),
        "attributes": header(256, attr=1) + op(0, 15, 0x001) + op(0, 15, 0x002) + op(0, 15, 0x000)
        + op(3, 1) + op(0, 31, 0x102),
        "reserve": header(128) + op(5, 10, 20) + op(0, 50, 0) + op(5, 10, 20, high=True) + op(0, 50, 0),
        "compact": header(512) + b"".join(op(0, 7, 0, movable=True) for _ in range(20))
        + b"".join(op(3, 2 * i) for i in range(8)) + op(7) + op(6, 100, 0x300, movable=True),
        "claim": header(32) + op(2, 3, 5) + op(2, 3, 5) + op(2, 40, 30) + op(3, 0),
        "full": header(16) + b"".join(op(0, 0, 0) for _ in range(20)) + op(6, 3, 0),
        "blind": header(300, attr=2, flags=3) + seq(random.Random(3), 60, 300),
    }
    rng = random.Random(20261122)
    for i in range(5):
        n = rng.choice([8, 100, 1000, 4096])
        seeds["random%d" % i] = header(n, rng.randrange(3), rng.randrange(4)) + seq(rng, 200, n)
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
