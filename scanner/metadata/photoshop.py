"""Photoshop image resource blocks (JPEG APP13 `Photoshop 3.0`): 8BIM records, bounded.

Photoshop keeps copies of EXIF (resources 0x0422, 0x0423), XMP (0x0424) and IPTC (0x0404) here;
ExifTool reads GPS from them, so we do too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

HEADER = b"Photoshop 3.0\x00"
EXIF_RESOURCES = (0x0422, 0x0423)
MAX_RESOURCES = 4096  # records read per segment; a real one holds a few dozen


def resources(body: bytes) -> Iterator[tuple[int, int, int]]:
    """(resource id, data start, data end) in `body` (an APP13 payload); stops at the first bad record."""
    if not body.startswith(HEADER):
        return
    pos, n = len(HEADER), len(body)
    for _ in range(MAX_RESOURCES):
        if pos + 12 > n or body[pos : pos + 4] not in (b"8BIM", b"PHUT", b"DCSR", b"AgHg"):
            return
        (rid,) = struct.unpack(">H", body[pos + 4 : pos + 6])
        name_len = body[pos + 6]
        pos += 6 + 1 + name_len + (0 if name_len % 2 else 1)  # Pascal name padded to an even length
        if pos + 4 > n:
            return
        (size,) = struct.unpack(">I", body[pos : pos + 4])
        start = pos + 4
        yield rid, start, min(n, start + size)
        pos = start + size + (size & 1)
