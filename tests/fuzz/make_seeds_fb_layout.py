#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz target `fb_layout` (tests/fuzz/corpus/fb_layout/).

Input (fuzz_fb_layout.c), little endian: mode u8; for modes 0/1 a request
width u32, height u32, format selector u8 (even: table index << 1; odd: raw
fourcc u32 follows), modifier selector u8 (0 LINEAR, 1 INVALID, else raw
u64 follows; bit 7: keep unknown usage bits), usage u32. Mode 1 first
carries (mode >> 2) % 5 rule overrides: value length u8, usage index u8,
key index u8, value bytes. Mode 2: a raw struct fb_layout. Mode 3: a string.
Usage: make_seeds_fb_layout.py [OUTDIR]
"""
import os
import struct
import sys

SCANOUT, RENDER, TEXTURE, VDEC, VENC, CAMERA, CPU_R, CPU_W = (1 << i for i in range(8))


def fourcc(s):
    return struct.unpack("<I", s.encode())[0]


def req(w, h, fmt, usage, modifier=0, raw_usage=False):
    out = struct.pack("<II", w, h)
    if isinstance(fmt, str):
        out += struct.pack("<BI", 1, fourcc(fmt))
    else:
        out += struct.pack("<B", (fmt << 1) & 0xFF)
    sel = 0 if modifier == 0 else 2
    if modifier == "invalid":
        sel = 1
    if raw_usage:
        sel |= 0x80
    out += struct.pack("<B", sel)
    if sel & 0x7F == 2:
        out += struct.pack("<Q", modifier)
    return out + struct.pack("<I", usage)


def override(usage_idx, key_idx, value):
    v = value.encode()
    return struct.pack("<BBB", len(v), usage_idx, key_idx) + v


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fb_layout")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "xrgb_1080p_scanout": b"\x00" + req(1920, 1080, "XR24", SCANOUT | RENDER),
        "nv12_odd": b"\x00" + req(1279, 719, "NV12", VDEC | SCANOUT),
        "yuv420_camera": b"\x00" + req(641, 481, "YU12", CAMERA | CPU_R),
        "yuyv": b"\x00" + req(33, 17, "YUYV", VENC),
        "table_index": b"\x00" + req(4096, 2160, 5, TEXTURE | CPU_W),
        "max_dims": b"\x00" + req(16384, 16384, "AR24", RENDER),
        "too_big": b"\x00" + req(0xFFFFFFFF, 0x80000000, "XR24", SCANOUT),
        "modifier": b"\x00" + req(64, 64, "XR24", RENDER, modifier=0x0100000000000001),
        "invalid_mod": b"\x00" + req(64, 64, "XR24", RENDER, modifier="invalid"),
        "unknown_usage": b"\x00" + req(64, 64, "XR24", 0xFFFF0000, raw_usage=True),
        "rules": bytes([1 | (3 << 2)]) + override(2, 0, "4096") + override(1, 7, "65536")
        + override(3, 6, "yuv") + req(1920, 1080, "NV12", SCANOUT | RENDER),
        "rules_bad": bytes([1 | (2 << 2)]) + override(0, 0, "3") + override(1, 8, "0x10")
        + req(100, 100, "XR24", RENDER),
        "validate": b"\x02" + struct.pack("<IIIQI4I4I4QQI", 1920, 1080, fourcc("XR24"), 0, 1,
                                          0, 0, 0, 0, 7680, 0, 0, 0, 8294400, 0, 0, 0,
                                          8294400, 1080),
        "names": b"\x03" + b"DRM_FORMAT_NV12",
        "usages": b"\x03" + b"scanout,render,cpu-read",
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
