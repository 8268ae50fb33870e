"""PNG chunks read from the bytes, without decoding pixels: text chunks (tEXt, zTXt, iTXt) and the end."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from ..errors import CorruptItem

SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, data start, data end) of every chunk up to and including IEND."""
    pos, n = len(SIGNATURE), len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        yield kind, pos + 8, pos + 8 + length
        pos += 12 + length
        if kind == b"IEND":
            return


def exif_chunk(data: bytes) -> tuple[bool, bytes | None]:
    """(whether the chunks run whole to IEND with no ImageMagick raw EXIF profile among them, the last eXIf chunk as
    Pillow keeps it: b"Exif\\0\\0" + the TIFF block). Pillow decodes every pixel to reach an eXIf chunk after the
    image data, or to learn there is none; from the bytes that is a walk over the chunk headers."""
    found = None
    for kind, start, stop in chunks(data):
        if stop + 4 > len(data):  # cut short: Pillow's own read says how (a corrupt file)
            return False, found
        if kind == b"eXIf":
            body = data[start:stop]
            if zlib.crc32(kind + body) != int.from_bytes(data[stop : stop + 4], "big"):
                return False, found  # a damaged eXIf: as Pillow reads it (it checks the CRC)
            found = b"Exif\x00\x00" + (body[6:] if body[:6] == b"Exif\x00\x00" else body)
        elif kind in TEXT_CHUNKS and data[start:stop].partition(b"\x00")[0] == b"Raw profile type exif":
            return False, found  # Pillow's getexif() reads ImageMagick's hex EXIF too: leave it to Pillow
        elif kind == b"IEND":
            return True, found
    return False, found


def end(data: bytes) -> int | None:
    """Offset just past the IEND chunk; None when the file stops before it."""
    for kind, _start, stop in chunks(data):
        if kind == b"IEND":
            return stop + 4 if stop + 4 <= len(data) else None
    return None


def _inflate(blob: bytes, limit: int) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(blob, limit + 1)
    except zlib.error as exc:
        raise CorruptItem(f"PNG text chunk does not decompress: {exc}") from None
    if len(out) > limit:
        raise CorruptItem("PNG text chunk inflates past the metadata cap")
    return out


def text_chunks(data: bytes, limit: int) -> Iterator[tuple[str, str]]:
    """(keyword, text) of every tEXt, zTXt and iTXt chunk, compressed ones inflated up to `limit` bytes."""
    for kind, start, stop in chunks(data):
        if kind not in TEXT_CHUNKS:
            continue
        body = data[start:stop]
        key, _, rest = body.partition(b"\x00")
        keyword = key.decode("latin-1")
        if kind == b"tEXt":
            yield keyword, rest.decode("latin-1")
        elif kind == b"zTXt":
            yield keyword, _inflate(rest[1:], limit).decode("latin-1")
        else:
            compressed = rest[:1] == b"\x01"
            _lang, _, rest = rest[2:].partition(b"\x00")
            _translated, _, text = rest.partition(b"\x00")
            yield keyword, (_inflate(text, limit) if compressed else text).decode("utf-8", "replace")


def raw_profile(key: str, text: str) -> bytes:
    """The bytes of an ImageMagick "Raw profile type ..." text chunk ("\\nNAME\\n  LENGTH\\nHEX LINES")."""
    try:
        return bytes.fromhex("".join(text.strip().split("\n", 2)[2].split()))
    except (IndexError, ValueError):
        raise CorruptItem(f"PNG {key} is not a hex profile") from None
