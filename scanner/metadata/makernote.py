"""Serial numbers and owner names in vendor maker notes that exifread does not decode well.

Maker notes are IFDs in vendor dialects: Nikon type 3 carries its own TIFF header, Canon and
Panasonic use offsets from the EXIF TIFF header, Nintendo is parsed by Pillow. Only the few tags
that identify a camera body or its owner are read; everything is bounds-checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}

# vendor -> {tag: name}
_NIKON = {0x001D: "SerialNumber", 0x00A0: "SerialNumber"}
_CANON = {0x0009: "OwnerName", 0x000C: "SerialNumber", 0x0096: "InternalSerialNumber"}
_PANASONIC = {0x0025: "InternalSerialNumber"}


def _uint(raw: bytes, little: bool) -> int:
    return int.from_bytes(raw, "little") if little else int.from_bytes(raw, "big")


def _entries(buf: bytes, ifd: int, little: bool, base: int, wanted: dict[int, str]) -> Iterator[tuple[str, bytes, int]]:
    """(name, value bytes, type) of the wanted tags of the IFD at `ifd` (offsets counted from `base`)."""
    if ifd < 0 or ifd + 2 > len(buf):
        return
    count = _uint(buf[ifd : ifd + 2], little)
    for i in range(min(count, 512)):
        at = ifd + 2 + 12 * i
        if at + 12 > len(buf):
            return
        tag = _uint(buf[at : at + 2], little)
        if tag not in wanted:
            continue
        kind = _uint(buf[at + 2 : at + 4], little)
        n = _uint(buf[at + 4 : at + 8], little)
        size = _TYPE_SIZE.get(kind, 1) * n
        if size <= 4:
            value = buf[at + 8 : at + 8 + size]
        else:
            off = base + _uint(buf[at + 8 : at + 12], little)
            if off < 0 or off + size > len(buf):
                continue
            value = buf[off : off + size]
        yield wanted[tag], value, kind


def _text(value: bytes, kind: int, little: bool) -> str:
    if kind == 4 and len(value) == 4:
        return str(_uint(value, little))
    return value.split(b"\x00", 1)[0].decode("latin-1", "replace").strip()


def _locate(tiff: bytes, note: bytes, make: str, little: bool) -> tuple[bytes, int, bool, dict[int, str]] | None:
    """(buffer, IFD offset in it, byte order, tags) for the maker-note dialects read here."""
    if note.startswith(b"Nikon\x00\x02") and note[10:12] in (b"II", b"MM"):
        sub = note[10:]  # Nikon type 3: a TIFF header of its own, offsets from it
        sub_little = sub[:2] == b"II"
        return sub, _uint(sub[4:8], sub_little), sub_little, _NIKON
    at = tiff.find(note)
    if at < 0:
        return None
    if make.startswith("canon"):
        return tiff, at, little, _CANON
    if note.startswith(b"Panasonic\x00"):
        return tiff, at + 12, little, _PANASONIC
    return None


def serials(tiff: bytes, note: bytes, make: str) -> list[tuple[str, str]]:
    """Identity fields from one maker note; `tiff` is the EXIF block from its TIFF header on."""
    if tiff[:2] not in (b"II", b"MM") or not note:
        return []
    where = _locate(tiff, note, make, tiff[:2] == b"II")
    if where is None:
        return []
    buf, ifd, little, wanted = where
    out = []
    for name, value, kind in _entries(buf, ifd, little, 0, wanted):
        text = _text(value, kind, little)
        if text.strip("0 "):
            out.append((name, text))
    return out


def pillow_serials(makernote_ifd: dict[int, Any]) -> list[tuple[str, str]]:
    """Nintendo (3DS) camera info as Pillow decodes it: {0x1101: {'InternalSerialNumber': b'...'}}."""
    out = []
    for value in makernote_ifd.values():
        if isinstance(value, dict):
            serial = value.get("InternalSerialNumber")
            if isinstance(serial, bytes) and serial.strip(b"\x00"):
                out.append(("InternalSerialNumber", "0x" + serial.hex()))
    return out
