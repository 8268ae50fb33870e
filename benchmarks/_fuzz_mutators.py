"""Structure-aware mutators for the metadata fuzz campaign (benchmarks/fuzz_metadata.py).

    mutate(rng, data) -> Mutant(data, mutation, archive)

Each mutator knows one container (JPEG segments, PNG chunks, RIFF chunks, ISOBMFF boxes, TIFF/EXIF
IFDs) or none (bit flips, truncation) and returns None where it does not apply. `archive` is the
(offset, length) of a nested ZIP the mutator placed in the file, so the oracle knows where it is.
Deterministic for a given random.Random.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METADATA_ZONE = 65_536      # most bit flips land here: headers and metadata, not pixel data
ZONE_SHARE = 0.7
STACK_SHARE = 0.2           # a second, simple mutation on top (e.g. an embedded ZIP, then truncated)
MAX_IFDS = 64
_STANDALONE = {0x01, 0xD8} | set(range(0xD0, 0xD8))
_BOX_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"udta", b"iprp", b"ipco", b"edts"}
_SUB_IFDS = (0x8769, 0x8825, 0xA005, 0x014A)  # Exif, GPS, Interop, SubIFDs


@dataclass(frozen=True, slots=True)
class Mutant:
    data: bytes
    mutation: str
    archive: tuple[int, int] | None = None  # where an embedded ZIP was put (offset, length)


Mutator = Callable[[random.Random, bytes], Mutant | None]


def nested_zip() -> bytes:
    """A ZIP holding a ZIP holding a text file (fixed timestamps: same bytes every run)."""
    def _zip(name: str, payload: bytes) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), payload)
        return buf.getvalue()

    return _zip("inner.zip", _zip("secret.txt", b"db_password=not-a-real-secret\n" * 4))


ZIP = nested_zip()


# --- container walkers: (offset of the length field, its size in bytes, ...) ----------------
def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset of the marker, total length incl. marker) of each JPEG header segment, SOS included."""
    out: list[tuple[int, int]] = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data.startswith(b"\xff\xd8"):
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((pos, length + 2))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, total length incl. length, type and CRC) of each PNG chunk."""
    out: list[tuple[int, int]] = []
    pos = len(PNG_SIGNATURE)
    if not data.startswith(PNG_SIGNATURE):
        return out
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append((pos, length + 12))
        if data[pos + 4 : pos + 8] == b"IEND":
            break
        pos += length + 12
    return out


def riff_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, total length) of the RIFF header (offset 0) and each chunk of a WebP."""
    if not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return []
    out: list[tuple[int, int]] = [(0, len(data))]
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        out.append((pos, size + 8 + (size & 1)))
        pos += size + 8 + (size & 1)
    return out


def isobmff_boxes(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[tuple[int, int]]:
    """(offset, size) of every box, descending into the containers (meta, iprp, moov...)."""
    end = len(data) if end is None else end
    out: list[tuple[int, int]] = []
    pos = start
    if depth == 0 and data[4:8] != b"ftyp":
        return out
    while pos + 8 <= end and depth < 8:
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        if size < 8 or pos + size > end:
            break
        out.append((pos, size))
        if kind in _BOX_CONTAINERS or kind == b"meta":
            out.extend(isobmff_boxes(data, pos + 8 + (4 if kind == b"meta" else 0), pos + size, depth + 1))
        pos += size
    return out


@dataclass(frozen=True, slots=True)
class TiffFields:
    """Byte offsets (in the file) of the fields an IFD walk reads."""

    order: str
    ifd_counts: list[int]      # 2-byte entry counts
    entry_counts: list[int]    # 4-byte value counts of entries
    offsets: list[int]         # 4-byte offsets: IFD0 pointer, sub-IFD pointers, out-of-line values
    next_ifds: list[int]       # 4-byte next-IFD pointers
    first_ifd: int             # IFD0's offset relative to the TIFF header


def tiff_fields(data: bytes) -> Iterator[TiffFields]:
    """The IFD fields of each TIFF structure in the file (a TIFF file, EXIF in JPEG/PNG/WebP/HEIC)."""
    for magic in (b"II*\x00", b"MM\x00*"):
        base = data.find(magic)
        while base >= 0 and base + 8 <= len(data):
            yield _walk_tiff(data, base, "<" if magic[:1] == b"I" else ">")
            base = data.find(magic, base + 4, base + METADATA_ZONE)


def _walk_tiff(data: bytes, base: int, order: str) -> TiffFields:
    def u(fmt: str, at: int) -> int:
        return int(struct.unpack_from(order + fmt, data, at)[0]) if at + struct.calcsize(fmt) <= len(data) else -1

    first = u("I", base + 4)
    fields = TiffFields(order, [], [], [base + 4], [], first)
    todo, seen = [first], set[int]()
    while todo and len(seen) < MAX_IFDS:
        ifd = todo.pop()
        count = u("H", base + ifd)
        if ifd in seen or ifd < 8 or count < 0:
            continue
        seen.add(ifd)
        fields.ifd_counts.append(base + ifd)
        for k in range(min(count, 256)):
            entry = base + ifd + 2 + 12 * k
            tag, kind, n = u("H", entry), u("H", entry + 2), u("I", entry + 4)
            if n < 0:
                break
            fields.entry_counts.append(entry + 4)
            if tag in _SUB_IFDS or n * {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}.get(kind, 1) > 4:
                fields.offsets.append(entry + 8)
            if tag in _SUB_IFDS:
                todo.append(u("I", entry + 8))
        nxt = base + ifd + 2 + 12 * min(count, 256)
        if u("I", nxt) > 0:
            fields.next_ifds.append(nxt)
            todo.append(u("I", nxt))
    return fields


# --- mutators -----------------------------------------------------------------------------
def _position(rng: random.Random, n: int) -> int:
    return rng.randrange(min(n, METADATA_ZONE)) if rng.random() < ZONE_SHARE else rng.randrange(n)


def bitflip(rng: random.Random, data: bytes) -> Mutant | None:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 16))):
        out[_position(rng, len(out))] ^= 1 << rng.randrange(8)
    return Mutant(bytes(out), "bitflip")


def _boundaries(data: bytes) -> list[int]:
    spans = jpeg_segments(data) + png_chunks(data) + riff_chunks(data)[1:] + isobmff_boxes(data)
    return [p for s, n in spans for p in (s, s + n)]


def truncate(rng: random.Random, data: bytes) -> Mutant | None:
    """Cut the file: anywhere, inside the first 4 KB (the metadata), or near a structure boundary."""
    where = rng.random()
    bounds = _boundaries(data)
    if where < 0.4 and bounds:
        cut = rng.choice(bounds) + rng.randint(-3, 3)
    elif where < 0.7:
        cut = rng.randint(1, min(len(data) - 1, 4096))
    else:
        cut = rng.randint(1, len(data) - 1)
    return Mutant(data[: max(1, min(cut, len(data) - 1))], "truncate")


def _spans(kind: str, data: bytes) -> list[tuple[int, int]]:
    return {"jpeg": jpeg_segments, "png": png_chunks}[kind](data)


def _dup_or_drop(kind: str, drop: bool) -> Mutator:
    def mutate(rng: random.Random, data: bytes) -> Mutant | None:
        spans = _spans(kind, data)
        if not spans:
            return None
        start, size = rng.choice(spans)
        piece = data[start : start + size]
        body = data[:start] + data[start + size :] if drop else data[:start] + piece + data[start:]
        return Mutant(body, f"{kind}_{'drop' if drop else 'dup'}")
    return mutate


def _lie(rng: random.Random, true: int, width: int) -> int:
    top = (1 << (8 * width)) - 1
    return rng.choice((0, 1, 2, 7, 8, max(0, true - 1), true + 1, true * 2, top, rng.randrange(top + 1))) & top


def _put(data: bytes, at: int, value: int, width: int, order: str) -> bytes:
    return data[:at] + value.to_bytes(width, "little" if order == "<" else "big") + data[at + width :]


def length_lie(rng: random.Random, data: bytes) -> Mutant | None:
    """A JPEG segment, PNG chunk, RIFF chunk or ISOBMFF box whose length field lies."""
    options = [("jpeg", s + 2, 2, ">") for s, _ in jpeg_segments(data)]
    options += [("png", s, 4, ">") for s, _ in png_chunks(data)]
    options += [("riff", s + 4, 4, "<") for s, _ in riff_chunks(data)]
    options += [("isobmff", s, 4, ">") for s, _ in isobmff_boxes(data)]
    if not options:
        return None
    kind, at, width, order = rng.choice(options)
    true = int.from_bytes(data[at : at + width], "little" if order == "<" else "big")
    return Mutant(_put(data, at, _lie(rng, true, width), width, order), f"length_lie_{kind}")


def ifd_lie(rng: random.Random, data: bytes) -> Mutant | None:
    """An IFD entry count, value count, offset or next-IFD pointer that lies (loops included)."""
    walks = [w for w in tiff_fields(data) if w.ifd_counts]
    if not walks:
        return None
    w = rng.choice(walks)
    choices = [("ifd_count_lie", at, 2) for at in w.ifd_counts] + [("ifd_count_lie", at, 4) for at in w.entry_counts]
    choices += [("ifd_offset_lie", at, 4) for at in w.offsets] + [("ifd_loop", at, 4) for at in w.next_ifds]
    name, at, width = rng.choice(choices)
    true = int.from_bytes(data[at : at + width], "little" if w.order == "<" else "big")
    value = w.first_ifd if name == "ifd_loop" or rng.random() < 0.15 else _lie(rng, true, width)
    return Mutant(_put(data, at, value, width, w.order), name)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def zip_append(rng: random.Random, data: bytes) -> Mutant | None:
    return Mutant(data + ZIP, "zip_append", (len(data), len(ZIP)))


def _zip_in_jpeg(marker: int, name: str) -> Mutator:
    def mutate(rng: random.Random, data: bytes) -> Mutant | None:
        spans = jpeg_segments(data)
        if not spans:
            return None
        at = rng.choice([2] + [s for s, _ in spans])  # before any header segment, SOS included
        segment = bytes((0xFF, marker)) + struct.pack(">H", len(ZIP) + 2)
        return Mutant(data[:at] + segment + ZIP + data[at:], name, (at + len(segment), len(ZIP)))
    return mutate


def zip_in_png_chunk(rng: random.Random, data: bytes) -> Mutant | None:
    spans = png_chunks(data)
    if len(spans) < 2:
        return None
    at = rng.choice([s for s, _ in spans[1:]])  # after IHDR, before any later chunk
    chunk = _png_chunk(rng.choice((b"prVt", b"zipA", b"tEXt")), ZIP)
    return Mutant(data[:at] + chunk + data[at:], "zip_in_png_chunk", (at + 8, len(ZIP)))


def zip_in_riff_chunk(rng: random.Random, data: bytes) -> Mutant | None:
    spans = riff_chunks(data)
    if not spans:
        return None
    at = rng.choice([s for s, _ in spans[1:]] + [len(data)])
    chunk = b"ZIP " + struct.pack("<I", len(ZIP)) + ZIP + b"\x00" * (len(ZIP) & 1)
    body = data[:at] + chunk + data[at:]
    body = body[:4] + struct.pack("<I", len(body) - 8) + body[8:]
    return Mutant(body, "zip_in_riff_chunk", (at + 8, len(ZIP)))


MUTATORS: dict[str, Mutator] = {
    "bitflip": bitflip, "truncate": truncate,
    "jpeg_dup": _dup_or_drop("jpeg", False), "jpeg_drop": _dup_or_drop("jpeg", True),
    "png_dup": _dup_or_drop("png", False), "png_drop": _dup_or_drop("png", True),
    "length_lie": length_lie, "ifd_lie": ifd_lie,
    "zip_append": zip_append, "zip_in_com": _zip_in_jpeg(0xFE, "zip_in_com"),
    "zip_in_app15": _zip_in_jpeg(0xEF, "zip_in_app15"), "zip_in_png_chunk": zip_in_png_chunk,
    "zip_in_riff_chunk": zip_in_riff_chunk,
}
STACKABLE = (bitflip, truncate)


def mutate(rng: random.Random, data: bytes) -> Mutant:
    """One mutation that applies to this file (chosen at random), sometimes a bit flip or cut on top."""
    names = sorted(MUTATORS)
    rng.shuffle(names)
    first = next(m for m in (MUTATORS[n](rng, data) for n in names) if m is not None)
    if len(first.data) < 2 or rng.random() >= STACK_SHARE:
        return first
    second = rng.choice(STACKABLE)(rng, first.data)
    assert second is not None
    return Mutant(second.data, f"{first.mutation}+{second.mutation}", first.archive)


def archive_inside(mutant: Mutant) -> bool:
    """An archive a reader could pull out: the ZIP we placed, still whole (its end record where it was
    put), or the mutant as a whole read as a ZIP (zipfile finds the end record from the tail)."""
    if zipfile.is_zipfile(io.BytesIO(mutant.data)):
        return True
    if mutant.archive is None:
        return False
    start, size = mutant.archive
    return zipfile.is_zipfile(io.BytesIO(mutant.data[start : start + size]))
