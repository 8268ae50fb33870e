"""Embedded archives and documents (ZIP, PDF, 7z, RAR, OLE) anywhere in a file, found by signature and
validated by their own headers (field ranges, checksums, a matching next record) so that entropy-coded
image bytes that happen to hold a signature do not count."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ItemTooLarge

MAX_CANDIDATES = 20_000  # signature hits validated per kind before the file is called unanalysable
ZIP_NAME_MAX = 1024
PDF_OBJ_WINDOW = 65_536  # a PDF's first object follows its header within this many bytes
_ZIP_METHODS = {0, 1, 2, 3, 4, 5, 6, 8, 9, 12, 14, 19, 93, 95, 96, 97, 98, 99}
_ZIP_LOCAL, _ZIP_CENTRAL, _ZIP_END, _ZIP_DESCRIPTOR = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x07\x08"
_PDF_VERSION = re.compile(rb"[12]\.\d")
_PDF_OBJ = re.compile(rb"\d{1,10}\s+\d{1,5}\s+obj\b")


@dataclass(frozen=True, slots=True)
class Payload:
    offset: int
    kind: str
    detail: str


def _zip(data: bytes, p: int) -> str | None:
    if p + 30 > len(data):
        return None
    _sig, version, flags, method, _t, _d, _crc, csize, _usize, nlen, elen = struct.unpack(
        "<4sHHHHHIIIHH", data[p : p + 30])
    if (version & 0xFF) > 63 or method not in _ZIP_METHODS or not 0 < nlen <= ZIP_NAME_MAX:
        return None
    name = data[p + 30 : p + 30 + nlen]
    if len(name) < nlen or any(b < 0x20 or b == 0x7F for b in name):
        return None
    nxt = p + 30 + nlen + elen + csize
    chained = not flags & 0x08 and data[nxt : nxt + 4] in (_ZIP_LOCAL, _ZIP_CENTRAL, _ZIP_DESCRIPTOR)
    end = data.find(_ZIP_END, p)
    if end >= 0 and end + 22 <= len(data):
        (members,) = struct.unpack("<H", data[end + 10 : end + 12])
        return f"ZIP archive, {members} member(s)"  # member names are untrusted text: never in a message
    return "ZIP archive" if chained else None


def _pdf(data: bytes, p: int) -> str | None:
    version = data[p + 5 : p + 8]
    if not _PDF_VERSION.fullmatch(version):
        return None
    if _PDF_OBJ.search(data, p + 8, p + PDF_OBJ_WINDOW) is None:
        return None
    if data.find(b"endobj", p) < 0 and data.find(b"%%EOF", p) < 0:
        return None
    return f"PDF document, version {version.decode()}"


def _sevenzip(data: bytes, p: int) -> str | None:
    head = data[p : p + 32]
    if len(head) < 32 or head[6] != 0 or head[7] > 4:
        return None
    (crc,) = struct.unpack("<I", head[8:12])
    return "7z archive" if zlib.crc32(head[12:32]) == crc else None


def _vint(data: bytes, p: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if p + i >= len(data):
            return -1, p
        value |= (data[p + i] & 0x7F) << shift
        shift += 7
        if not data[p + i] & 0x80:
            return value, p + i + 1
    return -1, p


def _rar(data: bytes, p: int) -> str | None:
    if data[p + 6 : p + 7] == b"\x00":  # RAR 1.5-4.x: main header, CRC16 = low half of CRC32
        head = data[p + 7 : p + 14]
        if len(head) < 7:
            return None
        crc, kind, _flags, size = struct.unpack("<HBHH", head)
        body = data[p + 9 : p + 7 + size]
        ok = kind == 0x73 and size >= 7 and len(body) == size - 2 and zlib.crc32(body) & 0xFFFF == crc
        return "RAR archive (v4)" if ok else None
    if data[p + 6 : p + 8] == b"\x01\x00":  # RAR 5: CRC32 over the header size and the header
        if p + 12 > len(data):
            return None
        (crc,) = struct.unpack("<I", data[p + 8 : p + 12])
        size, body_start = _vint(data, p + 12)
        if not 0 < size < 1 << 21 or body_start + size > len(data):
            return None
        return "RAR archive (v5)" if zlib.crc32(data[p + 12 : body_start + size]) == crc else None
    return None


def _ole(data: bytes, p: int) -> str | None:
    head = data[p + 0x18 : p + 0x22]
    if len(head) < 10:
        return None
    _minor, major, order, sector_shift, mini_shift = struct.unpack("<HHHHH", head)
    ok = order == 0xFFFE and mini_shift == 6 and (major, sector_shift) in ((3, 9), (4, 12))
    return "OLE compound document (Office/MSI)" if ok else None


_SIGNATURES: tuple[tuple[bytes, Callable[[bytes, int], str | None]], ...] = (
    (_ZIP_LOCAL, _zip), (b"%PDF-", _pdf), (b"7z\xbc\xaf\x27\x1c", _sevenzip), (b"Rar!\x1a\x07", _rar),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _ole),
)


def find(data: bytes, start: int = 1) -> list[Payload]:
    """Every validated archive or document that starts at or after `start`, one per archive.

    Raises ItemTooLarge when a signature occurs so often that checking them all is not bounded.
    """
    found: list[Payload] = []
    for signature, validate in _SIGNATURES:
        pos, seen = data.find(signature, start), 0
        while pos >= 0:
            seen += 1
            if seen > MAX_CANDIDATES:
                raise ItemTooLarge(f"over {MAX_CANDIDATES} '{signature[:4]!r}' signatures: payload search not bounded")
            detail = validate(data, pos)
            if detail is not None:
                found.append(Payload(pos, signature_kind(detail), detail))
                if signature == _ZIP_LOCAL:  # the later members belong to the same archive
                    end = data.find(_ZIP_END, pos)
                    pos = data.find(signature, end + 22) if end >= 0 else -1
                    continue
            pos = data.find(signature, pos + 1)
    return sorted(found, key=lambda f: f.offset)


def signature_kind(detail: str) -> str:
    return detail.split(" ", 1)[0]
