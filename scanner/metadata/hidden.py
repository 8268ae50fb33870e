"""Hidden content: bytes after the end of the image (aCropalypse class) and stale EXIF thumbnails."""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CorruptItem

if TYPE_CHECKING:
    from PIL import Image

_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = {0xD8, 0x01} | set(range(0xD0, 0xD8))


@dataclass(frozen=True, slots=True)
class Trailer:
    offset: int
    size: int
    looks_like: str


def _jpeg_end(data: bytes) -> int | None:
    """Offset just past the EOI of the first JPEG image, walking segments and entropy-coded scans."""
    pos, n = 2, len(data)
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > n:
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data up to the next real marker
            m = _NEXT_MARKER.search(data, pos)
            if m is None:
                return None
            pos = m.start()
    return None


def _png_end(data: bytes) -> int | None:
    pos, n = 8, len(data)
    while pos + 12 <= n:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        pos += 12 + length
        if kind == b"IEND":
            return pos
    return None


def _webp_end(data: bytes) -> int | None:
    (size,) = struct.unpack("<I", data[4:8])
    return 8 + size + (size & 1)


def _classify(tail: bytes) -> str:
    if tail.startswith(b"\xff\xd8"):
        return "another JPEG image"
    if b"IDAT" in tail[:4096] or b"IEND" in tail:
        return "PNG image data"
    if b"\xff\xd9" in tail[-4:]:
        return "JPEG image data"
    return "unknown data"


_FINDERS = {"JPEG": _jpeg_end, "MPO": _jpeg_end, "PNG": _png_end, "WEBP": _webp_end}


def image_end(data: bytes, fmt: str) -> int | None:
    """Offset just past the image's end marker; None when the format has none we check."""
    finder = _FINDERS.get(fmt)
    if finder is None:
        return None
    try:
        end = finder(data)
    except struct.error:
        end = None
    if end is None or end > len(data):
        raise CorruptItem(f"{fmt} data is truncated (no end-of-image marker)")
    return end


def trailing_data(data: bytes, fmt: str, declared_frames: bool = False) -> Trailer | None:
    """Bytes after the end of the image that viewers do not show; None when there are none.

    Raises CorruptItem when the image ends early. Zero padding is ignored. For MPO
    (declared_frames) a following JPEG is part of the format.
    """
    end = image_end(data, fmt)
    if end is None or end >= len(data):
        return None
    tail = data[end:]
    if not tail.strip(b"\x00"):
        return None
    kind = _classify(tail)
    if declared_frames and kind == "another JPEG image":
        return None
    return Trailer(end, len(tail), kind)


def _signature(im: Image.Image) -> tuple[float, list[float]]:
    """Aspect ratio and a normalised 16x16 grey thumbnail, after trimming uniform (padding) borders."""
    from PIL import ImageChops

    grey = im.convert("L")
    bg = grey.getpixel((0, 0))
    box = ImageChops.difference(grey, grey.point(lambda _: bg)).point(lambda v: 255 if v > 16 else 0).getbbox()
    if box and (box[2] - box[0]) * (box[3] - box[1]) > 0.3 * grey.width * grey.height:
        grey = grey.crop(box)
    aspect = grey.width / grey.height
    small = list(grey.resize((16, 16)).getdata())
    mean = sum(small) / len(small)
    spread = (sum((v - mean) ** 2 for v in small) / len(small)) ** 0.5 or 1.0
    return aspect, [(v - mean) / spread for v in small]


def thumbnail_differs(thumb_bytes: bytes, main: Image.Image) -> tuple[bool, float] | None:
    """(differs, correlation) between the EXIF thumbnail and the (unrotated, downscaled) main image."""
    from PIL import Image

    try:
        thumb = Image.open(io.BytesIO(thumb_bytes))
        thumb.load()
    except (OSError, ValueError, SyntaxError):
        return None
    a_aspect, a = _signature(thumb)
    b_aspect, b = _signature(main)
    corr = sum(x * y for x, y in zip(a, b, strict=True)) / len(a)
    aspect_off = abs(a_aspect - b_aspect) / max(a_aspect, b_aspect)
    return (aspect_off > 0.12 or corr < 0.5), corr
