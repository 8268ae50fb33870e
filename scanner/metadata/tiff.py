"""A strict, bounded TIFF/IFD walker: every entry it can recover and every structural problem.

Pillow skips what it cannot read with only a warning, follows no IFD it was not asked for and reads
only the first EXIF block of a JPEG. This walker reads IFD0 and the IFDs chained after it (IFD1 ...),
the SubIFDs an IFD lists (TIFF/DNG), the Exif, GPS and Interop IFDs wherever they are pointed to, and
records each problem (a loop, an entry count or value offset past the block end, a pointer outside the
block, an unknown type) instead of skipping it. A value stored past the block end but inside the buffer
(the rest of the file) is still read, as readers that read from the file do, and recorded as a problem.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

MAX_IFDS = 64            # IFDs read per block; more is a problem (a loop in disguise)
MAX_ENTRIES = 4096       # entries read per IFD; TIFF allows 65535 but no real IFD comes near this
MAX_PROBLEMS = 8         # problems kept per block, so a hostile block cannot flood the report
ENTRY_SIZE = 12
SUB_IFDS = {0x8769: "Exif", 0x8825: "GPS", 0xA005: "Interop"}
SUBIFD_LIST = 0x014A  # SubIFDs (TIFF 6 / DNG: full-size or reduced pictures); each may point to an Exif or GPS IFD
# type -> (struct code, bytes per value)
TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1), 7: ("s", 1),
         8: ("h", 2), 9: ("i", 4), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8), 13: ("I", 4)}


@dataclass(frozen=True, slots=True)
class Ifd:
    name: str                   # IFD0, IFD1 ..., Exif, GPS, Interop
    offset: int
    entries: dict[int, Any]     # tag -> decoded value (bytes, str, int/float tuples); None if unreadable


@dataclass(frozen=True, slots=True)
class Walk:
    ifds: tuple[Ifd, ...]
    problems: tuple[str, ...]

    def named(self, name: str) -> list[Ifd]:
        return [ifd for ifd in self.ifds if ifd.name == name]


class _Reader:
    """Reads one TIFF structure at `base` of `buf`; offsets are relative to `base`, the block ends at `end`."""

    def __init__(self, buf: bytes, base: int, end: int) -> None:
        self.buf, self.base, self.end = buf, base, end
        self.order = "<" if buf[base : base + 2] == b"II" else ">"
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("more problems not listed")

    def fits(self, offset: int, size: int, what: str) -> bool:
        """True when [offset, offset+size) can be read; a read past the block end is a problem."""
        start = self.base + offset
        if offset < 0 or start + size > len(self.buf):
            self.problem(f"{what} at offset {offset} lies outside the data")
            return False
        if start >= self.end:
            self.problem(f"{what} at offset {offset} lies outside the block (read from the bytes after it)")
        elif start + size > self.end:
            self.problem(f"{what} at offset {offset} runs past the end of the block")
        return True

    def unpack(self, code: str, offset: int) -> tuple[Any, ...]:
        return struct.unpack_from(self.order + code, self.buf, self.base + offset)


def walk(buf: bytes, base: int = 0, end: int | None = None) -> Walk:
    """Every IFD of the TIFF structure at `buf[base:]` (block ending at `end`), and what was wrong."""
    reader = _Reader(buf, base, len(buf) if end is None else min(end, len(buf)))
    head = buf[base : base + 8]
    if len(head) < 8 or head[:4] not in (b"II*\x00", b"MM\x00*"):
        return Walk((), ("TIFF header unreadable",))
    queue: list[tuple[str, int]] = [("IFD0", reader.unpack("I", 4)[0])]
    seen: set[int] = set()
    ifds: list[Ifd] = []
    while queue:
        name, offset = queue.pop(0)
        if offset in seen:
            reader.problem(f"IFD loop: {name} points back to the IFD at offset {offset}")
            continue
        if len(seen) >= MAX_IFDS:
            reader.problem(f"more than {MAX_IFDS} IFDs")
            break
        seen.add(offset)
        ifd, following = _read_ifd(reader, name, offset)
        if ifd is not None:
            ifds.append(ifd)
            queue.extend(following)
    return Walk(tuple(ifds), tuple(reader.problems))


def _read_ifd(reader: _Reader, name: str, offset: int) -> tuple[Ifd | None, list[tuple[str, int]]]:
    """One IFD and the IFDs it points to (sub-IFDs, and the next IFD of the IFD0 chain)."""
    if offset < 8 or not reader.fits(offset, 2, f"{name} directory"):
        if offset < 8:
            reader.problem(f"{name} pointer {offset} points into the header")
        return None, []
    (count,) = reader.unpack("H", offset)
    inside = reader.base + offset + 2 <= reader.end  # a directory inside the block is cut at its end
    available = ((reader.end if inside else len(reader.buf)) - reader.base - offset - 2) // ENTRY_SIZE
    if inside and offset + 2 + count * ENTRY_SIZE + 4 > reader.end - reader.base:
        reader.problem(f"{name} entry count {count} runs past the end of the block")
    entries: dict[int, Any] = {}
    following: list[tuple[str, int]] = []
    for i in range(min(count, available, MAX_ENTRIES)):
        tag, value = _read_entry(reader, name, offset + 2 + i * ENTRY_SIZE)
        entries[tag] = value
        if tag in SUB_IFDS and value:  # an empty pointer (count 0) points nowhere: no IFD, nothing hidden
            if isinstance(value, tuple) and value and isinstance(value[0], int):
                following.append((SUB_IFDS[tag], value[0]))
            else:
                reader.problem(f"{name} pointer to the {SUB_IFDS[tag]} IFD is not a number")
        elif tag == SUBIFD_LIST and value:  # ExifTool reads a GPS IFD a SubIFD points to
            if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
                following.extend((f"SubIFD{k}", v) for k, v in enumerate(value) if v)
            else:
                reader.problem(f"{name} SubIFDs pointer is not a list of numbers")
    if count > MAX_ENTRIES:
        reader.problem(f"{name} claims {count} entries; only {MAX_ENTRIES} read")
    next_at = offset + 2 + count * ENTRY_SIZE
    if name.startswith("IFD") and count <= available and reader.fits(next_at, 4, f"{name} next-IFD pointer"):
        (nxt,) = reader.unpack("I", next_at)
        if nxt:
            following.append((f"IFD{int(name[3:]) + 1}", nxt))
    return Ifd(name, offset, entries), following


def _read_entry(reader: _Reader, name: str, at: int) -> tuple[int, Any]:
    tag, kind, count = reader.unpack("HHI", at)
    if kind not in TYPES:
        reader.problem(f"{name} tag 0x{tag:04x} has unknown type {kind}")
        return tag, None
    code, size = TYPES[kind]
    total = size * count
    where = at + 8
    if total > 4:
        (where,) = reader.unpack("I", at + 8)
        if not reader.fits(where, total, f"{name} tag 0x{tag:04x} value"):
            return tag, None
    return tag, _decode(reader, code, kind, count, where)


def _decode(reader: _Reader, code: str, kind: int, count: int, where: int) -> Any:
    start = reader.base + where
    if code == "s":
        raw = reader.buf[start : start + count]
        return raw.split(b"\x00", 1)[0].decode("latin-1") if kind == 2 else raw
    values = struct.unpack_from(f"{reader.order}{count * len(code)}{code[0]}", reader.buf, start)
    if len(code) == 2:  # rationals: (num, den) pairs; x/0 is undefined
        return tuple(n / d if d else math.nan for n, d in zip(values[::2], values[1::2], strict=True))
    return values
