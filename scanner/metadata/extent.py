"""Where a GIF or TIFF image ends: the GIF trailer after its blocks, the furthest byte a TIFF's IFDs,
values, strips and tiles use. What lies beyond is trailing data."""

from __future__ import annotations

import struct

from ..errors import UnsupportedItem

MAX_IFDS = 1_000  # IFDs walked (chain, SubIFDs, Exif, GPS, Interop) before the file is called malformed
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_IFD_POINTERS = {0x014A, 0x8769, 0x8825, 0xA005}  # SubIFDs, Exif, GPS, Interoperability
_DATA_PAIRS = ((0x0111, 0x0117), (0x0144, 0x0145), (0x0201, 0x0202))  # strips, tiles, JPEG thumbnail
_GIF_TRAILER, _GIF_EXTENSION, _GIF_IMAGE = 0x3B, 0x21, 0x2C


def _sub_blocks(data: bytes, pos: int) -> int:
    while True:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def gif_end(data: bytes) -> int | None:
    """Offset just past the 0x3B trailer, walking the GIF's blocks; None when the blocks run out first."""
    try:
        packed = data[10]
        pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
        while True:
            block = data[pos]
            if block == _GIF_TRAILER:
                return pos + 1
            if block == _GIF_EXTENSION:
                pos = _sub_blocks(data, pos + 2)
            elif block == _GIF_IMAGE:
                local = data[pos + 9]
                pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
                pos = _sub_blocks(data, pos + 1)
            else:
                return None
    except IndexError:
        return None


class _Tiff:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.order = "<" if data[:2] == b"II" else ">"
        self.end = 8
        self.seen: set[int] = set()

    def values(self, kind: int, count: int, at: int) -> list[int]:
        fmt = {3: "H", 4: "I", 13: "I"}.get(kind)
        if fmt is None:
            return []
        return list(struct.unpack(f"{self.order}{count}{fmt}", self.data[at : at + count * _TYPE_SIZES[kind]]))

    def ifd(self, offset: int) -> None:
        while offset and offset not in self.seen:
            if len(self.seen) >= MAX_IFDS:
                raise struct.error("too many IFDs")
            self.seen.add(offset)
            (count,) = struct.unpack(self.order + "H", self.data[offset : offset + 2])
            self.end = max(self.end, offset + 2 + 12 * count + 4)
            tags = {}
            for i in range(count):
                entry = offset + 2 + 12 * i
                tag, kind, n = struct.unpack(self.order + "HHI", self.data[entry : entry + 8])
                size = _TYPE_SIZES.get(kind, 1) * n
                at = entry + 8
                if size > 4:
                    (at,) = struct.unpack(self.order + "I", self.data[entry + 8 : entry + 12])
                    self.end = max(self.end, at + size)
                tags[tag] = self.values(kind, n, at) if n <= 1 << 20 else []
            for tag in _IFD_POINTERS & tags.keys():
                for pointer in tags[tag]:
                    self.ifd(pointer)
            for offsets, counts in _DATA_PAIRS:
                for start, length in zip(tags.get(offsets, ()), tags.get(counts, ()), strict=False):
                    self.end = max(self.end, start + length)
            (offset,) = struct.unpack(self.order + "I", self.data[offset + 2 + 12 * count : offset + 6 + 12 * count])


def tiff_end(data: bytes) -> int | None:
    """The furthest byte a classic TIFF uses; past the end of the file when it is cut."""
    if data[2:4] not in (b"*\x00", b"\x00*"):
        raise UnsupportedItem("BigTIFF layout is not walked: bytes outside the image were not checked")
    walker = _Tiff(data)
    try:
        (first,) = struct.unpack(walker.order + "I", data[4:8])
        walker.ifd(first)
    except struct.error:
        return len(data) + 1  # an IFD or value runs past the end: truncated
    return walker.end
