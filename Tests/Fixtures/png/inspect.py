#!/usr/bin/env python3
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
"""Reads a PNG (8-bit RGB or RGBA, as Chromium writes them) with the standard library only.

    inspect.py FILE                      -> {"width": W, "height": H}
    inspect.py FILE --at X,Y ...         -> adds "at": {"X,Y": [R, G, B], ...}
    inspect.py FILE --count RRGGBB ...   -> adds "count": {"RRGGBB": pixels within 8 of that colour}
"""
import json
import struct
import sys
import zlib


def read(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
    if depth != 8 or colour not in (2, 6):
        sys.exit(f"{path}: only 8-bit RGB/RGBA is read here (depth {depth}, colour type {colour})")
    step = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * step, [], bytearray(width * step)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - step] if i >= step else 0
            b = previous[i]
            c = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        previous = line
    return width, height, step, rows


def main():
    path, args = sys.argv[1], sys.argv[2:]
    width, height, step, rows = read(path)
    out = {"width": width, "height": height}
    while args:
        flag, value = args[0], args[1]
        args = args[2:]
        if flag == "--at":
            x, y = (int(v) for v in value.split(","))
            out.setdefault("at", {})[value] = list(rows[y][x * step:x * step + 3])
        elif flag == "--count":
            want = [int(value[i:i + 2], 16) for i in (0, 2, 4)]
            count = 0
            for line in rows:
                for x in range(0, width * step, step):
                    if all(abs(line[x + k] - want[k]) <= 8 for k in range(3)):
                        count += 1
            out.setdefault("count", {})[value] = count
    print(json.dumps(out))


main()
